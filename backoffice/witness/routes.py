"""Video witness over HTTP: the bot's service API, the staff (admin token) API, the customer's H5 page with
its signalling socket and recording upload, and the nudge that tells the bot about a verdict.

The staff console side (waiting list, call page, staff socket) is backoffice/console/witness.py.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from aiohttp import web

from backoffice.channels.senders import channel_of
from backoffice.channels.delivery import bot_texts, deliver_bot_messages
from backoffice.media.store import MediaError
from backoffice.core.rasa_client import RasaError
from backoffice.web.bot_routes import logged_in_customer
from backoffice.web.common import RASA, SERVICES, json_error, read_json, require, run, services
from backoffice.web.pages import render
from backoffice.witness.signalling import (
    MAX_SIGNAL_BYTES,
    POLL_SECONDS,
    WitnessHub,
    clean_signal,
    ice_servers,
    make_hub,
    parse,
    receive,
    same_origin,
)
from backoffice.witness.service import WitnessError

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
HUB = web.AppKey("witness_hub", WitnessHub)
STATIC = Path(__file__).resolve().parent / "static"
MAX_RECORDING_BYTES = int(os.environ.get("WITNESS_MAX_RECORDING_BYTES", 80 * 1024 * 1024))
PASSED_TEXT = "视频见证已通过，感谢您的配合。请返回对话继续办理。"
FAILED_SUFFIX = "请返回对话查看后续安排，如有疑问可回复“转人工”。"


def _error(exc: WitnessError) -> web.Response:
    return json_error(exc.status, exc.code, str(exc))


# --- bot (service token) ---------------------------------------------------------------------------

@routes.post("/api/bot/witness/open")
@require("service")
async def bot_open(request):
    body, sender, account = await logged_in_customer(request)
    try:
        view, created = await run(services(request).witness.open, sender, account, str(body.get("business") or ""),
                                  channel_of(sender))
    except WitnessError as exc:
        return _error(exc)
    return web.json_response({"witness_id": view["id"], "url": view["url"], "status": view["status"],
                              "position": view["position"]}, status=201 if created else 200)


@routes.post("/api/bot/witness/status")
@require("service")
async def bot_status(request):
    body, sender, _account = await logged_in_customer(request)
    return web.json_response(await run(services(request).witness.status, sender, str(body.get("business") or "")))


@routes.post("/api/bot/witness/cancel")
@require("service")
async def bot_cancel(request):
    """The customer cancelled the business while waiting: leave the queue and tell the open page."""
    body, sender, _account = await logged_in_customer(request)
    witness_id = await run(services(request).witness.withdraw, sender, str(body.get("business") or ""))
    if witness_id is None:
        return web.json_response({"status": "none"})
    await push_customer_state(request.app, witness_id)
    return web.json_response({"status": "cancelled", "witness_id": witness_id})


# --- staff API (admin token) -----------------------------------------------------------------------

@routes.get("/api/witness")
@require("staff")
async def list_sessions(request):
    try:
        rows = await run(services(request).witness.list, request.query.get("status") or None)
    except WitnessError as exc:
        return _error(exc)
    return web.json_response(rows)


@routes.get("/api/witness/{id}")
@require("staff")
async def get_session(request):
    view = await run(services(request).witness.get, request.match_info["id"])
    if view is None:
        return json_error(404, "not_found", "no such witness session")
    return web.json_response(view)


@routes.post("/api/witness/{id}/verdict")
@require("staff")
async def verdict(request):
    body = await read_json(request)
    if not isinstance(body.get("passed"), bool):
        return json_error(400, "bad_request", "passed must be true or false")
    try:
        view = await decide(request.app, request.match_info["id"], request["actor"], body["passed"],
                            notes=str(body.get("notes") or ""),
                            reason=body.get("reason") if isinstance(body.get("reason"), str) else None,
                            checklist=body.get("checklist") if isinstance(body.get("checklist"), dict) else None,
                            any_staff=True)
    except WitnessError as exc:
        return _error(exc)
    return web.json_response(view)


# --- verdict and the bot nudge (shared with the console) ----------------------------------------------

async def decide(app, witness_id: str, actor: str, passed: bool, **kwargs) -> dict:
    """Record the verdict, tell both pages, then tell the bot so the conversation continues."""
    svc = app[SERVICES]
    view = await run(svc.witness.decide, witness_id, actor, passed, **kwargs)
    await push_customer_state(app, witness_id)
    await app[HUB].send(witness_id, "staff", {"type": "decided", "status": view["status"]})
    view["nudge"] = await nudge_bot(app, view)
    return view


async def nudge_bot(app, view: dict) -> str:
    """Inject witness_done so the witness step re-checks the status; deliver what the bot answers.

    Harmless when it fails: the customer can type "好了" and the bot checks the status itself."""
    svc, sender = app[SERVICES], view["sender"]
    if await run(svc.conversations.state, sender) == "agent":
        return "held"  # the agent holding the conversation speaks for now; the bot must stay silent
    try:
        messages = await app[RASA].trigger_intent(sender, "witness_done")
    except (RasaError, AttributeError) as exc:
        log.warning("witness nudge to the bot failed: %s", exc.__class__.__name__)
        return "failed"
    if not bot_texts(messages):
        return "no_messages"
    pushed = await deliver_bot_messages(svc, {"sender": sender, "channel": view.get("channel") or "rest"}, messages)
    return "push_failed" if pushed is False else "delivered"


# --- customer H5 page, socket and recording ------------------------------------------------------------

def customer_message(state: dict) -> str | None:
    if state["status"] == "passed":
        return PASSED_TEXT
    if state["status"] == "failed":
        return (state.get("reason") or "视频见证未通过。") + FAILED_SUFFIX
    if state["status"] in ("cancelled", "expired"):
        return "本次视频见证已结束，请返回对话重新发起。"
    return None


async def customer_state(app, witness_id: str) -> dict | None:
    state = await run(app[SERVICES].witness.live_state, witness_id)
    if state is None:
        return None
    hub = app[HUB]
    return {"type": "state", "status": state["status"], "position": state["position"],
            "staff_online": state["status"] == "in_call" and await hub.connected(witness_id, "staff"),
            "message": customer_message(state)}


async def push_customer_state(app, witness_id: str) -> None:
    state = await customer_state(app, witness_id)
    if state is not None:
        await app[HUB].send(witness_id, "customer", state)


async def _session_from_token(request) -> tuple[str, dict] | None:
    svc = services(request)
    witness_id = svc.witness.id_from_token(request.match_info["token"])
    view = await run(svc.witness.get, witness_id, staff_view=False) if witness_id else None
    return (witness_id, view) if view else None


def _expired_page() -> web.Response:
    response = render("witness.html", view=None, token=None)
    response.set_status(404)
    return response


@routes.get("/h5/witness/{token}")
async def witness_page(request):
    found = await _session_from_token(request)
    if found is None:
        return _expired_page()
    return render("witness.html", view=found[1], token=request.match_info["token"],
                  message=customer_message(found[1]))


@routes.get("/h5/witness/{token}/ws")
async def customer_socket(request):
    if not same_origin(request):
        raise web.HTTPForbidden()
    found = await _session_from_token(request)
    if found is None:
        raise web.HTTPNotFound()
    witness_id, app, hub = found[0], request.app, request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_SIGNAL_BYTES)
    await ws.prepare(request)
    await hub.attach(witness_id, "customer", ws)
    await ws.send_json({"type": "config", "iceServers": ice_servers()})
    await hub.send(witness_id, "staff", {"type": "peer", "customer": "connected"})
    last = None
    try:
        while not ws.closed:
            state = await customer_state(app, witness_id)
            if state is None:
                break
            if state != last:
                await ws.send_json(state)
                last = state
            msg = await receive(ws, POLL_SECONDS)
            if msg is False:
                break
            data = parse(msg) if msg else None
            if data is None:
                continue
            if data["type"] == "ready":
                # re-read: the state above may predate a join pushed to this socket meanwhile
                fresh = await customer_state(app, witness_id)
                if fresh and fresh["status"] == "in_call":
                    await hub.mark_customer_ready(witness_id)
                    await hub.send(witness_id, "staff", {"type": "customer-ready"})
            elif data["type"] == "signal":  # a staff socket exists only for the staff member in the call
                signal = clean_signal(data.get("data"))
                if signal:
                    await hub.send(witness_id, "staff", {"type": "signal", "data": signal})
    finally:
        if await hub.detach(witness_id, "customer", ws):
            await hub.send(witness_id, "staff", {"type": "peer", "customer": "disconnected"})
        await ws.close()
    return ws


async def read_recording(request) -> bytes:
    """The raw webm body, streamed with its own cap (recordings are bigger than photos)."""
    if request.content_length is not None and request.content_length > MAX_RECORDING_BYTES:
        raise MediaError("too_large", "录像过大，无法上传。")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > MAX_RECORDING_BYTES:
            raise MediaError("too_large", "录像过大，无法上传。")
        chunks.append(chunk)
    return b"".join(chunks)


async def store_recording(app, witness_id: str, side: str, data: bytes, actor: str, sender: str | None) -> dict:
    svc = app[SERVICES]
    info = await run(svc.media.put, data, sender=sender, max_bytes=MAX_RECORDING_BYTES)
    if info.content_type != "video/webm" and info.content_type != "video/mp4":
        raise MediaError("unsupported", "录像格式不正确。")
    await run(svc.witness.attach_recording, witness_id, side, info.media_id, info.size, actor)
    return {"media_id": info.media_id, "size": info.size}


@routes.post("/h5/witness/{token}/recording")
async def customer_recording(request):
    found = await _session_from_token(request)
    if found is None:
        return json_error(404, "not_found", "链接已失效。")
    witness_id = found[0]
    svc = services(request)
    row = await run(svc.witness.get, witness_id)
    try:
        data = await read_recording(request)
        stored = await store_recording(request.app, witness_id, "customer", data, f"customer:{row['sender']}",
                                       row["sender"])
    except MediaError as exc:
        return json_error(413 if exc.code == "too_large" else 400, exc.code, str(exc))
    except WitnessError as exc:
        return _error(exc)
    return web.json_response(stored, status=201)


@routes.get("/h5/static/{name}")
async def static(request):
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or not name.endswith(".js") or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), content_type="text/javascript", headers={"Cache-Control": "no-cache"})


def setup(app: web.Application) -> None:
    app[HUB] = make_hub(app[SERVICES])

    async def start(_app):
        await _app[HUB].start()

    async def stop(_app):
        await _app[HUB].stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.add_routes(routes)
