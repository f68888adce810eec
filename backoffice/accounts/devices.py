"""绑定设备 / 解除绑定 and the gate in front of every business of a logged-in customer.

The device is the channel's sender id. Binding needs a face check that passed for this sender and
account in the last minutes; unbinding the other device needs a code sent to the reserved phone.
"""
from __future__ import annotations

from backoffice.core.crypto import mask_phone
from backoffice.otp.sms import compose

UNBIND_PURPOSE = "unbind"


class DeviceService:
    def __init__(self, accounts, login, identity, otp, sms, audit):
        self.accounts, self.login, self.identity = accounts, login, identity
        self.otp, self.sms, self.audit = otp, sms, audit

    def gate(self, sender: str) -> dict:
        """What stands between a sender and a business: login, device binding, signature on file."""
        session = self.login.session(sender)
        if session is None:
            return {"logged_in": False}
        account = self.accounts.get(session["account_number"])
        if account.bound_device == sender:
            device = "bound_here"
        elif account.bound_device:
            device = "bound_elsewhere"
        else:
            device = "unbound"
        return {
            "logged_in": True,
            "account_number": account.account_number,
            "state": account.state,
            "device": device,
            "signature": account.signature_on_file,
            "id_on_file": self.identity.id_on_file_valid(account.account_number),
            "face_reference": self.identity.has_face_reference(sender, account.account_number),
        }

    def bind(self, sender: str) -> dict:
        gate = self.gate(sender)
        if not gate["logged_in"]:
            return {"status": "not_logged_in"}
        if gate["device"] == "bound_here":
            return {"status": "already_bound"}
        if gate["device"] == "bound_elsewhere":
            return {"status": "bound_elsewhere"}
        number = gate["account_number"]
        if not self.identity.face_passed(sender, "bind", number):
            return {"status": "face_required"}
        self.accounts.bind_device(number, sender)
        self.identity.consume_face(sender, "bind")
        self.audit.record("device_bound", actor=f"customer:{sender}", account_number=number)
        return {"status": "ok"}

    def bind_reviewed(self, sender: str, number: str) -> bool:
        """A reviewer approved this conversation's face check for binding: bind it now, whether or not the
        customer is still there, unless another device was bound meanwhile (then they unbind it first)."""
        account = self.accounts.get(number)
        if account is None or account.bound_device not in (None, sender):
            return False
        if account.bound_device is None:
            self.accounts.bind_device(number, sender)
            self.audit.record("device_bound", actor=f"customer:{sender}", account_number=number, reviewed=True)
        self.identity.consume_face(sender, "bind")
        return True

    def unbind_start(self, sender: str) -> dict:
        gate = self.gate(sender)
        if not gate["logged_in"]:
            return {"status": "not_logged_in"}
        if gate["device"] == "unbound":
            return {"status": "not_bound"}
        phone = self.accounts.phone_of(gate["account_number"])
        issued = self.otp.issue(phone, UNBIND_PURPOSE, sender=sender)
        if issued.status == "wait":
            return {"status": "wait", "wait_seconds": issued.wait_seconds, "phone_masked": mask_phone(phone)}
        if issued.status == "too_many":
            return {"status": "too_many"}
        self.sms.send(phone, compose("otp_generic", business="解除设备绑定", code=issued.code))
        self.audit.record("otp_sent", actor=f"customer:{sender}", account_number=gate["account_number"],
                          purpose=UNBIND_PURPOSE)
        return {"status": "sent", "phone_masked": mask_phone(phone)}

    def unbind_verify(self, sender: str, code: str) -> dict:
        gate = self.gate(sender)
        if not gate["logged_in"]:
            return {"status": "not_logged_in"}
        number = gate["account_number"]
        checked = self.otp.verify(self.accounts.phone_of(number), UNBIND_PURPOSE, code, sender=sender)
        if checked.status != "ok":
            self.audit.record("otp_failed", actor=f"customer:{sender}", account_number=number,
                              purpose=UNBIND_PURPOSE, result=checked.status)
            return {"status": checked.status, "remaining": checked.remaining}
        self.accounts.unbind_device(number)
        self.audit.record("device_unbound", actor=f"customer:{sender}", account_number=number)
        return {"status": "ok"}
