"""Audit log of security-relevant events. Never holds raw personal data: callers pass ids and masks."""
from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, String, select

from backoffice.core.clock import iso
from backoffice.core.db import Base

FORBIDDEN_DETAIL_KEYS = {"phone", "id_number", "name", "code", "otp", "password", "image"}


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    actor = Column(String(64), nullable=False)  # "customer:<sender>", "staff:<user>", "system"
    event = Column(String(64), nullable=False, index=True)
    account_number = Column(String(32), index=True)
    details = Column(JSON, nullable=False, default=dict)


class AuditLog:
    def __init__(self, db, clock):
        self.db = db
        self.clock = clock

    def record(self, event: str, *, actor: str, account_number: str | None = None, session=None, **details) -> None:
        leaked = FORBIDDEN_DETAIL_KEYS & set(details)
        if leaked:  # a programming error: fail loudly in tests rather than store PII
            raise ValueError(f"audit details must not contain {sorted(leaked)}")
        row = AuditEvent(at=self.clock.utcnow(), actor=actor[:64], event=event,
                         account_number=account_number, details=details)
        if session is not None:
            session.add(row)
            return
        with self.db.session() as s:
            s.add(row)

    def list(self, *, event: str | None = None, account_number: str | None = None, limit: int = 200) -> list[dict]:
        with self.db.session() as s:
            q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
            if event:
                q = q.where(AuditEvent.event == event)
            if account_number:
                q = q.where(AuditEvent.account_number == account_number)
            return [
                {"at": iso(r.at), "actor": r.actor, "event": r.event,
                 "account_number": r.account_number, "details": r.details}
                for r in s.execute(q).scalars()
            ]
