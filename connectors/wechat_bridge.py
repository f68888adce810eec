"""WeChat Official Account ↔ bot, independent of the web framework (the Rasa channel wraps it).

The 5-second rule: WeChat waits 5 s for the HTTP answer and retries (same MsgId) up to 3 times. Each
request gets a window of ~4.5 s. If the bot turn finishes inside a window, that request carries the
answer as a passive reply; otherwise the request answers "success" and the turn's messages go out as
客服消息 once ready. A turn's messages are delivered exactly once: whoever claims them first
("passive" or "async") owns them, and only the newest attempt of a message may claim a passive reply —
WeChat has stopped listening to the earlier ones.

Dedup: the first request of a MsgId (events: FromUserName+CreateTime) wins SET NX in the KV store
(Redis across workers); retries that land in the same process wait on the running turn; retries that
land in another worker answer "success" at once (the owning worker delivers via 客服消息 if its own
window passed). Per-openid ordering is an asyncio lock, i.e. per process: with several workers, order
across workers relies on Rasa's lock store (which serialises turns per sender) — media download before
the turn is not ordered across workers.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from wechatpy.crypto import WeChatCrypto

from backoffice.channels.client import BackofficeClient
from backoffice.channels.senders import BadSender, conversation_id
from connectors import wechat_format as fmt
from connectors import wechat_wire as wire
from connectors.wechat_menu import WELCOME_OPTIONS, click_payload
from connectors.wechat_settings import WeChatSettings

log = logging.getLogger("connectors.wechat")

DEDUP_TTL = 300  # WeChat's retries come within ~15 s; keep the mark well beyond that
TURN_KEEP = 60  # how long a finished turn stays in memory for late retries
# Shorter than connectors.turns.BUSY_TEXT on purpose: a failure here may come before the turn reached Rasa,
# so no promise that what the customer sent was kept.
BUSY_TEXT = "系统繁忙，请稍后再试。"
VOICE_UNRECOGNISED = "抱歉，暂时无法识别这条语音，请直接发送文字消息。"
UNSUPPORTED = "抱歉，目前只能处理文字、语音、图片和小视频消息。请用文字告诉我您要办理的业务，或回复“帮助”。"
MEDIA_FAILED = "抱歉，文件接收失败，请稍后重新发送。"

# bot(openid, text, metadata) → list of Rasa bot message dicts
BotTurn = Callable[[str, str, dict], Awaitable[list[dict]]]


@dataclass
class Turn:
    openid: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    outgoing: list[dict] = field(default_factory=list)
    claimed: str | None = None  # "passive" | "async" | "none"
    attempts: int = 0  # requests (WeChat's tries) seen for this message
    task: asyncio.Task | None = None


@dataclass
class Response:
    status: int
    body: str
    content_type: str = "text/plain"


class WeChatBridge:
    def __init__(self, settings: WeChatSettings, *, kv, api, backoffice: BackofficeClient, bot: BotTurn,
                 window: float | None = None):
        self.settings = settings
        self.crypto = WeChatCrypto(settings.token, settings.aes_key, settings.app_id) if settings.aes_key else None
        self.kv, self.api, self.backoffice, self.bot = kv, api, backoffice, bot
        self.window = window if window is not None else float(os.environ.get("WECHAT_REPLY_WINDOW", "4.5"))
        self.turns: dict[str, Turn] = {}
        self._locks: dict[str, list] = {}  # openid → [lock, users]
        self._tasks: set[asyncio.Task] = set()

    # --- HTTP entry points ---------------------------------------------------------------------
    def verify(self, query: dict) -> Response:
        """GET: WeChat's URL verification echoes `echostr` when the signature is right."""
        try:
            wire.check_request(self.settings.token, query.get("signature"), query.get("timestamp"),
                               query.get("nonce"))
        except wire.WireError as exc:
            return Response(exc.status, "forbidden" if exc.status == 403 else "bad request")
        return Response(200, query.get("echostr", ""))

    async def receive(self, query: dict, body: bytes) -> Response:
        started = time.monotonic()
        timestamp, nonce = query.get("timestamp"), query.get("nonce")
        try:
            wire.check_request(self.settings.token, query.get("signature"), timestamp, nonce)
            root = wire.parse_xml(body)
            encrypted = query.get("encrypt_type", "raw").lower() == "aes"
            if encrypted:
                if self.crypto is None:
                    raise wire.WireError(400, "encrypted message but no WECHAT_AES_KEY configured")
                root = wire.decrypt(self.crypto, root, query.get("msg_signature"), timestamp, nonce)
            msg = self._validate(root)
        except wire.WireError as exc:
            log.warning("rejected WeChat request: %s", exc)
            return Response(exc.status, "forbidden" if exc.status == 403 else "bad request")

        key = msg.get("MsgId") or f"{msg['FromUserName']}:{msg.get('CreateTime', '')}:{msg.get('Event', '')}"
        turn = self.turns.get(key)
        if turn is None:
            # registered before the first await, so a concurrent retry in this process finds it
            turn = self.turns[key] = Turn(openid=msg["FromUserName"])
            try:
                first = await asyncio.to_thread(self.kv.set_nx, f"wechat:seen:{self.settings.app_id}:{key}", "1",
                                                DEDUP_TTL)
            except Exception as exc:  # Redis down: this process's own dedup (self.turns) still holds
                log.warning("WeChat dedup store unavailable: %s", exc.__class__.__name__)
                first = True
            if not first:  # another worker (or an earlier run of this one) owns this message
                turn.claimed = "none"
                turn.done.set()
                asyncio.get_running_loop().call_later(TURN_KEEP, self.turns.pop, key, None)
                log.info("duplicate WeChat message answered with success")
                return Response(200, "success")
            turn.task = self._spawn(self._run_turn(key, turn, msg))
        # WeChat has given up on every earlier attempt of this message: only the newest may carry the reply
        turn.attempts += 1
        mine = turn.attempts
        remaining = self.window - (time.monotonic() - started)
        if remaining > 0 and not turn.done.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(turn.done.wait()), remaining)
            except asyncio.TimeoutError:
                pass
        if mine != turn.attempts:
            return Response(200, "success")  # a newer retry owns the answer
        if turn.done.is_set() and turn.claimed is None:
            turn.claimed = "passive"
            return self._passive(msg, turn.outgoing[0], encrypted, nonce)
        if turn.claimed is None:
            turn.claimed = "async"  # the turn delivers through 客服消息 when it finishes
        return Response(200, "success")

    # --- the bot turn ----------------------------------------------------------------------------
    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_turn(self, key: str, turn: Turn, msg: dict) -> None:
        try:
            async with self._user_lock(turn.openid):
                try:
                    outgoing = await self._handle(msg)
                except Exception:
                    log.exception("WeChat turn failed")
                    outgoing = [{"type": "text", "content": BUSY_TEXT}]
        finally:
            loop = asyncio.get_running_loop()
            loop.call_later(TURN_KEEP, self.turns.pop, key, None)
        turn.outgoing = outgoing
        if not outgoing:
            turn.claimed = turn.claimed or "none"
        elif len(outgoing) > 1 or any(o["type"] == "news" and len(o["articles"]) > 8 for o in outgoing):
            # a passive reply carries one message; keep the order by sending all of them as 客服消息
            turn.claimed = turn.claimed or "async"
        turn.done.set()
        if turn.claimed is None:
            # a waiting request claims it now; if that request went away (client disconnect), deliver anyway
            await asyncio.sleep(self.window + 0.5)
            if turn.claimed is None:
                turn.claimed = "async"
        if turn.claimed == "async":
            await self._deliver(turn.openid, outgoing)

    async def _deliver(self, openid: str, outgoing: list[dict]) -> None:
        for item in outgoing:
            if item["type"] == "transfer":
                continue
            try:
                await self.api.send(openid, item)
            except Exception as exc:
                log.warning("客服消息 delivery failed: %s", exc)
                return

    @contextlib.asynccontextmanager
    async def _user_lock(self, openid: str):
        """Per-openid order inside this process; the entry goes away with its last user."""
        entry = self._locks.setdefault(openid, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(openid, None)

    async def _handle(self, msg: dict) -> list[dict]:
        openid, kind = msg["FromUserName"], msg["MsgType"].lower()
        event = (msg.get("Event") or "").lower()
        extra: list[dict] = []
        if kind == "text":
            text = str(msg.get("Content") or "").strip()
            if not text:
                return [{"type": "text", "content": UNSUPPORTED}]
            options = fmt.load_options(await asyncio.to_thread(self.kv.get, fmt.options_key(openid)))
            text = fmt.match_option(text, options) or text
        elif kind == "voice":
            text = str(msg.get("Recognition") or "").strip()
            if not text:
                return [{"type": "text", "content": VOICE_UNRECOGNISED}]
        elif kind in ("image", "video", "shortvideo"):
            try:
                media_id = await self._store_media(msg, openid, kind)
            except Exception as exc:
                log.warning("WeChat media not stored: %s", exc)
                return [{"type": "text", "content": MEDIA_FAILED}]
            intent = "upload_image" if kind == "image" else "upload_video"
            text = f'/{intent}{json.dumps({"media_id": media_id})}'
        elif kind == "event" and event in ("subscribe", "subscribe_scan"):
            text = "/greet"
            extra = [{"text": "您可以点击下方菜单，或直接选择：", "buttons": WELCOME_OPTIONS}]
        elif kind == "event" and event == "unsubscribe":
            # Nothing can be sent to someone who unfollowed: end their login session and forget options.
            await asyncio.to_thread(self.kv.delete, fmt.options_key(openid))
            try:
                await self.backoffice.call("/api/bot/logout", {"sender": openid})
            except Exception as exc:
                log.warning("logout on unsubscribe failed: %s", exc)
            return []
        elif kind == "event" and event == "click":
            text = click_payload(msg.get("EventKey"))
            if not text:
                return [{"type": "text", "content": UNSUPPORTED}]
        elif kind == "event":
            return []  # VIEW (link opened), LOCATION reports, template job reports …: nothing to say
        else:
            return [{"type": "text", "content": UNSUPPORTED}]

        try:
            state = await self.backoffice.conversation_state(openid)
        except Exception as exc:  # the bot still answers; the back-office outage shows in its own replies
            log.warning("conversation state unavailable: %s", exc)
            state = "bot"
        if state == "agent":
            # An agent holds the conversation: the message still goes to the (paused) Rasa tracker, so the
            # agent's history is complete; Rasa predicts nothing for a paused tracker, and whatever it might say
            # is dropped here. Agent replies go out from the back-office.
            typed = str(msg.get("Content") or "").strip() if kind == "text" else text  # not a numbered option
            try:
                await self.bot(openid, typed, {"wechat_msg_type": kind, "held_by_agent": True})
            except Exception as exc:  # the agent misses it in the history; the customer is not affected
                log.warning("message during a claim not logged in the tracker: %s", exc.__class__.__name__)
            return [{"type": "transfer"}] if self.settings.transfer_to_kf else []

        replies = await self.bot(openid, text, {"wechat_msg_type": kind})
        outgoing, options = fmt.build_outgoing(replies + extra)
        key = fmt.options_key(openid)
        if options:
            await asyncio.to_thread(self.kv.set, key, fmt.dump_options(options), fmt.OPTIONS_TTL)
        else:  # a stale "1" must not pick an option from an earlier question
            await asyncio.to_thread(self.kv.delete, key)
        for item in outgoing:
            if item["type"] == "image" and "media_id" not in item:
                data, _ctype = await self.api.fetch_url(item["url"])
                item["media_id"] = await self.api.upload_media("image", "image.jpg", data)
        return outgoing

    async def _store_media(self, msg: dict, openid: str, kind: str) -> str:
        data = None
        if msg.get("MediaId"):
            try:
                data, _ctype = await self.api.download_media(msg["MediaId"])
            except Exception as exc:
                log.warning("media/get failed: %s", exc)
        if data is None and msg.get("PicUrl"):
            data, _ctype = await self.api.fetch_url(msg["PicUrl"])
        if data is None:
            raise RuntimeError("no media content")
        return await self.backoffice.store_media(data, openid, filename=f"wechat-{kind}")

    # --- wire helpers ------------------------------------------------------------------------------
    @staticmethod
    def _validate(root: dict) -> dict:
        msg = {k: v for k, v in root.items() if isinstance(v, str) or v is None}
        if not msg.get("FromUserName") or not msg.get("MsgType"):
            raise wire.WireError(400, "FromUserName and MsgType are required")
        try:  # the conversation id is the openid (backoffice/channels/senders.py)
            conversation_id("wechat", msg["FromUserName"])
        except BadSender:
            raise wire.WireError(400, "FromUserName is not an openid") from None
        return msg

    def _passive(self, msg: dict, item: dict, encrypted: bool, nonce: str | None) -> Response:
        base = {"ToUserName": msg["FromUserName"], "FromUserName": msg.get("ToUserName") or self.settings.app_id,
                "CreateTime": int(time.time())}
        if item["type"] == "text":
            xml = wire.build_xml({**base, "MsgType": "text", "Content": item["content"]})
        elif item["type"] == "image":
            xml = wire.build_xml({**base, "MsgType": "image"}).replace(
                "</xml>", f"<Image>{wire.cdata_el('MediaId', item['media_id'])}</Image></xml>")
        elif item["type"] == "transfer":
            xml = wire.build_xml({**base, "MsgType": "transfer_customer_service"})
        else:  # news
            arts = "".join("<item>" + wire.cdata_el("Title", a.get("title", "")) +
                           wire.cdata_el("Description", a.get("description", "")) +
                           wire.cdata_el("PicUrl", a.get("image") or a.get("picurl", "")) +
                           wire.cdata_el("Url", a.get("url", "")) + "</item>" for a in item["articles"])
            xml = wire.build_xml({**base, "MsgType": "news", "ArticleCount": len(item["articles"])}).replace(
                "</xml>", f"<Articles>{arts}</Articles></xml>")
        if encrypted and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, nonce or os.urandom(5).hex(), str(int(time.time())))
        return Response(200, xml, "application/xml")
