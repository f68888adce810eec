"""SMS gateway interface, the sandbox gateway and the texts customers receive."""
from __future__ import annotations

from typing import Protocol

from sqlalchemy import Column, DateTime, Integer, String, Text, select

from backoffice.clock import iso
from backoffice.db import Base

SIGNATURE = "【金信期货】"

TEXTS = {
    "otp_login": "您正在登录优财期掌厅，验证码{code}，5分钟内有效。如非本人操作请忽略，切勿告知他人。",
    "otp_generic": "您正在办理{business}，验证码{code}，5分钟内有效。如非本人操作请忽略，切勿告知他人。",
}


def compose(template: str, **values) -> str:
    return SIGNATURE + TEXTS[template].format(**values)


class SmsGateway(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class SandboxSms(Base):
    """What the sandbox gateway 'delivered'. Development and tests only."""

    __tablename__ = "sandbox_sms"
    id = Column(Integer, primary_key=True, autoincrement=True)
    to = Column(String(20), nullable=False, index=True)
    text = Column(Text, nullable=False)
    sent_at = Column(DateTime(timezone=True), nullable=False)


class SandboxGateway:
    name = "sandbox"

    def __init__(self, db, clock):
        self.db, self.clock = db, clock

    def send(self, phone: str, text: str) -> None:
        with self.db.session() as s:
            s.add(SandboxSms(to=phone, text=text, sent_at=self.clock.utcnow()))

    def messages(self, phone: str | None = None, limit: int = 100) -> list[dict]:
        with self.db.session() as s:
            q = select(SandboxSms).order_by(SandboxSms.id.desc()).limit(limit)
            if phone:
                q = q.where(SandboxSms.to == phone)
            rows = list(s.execute(q).scalars())
        return [{"to": r.to, "text": r.text, "sent_at": iso(r.sent_at)} for r in reversed(rows)]


def make_gateway(name: str, db, clock):
    if name == "sandbox":
        return SandboxGateway(db, clock)
    # No real carrier can be reached from here; a production adapter plugs in behind SmsGateway.
    raise RuntimeError(f"unknown SMS_GATEWAY {name!r}: only 'sandbox' is available in this build")
