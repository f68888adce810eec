"""Applications: the businesses that end in a staff decision, their eligibility, server-side checks and outbox."""
