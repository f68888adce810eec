"""Conversation review: find conversations in the event log, read one with the bot's reading of every message
(intent, confidence) and the actions it took, and tag it (误解 / 流程问题 / 系统错误 / 好评).

Search filters: account (the conversations in which the back-office saw that account: audit events of that
customer, applications), Beijing dates, business (a form active in it), outcome and channel. Outcomes, from the
conversation's runs (funnels.Run): completed (a business's submit action ran), handoff (a person was asked
for), abandoned (a business begun and not completed), chat (no business). Accounts are shown masked. Reading a
transcript and tagging are audited (conversation_viewed, conversation_tagged); tags live in
`conversation_tags` (migration 0009).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Column, DateTime, Integer, String, UniqueConstraint, delete, select

from backoffice.analytics.errors import AnalyticsError
from backoffice.analytics.events import ConversationEvent
from backoffice.analytics.funnels import CHANNELS, FunnelError, Funnels, channel_of_sender, period
from backoffice.applications.service import Application
from backoffice.core.audit import AuditEvent
from backoffice.core.clock import CHINA, as_utc, iso
from backoffice.core.crypto import mask_account
from backoffice.core.db import Base
from businesses import REGISTRY

TAGS = ("误解", "流程问题", "系统错误", "好评")
OUTCOMES = {"completed": "已办结", "handoff": "转人工", "abandoned": "未完成", "chat": "咨询"}
HANDOFF_ACTIONS = {"action_request_human"}
TRANSCRIPT_EVENTS = ("user", "bot", "action", "active_loop", "slot", "session_started")
MAX_RESULTS = 200


class ReviewError(AnalyticsError):
    """A bad search or an unknown conversation."""


class ConversationTag(Base):
    __tablename__ = "conversation_tags"
    __table_args__ = (UniqueConstraint("sender", "tag"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender = Column(String(128), nullable=False, index=True)
    tag = Column(String(16), nullable=False)
    staff = Column(String(64), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)


def _shown_account(number: str | None) -> str:
    """The account as the bot and the rest of the console show it (80**0001); none known, nothing shown."""
    return mask_account(number) if number else ""


class ConversationReview:
    def __init__(self, db, audit, clock, funnels: Funnels):
        self.db = db
        self.audit = audit
        self.clock = clock
        self.funnels = funnels

    def _senders_of(self, account: str) -> set[str]:
        with self.db.session() as s:
            found = {a.partition(":")[2] for a in s.execute(
                select(AuditEvent.actor).where(AuditEvent.account_number == account,
                                               AuditEvent.actor.like("customer:%"))).scalars()}
            found |= set(s.execute(select(Application.sender).where(Application.account_number == account)).scalars())
        return found

    def _accounts_of(self, senders: set[str]) -> dict[str, str]:
        if not senders:
            return {}
        actors = [f"customer:{x}" for x in senders]
        out: dict[str, str] = {}
        with self.db.session() as s:
            for sender, account in s.execute(select(Application.sender, Application.account_number)
                                             .where(Application.sender.in_(senders)).order_by(Application.id)):
                out[sender] = account
            for actor, account in s.execute(select(AuditEvent.actor, AuditEvent.account_number)
                                            .where(AuditEvent.actor.in_(actors), AuditEvent.account_number.is_not(None))
                                            .order_by(AuditEvent.id)):
                out[actor.partition(":")[2]] = account
        return out

    def search(self, *, account: str | None = None, start: str | None = None, end: str | None = None,
               business: str | None = None, outcome: str | None = None, channel: str | None = None) -> list[dict]:
        if channel and channel not in CHANNELS:
            raise ReviewError(f"channel must be one of {', '.join(CHANNELS)}")
        if outcome and outcome not in OUTCOMES:
            raise ReviewError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if business and business not in REGISTRY:
            raise ReviewError("unknown business")
        try:
            since, until = period(start, end, self.clock.utcnow().astimezone(CHINA).date())
        except FunnelError as exc:
            raise ReviewError(str(exc))
        wanted = self._senders_of(account.strip()) if account else None
        if wanted is not None and not wanted:
            return []
        q = select(ConversationEvent.sender, ConversationEvent.at, ConversationEvent.event,
                   ConversationEvent.name).where(
            ConversationEvent.at >= since, ConversationEvent.at < until,
            ConversationEvent.event.in_(("user", "action")))
        if wanted is not None:
            q = q.where(ConversationEvent.sender.in_(wanted))
        summary: dict[str, dict] = {}
        with self.db.session() as s:
            for sender, at, kind, name in s.execute(q.order_by(ConversationEvent.id)):
                row = summary.setdefault(sender, {"sender": sender, "first": as_utc(at), "last": as_utc(at),
                                                  "messages": 0, "handoff": False})
                row["last"] = as_utc(at)
                if kind == "user":
                    row["messages"] += 1
                    row["handoff"] = row["handoff"] or name == "request_human"
                elif name in HANDOFF_ACTIONS:
                    row["handoff"] = True
        runs: dict[str, list] = {}
        for run in self.funnels.runs(since, until):
            if run.sender in summary:
                runs.setdefault(run.sender, []).append(run)
        tags = self._tags(set(summary))
        accounts = self._accounts_of(set(summary))
        out = []
        for sender, row in summary.items():
            own = runs.get(sender, [])
            result = ("completed" if any(r.completed for r in own) else "handoff" if row["handoff"]
                      else "abandoned" if own else "chat")
            channel_of_row = channel_of_sender(sender)  # the conversation id says the channel
            if channel and channel_of_row != channel:
                continue
            codes = list(dict.fromkeys(r.business for r in own))
            if business and business not in codes:
                continue
            if outcome and result != outcome:
                continue
            out.append({"sender": sender, "channel": channel_of_row, "first_at": iso(row["first"]),
                        "last_at": iso(row["last"]), "messages": row["messages"], "businesses": codes,
                        "business_names": [REGISTRY[c].name for c in codes if c in REGISTRY], "outcome": result,
                        "outcome_label": OUTCOMES[result], "account": _shown_account(accounts.get(sender)),
                        "tags": tags.get(sender, [])})
        out.sort(key=lambda r: r["last_at"], reverse=True)
        return out[:MAX_RESULTS]

    def transcript(self, sender: str, staff: str, days: int = 90) -> dict:
        since = self.clock.utcnow() - timedelta(days=days)
        with self.db.session() as s:
            rows = s.execute(select(ConversationEvent).where(
                ConversationEvent.sender == sender, ConversationEvent.at >= since,
                ConversationEvent.event.in_(TRANSCRIPT_EVENTS)).order_by(ConversationEvent.id)).scalars().all()
            items = []
            for r in rows:
                if r.event == "slot" and r.name != "requested_slot":
                    continue
                if r.event == "action" and r.name == "action_listen":
                    continue
                item = {"at": iso(r.at), "event": r.event, "name": r.name, "text": r.text, "value": r.value,
                        "confidence": round(r.confidence, 3) if r.confidence is not None else None}
                if r.event == "user":
                    item["ranking"] = [{"name": x.get("name"), "confidence": round(float(x.get("confidence") or 0), 3)}
                                       for x in ((r.data or {}).get("parse_data") or {}).get("intent_ranking") or []]
                    item["channel"] = r.channel
                if r.event == "action":
                    item["policy"] = (r.data or {}).get("policy")
                items.append(item)
        if not items:
            raise ReviewError("no such conversation", 404)
        self.audit.record("conversation_viewed", actor=f"staff:{staff}", sender=sender[:128])
        accounts = self._accounts_of({sender})
        return {"sender": sender, "events": items, "tags": self._tags({sender}).get(sender, []),
                "account": _shown_account(accounts.get(sender))}

    def _tags(self, senders: set[str]) -> dict[str, list[str]]:
        if not senders:
            return {}
        out: dict[str, list[str]] = {}
        with self.db.session() as s:
            for sender, tag in s.execute(select(ConversationTag.sender, ConversationTag.tag)
                                         .where(ConversationTag.sender.in_(senders)).order_by(ConversationTag.id)):
                out.setdefault(sender, []).append(tag)
        return out

    def tag(self, sender: str, tag: str, staff: str, on: bool = True) -> list[str]:
        if tag not in TAGS:
            raise ReviewError(f"tag must be one of {', '.join(TAGS)}")
        with self.db.session() as s:
            known = s.execute(select(ConversationEvent.id).where(ConversationEvent.sender == sender).limit(1)).first()
            if known is None:
                raise ReviewError("no such conversation", 404)
            existing = s.execute(select(ConversationTag).where(ConversationTag.sender == sender,
                                                               ConversationTag.tag == tag)).scalar_one_or_none()
            if on and existing is None:
                s.add(ConversationTag(sender=sender, tag=tag, staff=staff[:64], at=self.clock.utcnow()))
            elif not on and existing is not None:
                s.execute(delete(ConversationTag).where(ConversationTag.id == existing.id))
            self.audit.record("conversation_tagged", actor=f"staff:{staff}", session=s, sender=sender[:128],
                              tag=tag, on=on)
        return self._tags({sender}).get(sender, [])

