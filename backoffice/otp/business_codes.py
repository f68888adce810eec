"""Which business confirmation codes (账户解锁, 重置密码, ...) a sender has verified, kept server-side for a
short while so that opening the business's application can require it (backoffice/applications/verification.py)
instead of trusting the bot. The codes themselves are OtpService codes with purpose "biz:<business>",
sent and checked by backoffice/otp/routes.py, which calls mark_verified() on success.
"""
from __future__ import annotations

import json

# How long a verified code counts for opening the application: long enough for the steps after it
# (face, reading agreements for ≥10 s each, the signing code), short enough to be one sitting.
VERIFIED_TTL = 15 * 60


class BusinessCodeService:
    def __init__(self, kv, clock):
        self.kv, self.clock = kv, clock

    @staticmethod
    def _key(sender: str, business: str) -> str:
        return f"bizotp:ok:{sender}:{business}"

    def mark_verified(self, sender: str, account_number: str, business: str) -> None:
        self.kv.set(self._key(sender, business), json.dumps({"a": account_number, "at": self.clock.now()}),
                    VERIFIED_TTL)

    def verified(self, sender: str, account_number: str, business: str) -> bool:
        """Did this sender verify this business's code for this account in the last VERIFIED_TTL seconds?"""
        raw = self.kv.get(self._key(sender, business))
        if not raw:
            return False
        record = json.loads(raw)
        # The timestamp decides, not only the store's TTL: the clock stays injectable with Redis too.
        return record.get("a") == account_number and self.clock.now() - float(record["at"]) < VERIFIED_TTL

    def consume(self, sender: str, business: str) -> None:
        """One verified code opens one application."""
        self.kv.delete(self._key(sender, business))
