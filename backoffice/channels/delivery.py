"""Push a staff reply to the customer's channel.

WeChat conversations get a 客服消息 (valid within 48 h of the customer's last message). Other channels
(REST) cannot be pushed to: their clients poll GET /api/conversations/{sender}/outbox.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


async def deliver(conversation: dict, text: str) -> bool | None:
    """True when delivered, False when the push failed, None when the channel is not pushable."""
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


async def deliver_image(conversation: dict, data: bytes, filename: str = "reply.jpg") -> bool | None:
    """An agent's image: uploaded to WeChat as temporary media (valid 3 days) and sent as an image 客服消息."""
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
    outbox as author "bot" (REST clients poll it) and pushed as 客服消息 to WeChat customers."""
    import asyncio

    texts = bot_texts(messages)
    if not texts:
        return None
    await asyncio.to_thread(svc.conversations.post, conversation["sender"], "bot", texts)
    results = [await deliver(conversation, text) for text in texts]
    return None if results[0] is None else all(results)
