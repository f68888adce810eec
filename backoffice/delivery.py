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
    from connectors.wechat_format import split_text

    try:
        api = get_api()
        for piece in split_text(text):
            await api.send_text(conversation["sender"], piece)
        return True
    except Exception as exc:  # the message stays in the outbox; staff see "delivered": false
        log.warning("WeChat delivery of a staff reply failed: %s", exc)
        return False
