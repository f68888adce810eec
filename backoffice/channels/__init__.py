"""The back-office side of the customer channels: conversation ids, client tokens, delivery."""
