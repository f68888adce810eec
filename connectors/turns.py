"""One bot turn for a channel, with a polite answer when the bot's own dependencies are down.

Rasa handles two outages badly for a customer:
* its tracker or lock store (Redis/SQL) is unreachable: `on_new_message` raises, and Rasa's REST channel
  answers 200 with an empty list (silence) after logging the message text;
* a custom action fails (the action server is down or dies mid-call): Rasa logs the exception, drops the
  action's events and carries on, so the turn ends in silence or in a misleading "我没有理解您的意思".
Both become "系统繁忙" here. The customer's message is not lost: the failed action's events never reached the
tracker, so the form still asks for the same step when the customer sends it again.

The failed action is seen through Rasa's own log record (rasa.core.processor, "Encountered an exception while
running action …", Rasa 3.6): a filter notes it in a context variable that belongs to the turn's task.
"""
from __future__ import annotations

import contextvars
import functools
import logging
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from backoffice.core import tracing
from connectors.channel_metrics import MESSAGES

log = logging.getLogger("connectors.turns")

BUSY_TEXT = "系统繁忙，请稍后再试。您已填写的信息不会丢失。"
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)

# {"collector": CollectingOutputChannel, "failed_at": int | None} for the turn running in this task
_TURN: contextvars.ContextVar[dict | None] = contextvars.ContextVar("hall_turn", default=None)


class _ActionFailureFilter(logging.Filter):
    """Notes (never drops) Rasa's "action failed" record, with how much the bot had said before it."""

    def filter(self, record: logging.LogRecord) -> bool:
        turn = _TURN.get()
        if turn is not None and turn["failed_at"] is None and "while running action" in str(record.msg):
            turn["failed_at"] = len(turn["collector"].messages)
        return True


_processor_log = logging.getLogger("rasa.core.processor")
if not any(isinstance(f, _ActionFailureFilter) for f in _processor_log.filters):
    _processor_log.addFilter(_ActionFailureFilter())


async def actions_reachable(action_url: str | None) -> bool:
    """GET /health on the action server (rasa_sdk serves it); no action server configured → reachable."""
    if not action_url:
        return True
    parts = urlsplit(action_url)
    try:
        async with aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as http:
            async with http.get(f"{parts.scheme}://{parts.netloc}/health") as resp:
                return resp.status == 200
    except Exception:  # refused, reset, timed out: not reachable
        return False


def action_url_of(agent: Any) -> str | None:
    endpoint = getattr(agent, "action_endpoint", None)
    return getattr(endpoint, "url", None)


async def bot_turn(on_new_message: Callable[[UserMessage], Awaitable[Any]], text: str | None, sender: str,
                   channel: str, metadata: dict | None, agent: Any = None) -> list[dict]:
    """The bot's messages for one customer message; a busy answer instead of silence or a traceback."""
    MESSAGES.labels(channel).inc()
    collector = CollectingOutputChannel()
    busy = {"recipient_id": sender, "text": BUSY_TEXT}
    turn = {"collector": collector, "failed_at": None}
    token = _TURN.set(turn)
    try:
        await on_new_message(UserMessage(text, collector, sender, input_channel=channel, metadata=metadata))
    except Exception as exc:  # tracker/lock store down, model not loaded …; never the message text in logs
        log.error("bot turn failed on channel %s: %s", channel, exc.__class__.__name__)
        return [busy]
    finally:
        _TURN.reset(token)
    if turn["failed_at"] is not None:
        # what was said before the failed action stands; what followed it (a fallback) would mislead
        log.error("bot turn on channel %s: a custom action failed", channel)
        return collector.messages[:turn["failed_at"]] + [busy]
    if not collector.messages and not await actions_reachable(action_url_of(agent)):
        log.error("bot turn on channel %s ended silent: action server unreachable", channel)
        return [busy]
    return collector.messages


def traced(channel: str, route: str):
    """A channel's Sanic handler with a server span around it (tracing on: `traceparent` of the caller honoured,
    the turn and its calls to the action server inside it, one log line with the trace id); with tracing off
    the handler itself, unchanged. The channels call `tracing.setup(tracing.RASA)` first."""
    def wrap(handler):
        if not tracing.enabled():
            return handler

        @functools.wraps(handler)
        async def receive(request, *args, **kwargs):
            started = time.monotonic()
            with tracing.server_span(f"{request.method} {route}", request.headers, {
                    "http.method": request.method, "http.route": route, "hall.channel": channel}) as span:
                resp = await handler(request, *args, **kwargs)
                tracing.set_http_status(span, resp.status)
                log.info("%s %s answered %s in %.1f ms", channel, request.method, resp.status,
                         tracing.elapsed_ms(started))  # inside the span: the line carries the trace id
                return resp

        return receive
    return wrap
