"""Video witness over HTTP: the bot's service API, the staff (admin token) API, the customer's H5 page with
its signalling socket and recording upload, and the nudge that tells the bot about a verdict.

The verdict, the bot nudge and the recordings (shared with the staff console) are backoffice/witness/calls.py;
the console side (waiting list, call page, staff socket) is backoffice/console/witness.py.
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from backoffice.channels.senders import channel_of
from backoffice.media.store import MediaError
from backoffice.web.bot_routes import logged_in_customer
from backoffice.web.common import SERVICES, json_error, read_json, require, run, services
from backoffice.web.pages import render
from backoffice.witness.calls import (
    HUB,
    customer_message,
    customer_state,
    decide,
    push_customer_state,
    read_recording,
    store_recording,
)
from backoffice.witness.service import WitnessError
from backoffice.witness.signalling import (
    MAX_SIGNAL_BYTES,
    POLL_SECONDS,
    clean_signal,
    ice_servers,
    make_hub,
    parse,
    receive,
    same_origin,
)

routes = web.RouteTableDef()
STATIC = Path(__file__).resolve().parent / "static"


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
