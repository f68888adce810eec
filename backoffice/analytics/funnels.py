"""Business funnels: how far customers get in each business, where they give up and what fails.

Read from the conversation event log (events.py) and the back-office's own records:

* a *run* is one attempt at a business: its form becomes active (Rasa `active_loop` event naming
  `<code>_form`) — started counts runs that began in the period. A run ends when the session restarts, the
  customer cancels, the bot hands over to another form or the business's submit action runs (completed);
  re-activating the same form while its run is still open (after 帮助, a handoff and resume) continues it.
* a *step* is what the form asked (`requested_slot`), in the order the form asks them (bot/domain/businesses.yml,
  generated from the business registry); `reached` counts runs that were asked it, `median_s` is the median
  time from being asked it to being asked the next one (or to the end of the run) over the runs that got
  past it, `dropped` counts runs whose last step it was and that were not completed.
* submitted / approved / rejected / withdrawn: applications (table `applications`) created in the period,
  by their channel; `median_decision_s` from submission to the staff decision.
* handoffs: `handoff_requested` audit events, fallbacks: customer messages read as `nlu_fallback` during a
  run; face-check and ID-photo failures: `live_check_finished` (not accepted) and `id_rejected` audit events by
  their reason. Audit events are attributed to the run of that customer open at the time (or the latest
  before it).

Periods are Beijing dates (both ends included); channels are the conversation id's channel (wechat, wecom,
rest: backoffice/channels/senders.py).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import yaml
from sqlalchemy import select

from backoffice.analytics.errors import AnalyticsError
from backoffice.analytics.events import ConversationEvent
from backoffice.applications.service import Application
from backoffice.channels.senders import BadSender, channel_of
from backoffice.core.audit import AuditEvent
from backoffice.core.clock import CHINA, as_utc
from businesses import REGISTRY, by_form

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "bot" / "domain" / "businesses.yml"
FALLBACK_INTENTS = {"nlu_fallback"}
ENDING_ACTIONS = {"action_cancel", "action_restart", "action_session_start", "action_logout"}
FACE_OK = {"accept", "review"}  # a live check sent to staff review is not a failure of the customer
CHANNELS = ("wechat", "wecom", "rest")
MAX_DAYS = 366
# What staff read for each step (slot) a form asks.
STEP_LABELS = {
    "investor_type": "投资者类型", "account_number": "资金账号", "phone_number": "手机号码", "otp_code": "登录验证码",
    "privacy_agreed": "隐私政策", "switch_confirmed": "切换业务确认", "unbind_go": "解绑确认", "unbind_code": "解绑验证码",
    "bind_go": "绑定确认", "id_front": "身份证人像面", "id_back": "身份证国徽面", "id_confirmed": "身份信息确认",
    "face_consent": "人脸信息授权", "bind_face": "人脸认证（绑定）", "business_face": "人脸认证", "recover_face": "人脸认证（找回）",
    "signature_image": "手写签名", "signature_confirmed": "签名确认", "business_code": "业务验证码",
    "business_confirmed": "业务确认", "password_type": "密码类型", "agreements_read": "阅读协议", "sign_code": "签署验证码",
    "recover_phone": "预留手机号", "recover_code": "找回验证码", "witness": "视频见证",
}


class FunnelError(AnalyticsError):
    """A bad filter (400 to the caller)."""


def form_steps(path: Path = DOMAIN_FILE) -> dict[str, list[str]]:
    """Every business's possible steps in the order its form asks them (the generated domain lists them)."""
    try:
        forms = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("forms") or {}
    except OSError:
        return {}
    return {name.removesuffix("_form"): list((spec or {}).get("required_slots") or [])
            for name, spec in forms.items()}


@dataclass
class Run:
    sender: str
    business: str
    channel: str
    started: datetime
    asked: list[tuple[str, datetime]] = field(default_factory=list)  # steps in the order asked (first time)
    ended: datetime | None = None
    completed: bool = False
    messages: int = 0
    fallbacks: int = 0
    last_at: datetime | None = None

    def ask(self, step: str, at: datetime) -> None:
        if all(s != step for s, _ in self.asked):
            self.asked.append((step, at))

    def durations(self) -> dict[str, float]:
        """Seconds spent at each step the run got past."""
        out = {}
        for i, (step, at) in enumerate(self.asked):
            nxt = self.asked[i + 1][1] if i + 1 < len(self.asked) else (self.ended if self.completed else None)
            if nxt is not None:
                out[step] = max(0.0, (nxt - at).total_seconds())
        return out


def period(start: str | None, end: str | None, today: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) Beijing time, as UTC datetimes; the last 7 days by default."""
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=6)
    except ValueError:
        raise FunnelError("from/to must be dates: YYYY-MM-DD")
    if first > last:
        raise FunnelError("from must not be after to")
    if (last - first).days >= MAX_DAYS:
        raise FunnelError(f"at most {MAX_DAYS} days at a time")
    return (datetime.combine(first, time(), CHINA).astimezone(timezone.utc),
            datetime.combine(last + timedelta(days=1), time(), CHINA).astimezone(timezone.utc))


def channel_of_sender(sender: str) -> str:
    try:
        return channel_of(sender)
    except BadSender:
        return "other"


class Funnels:
    def __init__(self, db, clock, steps: dict[str, list[str]] | None = None, registry=None):
        self.db = db
        self.clock = clock
        self.steps = form_steps() if steps is None else steps
        self.registry = REGISTRY if registry is None else registry

    # --- reading --------------------------------------------------------------------------------------

    def runs(self, start: datetime, end: datetime, channel: str | None = None) -> list[Run]:
        """The runs that began in [start, end), followed until they end (at most a day past the period)."""
        q = (select(ConversationEvent.sender, ConversationEvent.at, ConversationEvent.event, ConversationEvent.name,
                    ConversationEvent.value, ConversationEvent.confidence)
             .where(ConversationEvent.at >= start, ConversationEvent.at < end + timedelta(days=1),
                    ConversationEvent.event.in_(("user", "action", "active_loop", "slot", "session_started")))
             .order_by(ConversationEvent.sender, ConversationEvent.id))
        runs: list[Run] = []
        with self.db.session() as s:
            rows = s.execute(q).all()
        open_runs: dict[str, Run] = {}  # sender → its open run
        active: dict[str, Run | None] = {}  # sender → the run whose form is active now
        for sender, at, kind, name, value, _confidence in rows:
            at = as_utc(at)
            if channel and channel_of_sender(sender) != channel:
                continue
            run = open_runs.get(sender)
            if kind == "active_loop":
                business = by_form(name)
                if business is None or business.code not in self.registry:
                    active[sender] = None
                    continue
                if run is not None and run.business != business.code:
                    self._close(run, at)
                    run = None
                if run is None:
                    if not (start <= at < end):
                        active[sender] = None
                        continue
                    run = Run(sender, business.code, channel_of_sender(sender), at)
                    open_runs[sender] = run
                    runs.append(run)
                active[sender] = run
            elif run is None:
                continue
            elif kind == "slot" and name == "requested_slot":
                if value and active.get(sender) is run:
                    run.ask(value, at)
            elif kind == "user":
                run.messages += 1
                if name in FALLBACK_INTENTS:
                    run.fallbacks += 1
            elif kind == "session_started" or (kind == "action" and name in ENDING_ACTIONS):
                self._close(run, at)
                open_runs.pop(sender, None)
                active[sender] = None
            elif kind == "action" and name == f"action_{run.business}_submit":
                run.completed = True
                self._close(run, at)
                open_runs.pop(sender, None)
                active[sender] = None
            if run is not None:
                run.last_at = at
        for run in open_runs.values():
            if run.ended is None:
                run.ended = run.last_at
        return runs

    @staticmethod
    def _close(run: Run, at: datetime) -> None:
        if run.ended is None:
            run.ended = at

    def _applications(self, start, end, channel):
        q = select(Application.business, Application.status, Application.submitted_at, Application.decided_at) \
            .where(Application.created_at >= start, Application.created_at < end)
        if channel:
            q = q.where(Application.channel == channel)
        with self.db.session() as s:
            return s.execute(q).all()

    def _audits(self, start, end):
        q = select(AuditEvent.at, AuditEvent.actor, AuditEvent.event, AuditEvent.details).where(
            AuditEvent.at >= start, AuditEvent.at < end + timedelta(days=1),
            AuditEvent.event.in_(("handoff_requested", "live_check_finished", "id_rejected")),
            AuditEvent.actor.like("customer:%")).order_by(AuditEvent.id)
        with self.db.session() as s:
            return s.execute(q).all()

    @staticmethod
    def _attribute(runs_by_sender: dict[str, list[Run]], sender: str, at: datetime) -> Run | None:
        """The run of this customer open at `at`, else the latest one begun before it."""
        best = None
        for run in runs_by_sender.get(sender, ()):
            if run.started <= at:
                best = run
        return best

    # --- the report -----------------------------------------------------------------------------------

    def _read(self, start: str | None, end: str | None, channel: str | None, business: str | None,
              known_business: bool = True):
        """The period's runs and applications, read once for the report, the daily line or both."""
        if channel and channel not in CHANNELS:
            raise FunnelError(f"channel must be one of {', '.join(CHANNELS)}")
        if known_business and business and business not in self.registry:
            raise FunnelError("unknown business")
        today = self.clock.utcnow().astimezone(CHINA).date()
        since, until = period(start, end, today)
        return since, until, self.runs(since, until, channel or None), \
            self._applications(since, until, channel or None)

    def report(self, start: str | None = None, end: str | None = None, channel: str | None = None,
               business: str | None = None) -> list[dict]:
        return self._report(*self._read(start, end, channel, business), business)

    def daily(self, start: str | None = None, end: str | None = None, channel: str | None = None,
              business: str | None = None) -> list[dict]:
        """Runs started, completed and applications submitted per Beijing day of the period (the line chart)."""
        return self._daily(*self._read(start, end, channel, business, known_business=False), business)

    def overview(self, start: str | None = None, end: str | None = None, channel: str | None = None,
                 business: str | None = None) -> tuple[list[dict], list[dict]]:
        """report() and daily() from one read of the event log (the console's charts show both)."""
        read = self._read(start, end, channel, business)
        return self._report(*read, business), self._daily(*read, business)

    def _report(self, since, until, runs, applications, business) -> list[dict]:
        by_sender: dict[str, list[Run]] = {}
        for run in runs:
            by_sender.setdefault(run.sender, []).append(run)
        out = {code: self._empty(code) for code in self._codes(business)}
        for run in runs:
            entry = out.get(run.business)
            if entry is None:
                continue
            entry["started"] += 1
            entry["completed"] += run.completed
            entry["_messages"] += run.messages
            entry["fallbacks"] += run.fallbacks
            for step, _at in run.asked:
                entry["_reached"][step] = entry["_reached"].get(step, 0) + 1
            for step, seconds in run.durations().items():
                entry["_durations"].setdefault(step, []).append(seconds)
            if run.asked and not run.completed:
                last = run.asked[-1][0]
                entry["_dropped"][last] = entry["_dropped"].get(last, 0) + 1
        for code, status, submitted_at, decided_at in applications:
            entry = out.get(code)
            if entry is None:
                continue
            if submitted_at is not None:
                entry["submitted"] += 1
            if status in ("approved", "rejected", "withdrawn"):
                entry[status] += 1
            if submitted_at is not None and decided_at is not None and status in ("approved", "rejected"):
                entry["_decisions"].append((as_utc(decided_at) - as_utc(submitted_at)).total_seconds())
        for at, actor, event, details in self._audits(since, until):
            sender = actor.partition(":")[2]
            run = self._attribute(by_sender, sender, as_utc(at))
            if run is None or run.business not in out:
                continue
            entry = out[run.business]
            details = details or {}
            if event == "handoff_requested":
                entry["handoffs"] += 1
            elif event == "live_check_finished" and details.get("outcome") not in FACE_OK:
                reason = str(details.get("error") or details.get("outcome") or "unknown")
                entry["face_failures"][reason] = entry["face_failures"].get(reason, 0) + 1
            elif event == "id_rejected":
                reason = str(details.get("error") or "unknown")
                entry["ocr_failures"][reason] = entry["ocr_failures"].get(reason, 0) + 1
        return [self._finish(entry) for entry in out.values()]

    @staticmethod
    def _daily(since, until, runs, applications, business) -> list[dict]:
        days = {}
        day = since.astimezone(CHINA).date()
        while day < until.astimezone(CHINA).date():
            days[day.isoformat()] = {"date": day.isoformat(), "started": 0, "completed": 0, "submitted": 0}
            day += timedelta(days=1)
        for run in runs:
            if business and run.business != business:
                continue
            key = run.started.astimezone(CHINA).date().isoformat()
            if key in days:
                days[key]["started"] += 1
                days[key]["completed"] += run.completed
        for code, _status, submitted_at, _decided in applications:
            if submitted_at is None or (business and code != business):
                continue
            key = as_utc(submitted_at).astimezone(CHINA).date().isoformat()
            if key in days:
                days[key]["submitted"] += 1
        return list(days.values())

    def _codes(self, business: str | None) -> list[str]:
        codes = sorted(self.registry, key=lambda c: (self.registry[c].order, c))
        return [c for c in codes if not business or c == business]

    def _empty(self, code: str) -> dict:
        return {"business": code, "name": self.registry[code].name, "started": 0, "steps": [], "completed": 0,
                "submitted": 0, "approved": 0, "rejected": 0, "withdrawn": 0, "handoffs": 0, "fallbacks": 0,
                "fallback_rate": 0.0, "median_decision_s": None, "face_failures": {}, "ocr_failures": {},
                "_reached": {}, "_durations": {}, "_dropped": {}, "_decisions": [], "_messages": 0}

    def _finish(self, entry: dict) -> dict:
        order = self.steps.get(entry["business"], [])
        seen = entry["_reached"]
        names = [s for s in order if s in seen] + sorted(s for s in seen if s not in order)
        entry["steps"] = [{"step": s, "label": STEP_LABELS.get(s, s), "reached": seen[s],
                           "dropped": entry["_dropped"].get(s, 0),
                           "median_s": _median(entry["_durations"].get(s))} for s in names]
        entry["median_decision_s"] = _median(entry["_decisions"])
        entry["handoff_rate"] = round(entry["handoffs"] / entry["started"], 4) if entry["started"] else 0.0
        entry["fallback_rate"] = round(entry["fallbacks"] / entry["_messages"], 4) if entry["_messages"] else 0.0
        return {k: v for k, v in entry.items() if not k.startswith("_")}


def _median(values) -> float | None:
    return round(statistics.median(values), 1) if values else None
