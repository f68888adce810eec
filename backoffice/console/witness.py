"""Console pages for the video witness (视频见证): waiting list, call page, staff signalling socket, snapshot with
face comparison, recording upload and the verdict. Staff must be logged in (agent or admin); POSTs carry the
session's CSRF token; every action is audited by the WitnessService (ids only, no personal data)."""
from __future__ import annotations

import logging
from urllib.parse import urlencode

from aiohttp import web

from backoffice.console.views import MEDIA_TTL, _local, render, staff_required
from backoffice.media.store import MediaError
from backoffice.web.common import SERVICES, run
from backoffice.witness.calls import HUB, decide, push_customer_state, read_recording, store_recording
from backoffice.witness.service import FAIL_REASONS, LIVE, WitnessError, checklist_for
from backoffice.witness.signalling import MAX_SIGNAL_BYTES, clean_signal, ice_servers, parse, receive, same_origin

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
WITNESS_ROLES = ("agent", "admin")
ID = "{id:[0-9a-f]{32}}"
MAX_SNAPSHOT_BYTES = 5 * 1024 * 1024
FACE_LABELS = {"accept": "一致（通过）", "review": "存疑（需人工判断）", "reject": "不一致", "error": "无法比对"}
SIDE_LABELS = {"customer": "客户端录像", "staff": "坐席端录像（双方画面）"}


def _svc(request):
    return request.app[SERVICES]


def _me(request) -> str:
    return request["staff"]["username"]


def _row(view: dict) -> dict:
    return {"id": view["id"], "business_name": view["business_name"], "status": view["status"],
            "status_label": view["status_label"], "account_number": view["account_number"],
            "position": view["position"], "staff": view["staff"] or "", "created_local": _local(view["created_at"]),
            "online": False}


async def _rows(request) -> list[dict]:
    hub = request.app[HUB]
    rows = []
    for status in LIVE:
        for view in await run(_svc(request).witness.list, status):
            row = _row(view)
            row["online"] = await hub.connected(view["id"], "customer")
            rows.append(row)
    return rows


@routes.get("/console/witness")
@staff_required(*WITNESS_ROLES)
async def waiting_list(request):
    recent = [_row(v) for v in (await run(_svc(request).witness.list))[:30] if v["status"] not in LIVE]
    return render("console_witness.html", request, rows=await _rows(request), recent=recent,
                  flash=request.query.get("msg"))


@routes.get("/console/witness/list.json")
@staff_required(*WITNESS_ROLES)
async def waiting_list_json(request):
    return web.json_response({"items": await _rows(request), "me": _me(request)})


def _media_url(svc, media_id: str, sender: str) -> str:
    return "/h5/media/" + svc.links.sign({"m": media_id, "s": sender}, MEDIA_TTL)


@routes.get("/console/witness/" + ID)
@staff_required(*WITNESS_ROLES, "reviewer")  # reviewers see the record of an application's witness
async def session_page(request):
    svc = _svc(request)
    view = await run(svc.witness.get, request.match_info["id"])
    if view is None:
        return render("console_error.html", request, http_status=404, message="没有这个视频见证。")
    account = await run(svc.accounts.get, view["account_number"])
    portraits = await run(svc.accounts.portrait_refs, view["account_number"])
    recordings = [{**r, "label": SIDE_LABELS.get(r["side"], r["side"]), "url": _media_url(svc, r["media_id"],
                                                                                          view["sender"])}
                  for r in view["recordings"]]
    await run(svc.audit.record, "witness_viewed", actor=f"staff:{_me(request)}",
              account_number=view["account_number"], witness_id=view["id"])
    in_call = view["status"] == "in_call" and view["staff"] == _me(request)
    return render("console_witness_session.html", request, w=view, in_call=in_call,
                  can_act=request["staff"]["role"] in WITNESS_ROLES,
                  account={"opened_on": account.opened_on, "state": account.state} if account else None,
                  portraits=[_media_url(svc, m, view["sender"]) for m in portraits],
                  snapshot=_media_url(svc, view["snapshot_media_id"], view["sender"]) if view["snapshot_media_id"]
                  else None, face_label=FACE_LABELS.get(view["face_decision"] or "", ""),
                  recordings=recordings, checklist=checklist_for(view["business"]), reasons=FAIL_REASONS,
                  created_local=_local(view["created_at"]), decided_local=_local(view["decided_at"]),
                  flash=request.query.get("msg"))


def _back(witness_id: str | None = None, msg: str | None = None) -> web.HTTPFound:
    url = f"/console/witness/{witness_id}" if witness_id else "/console/witness"
    return web.HTTPFound(url + ("?" + urlencode({"msg": msg}) if msg else ""))


@routes.post("/console/witness/" + ID + "/{action:join|release|cancel}")
@staff_required(*WITNESS_ROLES)
async def session_action(request):
    svc, witness_id, action = _svc(request), request.match_info["id"], request.match_info["action"]
    try:
        if action == "join":
            await run(svc.witness.join, witness_id, _me(request))
            await push_customer_state(request.app, witness_id)
            raise _back(witness_id)
        if action == "release":
            await run(svc.witness.release, witness_id, _me(request))
            await request.app[HUB].send(witness_id, "staff", {"type": "released"})
            await push_customer_state(request.app, witness_id)
            raise _back(msg="已退出，客户回到排队队列。")
        await run(svc.witness.cancel, witness_id, _me(request))
        await push_customer_state(request.app, witness_id)
        raise _back(msg="已取消该视频见证。")
    except WitnessError as exc:
        raise _back(witness_id, "操作未执行：" + str(exc))


@routes.post("/console/witness/" + ID + "/verdict")
@staff_required(*WITNESS_ROLES)
async def verdict(request):
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("passed"), bool):
        return web.json_response({"error": "bad_request", "message": "请选择通过或不通过。"}, status=400)
    checklist = body.get("checklist") if isinstance(body.get("checklist"), dict) else {}
    try:
        view = await decide(request.app, request.match_info["id"], _me(request), body["passed"],
                            notes=str(body.get("notes") or ""), reason=body.get("reason"), checklist=checklist)
    except WitnessError as exc:
        return web.json_response({"error": exc.code, "message": str(exc)}, status=exc.status)
    return web.json_response({"status": view["status"], "status_label": view["status_label"], "nudge": view["nudge"]})


async def _own_call(request) -> dict | web.Response:
    view = await run(_svc(request).witness.get, request.match_info["id"])
    if view is None:
        return web.json_response({"error": "not_found", "message": "没有这个视频见证。"}, status=404)
    if view["staff"] != _me(request):
        return web.json_response({"error": "not_yours", "message": "请先接通该见证。"}, status=409)
    return view


@routes.post("/console/witness/" + ID + "/snapshot")
@staff_required(*WITNESS_ROLES)
async def snapshot(request):
    """A frame of the customer's video, compared with the ID portrait / portrait on file by the face module."""
    svc = _svc(request)
    data = await request.read()  # read before any refusal: an unread body resets the connection
    view = await _own_call(request)
    if isinstance(view, web.Response):
        return view
    if len(data) > MAX_SNAPSHOT_BYTES:
        return web.json_response({"error": "too_large", "message": "截图过大。"}, status=413)
    try:
        info = await run(svc.media.put, data, sender=view["sender"])
    except MediaError as exc:
        return web.json_response({"error": exc.code, "message": str(exc)}, status=400)
    if not info.content_type.startswith("image/"):
        return web.json_response({"error": "unsupported", "message": "截图必须是图片。"}, status=400)
    face = await svc.identity.compare_with_references(view["sender"], view["account_number"], data)
    try:
        await run(svc.witness.set_snapshot, view["id"], _me(request), info.media_id, face)
    except WitnessError as exc:
        return web.json_response({"error": exc.code, "message": str(exc)}, status=exc.status)
    decision = face.get("decision") if face.get("ok") else "error"
    return web.json_response({"media_id": info.media_id, "decision": decision,
                              "decision_label": FACE_LABELS.get(decision, decision), "distance": face.get("distance"),
                              "accept_max": face.get("accept_max"), "review_max": face.get("review_max"),
                              "error": face.get("error"), "message": face.get("message")})


@routes.post("/console/witness/" + ID + "/recording")
@staff_required(*WITNESS_ROLES)
async def recording(request):
    view = await _own_call(request)
    if isinstance(view, web.Response):
        return view
    try:
        data = await read_recording(request)
        stored = await store_recording(request.app, view["id"], "staff", data, f"staff:{_me(request)}",
                                       view["sender"])
    except MediaError as exc:
        return web.json_response({"error": exc.code, "message": str(exc)}, status=413 if exc.code == "too_large"
                                 else 400)
    except WitnessError as exc:
        return web.json_response({"error": exc.code, "message": str(exc)}, status=exc.status)
    return web.json_response(stored, status=201)


@routes.get("/console/witness/" + ID + "/ws")
@staff_required(*WITNESS_ROLES)
async def staff_socket(request):
    if not same_origin(request):
        raise web.HTTPForbidden()
    app, witness_id, me = request.app, request.match_info["id"], _me(request)
    view = await run(app[SERVICES].witness.get, witness_id)
    if view is None or view["status"] != "in_call" or view["staff"] != me:
        raise web.HTTPConflict(text="join the session first")
    hub = app[HUB]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_SIGNAL_BYTES)
    await ws.prepare(request)
    await hub.attach(witness_id, "staff", ws)
    await ws.send_json({"type": "config", "iceServers": ice_servers()})
    await ws.send_json({"type": "peer", "customer": "connected" if await hub.connected(witness_id, "customer")
                        else "disconnected"})
    if await hub.customer_ready(witness_id):  # staff reconnected mid-call: negotiate again at once
        await ws.send_json({"type": "customer-ready"})
    await push_customer_state(app, witness_id)  # the customer's countdown starts now
    try:
        while not ws.closed:
            msg = await receive(ws, 30.0)
            if msg is False:
                break
            data = parse(msg) if msg else None
            if data is not None and data["type"] == "signal":
                signal = clean_signal(data.get("data"))
                if signal:
                    await hub.send(witness_id, "customer", {"type": "signal", "data": signal})
    finally:
        if await hub.detach(witness_id, "staff", ws):
            await push_customer_state(app, witness_id)
        await ws.close()
    return ws


def setup(app: web.Application) -> None:
    app.add_routes(routes)
