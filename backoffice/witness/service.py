"""Video witness (视频见证): sessions between a customer and a staff member, their verdicts and evidence.

A session is opened for (sender, business) when a business reaches its witness step. The customer
joins from an H5 page (signed link), a staff member takes it from the console, they talk over WebRTC
(signalling: backoffice/witness/routes.py, backoffice/console/witness.py), and the staff member passes
or fails it. A passed session is used once: the application of the business consumes it.

Status: waiting (invited / queued) → in_call → passed | failed; also cancelled (by staff) and expired
(never taken, or abandoned). Expiry is applied lazily whenever sessions are read.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import JSON, Column, DateTime, Float, Integer, String, Text, func, select, update

from backoffice.applications.businesses import BUSINESS_NAMES
from backoffice.core.clock import as_utc, iso
from backoffice.core.db import Base

STATUSES = ("waiting", "in_call", "passed", "failed", "cancelled", "expired")
LIVE = ("waiting", "in_call")
STATUS_LABELS = {"waiting": "等待接通", "in_call": "见证中", "passed": "已通过", "failed": "未通过",
                 "cancelled": "已取消", "expired": "已过期"}
WAIT_TTL = 30 * 60        # a session nobody took within this is expired
CALL_TTL = 2 * 3600       # an in_call session older than this was abandoned
PASSED_TTL = 2 * 3600     # a passed session must be used by an application within this
LINK_TTL = 3 * 3600       # the customer's page link (covers waiting + call + recording upload)
RECORDING_SIDES = ("customer", "staff")

# Customer-safe reasons a staff member picks when failing a session (notes stay internal).
FAIL_REASONS = {
    "not_self": "未能确认为账户本人办理",
    "not_voluntary": "未能确认您本人自愿办理该业务",
    "risk_not_understood": "您对业务风险的确认未能完成",
    "poor_quality": "视频画面或声音不清晰，无法完成见证",
    "no_show": "工作人员未能与您完成视频通话",
    "other": "见证未能完成",
}

_COMMON_START = [
    ("identity", "本人确认", "请您正对镜头，说出您的姓名，并确认是资金账号本人在办理。"),
    ("id_card", "证件核对", "请将身份证人像面靠近镜头停留两秒。（坐席核对与证件头像是否一致）"),
]
_COMMON_END = [
    ("voluntary", "自愿办理", "请问本次业务是否为您本人真实意愿、自愿办理，没有受到他人指使或胁迫？"),
    ("no_third_party", "无他人代办", "请确认现场没有他人替您操作或提示您回答。"),
]
CHECKLISTS = {
    "activate_dormant_account": _COMMON_START + [
        ("purpose", "激活用途", "请问您激活休眠账户的原因是什么？近期是否打算进行期货交易？"),
        ("risk", "风险知悉", "期货交易实行保证金制度，可能损失全部保证金甚至超出，您是否已知悉并愿意承担相关风险？"),
        ("info_current", "信息有效", "您的手机号码、联系地址等信息是否仍然有效？如有变化请在激活后及时更新。"),
    ] + _COMMON_END,
    "close_account": _COMMON_START + [
        ("reason", "销户原因", "请问您申请注销期货账户的原因是什么？"),
        ("no_positions", "持仓与资金", "请确认账户已无持仓、无在途出金，可用资金已全部转出。"),
        ("consequence", "后果知悉", "销户后该资金账号将无法登录和交易，如需交易须重新开户，您是否已知悉？"),
    ] + _COMMON_END,
}
_DEFAULT_CHECKLIST = _COMMON_START + [
    ("business", "业务确认", "请您确认本次办理的业务名称及内容。"),
    ("risk", "风险知悉", "您是否已知悉本业务的相关风险与后果？"),
] + _COMMON_END


def checklist_for(business: str) -> list[dict]:
    return [{"code": c, "title": t, "question": q} for c, t, q in CHECKLISTS.get(business, _DEFAULT_CHECKLIST)]


class WitnessSession(Base):
    __tablename__ = "witness_sessions"
    id = Column(String(32), primary_key=True)
    sender = Column(String(128), nullable=False, index=True)
    account_number = Column(String(16), nullable=False, index=True)
    business = Column(String(32), nullable=False)
    channel = Column(String(32), nullable=False, default="rest")
    status = Column(String(16), nullable=False, index=True)
    staff = Column(String(64))
    notes_enc = Column(Text)  # staff notes may name the customer: encrypted like other PII
    reason = Column(String(32))  # FAIL_REASONS code
    checklist = Column(JSON, nullable=False, default=dict)  # {item code: true/false}
    snapshot_media_id = Column(String(32))
    face_distance = Column(Float)
    face_decision = Column(String(16))  # accept | review | reject | error
    face_error = Column(String(64))
    recordings = Column(JSON, nullable=False, default=list)  # [{"side", "media_id", "size", "at"}]
    application_id = Column(Integer)
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    joined_at = Column(DateTime(timezone=True))
    decided_at = Column(DateTime(timezone=True))
    updated_at = Column(DateTime(timezone=True), nullable=False)


class WitnessError(ValueError):
    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code, self.status = code, status


def customer_reason(code: str | None) -> str:
    text = FAIL_REASONS.get(code or "other", FAIL_REASONS["other"])
    return f"视频见证未通过：{text}。"


class WitnessService:
    def __init__(self, db, crypto, audit, clock, links, public_url: str):
        self.db, self.crypto, self.audit, self.clock = db, crypto, audit, clock
        self.links, self.public_url = links, public_url.rstrip("/")

    # --- reading --------------------------------------------------------------------------
    def _expire(self, s) -> None:
        now = self.clock.utcnow()
        s.execute(update(WitnessSession)
                  .where(WitnessSession.status == "waiting",
                         WitnessSession.created_at < now - timedelta(seconds=WAIT_TTL))
                  .values(status="expired", updated_at=now).execution_options(synchronize_session=False))
        s.execute(update(WitnessSession)
                  .where(WitnessSession.status == "in_call",
                         WitnessSession.joined_at < now - timedelta(seconds=CALL_TTL))
                  .values(status="expired", updated_at=now).execution_options(synchronize_session=False))

    def _position(self, s, row: WitnessSession) -> int:
        if row.status != "waiting":
            return 0
        ahead = s.execute(select(func.count()).select_from(WitnessSession)
                          .where(WitnessSession.status == "waiting",
                                 WitnessSession.created_at < row.created_at)).scalar_one()
        return ahead + 1

    def _view(self, s, row: WitnessSession, *, staff_view: bool = True) -> dict:
        view = {
            "id": row.id, "business": row.business, "business_name": BUSINESS_NAMES.get(row.business, row.business),
            "status": row.status, "status_label": STATUS_LABELS.get(row.status, row.status),
            "position": self._position(s, row), "created_at": iso(row.created_at),
            "joined_at": iso(row.joined_at), "decided_at": iso(row.decided_at),
            "reason": customer_reason(row.reason) if row.status == "failed" else None,
        }
        if staff_view:
            view.update({
                "sender": row.sender, "account_number": row.account_number, "channel": row.channel,
                "staff": row.staff, "notes": self.crypto.decrypt_str(row.notes_enc) if row.notes_enc else "",
                "reason_code": row.reason, "checklist": dict(row.checklist or {}),
                "snapshot_media_id": row.snapshot_media_id, "face_distance": row.face_distance,
                "face_decision": row.face_decision, "face_error": row.face_error,
                "recordings": list(row.recordings or []), "application_id": row.application_id,
            })
        return view

    def get(self, witness_id: str, *, staff_view: bool = True) -> dict | None:
        with self.db.session() as s:
            self._expire(s)
            row = s.get(WitnessSession, witness_id)
            return self._view(s, row, staff_view=staff_view) if row else None

    def list(self, status: str | None = None, limit: int = 200) -> list[dict]:
        if status and status not in STATUSES:
            raise WitnessError("bad_status", f"status must be one of {', '.join(STATUSES)}", 400)
        with self.db.session() as s:
            self._expire(s)
            q = select(WitnessSession)
            if status:
                q = q.where(WitnessSession.status == status).order_by(WitnessSession.created_at)
            else:
                q = q.order_by(WitnessSession.created_at.desc())
            return [self._view(s, r) for r in s.execute(q.limit(limit)).scalars()]

    def live_state(self, witness_id: str) -> dict | None:
        """Status and queue position only: read once a second for every connected page, so no expiry sweep."""
        with self.db.session() as s:
            row = s.get(WitnessSession, witness_id)
            if row is None:
                return None
            return {"status": row.status, "position": self._position(s, row),
                    "reason": customer_reason(row.reason) if row.status == "failed" else None,
                    "staff": row.staff}

    def for_application(self, application_id: int) -> dict | None:
        with self.db.session() as s:
            row = s.execute(select(WitnessSession).where(WitnessSession.application_id == application_id)
                            ).scalars().first()
            return self._view(s, row) if row else None

    # --- customer side ----------------------------------------------------------------------
    def link(self, witness_id: str) -> str:
        return f"{self.public_url}/h5/witness/{self.links.sign({'w': witness_id}, LINK_TTL)}"

    def id_from_token(self, token: str) -> str | None:
        payload = self.links.verify(token or "")
        value = (payload or {}).get("w")
        return value if isinstance(value, str) else None

    def _current(self, s, sender: str, business: str) -> WitnessSession | None:
        """The live or passed-unused session of a sender for a business (newest first)."""
        since = self.clock.utcnow() - timedelta(seconds=PASSED_TTL)
        rows = s.execute(select(WitnessSession)
                         .where(WitnessSession.sender == sender, WitnessSession.business == business)
                         .order_by(WitnessSession.created_at.desc()).limit(10)).scalars()
        for row in rows:
            if row.status in LIVE:
                return row
            if row.status == "passed" and row.application_id is None and as_utc(row.decided_at) >= since:
                return row
        return None

    def open(self, sender: str, account_number: str, business: str, channel: str = "rest") -> tuple[dict, bool]:
        if business not in BUSINESS_NAMES:
            raise WitnessError("unknown_business", "未知的业务类型。", 400)
        with self.db.session() as s:
            self._expire(s)
            row = self._current(s, sender, business)
            if row is not None and row.account_number != account_number:
                # the sender logged into another account meanwhile: the old session does not carry over
                if row.status in LIVE:
                    row.status, row.updated_at = "cancelled", self.clock.utcnow()
                row = None
            created = row is None
            if created:
                now = self.clock.utcnow()
                row = WitnessSession(id=uuid.uuid4().hex, sender=sender, account_number=account_number,
                                     business=business, channel=(channel or "rest")[:32], status="waiting",
                                     checklist={}, recordings=[], created_at=now, updated_at=now)
                s.add(row)
                s.flush()
                self.audit.record("witness_opened", actor=f"customer:{sender}", session=s,
                                  account_number=account_number, witness_id=row.id, business=business)
            view = self._view(s, row, staff_view=False)
        view["url"] = self.link(view["id"])
        return view, created

    def status(self, sender: str, business: str) -> dict:
        """The sender's latest session for a business, as the bot needs it."""
        with self.db.session() as s:
            self._expire(s)
            row = self._current(s, sender, business)
            if row is None:  # the latest decided one, for a failure reason
                row = s.execute(select(WitnessSession)
                                .where(WitnessSession.sender == sender, WitnessSession.business == business)
                                .order_by(WitnessSession.created_at.desc())).scalars().first()
                if row is not None and row.status != "failed":
                    row = None
            if row is None:
                return {"status": "none", "witness_id": None, "position": 0, "reason": None}
            return {"status": row.status, "witness_id": row.id, "position": self._position(s, row),
                    "reason": customer_reason(row.reason) if row.status == "failed" else None}

    # --- staff side -----------------------------------------------------------------------------
    def _locked(self, s, witness_id: str) -> WitnessSession:
        self._expire(s)
        row = s.get(WitnessSession, witness_id, with_for_update=True)
        if row is None:
            raise WitnessError("not_found", "没有这个视频见证。", 404)
        return row

    def join(self, witness_id: str, staff: str) -> dict:
        with self.db.session() as s:
            row = self._locked(s, witness_id)
            if row.status == "in_call" and row.staff != staff:
                raise WitnessError("taken", f"已由{row.staff}接通。")
            if row.status not in LIVE:
                raise WitnessError("closed", f"该见证{STATUS_LABELS[row.status]}，不能接通。")
            if row.status == "waiting":
                now = self.clock.utcnow()
                row.status, row.staff, row.joined_at, row.updated_at = "in_call", staff, now, now
                self.audit.record("witness_joined", actor=f"staff:{staff}", session=s,
                                  account_number=row.account_number, witness_id=row.id)
            return self._view(s, row)

    def release(self, witness_id: str, staff: str) -> dict:
        """The staff member leaves without a verdict: the customer goes back to the queue."""
        with self.db.session() as s:
            row = self._locked(s, witness_id)
            if row.status != "in_call" or row.staff != staff:
                raise WitnessError("not_yours", "您没有接通这个见证。")
            # back into the queue at its original place (created_at), so the customer is not punished
            row.status, row.staff, row.joined_at, row.updated_at = "waiting", None, None, self.clock.utcnow()
            self.audit.record("witness_released", actor=f"staff:{staff}", session=s,
                              account_number=row.account_number, witness_id=row.id)
            return self._view(s, row)

    def decide(self, witness_id: str, actor: str, passed: bool, *, notes: str = "", reason: str | None = None,
               checklist: dict | None = None, any_staff: bool = False) -> dict:
        """Pass or fail. Console staff must be the one in the call; the admin API (any_staff) may decide any
        live session."""
        notes = (notes or "").strip()
        if len(notes) > 2000:
            raise WitnessError("bad_notes", "备注不能超过2000字。", 400)
        if not passed:
            reason = reason if isinstance(reason, str) and reason in FAIL_REASONS else "other"
        checks = {str(k)[:32]: bool(v) for k, v in (checklist or {}).items()}
        with self.db.session() as s:
            row = self._locked(s, witness_id)
            if row.status not in LIVE:
                raise WitnessError("closed", f"该见证{STATUS_LABELS[row.status]}，不能再次判定。")
            if not any_staff and (row.status != "in_call" or row.staff != actor):
                raise WitnessError("not_yours", "请先接通该见证。")
            now = self.clock.utcnow()
            row.status = "passed" if passed else "failed"
            row.reason = None if passed else reason
            row.notes_enc = self.crypto.encrypt_str(notes) if notes else None
            row.checklist = checks
            row.staff = row.staff or actor
            row.decided_at = row.updated_at = now
            self.audit.record("witness_decided", actor=f"staff:{actor}", session=s, account_number=row.account_number,
                              witness_id=row.id, passed=bool(passed), reason=row.reason,
                              checked=sum(1 for v in checks.values() if v), items=len(checks))
            return self._view(s, row)

    def cancel(self, witness_id: str, staff: str) -> dict:
        with self.db.session() as s:
            row = self._locked(s, witness_id)
            if row.status not in LIVE:
                raise WitnessError("closed", f"该见证{STATUS_LABELS[row.status]}。")
            row.status, row.updated_at = "cancelled", self.clock.utcnow()
            self.audit.record("witness_cancelled", actor=f"staff:{staff}", session=s,
                              account_number=row.account_number, witness_id=row.id)
            return self._view(s, row)

    def withdraw(self, sender: str, business: str) -> str | None:
        """The customer cancelled the business in chat: a session still waiting leaves the queue (so no one
        calls a customer who has gone). A call in progress is left to the staff member; a passed session stays
        usable when the customer starts the business again. Returns the withdrawn session's id."""
        with self.db.session() as s:
            self._expire(s)
            row = self._current(s, sender, business)
            if row is None or row.status != "waiting":
                return None
            row = s.get(WitnessSession, row.id, with_for_update=True)
            if row.status != "waiting":
                return None
            row.status, row.updated_at = "cancelled", self.clock.utcnow()
            self.audit.record("witness_withdrawn", actor=f"customer:{sender}", session=s,
                              account_number=row.account_number, witness_id=row.id)
            return row.id

    # --- evidence -----------------------------------------------------------------------------
    def attach_recording(self, witness_id: str, side: str, media_id: str, size: int, actor: str) -> dict:
        if side not in RECORDING_SIDES:
            raise WitnessError("bad_side", "side must be customer or staff", 400)
        with self.db.session() as s:
            row = self._locked(s, witness_id)
            if row.status in ("waiting", "cancelled", "expired"):
                raise WitnessError("closed", "该见证未接通，无需上传录像。")
            row.recordings = list(row.recordings or []) + [
                {"side": side, "media_id": media_id, "size": int(size), "at": iso(self.clock.utcnow())}]
            row.updated_at = self.clock.utcnow()
            self.audit.record("witness_recording_stored", actor=actor, session=s, account_number=row.account_number,
                              witness_id=row.id, side=side, size=int(size))
            return self._view(s, row)

    def set_snapshot(self, witness_id: str, staff: str, media_id: str, face: dict) -> dict:
        with self.db.session() as s:
            row = self._locked(s, witness_id)
            if row.status != "in_call" or row.staff != staff:
                raise WitnessError("not_yours", "请先接通该见证。")
            row.snapshot_media_id = media_id
            row.face_distance = face.get("distance")
            row.face_decision = face.get("decision") or "error"
            row.face_error = (face.get("error") or None) and str(face["error"])[:64]
            row.updated_at = self.clock.utcnow()
            self.audit.record("witness_snapshot", actor=f"staff:{staff}", session=s, account_number=row.account_number,
                              witness_id=row.id, decision=row.face_decision, distance=row.face_distance,
                              error=row.face_error)
            return self._view(s, row)

    # --- applications ---------------------------------------------------------------------------
    def passed(self, sender: str, account_number: str, business: str) -> str | None:
        """The id of a passed, unused (and recent) session for this sender, account and business."""
        with self.db.session() as s:
            row = self._current(s, sender, business)
            if row is None or row.status != "passed" or row.account_number != account_number:
                return None
            return row.id

    def consume(self, witness_id: str, application_id: int) -> None:
        """Link a passed session to the application it allowed (once; repeating with the same id is a no-op)."""
        with self.db.session() as s:
            row = s.get(WitnessSession, witness_id, with_for_update=True)
            if row is None or row.status != "passed":
                raise WitnessError("not_passed", "视频见证尚未通过。")
            if row.application_id is not None and row.application_id != int(application_id):
                raise WitnessError("used", "该视频见证已用于其他申请。")
            if row.application_id is None:
                row.application_id, row.updated_at = int(application_id), self.clock.utcnow()
                self.audit.record("witness_consumed", actor="system", session=s, account_number=row.account_number,
                                  witness_id=row.id, application_id=int(application_id))
