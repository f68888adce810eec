"""找回账户: ID card + face + reserved phone + code → the fund account numbers by SMS.

Every answer is the same whether or not the ID belongs to a customer and whether or not the phone
matches: a code is always "sent" (it is only delivered when the phone is the reserved phone of an
account of that ID), so nobody can probe which IDs are customers.
"""
from __future__ import annotations

import json

from backoffice.core.crypto import mask_account, mask_phone
from backoffice.otp.sms import compose

PURPOSE = "recover"
PENDING_TTL = 15 * 60


class RecoveryService:
    def __init__(self, accounts, identity, otp, sms, kv, crypto, audit):
        self.accounts, self.identity, self.otp, self.sms = accounts, identity, otp, sms
        self.kv, self.crypto, self.audit = kv, crypto, audit

    def _key(self, sender: str) -> str:
        return f"recover:pending:{sender}"

    def start(self, sender: str, phone: str) -> dict:
        id_number = self.identity.confirmed_id_number(sender)
        if not id_number or not self.identity.face_passed(sender, PURPOSE, None):
            return {"status": "steps_missing"}
        matching = [n for n in self.accounts.find_by_id_number(id_number) if self.accounts.phone_matches(n, phone)]
        issued = self.otp.issue(phone, PURPOSE, sender=sender)
        if issued.status == "wait":
            return {"status": "wait", "wait_seconds": issued.wait_seconds, "phone_masked": mask_phone(phone)}
        if issued.status == "too_many":
            return {"status": "too_many"}
        if matching:  # only the owner's reserved phone ever receives anything
            self.sms.send(phone, compose("otp_generic", business="找回资金账号", code=issued.code))
        self.kv.set(self._key(sender), json.dumps({"phone": self.crypto.encrypt_str(phone), "accounts": matching}),
                    PENDING_TTL)
        self.audit.record("recovery_code_requested", actor=f"customer:{sender}")
        return {"status": "sent", "phone_masked": mask_phone(phone)}

    def resend(self, sender: str) -> dict:
        raw = self.kv.get(self._key(sender))
        if not raw:
            return {"status": "no_pending"}
        return self.start(sender, self.crypto.decrypt_str(json.loads(raw)["phone"]))

    def verify(self, sender: str, code: str) -> dict:
        raw = self.kv.get(self._key(sender))
        if not raw:
            return {"status": "no_pending"}
        pending = json.loads(raw)
        phone = self.crypto.decrypt_str(pending["phone"])
        checked = self.otp.verify(phone, PURPOSE, code, sender=sender)
        if checked.status != "ok":
            return {"status": checked.status, "remaining": checked.remaining}
        accounts = pending["accounts"]
        if not accounts:  # a guessed code for a phone that owns nothing: answer like a wrong code
            return {"status": "wrong", "remaining": 0}
        self.kv.delete(self._key(sender))
        self.identity.consume_face(sender, PURPOSE)
        self.identity.clear(sender)
        self.sms.send(phone, compose("recovered", accounts="、".join(accounts)))
        for number in accounts:
            self.audit.record("account_recovered", actor=f"customer:{sender}", account_number=number)
        return {"status": "ok", "accounts_masked": [mask_account(n) for n in accounts]}
