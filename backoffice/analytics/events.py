"""The conversation event log: every Rasa event of every conversation, masked, one row each.

Rasa's event broker (connectors/event_log.py, configured by scripts/rasa_endpoints.py) writes the rows; the
back-office owns the table (migration 0007) and reads it for funnels, the NLU inbox and conversation review.
The columns analytics filter on are pulled out of the event (`columns`); `data` keeps the whole masked event
for transcripts. Rows older than HALL_RETAIN_EVENTS_DAYS are purged (backoffice/maintenance/retention.py).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Column, DateTime, Float, Integer, String, Text

from backoffice.core.db import Base

CHANNEL_NAMES = {"wechat", "wecom", "rest"}


class ConversationEvent(Base):
    __tablename__ = "conversation_events"
    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    sender = Column(String(128), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    event = Column(String(32), nullable=False)
    # user: the predicted intent; action: the action; slot: the slot; active_loop: the form (or None)
    name = Column(String(128))
    confidence = Column(Float)  # user events: the intent's confidence
    value = Column(Text)  # slot events: the value as text (requested_slot: the step asked)
    text = Column(Text)  # user / bot messages, masked
    channel = Column(String(32))  # user events: the channel that received the message
    data = Column(JSON, nullable=False, default=dict)  # the whole masked event


def _at(timestamp) -> datetime:
    try:
        return datetime.fromtimestamp(float(timestamp), timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(timezone.utc)


def _short(value, size: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:size]


def kept_parse_data(parse: dict) -> dict:
    """What the log keeps of a message's parse data: the parse repeats the text and ranks every intent, so the
    intent, the entities and the top three intents (enough for review)."""
    return {"intent": parse.get("intent") or {}, "entities": parse.get("entities") or [],
            "intent_ranking": (parse.get("intent_ranking") or [])[:3]}


def columns(event: dict) -> dict:
    """The row for one (already masked) Rasa event as its event broker publishes it (with sender_id)."""
    kind = str(event.get("event") or "")[:32]
    row = {"sender": str(event.get("sender_id") or "")[:128], "at": _at(event.get("timestamp")), "event": kind,
           "name": None, "confidence": None, "value": None, "text": None, "channel": None,
           "data": {k: v for k, v in event.items() if k not in ("sender_id",)}}
    if kind == "user":
        intent = (event.get("parse_data") or {}).get("intent") or {}
        row["name"] = _short(intent.get("name"), 128)
        confidence = intent.get("confidence")
        row["confidence"] = float(confidence) if isinstance(confidence, (int, float)) else None
        row["text"] = event.get("text")
        row["channel"] = _short(event.get("input_channel"), 32)
        row["data"]["parse_data"] = kept_parse_data(event.get("parse_data") or {})
    elif kind == "bot":
        row["text"] = event.get("text")
    elif kind == "action":
        row["name"] = _short(event.get("name"), 128)
        confidence = event.get("confidence")
        row["confidence"] = float(confidence) if isinstance(confidence, (int, float)) else None
    elif kind == "slot":
        row["name"] = _short(event.get("name"), 128)
        value = event.get("value")
        if value is not None and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, default=str)
        row["value"] = _short(value, 2000)
    elif kind == "active_loop":
        row["name"] = _short(event.get("name"), 128)
    return row
