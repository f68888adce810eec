"""The brokerage systems the assistant talks to: accounts, OTP, SMS, media, conversations, audit."""
