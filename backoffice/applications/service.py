"""Business applications: 办理中 → 审批中 → 已通过 / 已驳回 / 已撤销, their history and their execution.

Exactly-once execution of a decision
------------------------------------
A decision is a compare-and-set UPDATE on the application's status (``WHERE status = 'pending'``): of two
concurrent approve calls only one changes a row; the other reads the final state and answers idempotently.
In the same transaction the winner writes the outbox rows (``application_effects``, unique per application
and kind): ``execute`` (the change on the account core), ``sms`` and ``chat``. ``process_outbox()`` drains
them in order per application:

* ``execute`` and ``chat`` flip their row pending → done with a conditional UPDATE *in the same transaction*
  as the account change / the outbound chat row, so they happen exactly once whatever crashes.
* ``sms`` leaves the database: the row is leased (pending → sending, conditional UPDATE), the gateway is
  called, the row is marked done. Only the lease holder sends; a failure puts the row back to pending and a
  crash lets the lease expire, so the text is sent at least once and never twice by concurrent workers.

Secrets an effect produces for the customer (a temporary password) travel to the SMS row encrypted and are
erased when the SMS is done; they are never in views, logs, audit details or chat.
"""
from __future__ import annotations

import collections
import json
import logging
import time
from datetime import timedelta
from typing import Callable

from sqlalchemy import (JSON, Boolean, Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint,
                        delete, or_, select, update)
from sqlalchemy.exc import IntegrityError, OperationalError

from backoffice.accounts import credentials
from backoffice.accounts.login import CustomerSession
from backoffice.accounts.service import Account
from backoffice.applications import eligibility
from backoffice.applications.businesses import BUSINESS_NAMES
from backoffice.applications.checks import SERVER_KEYS, ApplicationError
from backoffice.core.clock import china_date, iso
from backoffice.core.crypto import mask_account
from backoffice.core.db import Base
from backoffice.handoff.conversations import OutboundMessage
from backoffice.otp.sms import TEXTS, compose
from businesses import Business
from businesses import get as get_business

log = logging.getLogger(__name__)

STATUS_LABELS = {"in_progress": "办理中", "pending": "审批中", "approved": "已通过", "rejected": "已驳回",
                 "withdrawn": "已撤销"}
LABEL_STATUSES = {v: k for k, v in STATUS_LABELS.items()}
OPEN_STATUSES = ("in_progress", "pending")
# Business data only: identity data lives encrypted in the account core, never in an application.
FORBIDDEN_PAYLOAD_KEYS = {"phone", "id_number", "name", "code", "otp", "otp_code", "password", "image",
                          "address", "birth_date"}
SMS_LEASE_SECONDS = 120


class Application(Base):
    __tablename__ = "applications"
    id = Column(Integer, primary_key=True, autoincrement=True)
    business = Column(String(32), nullable=False, index=True)
    account_number = Column(String(16), nullable=False, index=True)
    sender = Column(String(128), nullable=False)
    channel = Column(String(32), nullable=False, default="rest")
    status = Column(String(16), nullable=False, index=True)
    # "<business>:<account>" while open, NULL once final: the unique index makes a second open application
    # for the same business and account impossible, even for two concurrent opens.
    open_key = Column(String(64), unique=True)
    payload = Column(JSON, nullable=False, default=dict)
    flags = Column(JSON, nullable=False, default=list)
    needs_manual_review = Column(Boolean, nullable=False, default=False)
    decided_by = Column(String(64))
    decision_note = Column(Text)
    reason = Column(Text)
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)
    submitted_at = Column(DateTime(timezone=True))
    decided_at = Column(DateTime(timezone=True))


class ApplicationEvent(Base):
    __tablename__ = "application_events"
    id = Column(Integer, primary_key=True, autoincrement=True)
    application_id = Column(Integer, ForeignKey("applications.id"), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False)
    actor = Column(String(64), nullable=False)
    from_status = Column(String(16))
    to_status = Column(String(16), nullable=False)
    reason = Column(Text)


class ApplicationEffect(Base):
    """Outbox: one row per consequence of a decision, drained by process_outbox()."""

    __tablename__ = "application_effects"
    __table_args__ = (UniqueConstraint("application_id", "kind", name="uq_application_effects_kind"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    application_id = Column(Integer, ForeignKey("applications.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)  # execute | sms | chat
    seq = Column(Integer, nullable=False)
    status = Column(String(16), nullable=False, default="pending", index=True)  # pending|sending|done|failed
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(String(128))
    claimed_until = Column(DateTime(timezone=True))
    data_enc = Column(Text)  # encrypted values for the SMS (temporary password), erased when done
    created_at = Column(DateTime(timezone=True), nullable=False)
    done_at = Column(DateTime(timezone=True))


# --- business rules -------------------------------------------------------------------------

def check_preconditions(business: Business, account: Account, payload: dict) -> None:
    """What every application checks before it is opened, from the business's registry entry: the account is not
    closed, its eligibility rule (the one the customer is told before any step, enforced again here) and the
    options of its choice steps (e.g. 交易密码/资金密码)."""
    if account.state == "closed":
        raise ApplicationError("closed", "该资金账号已销户。", 409)
    unmet = eligibility.unmet(business.code, account)
    if unmet:
        # the error code the API answers: the condition's own, or its group's ("has_assets" for 在线销户's three)
        code = unmet[0].get("refusal", unmet[0]["code"])
        raise ApplicationError(code, eligibility.answer(business.code, account)["message"], 409)
    for step in business.steps:
        slot, options = step.options.get("slot"), step.options.get("options")
        if step.kind == "choice" and slot in business.payload and str(payload.get(slot, "")) not in options:
            raise ApplicationError("bad_payload", business.text("choice_again", "请选择：" + "、".join(options)))


# --- account effects: run inside the transaction that marks their outbox row done ----------

def _effect_unlock(ctx, s, app: Application, account: Account) -> dict:
    if account.state == "locked":
        account.state = "normal"
    account.password_failures = 0
    return {}


def _effect_reset_password(ctx, s, app: Application, account: Account) -> dict:
    kind = credentials.kind_of(app.payload.get("password_type", ""))
    password = credentials.issue_temporary(s, account.account_number, kind, ctx.clock.utcnow())
    if kind == "trade":
        account.password_failures = 0
    return {"password": password}


def _effect_activate(ctx, s, app: Application, account: Account) -> dict:
    if account.state == "dormant":
        account.state = "normal"
    return {}


def _effect_close(ctx, s, app: Application, account: Account) -> dict:
    account.state = "closed"
    account.bound_device, account.bound_at = None, None
    s.execute(delete(CustomerSession).where(CustomerSession.account_number == account.account_number))
    return {}


# effect name (a registry entry's `application.effect`) → function(ctx, session, application, account) → the
# secrets its SMS carries. A new kind of change on the account core is a function here.
EFFECTS: dict[str, Callable] = {
    "unlock_account": _effect_unlock, "reset_password": _effect_reset_password,
    "activate_dormant_account": _effect_activate, "close_account": _effect_close,
}
CHAT_APPROVED_DEFAULT = "您于{date}提交的{business_name}申请已审核通过。"
CHAT_REJECTED = "您于{date}提交的{business_name}申请未通过审核，原因：{reason}。您可补充材料后重新办理，或回复“转人工”咨询。"


class ApplicationService:
    def __init__(self, db, crypto, sms, audit, clock, *, agreements=None, verification=None):
        self.db, self.crypto, self.sms, self.audit, self.clock = db, crypto, sms, audit, clock
        self.agreements = agreements  # optional: submit() refuses while required agreements are unsigned
        # backoffice/applications/verification.py: the steps (face, SMS code, ...) a business needs before open();
        # build_services always wires it.
        self.verification = verification
        # Chat rows written by process_outbox for channels that can be pushed (WeChat); the web app drains
        # this and pushes. Losing it in a crash only loses the push: the outbox row stays for the client.
        self._pushes: collections.deque = collections.deque(maxlen=1000)

    # --- opening and the customer's steps -------------------------------------------------
    def open(self, business: str, account_number: str, sender: str, channel: str = "rest",
             payload: dict | None = None, *, submit: bool = False) -> tuple[dict, bool]:
        """Open an application, or return the open one for the same business and account (created=False)."""
        entry = get_business(business)
        if entry is None or not entry.application:
            raise ApplicationError("unknown_business", "未知的业务类型。")
        payload = dict(payload or {})
        leaked = FORBIDDEN_PAYLOAD_KEYS & set(payload)
        if leaked:  # a programming error in a caller: refuse rather than store personal data
            raise ApplicationError("bad_payload", f"payload must not contain {sorted(leaked)}")
        key = f"{business}:{account_number}"
        existing = self._find_open(key)
        if existing is not None:
            return existing, False
        with self.db.session() as s:
            account = s.get(Account, account_number)
            if account is None:
                raise ApplicationError("no_account", "资金账号不存在。", 404)
        check_preconditions(entry, account, payload)
        if submit:
            self._refuse_unsigned(business, account_number)  # before the proofs are used up
        if self.verification is not None:
            for server_key in SERVER_KEYS:  # never the caller's word for what the server checked
                payload.pop(server_key, None)
            try:
                payload.update(self.verification.verify(business, sender, account_number))
            except ApplicationError as exc:
                # A concurrent open may have used the proof a moment ago: answer with its application.
                existing = self._find_open(key)
                if existing is not None:
                    return existing, False
                self.audit.record("application_refused", actor=f"customer:{sender}", account_number=account_number,
                                  business=business, error=exc.code)
                raise
        flags = []
        face = payload.get("face")
        if isinstance(face, dict) and face.get("review_id"):  # the face matched only after a reviewer looked
            flags.append({"kind": "face_reviewed", "review_id": face["review_id"], "score": face.get("score")})
        now = self.clock.utcnow()
        try:
            with self.db.session() as s:
                app = Application(business=business, account_number=account_number, sender=sender[:128],
                                  channel=(channel or "rest")[:32], status="in_progress", open_key=key,
                                  payload=payload, flags=flags, needs_manual_review=bool(flags),
                                  created_at=now, updated_at=now)
                s.add(app)
                s.flush()
                s.add(ApplicationEvent(application_id=app.id, at=now, actor=f"customer:{sender}"[:64],
                                       from_status=None, to_status="in_progress"))
                self.audit.record("application_opened", actor=f"customer:{sender}", session=s,
                                  account_number=account_number, application_id=app.id, business=business,
                                  manual_review=bool(flags))
                app_id = app.id
        except IntegrityError:  # a concurrent open won the unique open_key
            existing = self._find_open(key)
            if existing is None:
                raise
            return existing, False
        if self.verification is not None:
            self.verification.consume(business, sender, account_number, app_id, payload)
        view = self.get(app_id)
        if submit:
            view = self.submit(app_id, actor=f"customer:{sender}")
        return view, True

    def _find_open(self, key: str) -> dict | None:
        with self.db.session() as s:
            app = s.execute(select(Application).where(Application.open_key == key)).scalar_one_or_none()
            return self._view(app) if app else None

    def submit(self, app_id: int, actor: str = "customer") -> dict:
        current = self.get(app_id)
        if current is None:
            raise ApplicationError("not_found", "申请不存在。", 404)
        if current["status"] == "pending":
            return current
        if current["status"] == "in_progress":
            self._refuse_unsigned(current["business"], current["account_number"])
        view, _ = self._transition(app_id, ("in_progress",), "pending", actor, idempotent_if="pending",
                                   values={"submitted_at": self.clock.utcnow()})
        return view

    def _refuse_unsigned(self, business: str, account_number: str) -> None:
        if self.agreements is None or business not in self.agreements.requirements:
            return
        missing = self.agreements.missing(account_number, business)
        if missing:
            titles = "、".join(f"《{m['title']}》" for m in missing)
            raise ApplicationError("missing_agreements", f"请先签署{titles}。", 409)

    def withdraw(self, app_id: int, by: str) -> dict:
        view, _ = self._transition(app_id, OPEN_STATUSES, "withdrawn", by, idempotent_if="withdrawn")
        return view

    # --- staff decisions ------------------------------------------------------------------
    def approve(self, app_id: int, staff: str, note: str | None = None) -> dict:
        view, changed = self._transition(app_id, ("pending",), "approved", f"staff:{staff}",
                                         idempotent_if="approved", reason=note,
                                         values={"decided_by": staff[:64], "decision_note": (note or None),
                                                 "decided_at": self.clock.utcnow()},
                                         effects=("execute", "sms", "chat"))
        self._drain_after_decision(app_id)
        return self.get(app_id) if changed else view

    def reject(self, app_id: int, staff: str, reason: str) -> dict:
        reason = (reason or "").strip()
        if not reason or len(reason) > 500:
            raise ApplicationError("reason_required", "reason is required (1-500 characters)")
        view, changed = self._transition(app_id, ("pending",), "rejected", f"staff:{staff}",
                                         idempotent_if="rejected", reason=reason,
                                         values={"decided_by": staff[:64], "reason": reason,
                                                 "decided_at": self.clock.utcnow()},
                                         effects=("sms", "chat"))
        self._drain_after_decision(app_id)
        return self.get(app_id) if changed else view

    def _drain_after_decision(self, app_id: int) -> None:
        try:
            self.process_outbox(application_id=app_id)
        except Exception as exc:  # the decision stands; the periodic worker finishes the effects
            log.warning("outbox processing after decision on application %s failed: %s", app_id,
                        exc.__class__.__name__)

    def _transition(self, app_id: int, allowed: tuple, to: str, actor: str, *, idempotent_if: str,
                    reason: str | None = None, values: dict | None = None, effects: tuple = ()) -> tuple[dict, bool]:
        """Compare-and-set the status; (view, True) when this call changed it, (view, False) on a repeat."""
        for attempt in range(20):
            with self.db.session() as s:
                app = s.get(Application, app_id)
                if app is None:
                    raise ApplicationError("not_found", "申请不存在。", 404)
                observed = app.status
                if observed == idempotent_if:
                    return self._view(app), False
                if observed not in allowed:
                    raise ApplicationError("conflict", f"申请当前状态为“{STATUS_LABELS[observed]}”，不能改为"
                                                       f"“{STATUS_LABELS[to]}”。", 409)
            now = self.clock.utcnow()
            try:
                with self.db.session() as s:
                    row = {"status": to, "updated_at": now, **(values or {})}
                    if to not in OPEN_STATUSES:
                        row["open_key"] = None
                    result = s.execute(update(Application)
                                       .where(Application.id == app_id, Application.status == observed)
                                       .values(**row).execution_options(synchronize_session=False))
                    if result.rowcount != 1:
                        continue  # someone else moved it first: look again
                    s.add(ApplicationEvent(application_id=app_id, at=now, actor=actor[:64], from_status=observed,
                                           to_status=to, reason=reason))
                    for seq, kind in enumerate(effects, 1):
                        s.add(ApplicationEffect(application_id=app_id, kind=kind, seq=seq, status="pending",
                                                attempts=0, created_at=now))
                    app = s.get(Application, app_id)
                    s.refresh(app)
                    self.audit.record(f"application_{to}", actor=actor, session=s, account_number=app.account_number,
                                      application_id=app_id, business=app.business, from_status=observed)
                    return self._view(app), True
            except OperationalError:  # SQLite "database is locked" under contention: try again
                time.sleep(0.05 * (attempt + 1))
        raise ApplicationError("busy", "系统繁忙，请稍后重试。", 503)

    # --- reads ----------------------------------------------------------------------------
    def get(self, app_id: int, *, events: bool = False) -> dict | None:
        with self.db.session() as s:
            app = s.get(Application, app_id)
            if app is None:
                return None
            view = self._view(app)
            if events:
                q = select(ApplicationEvent).where(ApplicationEvent.application_id == app_id) \
                    .order_by(ApplicationEvent.id)
                view["events"] = [{"at": iso(e.at), "actor": e.actor, "from": e.from_status, "to": e.to_status,
                                   "reason": e.reason} for e in s.execute(q).scalars()]
                q = select(ApplicationEffect).where(ApplicationEffect.application_id == app_id) \
                    .order_by(ApplicationEffect.seq)
                view["effects"] = [{"kind": e.kind, "status": e.status, "attempts": e.attempts,
                                    "done_at": iso(e.done_at)} for e in s.execute(q).scalars()]
            return view

    def list(self, status: str | None = None, business: str | None = None,
             account_number: str | None = None, limit: int = 500) -> list[dict]:
        q = select(Application).order_by(Application.id.desc()).limit(limit)
        if status:
            code = LABEL_STATUSES.get(status, status)
            if code not in STATUS_LABELS:
                raise ApplicationError("bad_status", "status must be one of "
                                       + ", ".join(list(STATUS_LABELS) + list(LABEL_STATUSES)))
            q = q.where(Application.status == code)
        if business:
            q = q.where(Application.business == business)
        if account_number:
            q = q.where(Application.account_number == account_number)
        with self.db.session() as s:
            return [self._view(a) for a in s.execute(q).scalars()]

    def status_for_customer(self, account_number: str, limit: int = 10) -> list[dict]:
        """What 掌厅首页--办理中--审批中 shows, newest first, ready for a chat answer."""
        out = []
        for v in self.list(account_number=account_number, limit=limit):
            line = f"{v['business_name']}：{v['status_label']}（提交于{v['created_local']}）"
            if v["status"] == "rejected" and v["reason"]:
                line += f"，驳回原因：{v['reason']}"
            out.append({"id": v["id"], "business": v["business"], "business_name": v["business_name"],
                        "status": v["status"], "status_label": v["status_label"], "created_at": v["created_at"],
                        "updated_at": v["updated_at"], "reason": v["reason"], "text": line})
        return out

    def _view(self, a: Application) -> dict:
        return {"id": a.id, "business": a.business, "business_name": BUSINESS_NAMES.get(a.business, a.business),
                "account_number": a.account_number, "sender": a.sender, "channel": a.channel,
                "status": a.status, "status_label": STATUS_LABELS[a.status], "payload": a.payload or {},
                "flags": a.flags or [], "needs_manual_review": bool(a.needs_manual_review),
                "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
                "created_local": china_date(a.created_at), "submitted_at": iso(a.submitted_at),
                "decided_at": iso(a.decided_at), "decided_by": a.decided_by, "note": a.decision_note,
                "reason": a.reason}

    # --- the outbox -----------------------------------------------------------------------
    def process_outbox(self, application_id: int | None = None, limit: int = 100) -> dict:
        """Run due effects in order per application; safe to call from many workers at once."""
        now = self.clock.utcnow()
        q = (select(ApplicationEffect.application_id, ApplicationEffect.id, ApplicationEffect.kind)
             .where(or_(ApplicationEffect.status == "pending",
                        (ApplicationEffect.status == "sending") & (ApplicationEffect.claimed_until < now)))
             .order_by(ApplicationEffect.application_id, ApplicationEffect.seq).limit(limit))
        if application_id is not None:
            q = q.where(ApplicationEffect.application_id == application_id)
        with self.db.session() as s:
            due = s.execute(q).all()
        report = {"done": 0, "failed": 0}
        blocked: set[int] = set()
        for app_id, effect_id, kind in due:
            if app_id in blocked or not self._earlier_done(app_id, effect_id):
                blocked.add(app_id)
                continue
            ok = self._run_sms(effect_id) if kind == "sms" else self._run_atomic(effect_id)
            if ok:
                report["done"] += 1
            else:
                report["failed"] += 1
                blocked.add(app_id)  # the SMS must not announce what has not happened yet
        return report

    def _earlier_done(self, app_id: int, effect_id: int) -> bool:
        with self.db.session() as s:
            me = s.get(ApplicationEffect, effect_id)
            q = select(ApplicationEffect.id).where(ApplicationEffect.application_id == app_id,
                                                   ApplicationEffect.seq < me.seq,
                                                   ApplicationEffect.status.not_in(("done", "failed")))
            return s.execute(q).first() is None

    def _fail(self, effect_id: int, exc: Exception, *, release: bool = False) -> None:
        values = {"attempts": ApplicationEffect.attempts + 1, "last_error": exc.__class__.__name__[:128]}
        if release:
            values.update(status="pending", claimed_until=None)
            del values["attempts"]  # counted when the lease was taken
        with self.db.session() as s:
            q = update(ApplicationEffect).where(ApplicationEffect.id == effect_id)
            if release:
                q = q.where(ApplicationEffect.status == "sending")
            s.execute(q.values(**values).execution_options(synchronize_session=False))
        log.warning("application effect %s failed: %s", effect_id, exc.__class__.__name__)

    def _give_up(self, effect_id: int, exc: Exception) -> None:
        """An SMS the provider will never take (the number refused, the account misconfigured): retrying every
        round would only repeat the error. It ends as failed (its secret erased) for staff to follow up; the
        effects after it still run."""
        with self.db.session() as s:
            result = s.execute(update(ApplicationEffect)
                               .where(ApplicationEffect.id == effect_id, ApplicationEffect.status == "sending")
                               .values(status="failed", last_error=exc.__class__.__name__[:128], data_enc=None,
                                       claimed_until=None, done_at=self.clock.utcnow())
                               .execution_options(synchronize_session=False))
            if result.rowcount == 1:
                app_id = s.get(ApplicationEffect, effect_id).application_id
                self.audit.record("application_sms_failed", actor="system", session=s,
                                  account_number=s.get(Application, app_id).account_number, application_id=app_id,
                                  error=exc.__class__.__name__[:64])
        log.error("application SMS %s given up: %s", effect_id, exc.__class__.__name__)

    def _run_atomic(self, effect_id: int) -> bool:
        """execute / chat: the effect and its done mark commit together, or neither does."""
        push = None
        try:
            with self.db.session() as s:
                now = self.clock.utcnow()
                result = s.execute(update(ApplicationEffect)
                                   .where(ApplicationEffect.id == effect_id, ApplicationEffect.status == "pending")
                                   .values(status="done", done_at=now, attempts=ApplicationEffect.attempts + 1)
                                   .execution_options(synchronize_session=False))
                if result.rowcount != 1:
                    return True  # another worker did it
                effect = s.get(ApplicationEffect, effect_id)
                app = s.get(Application, effect.application_id)
                if effect.kind == "execute":
                    account = s.get(Account, app.account_number, with_for_update=True)
                    effect_name = get_business(app.business).effect
                    secrets_for_sms = (EFFECTS[effect_name](self, s, app, account) if effect_name else None) or {}
                    account.updated_at = now
                    if secrets_for_sms:
                        sms = s.execute(select(ApplicationEffect).where(
                            ApplicationEffect.application_id == app.id, ApplicationEffect.kind == "sms")
                        ).scalar_one()
                        sms.data_enc = self.crypto.encrypt_str(json.dumps(secrets_for_sms))
                    self.audit.record("application_executed", actor="system", session=s,
                                      account_number=app.account_number, application_id=app.id,
                                      business=app.business)
                elif effect.kind == "chat":
                    text = self._chat_text(app)
                    s.add(OutboundMessage(sender=app.sender, author="system", text=text, sent_at=now))
                    push = {"sender": app.sender, "channel": app.channel, "text": text}
                else:
                    raise ValueError(f"unknown effect kind {effect.kind}")
        except Exception as exc:
            self._fail(effect_id, exc)
            return False
        if push and push["channel"] == "wechat":
            self._pushes.append(push)
        return True

    def _run_sms(self, effect_id: int) -> bool:
        now = self.clock.utcnow()
        with self.db.session() as s:
            result = s.execute(
                update(ApplicationEffect)
                .where(ApplicationEffect.id == effect_id,
                       or_(ApplicationEffect.status == "pending",
                           (ApplicationEffect.status == "sending") & (ApplicationEffect.claimed_until < now)))
                .values(status="sending", claimed_until=now + timedelta(seconds=SMS_LEASE_SECONDS),
                        attempts=ApplicationEffect.attempts + 1)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return True  # leased or finished by another worker
        try:
            with self.db.session() as s:
                effect = s.get(ApplicationEffect, effect_id)
                app = s.get(Application, effect.application_id)
                account = s.get(Account, app.account_number)
                phone = self.crypto.decrypt_str(account.phone_enc)
                extra = json.loads(self.crypto.decrypt_str(effect.data_enc)) if effect.data_enc else {}
                text = self._sms_text(app, extra)
            self.sms.send(phone, text)
        except Exception as exc:
            if getattr(exc, "retryable", True) is False:  # a refused number, a provider misconfiguration
                self._give_up(effect_id, exc)
                return False
            self._fail(effect_id, exc, release=True)
            return False
        with self.db.session() as s:
            s.execute(update(ApplicationEffect)
                      .where(ApplicationEffect.id == effect_id, ApplicationEffect.status == "sending")
                      .values(status="done", done_at=self.clock.utcnow(), data_enc=None, claimed_until=None)
                      .execution_options(synchronize_session=False))
            self.audit.record("application_sms_sent", actor="system", session=s, account_number=app.account_number,
                              application_id=app.id, outcome=app.status)
        return True

    def _values(self, app: Application) -> dict:
        return {"date": china_date(app.submitted_at or app.created_at), "masked": mask_account(app.account_number),
                "business_name": BUSINESS_NAMES.get(app.business, app.business),
                "password_type": (app.payload or {}).get("password_type", "密码"), "reason": app.reason or ""}

    def _sms_text(self, app: Application, extra: dict) -> str:
        values = {**self._values(app), **extra}
        if app.status == "approved":
            key = f"app_approved_{app.business}"
            return compose(key if key in TEXTS else "app_approved_generic", **values)
        return compose("app_rejected", **values)

    def _chat_text(self, app: Application) -> str:
        values = self._values(app)
        if app.status == "approved":
            entry = get_business(app.business)
            template = (entry.texts.get("chat_approved") if entry else None) or CHAT_APPROVED_DEFAULT
            return template.format(**values)
        return CHAT_REJECTED.format(**values)

    def drain_pushes(self) -> list[dict]:
        out = []
        while self._pushes:
            try:
                out.append(self._pushes.popleft())
            except IndexError:
                break
        return out
