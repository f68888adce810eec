"""Spans inside Rasa's own turn, with tracing on (backoffice/core/tracing.py): NLU, each policy prediction, each
action run and the tracker store's load and save, below the channel's span. Without them a trace shows the
channel's span and the action server's calls, but not where Rasa's own time goes.

Rasa 3.6 has no hooks for this (Rasa Pro's tracing is not open source), so MessageProcessor's methods are wrapped
— only when tracing is on, once per process (`instrument()`, called by the channels after tracing.setup). The
wrapped methods are pinned to their signatures (tests/unit/connectors/test_rasa_spans.py) so an upgrade of Rasa
that renames them fails a test instead of silently losing the spans. Attributes are names and numbers (intent,
confidence, action, policy): never the message text or slot values.
"""
from __future__ import annotations

import functools
import inspect
import logging

from backoffice.core import tracing

log = logging.getLogger(__name__)

# (method, span name): the MessageProcessor methods a turn goes through
WRAPPED = {
    "parse_message": "rasa nlu",
    "_predict_next_with_tracker": "rasa predict",
    "_run_action": "rasa action",
    "fetch_tracker_and_update_session": "rasa tracker load",
    "save_tracker": "rasa tracker save",
}
_done: list[bool] = []


def _nlu(parse_data) -> dict:
    intent = (parse_data or {}).get("intent") or {}
    return {"rasa.intent": str(intent.get("name") or ""), "rasa.intent_confidence": intent.get("confidence")}


def _arguments(signature: inspect.Signature, self, args, kwargs) -> dict:
    """The call's arguments by name (Rasa passes some by keyword)."""
    bound = signature.bind(self, *args, **kwargs)
    return bound.arguments


def _safe(describe, value) -> dict | None:
    """A span's attributes; describing a call never breaks the customer's turn."""
    try:
        return describe(value)
    except Exception as exc:  # an unexpected shape after a Rasa upgrade: the span keeps its name only
        log.debug("span attributes unavailable: %s", exc.__class__.__name__)
        return None


def _wrap_async(cls, method: str, name: str, before=None, after=None) -> None:
    original = getattr(cls, method)
    signature = inspect.signature(original)

    @functools.wraps(original)
    async def traced(self, *args, **kwargs):
        if not tracing.in_span():  # only inside a turn (a channel's span): reminders etc. make no traces
            return await original(self, *args, **kwargs)
        attributes = _safe(lambda a: before(_arguments(signature, self, *a)), (args, kwargs)) if before else None
        with tracing.span(name, attributes) as current:
            result = await original(self, *args, **kwargs)
            if after:
                tracing.set_attributes(current, _safe(after, result) or {"rasa.described": False})
            return result

    setattr(cls, method, traced)


def _wrap_sync(cls, method: str, name: str, after=None) -> None:
    original = getattr(cls, method)

    @functools.wraps(original)
    def traced(self, *args, **kwargs):
        if not tracing.in_span():
            return original(self, *args, **kwargs)
        with tracing.span(name) as current:
            result = original(self, *args, **kwargs)
            if after:
                tracing.set_attributes(current, _safe(after, result) or {"rasa.described": False})
            return result

    setattr(cls, method, traced)


def instrument() -> bool:
    """Wrap the turn's steps when tracing is on (once per process); whether they are wrapped."""
    if _done:
        return True
    if not tracing.enabled():
        return False
    from rasa.core.processor import MessageProcessor  # Rasa's process only (the channels call this)

    _wrap_async(MessageProcessor, "parse_message", WRAPPED["parse_message"], after=_nlu)
    _wrap_sync(MessageProcessor, "_predict_next_with_tracker", WRAPPED["_predict_next_with_tracker"],
               after=lambda prediction: {"rasa.policy": str(getattr(prediction, "policy_name", "") or ""),
                                         "rasa.confidence": float(max(prediction.probabilities or [0.0]))})
    _wrap_async(MessageProcessor, "_run_action", WRAPPED["_run_action"],
                before=lambda call: {"rasa.action": str(call["action"].name())})
    _wrap_async(MessageProcessor, "fetch_tracker_and_update_session",
                WRAPPED["fetch_tracker_and_update_session"],
                after=lambda tracker: {"rasa.events": len(tracker.events)})
    _wrap_async(MessageProcessor, "save_tracker", WRAPPED["save_tracker"],
                before=lambda call: {"rasa.events": len(call["tracker"].events)})
    _done.append(True)
    return True


def setup() -> bool:
    """Tracing for the Rasa process (service hall-rasa) and the spans of its turns. Rasa builds its channels once
    per process at start-up: each channel's blueprint() calls this; the first call does the work."""
    return tracing.setup(tracing.RASA) and instrument()
