"""微信客服 (WeCom kf) ↔ bot, independent of the web framework (connectors/wecom.py wraps it for Rasa).

The callback (`kf_msg_or_event`) is answered at once — WeCom retries after 5 s, and a service that pulled
inside the callback produced duplicate replies — and the messages are pulled in the background
(connectors.wecom_pull). Each pulled message of a customer is handled here, in order:

1. session state (kf/service_state): 2 待接入池 / 3 人工接待 → a WeCom servicer has it, the bot stays silent;
   0 未处理 → taken as 1 智能助手 (cached while it holds);
2. the 48-h window opens (5 messages), and what was held for this customer goes out first; a bare "继续"
   then only asked for that;
3. the back-office conversation state: an agent of our console holds it → the message goes to the paused
   tracker for the agent's history, the bot says nothing (the agent answers through backoffice/delivery.py);
4. the message becomes the bot's text (numbered option, stored image/video → /upload_image{…}), goes to the
   bot through `to_bot` — the one place a customer message is handed to the bot — and the answer is sent
   within the budget (connectors.wecom_replies);
5. with WECOM_HANDOFF=wecom, a turn that asked for a human moves the session to WeCom's 待接入池 (after its
   answer was sent: send_msg is refused once the state is 2) and takes it off our console's queue.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable

from backoffice.channels.client import BackofficeClient
from connectors import wechat_format as fmt
from connectors import wecom_wire
from connectors.guard import guard
from connectors.wechat_bridge import MEDIA_FAILED, Response
from connectors.wechat_menu import WELCOME_OPTIONS
from connectors.wechat_wire import WireError
from connectors.wecom_api import STATE_BOT, STATE_HUMAN, STATE_POOL, KfClient, WeComAPIError
from connectors.wecom_ids import parse_sender, valid_part
from connectors.wecom_pull import Puller
from connectors.wecom_replies import Outbound, as_texts, is_continue, state_key
from connectors.wecom_settings import WeComSettings

log = logging.getLogger("connectors.wecom")

STATE_CACHE_TTL = 3600  # "state 1" is trusted this long; a session_status_change event or a 95018 drops it
UNSUPPORTED = "抱歉，目前只能处理文字、图片和视频消息。请用文字告诉我您要办理的业务，或回复“帮助”。"
VOICE = "抱歉，暂时无法识别语音消息，请直接发送文字。"
IMAGE_LINK = "图片暂时无法显示，请点击查看："
WELCOME_PROMPT = "您可以直接选择："

# bot(sender, text, metadata) → list of Rasa bot message dicts
BotTurn = Callable[[str, str, dict], Awaitable[list[dict]]]


def part(msg: dict, key: str) -> dict:
    """A message's `text`/`image`/`event`… object; {} when WeCom sent something else there."""
    value = msg.get(key)
    return value if isinstance(value, dict) else {}


def sent_at(msg: dict) -> float:
    """When the customer sent it (the 48-h window starts there); never later than now."""
    try:
        return min(float(msg.get("send_time")), time.time())
    except (TypeError, ValueError):
        return time.time()


class WeComBridge:
    def __init__(self, settings: WeComSettings, *, client: KfClient, store, backoffice: BackofficeClient, bot: BotTurn,
                 metrics, puller: Puller | None = None):
        self.settings = settings
        self.crypto = wecom_wire.make_crypto(settings.token, settings.aes_key, settings.corp_id)
        self.client, self.store, self.backoffice, self.bot, self.metrics = client, store, backoffice, bot, metrics
        self.outbound = Outbound(client, store, metrics)
        self.puller = puller or Puller(client, store, metrics, self.handle)

    async def _run(self, func, *args):
        return await asyncio.to_thread(func, *args)

    # --- HTTP entry points -------------------------------------------------------------------------------
    def verify(self, query: dict) -> Response:
        """GET: WeCom checks the callback URL; the answer is the decrypted echostr."""
        try:
            return Response(200, wecom_wire.verify_url(self.crypto, query))
        except WireError as exc:
            log.warning("rejected WeCom URL verification: %s", exc)
            return Response(exc.status, "forbidden" if exc.status == 403 else "bad request")

    async def receive(self, query: dict, body: bytes) -> Response:
        """POST: note the account has news and answer at once; the pull runs in the background."""
        try:
            event = wecom_wire.open_callback(self.crypto, query, body)
        except WireError as exc:
            log.warning("rejected WeCom callback: %s", exc)
            return Response(exc.status, "forbidden" if exc.status == 403 else "bad request")
        if event.get("MsgType") != "event" or event.get("Event") != wecom_wire.KF_EVENT:
            return Response(200, "success")  # other WeCom events on this URL are not ours to handle
        kfid, token = event.get("OpenKfId"), event.get("Token") or ""
        if not valid_part(kfid) or len(token) > 256:
            return Response(400, "bad request")
        self.metrics.callbacks += 1
        try:
            await self.puller.trigger(kfid, token)
        except Exception as exc:  # the store is down: WeCom retries a callback that failed
            log.warning("WeCom callback not recorded: %s", exc.__class__.__name__)
            return Response(503, "unavailable")
        return Response(200, "success")

    # --- the bot -----------------------------------------------------------------------------------------
    async def to_bot(self, sender: str, text: str, metadata: dict) -> list[dict]:
        """The one place a WeCom customer's message is handed to the bot, through the guard (length, rate)."""
        refusal = await guard().admit(sender, text, channel="wecom")
        if refusal:
            return [{"recipient_id": sender, "text": refusal}]
        self.metrics.turns += 1
        return await self.bot(sender, text, metadata)

    # --- one pulled message --------------------------------------------------------------------------------
    async def handle(self, sender: str, msg: dict) -> None:
        kind = str(msg.get("msgtype") or "")
        if kind == "event":
            await self._event(sender, msg)
            return
        if not await self._bot_may_answer(sender):
            self.metrics.ignored += 1  # a WeCom servicer holds the session and sees the message there
            return
        await self.outbound.customer_spoke(sender, sent_at(msg))
        flushed = await self.outbound.flush(sender)
        typed = str(part(msg, "text").get("content") or "").strip() if kind == "text" else ""
        if flushed.sent and is_continue(typed):
            return  # "继续": the rest of a long answer was all they asked for
        state = await self._conversation_state(sender)
        text, answer = await self._bot_text(sender, kind, msg, typed)
        if state == "agent":
            await self._log_for_agent(sender, kind, typed or text)
            return
        if answer is not None:
            await self.outbound.send(sender, [{"type": "text", "content": answer}])
            return
        replies = await self.to_bot(sender, text, {"wecom_msg_type": kind})
        await self._answer(sender, replies)
        if self.settings.handoff == "wecom":
            await self._hand_over_if_asked(sender)

    async def _conversation_state(self, sender: str) -> str:
        try:
            return await self.backoffice.conversation_state(sender)
        except Exception as exc:  # the bot still answers; the back-office outage shows in its own replies
            log.warning("conversation state unavailable: %s", exc.__class__.__name__)
            return "bot"

    async def _bot_may_answer(self, sender: str) -> bool:
        """False while a WeCom servicer (pool or human) has the session; a new session is taken by the bot."""
        if await self._run(self.store.get, state_key(sender)) == str(STATE_BOT):
            return True
        kfid, uid = parse_sender(sender)
        try:
            state = (await self.client.service_state(kfid, uid)).state
        except WeComAPIError as exc:  # unknown: answer; a refused send is held for the next message
            log.warning("WeCom session state unavailable: %s", exc.errcode)
            return True
        if state in (STATE_POOL, STATE_HUMAN):
            return False
        if state != STATE_BOT:
            try:
                await self.client.trans_state(kfid, uid, STATE_BOT)
            except WeComAPIError as exc:
                log.warning("WeCom session not taken by the bot: %s", exc.errcode)
                return True
        await self._run(self.store.set, state_key(sender), str(STATE_BOT), STATE_CACHE_TTL)
        return True

    async def _bot_text(self, sender: str, kind: str, msg: dict, typed: str) -> tuple[str, str | None]:
        """(text for the bot, or a direct answer instead of a bot turn)."""
        if kind == "text":
            if not typed:
                return "", UNSUPPORTED
            options = fmt.load_options(await self._run(self.store.get, fmt.options_key(sender)))
            return fmt.match_option(typed, options) or typed, None
        if kind in ("image", "video"):
            media_id = str(part(msg, kind).get("media_id") or "")
            try:
                data, _ctype = await self.client.media_get(media_id)
                stored = await self.backoffice.store_media(data, sender, filename=f"wecom-{kind}")
            except Exception as exc:
                log.warning("WeCom media not stored: %s", exc)
                return "", MEDIA_FAILED
            intent = "upload_image" if kind == "image" else "upload_video"
            return f'/{intent}{json.dumps({"media_id": stored})}', None
        if kind == "voice":
            return "", VOICE
        return "", UNSUPPORTED

    async def _log_for_agent(self, sender: str, kind: str, text: str) -> None:
        """An agent of our console holds the conversation: the message goes to the (paused) tracker so the
        agent's history is complete; Rasa predicts nothing for a paused tracker."""
        if not text:
            return
        try:
            await self.to_bot(sender, text, {"wecom_msg_type": kind, "held_by_agent": True})
        except Exception as exc:  # the agent misses it in the history; the customer is not affected
            log.warning("message during a claim not logged in the tracker: %s", exc.__class__.__name__)

    async def _answer(self, sender: str, replies: list[dict]) -> None:
        outgoing, options = fmt.build_outgoing(as_texts(replies))
        await self._remember_options(sender, options)
        await self.outbound.send(sender, await self._with_uploaded_images(outgoing))

    async def _remember_options(self, sender: str, options: list[str] | None) -> None:
        key = fmt.options_key(sender)
        if options:
            await self._run(self.store.set, key, fmt.dump_options(options), fmt.OPTIONS_TTL)
        else:  # a stale "1" must not pick an option from an earlier question
            await self._run(self.store.delete, key)

    async def _with_uploaded_images(self, outgoing: list[dict]) -> list[dict]:
        """Bot images (back-office links) become WeCom media; one that cannot be uploaded is sent as its link."""
        items = []
        for item in outgoing:
            if item["type"] == "image" and "media_id" not in item:
                try:
                    data, ctype = await self.client.fetch_url(item["url"])
                    item = {"type": "image", "media_id": await self.client.media_upload(
                        "image", "image.png" if "png" in ctype else "image.jpg", data, ctype)}
                except Exception as exc:
                    log.warning("bot image not uploaded to WeCom: %s", exc.__class__.__name__)
                    item = {"type": "text", "content": IMAGE_LINK + item["url"]}
            items.append(item)
        return items

    async def _hand_over_if_asked(self, sender: str) -> None:
        """WECOM_HANDOFF=wecom: the turn put the customer in our queue → WeCom's 待接入池 instead."""
        if await self._conversation_state(sender) != "waiting":
            return
        kfid, uid = parse_sender(sender)
        try:
            await self.client.trans_state(kfid, uid, STATE_POOL)
        except WeComAPIError as exc:  # stays in our console's queue: staff there can still answer
            log.warning("WeCom handoff failed: %s", exc.errcode)
            return
        await self._run(self.store.delete, state_key(sender))
        try:
            await self.backoffice.call("/api/bot/handoff/channel", {"sender": sender})
        except Exception as exc:
            log.warning("handoff to WeCom not recorded in the back-office: %s", exc.__class__.__name__)

    # --- events --------------------------------------------------------------------------------------------
    async def _event(self, sender: str, msg: dict) -> None:
        event = part(msg, "event")
        kind = event.get("event_type")
        if kind == "enter_session" and event.get("welcome_code"):
            await self._welcome(sender, str(event["welcome_code"]))
        elif kind == "session_status_change":
            await self._run(self.store.delete, state_key(sender))  # a servicer took, passed on or ended it
        elif kind == "msg_send_fail":
            self.metrics.dropped += 1
            log.warning("WeCom could not deliver a message (fail_type %s)", event.get("fail_type"))
        else:
            self.metrics.ignored += 1

    async def _welcome(self, sender: str, code: str) -> None:
        """enter_session: the bot's greeting and the welcome options as the one message the code allows
        (valid 20 s, outside the 5-message budget)."""
        if await self._conversation_state(sender) == "agent":
            return
        replies = await self.to_bot(sender, "/greet", {"wecom_msg_type": "event", "wecom_event": "enter_session"})
        outgoing, options = fmt.build_outgoing(as_texts(replies) + [{"text": WELCOME_PROMPT,
                                                                     "buttons": WELCOME_OPTIONS}])
        await self._remember_options(sender, options)
        text = "\n\n".join(o["content"] for o in outgoing if o["type"] == "text")
        pieces = fmt.split_text(text)
        if not pieces:
            return
        try:
            await self.outbound.send_on_event(code, {"type": "text", "content": pieces[0]})
        except WeComAPIError as exc:  # the code expired: the customer's first message gets the bot anyway
            log.warning("WeCom welcome not sent: %s", exc.errcode)
