"""Replies to a 微信客服 customer within WeCom's budget, for the channel (bot turns) and the back-office (staff).

WeCom lets a business send at most 5 messages within 48 h after each customer message, text ≤ 2048 bytes,
and only while the session state is 0 (未处理) or 1 (智能助手). So:
- texts of one turn are merged into as few messages as fit (connectors.wechat_format);
- slots are reserved atomically in the shared store before sending (the bot and the console share them);
- when a turn needs more messages than are left, the last one carries as many whole sentences as fit and
  tells the customer that the rest follows their next message; the rest is held, never dropped;
- whatever is held goes out first on the customer's next message, and anything sent while something is held
  queues behind it, so order is kept;
- a send WeCom refuses for the budget or the session state (95001/95002/95018) or cannot reach is held too;
  another refusal (a bad media id, an unknown customer) is dropped and counted.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass

from connectors.wechat_format import MAX_TEXT_BYTES, split_text
from connectors.wecom_api import (SEND_COUNT_LIMIT, SEND_TIME_LIMIT, SESSION_STATE_INVALID, UNREACHABLE,
                                  KfClient, WeComAPIError)
from connectors.wecom_ids import parse_sender

log = logging.getLogger("connectors.wecom")

LIMIT = 5
WINDOW = 48 * 3600
HELD_TTL = WINDOW  # what the customer never comes back for goes with the window it was written for
HELD_MAX = 100  # per customer; beyond it (WeCom refusing every send for long) new messages are dropped and counted
HOLD_ERRORS = frozenset({SEND_COUNT_LIMIT, SEND_TIME_LIMIT, SESSION_STATE_INVALID, UNREACHABLE, -1, 45009})
CUT_NOTE = "（内容较长，余下部分将在您回复后发送，回复“继续”即可查看。）"
MORE_NOTE = "还有内容未发送完，回复“继续”即可查看。"
CONTINUE_WORDS = frozenset({"继续", "继续查看", "查看余下", "余下", "更多", "下一页", "还有呢", "后面呢"})


def is_continue(text: str) -> bool:
    """The customer asks for the rest of a long answer (and nothing else)."""
    plain = re.sub(r"[\s，。！？!?.,~～…]", "", unicodedata.normalize("NFKC", text or ""))
    return plain in CONTINUE_WORDS


def state_key(sender: str) -> str:
    """Store key of "the bot holds this WeCom session" (state 1 seen recently)."""
    return f"state:{sender}"


@dataclass
class Outcome:
    sent: int = 0
    held: int = 0
    dropped: int = 0

    def add(self, other: "Outcome") -> "Outcome":
        return Outcome(self.sent + other.sent, self.held + other.held, self.dropped + other.dropped)


def pack(items: list[dict], slots: int, limit: int = MAX_TEXT_BYTES) -> tuple[list[dict], list[dict]]:
    """(what to send in `slots` messages, what to hold). When everything does not fit, the last message sent
    says so: it carries as much of the next text as fits, cut at a sentence, with CUT_NOTE."""
    if len(items) <= slots:
        return list(items), []
    if slots <= 0:
        return [], list(items)
    send, rest = list(items[:slots - 1]), list(items[slots - 1:])
    first = rest[0]
    if first.get("type") == "text":
        pieces = split_text(first["content"], limit - len(("\n" + CUT_NOTE).encode()))
        send.append({"type": "text", "content": pieces[0] + "\n" + CUT_NOTE})
        tail = "\n".join(pieces[1:])
        held = ([{"type": "text", "content": tail}] if tail else []) + rest[1:]
    else:  # an image next: a short note takes the last slot
        send.append({"type": "text", "content": MORE_NOTE})
        held = rest
    return send, held


class Outbound:
    """Sends to one WeCom customer (by sender id) within the budget; `store` is the shared WeComStore."""

    def __init__(self, client: KfClient, store, metrics):
        self.client, self.store, self.metrics = client, store, metrics

    async def _run(self, func, *args):
        return await asyncio.to_thread(func, *args)

    async def customer_spoke(self, sender: str, at: float) -> None:
        """A customer message sent at `at`: 5 more messages are allowed until 48 h later."""
        await self._run(self.store.open_window, sender, at + WINDOW)

    async def send(self, sender: str, items: list[dict]) -> Outcome:
        """Send now what the budget allows; behind anything already held, in order."""
        if not items:
            return Outcome()
        if await self._run(self.store.held_count, sender):
            return await self._hold(sender, items)
        return await self._send_now(sender, items)

    async def flush(self, sender: str) -> Outcome:
        """The held messages, now that the customer wrote again (called before their new turn)."""
        held = [json.loads(raw) for raw in await self._run(self.store.take_held, sender)]
        return await self._send_now(sender, held) if held else Outcome()

    async def _hold(self, sender: str, items: list[dict], front: bool = False) -> Outcome:
        room = max(0, HELD_MAX - await self._run(self.store.held_count, sender))
        kept = items[:room]
        if len(kept) < len(items):
            log.error("WeCom held queue full: %d messages dropped", len(items) - len(kept))
            self.metrics.dropped += len(items) - len(kept)
        await self._run(self.store.hold, sender, [json.dumps(i, ensure_ascii=False) for i in kept], HELD_TTL, front)
        self.metrics.held_by_limit += len(kept)
        return Outcome(held=len(kept), dropped=len(items) - len(kept))

    async def _send_now(self, sender: str, items: list[dict]) -> Outcome:
        ids = parse_sender(sender)
        if ids is None:
            raise ValueError("not a WeCom sender id")
        kfid, uid = ids
        slots = await self._run(self.store.reserve, sender, len(items), LIMIT)
        send, held = pack(items, slots)
        await self._run(self.store.unreserve, sender, slots - len(send))
        outcome = Outcome()
        for index, item in enumerate(send):
            try:
                await self._send_one(kfid, uid, item)
            except WeComAPIError as exc:
                await self._run(self.store.unreserve, sender, len(send) - index)
                if exc.errcode == SESSION_STATE_INVALID:
                    await self._run(self.store.delete, state_key(sender))
                unsent = send[index:] + held
                held = []
                if exc.errcode in HOLD_ERRORS:
                    log.warning("WeCom send held: error %s", exc.errcode)
                    outcome = outcome.add(await self._hold(sender, unsent, front=True))
                else:
                    log.warning("WeCom send dropped: error %s", exc.errcode)
                    self.metrics.dropped += len(unsent)
                    outcome.dropped += len(unsent)
                break
            outcome.sent += 1
            self.metrics.sent += 1
        if held:
            outcome = outcome.add(await self._hold(sender, held, front=True))
        return outcome

    async def _send_one(self, kfid: str, uid: str, item: dict) -> None:
        msgtype, content = wire_message(item)
        await self.client.send_msg(uid, kfid, msgtype, content, msgid=new_msgid())

    async def send_on_event(self, code: str, item: dict) -> None:
        """The one message a welcome/event code allows (kf/send_msg_on_event); outside the budget."""
        msgtype, content = wire_message(item)
        await self.client.send_msg_on_event(code, msgtype, content, msgid=new_msgid())
        self.metrics.sent += 1


def wire_message(item: dict) -> tuple[str, dict]:
    if item["type"] == "text":
        return "text", {"content": item["content"]}
    if item["type"] == "image":
        return "image", {"media_id": item["media_id"]}
    raise ValueError(f"cannot send {item['type']} to WeCom")


def new_msgid() -> str:
    return "hall" + uuid.uuid4().hex[:28]  # ≤ 32 bytes of [0-9a-zA-Z_-], as WeCom requires


def as_texts(bot_messages: list[dict]) -> list[dict]:
    """Bot messages with WeChat news cards turned into text (a WeCom link card needs an uploaded thumbnail)."""
    out = []
    for msg in bot_messages:
        custom = msg.get("custom") if isinstance(msg.get("custom"), dict) else {}
        news = custom.get("news") or custom.get("articles")
        if news:
            articles = news if isinstance(news, list) else [news]
            lines = [line for a in articles for line in (a.get("title"), a.get("description"), a.get("url")) if line]
            out.append({**{k: v for k, v in msg.items() if k != "custom"}, "text": "\n".join(
                [t for t in (msg.get("text"), *lines) if t])})
        else:
            out.append(msg)
    return out
