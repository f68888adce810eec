"""The businesses done in chat that end in an application, by code, with the name customers read, from the business
registry (businesses/definitions). A small module of its own: the OTP, witness, handoff and console code need the
names without the application service."""
from __future__ import annotations

from businesses import applications

BUSINESS_NAMES = {code: business.name for code, business in applications().items()}
