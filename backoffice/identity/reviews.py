"""Review means a human: a live check whose face match fell in the review band waits for a reviewer.

The task holds what the reviewer needs to decide (the best frame of the live check, the portraits it was
compared with, the distance and the band limits, the challenge and the actions seen, the attack score) and
nothing else; the customer is told it is being reviewed. Approval records the face check as passed for that
conversation and purpose (for 绑定设备 the device is bound right away, whether or not the customer is still
there), so the business continues where it stopped; rejection counts as a failed check (tries.py). Both send
an SMS to the reserved phone and a chat message (backoffice/identity/live_routes.py nudges the bot).
A decision is a compare-and-set on the status, so two reviewers cannot both decide one task.
"""
from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Integer, String, Text, select, update

from backoffice.core.clock import iso
from backoffice.core.crypto import mask_account
from backoffice.core.db import Base
from backoffice.otp.sms import compose

PURPOSE_NAMES = {"bind": "绑定设备", "business": "业务办理", "recover": "找回账户"}
STATUS_LABELS = {"pending": "待复核", "approved": "已通过", "rejected": "未通过"}


class ReviewError(ValueError):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


class FaceReview(Base):
    __tablename__ = "face_reviews"
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender = Column(String(128), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    purpose = Column(String(16), nullable=False)
    account_number = Column(String(16), index=True)  # None in 找回账户 (not logged in)
    subject = Column(String(64))  # blind index of the ID number: tries and, in 找回账户, the phones to tell
    business = Column(String(32))  # the business whose face step it was, when known
    status = Column(String(16), nullable=False, index=True, default="pending")
    best_frame_media_id = Column(String(32))
    reference_media_ids = Column(JSON, nullable=False, default=list)
    distance = Column(Float, nullable=False)
    accept_max = Column(Float)
    review_max = Column(Float)
    liveness = Column(JSON, nullable=False, default=dict)  # challenge, actions seen, attack score, source
    created_at = Column(DateTime(timezone=True), nullable=False)
    decided_at = Column(DateTime(timezone=True))
    decided_by = Column(String(64))
    reason = Column(Text)


class FaceReviewService:
    def __init__(self, db, accounts, sms, audit, clock):
        self.db, self.accounts, self.sms, self.audit, self.clock = db, accounts, sms, audit, clock

    def open(self, *, sender: str, channel: str, purpose: str, account_number: str | None, subject: str | None,
             business: str | None, best_frame: str, references: list[str], compared: dict, liveness: dict) -> int:
        with self.db.session() as s:
            row = FaceReview(sender=sender[:128], channel=(channel or "rest")[:32], purpose=purpose,
                             account_number=account_number, subject=subject, business=business, status="pending",
                             best_frame_media_id=best_frame, reference_media_ids=list(references),
                             distance=float(compared["distance"]), accept_max=compared.get("accept_max"),
                             review_max=compared.get("review_max"), liveness=liveness,
                             created_at=self.clock.utcnow())
            s.add(row)
            s.flush()
            self.audit.record("face_review_opened", actor=f"customer:{sender}", session=s,
                              account_number=account_number, review_id=row.id, purpose=purpose,
                              distance=round(float(compared["distance"]), 4))
            return row.id

    def get(self, review_id: int) -> dict | None:
        with self.db.session() as s:
            row = s.get(FaceReview, review_id)
            return self._view(row) if row else None

    def list(self, status: str | None = None, limit: int = 200) -> list[dict]:
        if status and status not in STATUS_LABELS:
            raise ReviewError("bad_status", "status must be one of " + ", ".join(STATUS_LABELS))
        q = select(FaceReview).order_by(FaceReview.id.desc()).limit(limit)
        if status:
            q = q.where(FaceReview.status == status)
        with self.db.session() as s:
            return [self._view(r) for r in s.execute(q).scalars()]

    def decide(self, review_id: int, staff: str, approved: bool, reason: str = "") -> tuple[dict, bool]:
        """(view, changed): changed is False when the same decision was already taken (a repeated click)."""
        reason = (reason or "").strip()
        if not approved and not (0 < len(reason) <= 200):
            raise ReviewError("reason_required", "驳回须填写原因（1-200字），原因会告知客户。")
        to = "approved" if approved else "rejected"
        with self.db.session() as s:
            row = s.get(FaceReview, review_id)
            if row is None:
                raise ReviewError("not_found", "复核任务不存在。", 404)
            if row.status == to:
                return self._view(row), False
            if row.status != "pending":
                raise ReviewError("conflict", f"该任务已{STATUS_LABELS[row.status]}，不能再改。", 409)
            result = s.execute(update(FaceReview).where(FaceReview.id == review_id, FaceReview.status == "pending")
                               .values(status=to, decided_at=self.clock.utcnow(), decided_by=staff[:64],
                                       reason=reason or None).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                raise ReviewError("conflict", "该任务已被其他复核员处理。", 409)
            s.refresh(row)
            self.audit.record(f"face_review_{to}", actor=f"staff:{staff}", session=s,
                              account_number=row.account_number, review_id=review_id, purpose=row.purpose)
            return self._view(row), True

    def notify_by_sms(self, view: dict, text_kind: str, **values) -> None:
        """The decision by SMS to the reserved phone of the account (找回账户: of every account of that ID)."""
        numbers = [view["account_number"]] if view["account_number"] else self._accounts_of(view)
        for number in numbers:
            phone = self.accounts.phone_of(number)
            if phone:
                self.sms.send(phone, compose(text_kind, masked=mask_account(number), purpose=view["purpose_name"],
                                             **values))

    def subject_of(self, review_id: int) -> str | None:
        """The person's key (tries.py); kept out of views: staff have no use for it."""
        with self.db.session() as s:
            row = s.get(FaceReview, review_id)
            return row.subject if row else None

    def _accounts_of(self, view: dict) -> list[str]:
        subject = self.subject_of(view["id"])
        if subject is None or subject.startswith("acct:"):
            return []
        return self.accounts.find_by_id_index(subject)

    @staticmethod
    def _view(r: FaceReview) -> dict:
        return {"id": r.id, "sender": r.sender, "channel": r.channel, "purpose": r.purpose,
                "purpose_name": PURPOSE_NAMES.get(r.purpose, r.purpose), "account_number": r.account_number,
                "business": r.business, "status": r.status, "status_label": STATUS_LABELS[r.status],
                "best_frame_media_id": r.best_frame_media_id, "reference_media_ids": list(r.reference_media_ids or []),
                "distance": r.distance, "accept_max": r.accept_max, "review_max": r.review_max,
                "liveness": dict(r.liveness or {}), "created_at": iso(r.created_at), "decided_at": iso(r.decided_at),
                "decided_by": r.decided_by, "reason": r.reason}
