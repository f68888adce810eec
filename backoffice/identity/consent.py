"""Separate consent to face data (人脸信息处理授权), asked before the first face check of a person.

Face images are sensitive personal information (个人信息保护法 Art. 28-30): processing them needs the person's
separate consent after being told the purpose, the necessity, the effect and how long the images are kept
(the notice: /h5/face-consent, templates/face_consent.html). Consent is the person's, not the conversation's:
it is keyed by the blind index of the ID number (the account's ID on record when logged in, the confirmed ID
card in 找回账户), recorded with the notice's version, and asked again when the version changes. 不同意 is
recorded too (the audit trail shows what the customer was offered); no face check starts without a current
同意 (backoffice/identity/live.py refuses).
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, String, select

from backoffice.core.clock import iso
from backoffice.core.db import Base

# Change it when the notice (templates/face_consent.html) changes: everyone is asked again.
FACE_CONSENT_VERSION = "2026-12"


class FaceConsent(Base):
    __tablename__ = "face_consents"
    id = Column(Integer, primary_key=True, autoincrement=True)
    subject = Column(String(64), nullable=False, index=True)  # blind index of the ID number
    account_number = Column(String(16))
    sender = Column(String(128), nullable=False)
    version = Column(String(16), nullable=False)
    agreed = Column(Boolean, nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)


class FaceConsentService:
    def __init__(self, db, audit, clock, *, retention_days: int, public_url: str):
        self.db, self.audit, self.clock = db, audit, clock
        self.retention_days, self.public_url = retention_days, public_url.rstrip("/")

    @property
    def url(self) -> str:
        return f"{self.public_url}/h5/face-consent"

    def given(self, subject: str | None) -> dict | None:
        """The current version's 同意 of this person, if any."""
        if subject is None:
            return None
        with self.db.session() as s:
            row = s.execute(select(FaceConsent).where(
                FaceConsent.subject == subject, FaceConsent.version == FACE_CONSENT_VERSION, FaceConsent.agreed)
                .order_by(FaceConsent.id.desc()).limit(1)).scalar_one_or_none()
            return {"version": row.version, "at": iso(row.at)} if row else None

    def status(self, subject: str | None) -> dict:
        return {"needed": self.given(subject) is None, "known": subject is not None,
                "version": FACE_CONSENT_VERSION, "retention_days": self.retention_days, "url": self.url}

    def record(self, subject: str, sender: str, account_number: str | None, agreed: bool) -> dict:
        with self.db.session() as s:
            s.add(FaceConsent(subject=subject, account_number=account_number, sender=sender[:128],
                              version=FACE_CONSENT_VERSION, agreed=agreed, at=self.clock.utcnow()))
            self.audit.record("face_consent_given" if agreed else "face_consent_declined", actor=f"customer:{sender}",
                              session=s, account_number=account_number, version=FACE_CONSENT_VERSION)
        return {"status": "agreed" if agreed else "declined", "version": FACE_CONSENT_VERSION}
