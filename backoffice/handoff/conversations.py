"""Conversation registry: who holds each customer conversation (the bot, the waiting queue or an agent)."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Text, func, select

from backoffice.core.clock import iso
from backoffice.core.db import Base

STATES = ("bot", "waiting", "agent")
IMAGE_TEXT = "[图片]"


class Conversation(Base):
    __tablename__ = "conversations"
    sender = Column(String(128), primary_key=True)
    channel = Column(String(32), nullable=False, default="rest")
    state = Column(String(16), nullable=False, default="bot", index=True)
    reason = Column(String(64))
    since = Column(DateTime(timezone=True), nullable=False)
    account_number = Column(String(16))
    agent = Column(String(64))


class OutboundMessage(Base):
    """Messages staff send to a customer, kept for channels that cannot push (REST) and for history."""

    __tablename__ = "outbound_messages"
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender = Column(String(128), nullable=False, index=True)
    author = Column(String(64), nullable=False)
    text = Column(Text, nullable=False)
    sent_at = Column(DateTime(timezone=True), nullable=False)
    media_id = Column(String(32))  # an image the agent sent (text is then a short description)


class ConversationError(ValueError):
    pass


def _row(c: Conversation) -> dict:
    return {"sender": c.sender, "channel": c.channel, "state": c.state, "reason": c.reason,
            "since": iso(c.since), "account_number": c.account_number, "agent": c.agent}


class ConversationRegistry:
    def __init__(self, db, audit, clock):
        self.db, self.audit, self.clock = db, audit, clock

    def state(self, sender: str) -> str:
        with self.db.session() as s:
            row = s.get(Conversation, sender)
            return row.state if row else "bot"

    def get(self, sender: str) -> dict | None:
        with self.db.session() as s:
            row = s.get(Conversation, sender)
            return _row(row) if row else None

    def request_human(self, sender: str, *, channel: str, reason: str, account_number: str | None) -> int:
        """Queue the conversation (idempotent) and return its 1-based position in the queue."""
        with self.db.session() as s:
            row = s.get(Conversation, sender, with_for_update=True)
            if row is None:
                row = Conversation(sender=sender, channel=channel, state="bot", since=self.clock.utcnow())
                s.add(row)
            if row.state == "bot":
                row.state, row.reason, row.since, row.agent = "waiting", reason[:64], self.clock.utcnow(), None
                row.channel = channel or row.channel
                row.account_number = account_number or row.account_number
                self.audit.record("handoff_requested", actor=f"customer:{sender}", session=s,
                                  account_number=row.account_number, reason=reason[:64])
            s.flush()
            if row.state != "waiting":
                return 0
            ahead = s.execute(
                select(func.count()).select_from(Conversation)
                .where(Conversation.state == "waiting", Conversation.since < row.since)
            ).scalar_one()
            return ahead + 1

    def list(self, state: str | None = None) -> list[dict]:
        with self.db.session() as s:
            q = select(Conversation).order_by(Conversation.since)
            if state:
                q = q.where(Conversation.state == state)
            return [_row(c) for c in s.execute(q).scalars()]

    def claim(self, sender: str, agent: str) -> dict:
        with self.db.session() as s:
            row = s.get(Conversation, sender, with_for_update=True)
            if row is None:
                raise ConversationError("no such conversation")
            if row.state == "agent" and row.agent != agent:
                raise ConversationError("already claimed by another agent")
            row.state, row.agent, row.since = "agent", agent, self.clock.utcnow()
            self.audit.record("handoff_claimed", actor=f"staff:{agent}", session=s, account_number=row.account_number)
            return _row(row)

    def reply_image(self, sender: str, agent: str, media_id: str) -> dict:
        """An image from the agent; channels show the image (REST: a signed link, WeChat: an image message)."""
        with self.db.session() as s:
            row = s.get(Conversation, sender)
            if row is None or row.state != "agent" or row.agent != agent:
                raise ConversationError("claim the conversation before replying")
            msg = OutboundMessage(sender=sender, author=agent, text=IMAGE_TEXT, media_id=media_id,
                                  sent_at=self.clock.utcnow())
            s.add(msg)
            self.audit.record("handoff_reply_image", actor=f"staff:{agent}", session=s,
                              account_number=row.account_number)
            s.flush()
            return {"id": msg.id, "sender": sender, "text": IMAGE_TEXT, "media_id": media_id,
                    "sent_at": iso(msg.sent_at), "channel": row.channel}

    def requeue(self, sender: str, agent: str, since: str | None = None) -> dict | None:
        """Undo a claim that could not be completed: back to the waiting queue, at its old place."""
        from datetime import datetime

        with self.db.session() as s:
            row = s.get(Conversation, sender, with_for_update=True)
            if row is None or row.state != "agent" or row.agent != agent:
                return _row(row) if row else None
            try:
                old = datetime.fromisoformat(since) if since else None
            except ValueError:
                old = None
            row.state, row.agent, row.since = "waiting", None, old or self.clock.utcnow()
            self.audit.record("handoff_requeued", actor=f"staff:{agent}", session=s, account_number=row.account_number)
            return _row(row)

    def reply(self, sender: str, agent: str, text: str) -> dict:
        text = (text or "").strip()
        if not text or len(text) > 2000:
            raise ConversationError("text must be 1-2000 characters")
        with self.db.session() as s:
            row = s.get(Conversation, sender)
            if row is None or row.state != "agent" or row.agent != agent:
                raise ConversationError("claim the conversation before replying")
            msg = OutboundMessage(sender=sender, author=agent, text=text, sent_at=self.clock.utcnow())
            s.add(msg)
            self.audit.record("handoff_reply", actor=f"staff:{agent}", session=s, account_number=row.account_number)
            s.flush()
            return {"id": msg.id, "sender": sender, "text": text, "sent_at": iso(msg.sent_at),
                    "channel": row.channel}

    def release(self, sender: str, agent: str) -> dict:
        with self.db.session() as s:
            row = s.get(Conversation, sender, with_for_update=True)
            if row is None:
                raise ConversationError("no such conversation")
            row.state, row.agent, row.reason, row.since = "bot", None, None, self.clock.utcnow()
            self.audit.record("handoff_released", actor=f"staff:{agent}", session=s, account_number=row.account_number)
            return _row(row)

    def post(self, sender: str, author: str, texts: list[str]) -> list[dict]:
        """Messages not typed by an agent (the bot's answer to an event the back-office injected), kept in the
        outbox like staff replies so REST clients read them the same way."""
        rows = []
        with self.db.session() as s:
            for text in texts:
                msg = OutboundMessage(sender=sender, author=author[:64], text=text, sent_at=self.clock.utcnow())
                s.add(msg)
                rows.append(msg)
            s.flush()
            return [{"id": m.id, "sender": sender, "text": m.text, "sent_at": iso(m.sent_at)} for m in rows]

    def outbox(self, sender: str, after_id: int = 0) -> list[dict]:
        with self.db.session() as s:
            q = (select(OutboundMessage).where(OutboundMessage.sender == sender, OutboundMessage.id > after_id)
                 .order_by(OutboundMessage.id))
            return [{"id": m.id, "author": m.author, "text": m.text, "sent_at": iso(m.sent_at),
                     **({"media_id": m.media_id} if m.media_id else {})} for m in s.execute(q).scalars()]
