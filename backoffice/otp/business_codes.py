"""The businesses' own confirmation codes (账户解锁, 重置密码, ...): sending and checking them, and which ones a
sender has verified, kept server-side for a short while so that opening the business's application can require
it (backoffice/applications/verification.py) instead of trusting the bot.

A business code is an OtpService code with purpose "biz:<business>" sent by SMS to the phone reserved at
account opening. The bot asks for it once per step: `issue` sends a code, `resend` a new one (the OTP rules
— 60 s between sends, 10 a day, 5 tries — are the OtpService's).
"""
from __future__ import annotations

import json

from backoffice.applications.businesses import BUSINESS_NAMES
from backoffice.core.crypto import mask_phone
from backoffice.otp.sms import compose

# How long a verified code counts for opening the application: long enough for the steps after it
# (face, reading agreements for ≥10 s each, the signing code), short enough to be one sitting.
VERIFIED_TTL = 15 * 60
PENDING_TTL = 600  # which business a sender's last code was for, so that "重新发送" knows


def _purpose(business: str) -> str:
    return f"biz:{business}"


class BusinessCodeService:
    def __init__(self, kv, clock, *, login, accounts, otp, sms, audit):
        self.kv, self.clock = kv, clock
        self.login, self.accounts, self.otp, self.sms, self.audit = login, accounts, otp, sms, audit

    # --- the bot's steps ------------------------------------------------------------------------
    def issue(self, sender: str, business: str) -> dict:
        session = self.login.session(sender)
        if session is None:
            return {"status": "not_logged_in"}
        number = session["account_number"]
        phone = self.accounts.phone_of(number)
        issued = self.otp.issue(phone, _purpose(business), sender=sender)
        self.kv.set(f"bizotp:pending:{sender}", json.dumps({"a": number, "b": business}), PENDING_TTL)
        if issued.status == "wait":
            return {"status": "wait", "wait_seconds": issued.wait_seconds, "phone_masked": mask_phone(phone)}
        if issued.status == "too_many":
            return {"status": "too_many"}
        self.sms.send(phone, compose("otp_generic", business=BUSINESS_NAMES[business], code=issued.code))
        self.audit.record("otp_sent", actor=f"customer:{sender}", account_number=number, purpose=_purpose(business))
        return {"status": "sent", "phone_masked": mask_phone(phone)}

    def resend(self, sender: str) -> dict:
        """A new code for the business of the sender's last one."""
        raw = self.kv.get(f"bizotp:pending:{sender}")
        if not raw:
            return {"status": "no_pending"}
        return self.issue(sender, json.loads(raw)["b"])

    def verify(self, sender: str, business: str, code: str) -> dict:
        session = self.login.session(sender)
        if session is None:
            return {"status": "not_logged_in"}
        number = session["account_number"]
        checked = self.otp.verify(self.accounts.phone_of(number), _purpose(business), code, sender=sender)
        if checked.status != "ok":
            self.audit.record("otp_failed", actor=f"customer:{sender}", account_number=number,
                              purpose=_purpose(business), result=checked.status)
            return {"status": checked.status, "remaining": checked.remaining}
        self.kv.delete(f"bizotp:pending:{sender}")
        self.mark_verified(sender, number, business)  # opening the application requires it
        self.audit.record("otp_verified", actor=f"customer:{sender}", account_number=number,
                          purpose=_purpose(business))
        return {"status": "ok"}

    # --- the proof an application needs ---------------------------------------------------------

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
