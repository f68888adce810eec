"""NLU inbox: customer messages the bot probably misunderstood, for a reviewer to label, and the labelled ones
exported as Rasa NLU training data (bot/data/nlu format).

A message (a `user` row of the event log, already masked) is in the inbox when:

* fallback — NLU read it as `nlu_fallback` (the FallbackClassifier's threshold, config.yml);
* low_confidence — the intent's confidence is below HALL_NLU_LOW_CONFIDENCE (default 0.6);
* corrected — the customer's next message, within CORRECTION_SECONDS, says no (`deny`, `cancel`, or starts
  with 不是/不对/错了/我说的是);
* handoff — the customer asked for a person right after it (next message `request_human`, or the bot ran the
  handoff action before the customer spoke again).

Button and channel payloads (`/intent{...}`) are never in it. A reviewer assigns the right intent (one of the
domain's intents) or out_of_scope; each label is audited (`nlu_labelled`) and kept in `nlu_labels` (masked text
only: no phone, ID or account digits) after the event log's retention, as training data.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import Column, DateTime, Float, Integer, String, Text, select

from backoffice.analytics.errors import AnalyticsError
from backoffice.analytics.events import ConversationEvent
from backoffice.core.clock import as_utc, iso
from backoffice.core.db import Base

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "bot" / "domain"
CORRECTION_SECONDS = 60
CORRECTION = re.compile(r"^\s*(不是|不对|错了|我说的是|我是说)")
CORRECTING_INTENTS = {"deny", "cancel"}
HANDOFF_INTENTS = {"request_human"}
HANDOFF_ACTIONS = {"action_request_human"}
# Intents channels produce (never typed) or the back-office nudges with: never labels.
NOT_LABELS = {"upload_image", "upload_video", "witness_done", "live_check_done", "nlu_fallback"}
SCAN_LIMIT = 20_000


class InboxError(AnalyticsError):
    """A label or message the inbox does not know."""


class NluLabel(Base):
    __tablename__ = "nlu_labels"
    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(Integer, nullable=False, unique=True)  # the conversation_events row labelled
    text = Column(Text, nullable=False)  # masked
    predicted = Column(String(128))
    confidence = Column(Float)
    intent = Column(String(64), nullable=False)  # the reviewer's answer (out_of_scope included)
    reviewer = Column(String(64), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)


def domain_intents(directory: Path = DOMAIN_DIR) -> list[str]:
    found: list[str] = []
    for path in sorted(directory.glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("intents") or []:
            name = next(iter(item)) if isinstance(item, dict) else item
            if name not in found:
                found.append(name)
    return found


class NluInbox:
    def __init__(self, db, audit, clock, threshold: float = 0.6, intents: list[str] | None = None):
        self.db = db
        self.audit = audit
        self.clock = clock
        self.threshold = threshold
        all_intents = domain_intents() if intents is None else intents
        self.labels = [i for i in all_intents if i not in NOT_LABELS]
        if "out_of_scope" not in self.labels:
            self.labels.append("out_of_scope")

    def _reasons(self, rows: list) -> dict[int, tuple[str, object]]:
        """event id → (reason, row) for the misunderstood messages among one sender-ordered scan."""
        found: dict[int, tuple[str, object]] = {}
        for i, row in enumerate(rows):
            if row.event != "user" or not row.text or row.text.startswith("/"):
                continue
            reason = None
            if row.name == "nlu_fallback":
                reason = "fallback"
            elif row.confidence is not None and row.confidence < self.threshold:
                reason = "low_confidence"
            for nxt in rows[i + 1:]:
                if nxt.sender != row.sender:
                    break
                if nxt.event == "action" and nxt.name in HANDOFF_ACTIONS:
                    reason = reason or "handoff"
                    break
                if nxt.event != "user":
                    continue
                quick = (as_utc(nxt.at) - as_utc(row.at)).total_seconds() <= CORRECTION_SECONDS
                if nxt.name in HANDOFF_INTENTS:
                    reason = reason or "handoff"
                elif quick and (nxt.name in CORRECTING_INTENTS or CORRECTION.match(nxt.text or "")):
                    reason = reason or "corrected"
                break
            if reason:
                found[row.id] = (reason, row)
        return found

    def list(self, since: datetime | None = None, limit: int = 200) -> list[dict]:
        """The misunderstood messages not labelled yet, newest first."""
        since = since or self.clock.utcnow() - timedelta(days=30)
        with self.db.session() as s:
            labelled = set(s.execute(select(NluLabel.event_id)).scalars())
            rows = s.execute(select(ConversationEvent.id, ConversationEvent.sender, ConversationEvent.at,
                                    ConversationEvent.event, ConversationEvent.name, ConversationEvent.confidence,
                                    ConversationEvent.text)
                             .where(ConversationEvent.at >= since,
                                    ConversationEvent.event.in_(("user", "action")))
                             .order_by(ConversationEvent.sender, ConversationEvent.id).limit(SCAN_LIMIT)).all()
        items = [(reason, row) for event_id, (reason, row) in self._reasons(rows).items() if event_id not in labelled]
        items.sort(key=lambda item: item[1].id, reverse=True)
        return [{"id": row.id, "text": row.text, "predicted": row.name, "confidence": row.confidence,
                 "at": iso(row.at), "reason": reason} for reason, row in items[:limit]]

    def label(self, event_id: int, intent: str, reviewer: str) -> dict:
        if intent not in self.labels:
            raise InboxError("intent must be one of the domain's intents or out_of_scope")
        with self.db.session() as s:
            row = s.get(ConversationEvent, event_id)
            if row is None or row.event != "user" or not row.text:
                raise InboxError("no such message", 404)
            existing = s.execute(select(NluLabel).where(NluLabel.event_id == event_id)).scalar_one_or_none()
            if existing is None:
                existing = NluLabel(event_id=event_id, text=row.text, predicted=row.name, confidence=row.confidence,
                                    intent=intent, reviewer=reviewer[:64], at=self.clock.utcnow())
                s.add(existing)
            else:
                existing.intent, existing.reviewer, existing.at = intent, reviewer[:64], self.clock.utcnow()
            self.audit.record("nlu_labelled", actor=f"staff:{reviewer}", session=s, event_id=event_id,
                              predicted=row.name, intent=intent)
        return {"id": event_id, "text": row.text, "predicted": row.name, "intent": intent}

    def labelled(self) -> list[dict]:
        with self.db.session() as s:
            return [{"id": r.event_id, "text": r.text, "predicted": r.predicted, "confidence": r.confidence,
                     "intent": r.intent, "reviewer": r.reviewer, "at": iso(r.at)}
                    for r in s.execute(select(NluLabel).order_by(NluLabel.intent, NluLabel.id)).scalars()]

    def export_yaml(self) -> str:
        """The labelled examples as Rasa 3 NLU training data, one block per intent (ready for bot/data/nlu)."""
        by_intent: dict[str, list[str]] = {}
        for item in self.labelled():
            text = " ".join(item["text"].split())  # one line per example
            if text and text not in by_intent.setdefault(item["intent"], []):
                by_intent[item["intent"]].append(text)
        lines = ['version: "3.1"', "", "nlu:"]
        for intent, texts in by_intent.items():
            lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
        return "\n".join(lines) + "\n"
