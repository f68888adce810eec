"""Prometheus metrics of the action server, at GET /metrics (open like /health: names and counts only).

* hall_actions_total{action,status}, hall_action_seconds{action} — every action call Rasa makes;
* hall_turns_total{channel} — customer messages that reached the action server (one per new user message);
* hall_step_outcomes_total{form,step,outcome} — a form's answer to the step it asked: `accepted` (the slot
  was filled) or `retry` (the step is asked again), from its validation action's result.

With several Sanic workers (ACTION_SERVER_SANIC_WORKERS) each worker counts its own calls: set
PROMETHEUS_MULTIPROC_DIR to an empty directory and /metrics sums them (prometheus_client's multiprocess mode).
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram

from connectors.channel_metrics import exposition  # one exposition (multiprocess-aware) for both Sanic servers

ACTIONS = Counter("hall_actions_total", "Action calls", ["action", "status"])
ACTION_SECONDS = Histogram("hall_action_seconds", "Action call latency", ["action"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
TURNS = Counter("hall_turns_total", "Customer messages that reached the action server", ["channel"])
STEP_OUTCOMES = Counter("hall_step_outcomes_total", "Answers to a form's step", ["form", "step", "outcome"])
SEEN_MAX = 20_000
_seen: OrderedDict[tuple[str, str], None] = OrderedDict()  # (sender, message id) of the latest turns counted


def _new_turn(sender: str, message_id: str) -> bool:
    key = (sender, message_id)
    if key in _seen:
        return False
    _seen[key] = None
    while len(_seen) > SEEN_MAX:
        _seen.popitem(last=False)
    return True


def action_of(call: dict) -> str:
    """The action Rasa asks for in a call's body (a name of the domain, never customer data)."""
    return str(call.get("next_action") or "unknown")[:64]


def reads_result(call: dict) -> bool:
    """Only a form's validation answer is counted (step outcomes): other answers are never parsed again."""
    action = action_of(call)
    return action.startswith("validate_") and action.endswith("_form")


def observe(call: dict, result: dict | None, status: int, seconds: float) -> None:
    """Count one action call (`call`: the body Rasa sent; `result`: the action server's answer, needed only
    when reads_result(call))."""
    action = action_of(call)
    ACTIONS.labels(action, "ok" if status < 400 else "error").inc()
    ACTION_SECONDS.labels(action).observe(seconds)
    tracker = call.get("tracker") or {}
    latest = tracker.get("latest_message") or {}
    message_id = latest.get("message_id") or latest.get("text")
    if message_id and _new_turn(str(call.get("sender_id") or tracker.get("sender_id") or ""), str(message_id)):
        TURNS.labels(str(tracker.get("latest_input_channel") or "unknown")[:32]).inc()
    if result and reads_result(call):
        step = (tracker.get("slots") or {}).get("requested_slot")
        if step:
            for event in result.get("events") or []:
                if event.get("event") == "slot" and event.get("name") == step:
                    outcome = "retry" if event.get("value") is None else "accepted"
                    STEP_OUTCOMES.labels(action[len("validate_"):], str(step)[:64], outcome).inc()
                    break


def instrument(app) -> None:
    """Count every /webhook call and serve /metrics on the rasa_sdk Sanic app."""
    from sanic import response

    @app.middleware("request")
    async def started(request):
        request.ctx.hall_started = time.monotonic()

    @app.middleware("response")
    async def counted(request, resp):
        if request.path != "/webhook" or request.method != "POST" or resp is None:
            return
        try:
            call = request.json or {}
            result = json.loads(resp.body) if reads_result(call) and resp.status < 400 and resp.body else None
            observe(call, result, resp.status, time.monotonic() - getattr(request.ctx, "hall_started", time.monotonic()))
        except Exception:  # counting never breaks an action call (a compressed body, an odd answer)
            pass

    @app.get("/metrics")
    async def metrics(_request):
        return response.raw(exposition(), content_type=CONTENT_TYPE_LATEST)
