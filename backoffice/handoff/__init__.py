"""Human handoff: who holds a conversation, the staff outbox, and claim / reply / release."""
