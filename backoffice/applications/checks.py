"""What both the application service and the verification table need: the refusal type and the protocol of a
server-side check. A module of its own so that service.py and verification.py import it, not each other."""
from __future__ import annotations

from dataclasses import dataclass


class ApplicationError(ValueError):
    """A refused request; `code` is stable for the bot, the message is safe to show."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class Context:
    business: str
    sender: str
    account_number: str


class Check:
    """verify() returns what the application records (payload additions) or raises ApplicationError (409,
    with a polite Chinese message the bot shows); consume() uses the proof up after the open, given what
    verify() returned, so it uses up exactly the proof the application records."""

    def verify(self, svc, ctx: Context) -> dict:
        raise NotImplementedError

    def consume(self, svc, ctx: Context, application_id: int, proof: dict) -> None:
        return None


# Payload keys only the server writes (the proofs checks record); whatever a caller sends under them is dropped.
SERVER_KEYS = ("face", "witness_id")
