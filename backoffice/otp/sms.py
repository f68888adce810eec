"""SMS gateway interface, the sandbox gateway and the choice of gateway. The texts themselves are in
backoffice/otp/sms_texts.py (re-exported here: `from backoffice.otp.sms import compose`)."""
from __future__ import annotations

from typing import Protocol

from sqlalchemy import Column, DateTime, Integer, String, Text, select

from backoffice.core.clock import iso
from backoffice.core.db import Base
from backoffice.core.metrics import SMS_FAILED, SMS_SENT
from backoffice.otp.sms_providers import make_provider
from backoffice.otp.sms_texts import SIGNATURE, TEXTS, SmsText, compose, template_fields

__all__ = ["SIGNATURE", "TEXTS", "SmsText", "compose", "template_fields", "SmsGateway", "SandboxSms",
           "SandboxGateway", "make_gateway"]


class SmsGateway(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Deliver or raise (backoffice.otp.sms_providers.SmsError for a provider's refusal); never log phone or text."""


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


def counted(gateway, name: str):
    """The gateway with its sends counted (hall_sms_sent_total / hall_sms_failed_total by gateway)."""
    send = gateway.send

    def send_counted(phone: str, text: str) -> None:
        try:
            send(phone, text)
        except Exception:
            SMS_FAILED.labels(name).inc()
            raise
        SMS_SENT.labels(name).inc()

    gateway.send = send_counted
    return gateway


def make_gateway(name: str, db, clock, provider=None):
    """SMS_GATEWAY: `sandbox`, or `aliyun` / `tencent` with their ProviderSettings (backoffice.core.config)."""
    if name == "sandbox":
        return counted(SandboxGateway(db, clock), name)
    if provider is None or provider.name != name:
        raise RuntimeError(f"SMS_GATEWAY={name} needs its provider settings (backoffice.core.config.load_settings)")
    return counted(make_provider(provider), name)
