"""Push a staff reply to the customer's channel.

WeChat conversations get a 客服消息 (valid within 48 h of the customer's last message). 微信客服 (WeCom)
conversations get kf/send_msg within WeCom's budget (5 messages within 48 h after the customer's last message,
shared with the bot through Redis): beyond it a reply is held and goes out on the customer's next message
(connectors/wecom_replies.py). Other channels (REST) cannot be pushed to: their clients poll
GET /api/conversations/{sender}/outbox.
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

HELD = "held"  # deliver()'s answer for a WeCom reply kept for the customer's next message (not lost, not sent)
_wecom_lock = threading.Lock()
_wecom_outbound = None


def wecom_outbound():
    """This process's WeCom sender: the kf client (token shared in Redis) and the shared reply budget."""
    global _wecom_outbound
    with _wecom_lock:
        if _wecom_outbound is None:
            import os

            from connectors.wecom_api import get_client  # WeCom deployments only
            from connectors.wecom_metrics import METRICS  # WeCom deployments only
            from connectors.wecom_replies import Outbound  # WeCom deployments only
            from connectors.wecom_settings import kv_prefix  # WeCom deployments only
            from connectors.wecom_store import make_store  # WeCom deployments only

            _wecom_outbound = Outbound(get_client(metrics=METRICS),
                                       make_store(os.environ.get("REDIS_URL") or None, kv_prefix()), METRICS)
        return _wecom_outbound


async def _deliver_wecom(sender: str, items: list[dict]) -> bool | str:
    try:
        outcome = await wecom_outbound().send(sender, items)
    except Exception as exc:  # the message stays in the outbox; staff see "delivered": false
        log.warning("WeCom delivery failed: %s", exc.__class__.__name__)
        return False
    if outcome.dropped:
        return False
    return HELD if outcome.held else True


async def deliver(conversation: dict, text: str) -> bool | str | None:
    """True when delivered, False when the push failed, HELD when WeCom's budget keeps it for the customer's
    next message, None when the channel is not pushable."""
    if conversation.get("channel") == "wecom":
        from connectors.wechat_format import split_text  # with the WeCom sender: WeCom deliveries only

        return await _deliver_wecom(conversation["sender"], [{"type": "text", "content": p} for p in split_text(text)])
    if conversation.get("channel") != "wechat":
        return None
    from connectors.wechat_api import get_api  # only back-offices serving WeChat customers need wechatpy
    from connectors.wechat_format import split_text  # with wechat_api: WeChat deliveries only

    try:
        api = get_api()
        for piece in split_text(text):
            await api.send_text(conversation["sender"], piece)
        return True
    except Exception as exc:  # the message stays in the outbox; staff see "delivered": false
        log.warning("WeChat delivery of a staff reply failed: %s", exc)
        return False


async def deliver_image(conversation: dict, data: bytes, filename: str = "reply.jpg") -> bool | str | None:
    """An agent's image: uploaded to WeChat/WeCom as temporary media (valid 3 days) and sent as an image."""
    if conversation.get("channel") == "wecom":
        try:
            media_id = await wecom_outbound().client.media_upload(
                "image", filename, data, "image/png" if filename.endswith(".png") else "image/jpeg")
        except Exception as exc:
            log.warning("WeCom upload of a staff image failed: %s", exc.__class__.__name__)
            return False
        return await _deliver_wecom(conversation["sender"], [{"type": "image", "media_id": media_id}])
    if conversation.get("channel") != "wechat":
        return None
    from connectors.wechat_api import get_api  # only back-offices serving WeChat customers need wechatpy

    try:
        api = get_api()
        media_id = await api.upload_media("image", filename, data)
        await api.send_image(conversation["sender"], media_id)
        return True
    except Exception as exc:  # kept in the outbox; staff see "delivered": false
        log.warning("WeChat delivery of a staff image failed: %s", exc.__class__.__name__)
        return False


def bot_texts(messages: list[dict]) -> list[str]:
    """The bot's messages (as Rasa returns them) as plain texts for a channel the back-office writes to.

    Buttons become "可回复：…" with their titles: the steps accept the typed titles, and a numbered list
    would need the WeChat channel's per-customer option memory, which only the channel itself keeps."""
    texts = []
    for msg in messages:
        text = str(msg.get("text") or "").strip()
        titles = [str(b.get("title") or b.get("payload") or "") for b in msg.get("buttons") or []]
        if titles:
            text = (text + "\n" if text else "") + "可回复：" + " / ".join(t for t in titles if t)
        if msg.get("image"):
            text = (text + "\n" if text else "") + str(msg["image"])
        if text:
            texts.append(text)
    return texts


async def deliver_bot_messages(svc, conversation: dict, messages: list[dict]) -> bool | None:
    """What the bot said outside a customer's turn (e.g. re-asking a step after a hand-back): kept in the
    outbox as author "bot" (REST clients poll it) and pushed to WeChat and WeCom customers (held ones count as
    delivered: they go out on the customer's next message)."""
    import asyncio

    texts = bot_texts(messages)
    if not texts:
        return None
    await asyncio.to_thread(svc.conversations.post, conversation["sender"], "bot", texts)
    results = [await deliver(conversation, text) for text in texts]
    return None if results[0] is None else all(r is True or r == HELD for r in results)
