"""Accounts: fund accounts and their owners, login sessions and privacy consents, devices, temporary passwords, 找回账户."""
