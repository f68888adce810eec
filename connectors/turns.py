"""One bot turn for a channel, with a polite answer when the bot's own dependencies are down.

Rasa handles two outages badly for a customer:
* its tracker or lock store (Redis/SQL) is unreachable: `on_new_message` raises, and Rasa's REST channel
  answers 200 with an empty list (silence) after logging the message text;
* the action server is unreachable: Rasa logs the exception, drops the action's events and carries on, so
  the turn usually ends with no message at all.
Both become "系统繁忙" here. The customer's message is not lost: nothing of the failed turn reached the
back-office, and the form still asks for the same step when the customer sends it again.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

log = logging.getLogger("connectors.turns")

BUSY_TEXT = "系统繁忙，请稍后再试。您已填写的信息不会丢失。"
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)


async def actions_reachable(action_url: str | None) -> bool:
    """GET /health on the action server (rasa_sdk serves it); no action server configured → reachable."""
    if not action_url:
        return True
    parts = urlsplit(action_url)
    try:
        async with aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as http:
            async with http.get(f"{parts.scheme}://{parts.netloc}/health") as resp:
                return resp.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False
    except Exception:  # asyncio.TimeoutError on 3.10 is not the builtin one
        return False


def action_url_of(agent: Any) -> str | None:
    endpoint = getattr(agent, "action_endpoint", None)
    return getattr(endpoint, "url", None)


async def bot_turn(on_new_message: Callable[[UserMessage], Awaitable[Any]], text: str | None, sender: str,
                   channel: str, metadata: dict | None, agent: Any = None) -> list[dict]:
    """The bot's messages for one customer message; a busy answer instead of silence or a traceback."""
    collector = CollectingOutputChannel()
    try:
        await on_new_message(UserMessage(text, collector, sender, input_channel=channel, metadata=metadata))
    except Exception as exc:  # tracker/lock store down, model not loaded …; never the message text in logs
        log.error("bot turn failed on channel %s: %s", channel, exc.__class__.__name__)
        return [{"recipient_id": sender, "text": BUSY_TEXT}]
    if not collector.messages and not await actions_reachable(action_url_of(agent)):
        # Rasa swallowed a failed custom action: the customer would get nothing at all
        log.error("bot turn on channel %s ended silent: action server unreachable", channel)
        return [{"recipient_id": sender, "text": BUSY_TEXT}]
    return collector.messages
