"""HTTP side of the live face check (live.py), the consent to face data (consent.py) and the staff review of
doubtful matches (reviews.py): the bot's service API, the customer's H5 pages and the reviewers' API.

What changes the conversation outside the customer's turn (a check filmed on the page, a reviewer's decision)
nudges the bot with `live_check_done` (backoffice/channels/nudge.py) so the waiting face step looks at the
result; when the bot has nothing to say (the customer left the business), the back-office tells them itself.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from backoffice.channels.nudge import nudge_bot, tell
from backoffice.channels.senders import channel_of
from backoffice.identity.consent import FACE_CONSENT_VERSION
from backoffice.identity.live import PURPOSES
from backoffice.identity.reviews import ReviewError
from backoffice.web.bot_routes import bot_request, session_account
from backoffice.web.common import SERVICES, json_error, read_json, require, run, services
from backoffice.web.pages import render

routes = web.RouteTableDef()
STATIC = Path(__file__).resolve().parent / "static"
NUDGE = "live_check_done"
_NUDGES: set = set()  # running nudges (a task nobody refers to may be collected before it ends)
MAX_FRAME_PARTS = 480  # liveness thins to 120 analysed frames; the page sends about 10 a second for ≤ 12 s


async def _who(request) -> tuple[dict, str, str, str | None] | web.Response:
    """Body, sender, purpose and account of a live-check call; bind/business need the login, 找回账户 has none."""
    body, sender = await bot_request(request)
    purpose = str(body.get("purpose") or "")
    if purpose not in PURPOSES:
        return json_error(400, "bad_request", "purpose must be one of " + ", ".join(PURPOSES))
    account = await session_account(request, sender) if purpose != "recover" else None
    if purpose != "recover" and account is None:
        return json_error(403, "not_logged_in", "请先登录掌厅。")
    return body, sender, purpose, account


# --- consent (service token) ----------------------------------------------------------------------

@routes.post("/api/bot/face/consent/status")
@require("service")
async def consent_status(request):
    _, sender = await bot_request(request)
    account = await session_account(request, sender)
    return web.json_response(await run(services(request).live.consent_status, sender, account))


@routes.post("/api/bot/face/consent")
@require("service")
async def consent(request):
    body, sender = await bot_request(request)
    if not isinstance(body.get("agreed"), bool):
        return json_error(400, "bad_request", "agreed must be true or false")
    account = await session_account(request, sender)
    return web.json_response(await run(services(request).live.record_consent, sender, account, body["agreed"]))


# --- the live check (service token) --------------------------------------------------------------------

@routes.post("/api/bot/live/start")
@require("service")
async def live_start(request):
    who = await _who(request)
    if isinstance(who, web.Response):
        return who
    body, sender, purpose, account = who
    business = str(body.get("business") or "")[:32] or None
    return web.json_response(await run(services(request).live.start, sender, purpose, account, business))


@routes.post("/api/bot/live/status")
@require("service")
async def live_status(request):
    who = await _who(request)
    if isinstance(who, web.Response):
        return who
    _, sender, purpose, account = who
    return web.json_response(await run(services(request).live.status, sender, purpose, account))


@routes.post("/api/bot/live/video")
@require("service")
async def live_video(request):
    who = await _who(request)
    if isinstance(who, web.Response):
        return who
    body, sender, purpose, account = who
    result = await services(request).live.video(sender, purpose, account, str(body.get("media_id") or ""))
    return web.json_response(result)


# --- customer pages ------------------------------------------------------------------------------------

@routes.get("/h5/live/{token}")
async def live_page(request):
    svc = services(request)
    session = await run(svc.live.page_session, request.match_info["token"])
    if session is None:
        response = render("live_check.html", check=None, token=None)
        response.set_status(404)
        return response
    return render("live_check.html", check=svc.live.page_view(session), token=request.match_info["token"])


async def _read_frames(request) -> tuple[list[tuple[float, bytes]], list] | None:
    """The page's multipart form: `meta` (JSON: prompt schedule, frame times) and the JPEG `frame` parts."""
    if not request.content_type.startswith("multipart/"):
        return None
    reader = await request.multipart()
    meta, blobs = None, []
    while (part := await reader.next()) is not None:
        if part.name == "meta" and meta is None:
            try:
                meta = json.loads(await part.text())
            except ValueError:
                return None
        elif part.name == "frame" and len(blobs) < MAX_FRAME_PARTS:
            blobs.append(bytes(await part.read()))
        else:
            await part.release()
    if not isinstance(meta, dict) or not isinstance(meta.get("times"), list) or len(meta["times"]) != len(blobs):
        return None
    try:
        times = [float(t) for t in meta["times"]]
    except (TypeError, ValueError):
        return None
    return list(zip(times, blobs)), meta.get("schedule") or []


@routes.post("/h5/live/{token}/frames")
async def live_frames(request):
    svc = services(request)
    token = request.match_info["token"]
    session = await run(svc.live.page_session, token)
    if session is None:
        return json_error(404, "expired", "该检测链接已失效或已使用，请返回对话重新获取。")
    read = await _read_frames(request)
    if read is None:
        return json_error(400, "bad_request", "检测数据不完整，请刷新页面后重试。")
    frames, schedule = read
    result = await svc.live.frames(token, frames, schedule)
    if result["status"] in ("passed", "review", "failed", "too_many"):
        # the conversation moves on without the customer typing anything; the page does not wait for the bot
        task = asyncio.get_running_loop().create_task(
            nudge_bot(request.app, session["sender"], _channel(session["sender"]), NUDGE))
        _NUDGES.add(task)
        task.add_done_callback(_NUDGES.discard)
    return web.json_response({"status": result["status"], "message": _page_message(result)})


def _page_message(result: dict) -> str:
    status = result["status"]
    if status == "passed":
        return "检测通过，请返回对话继续办理。"
    if status == "review":
        return result["message"] + "请返回对话。"
    return (result.get("message") or "检测未通过。") + "请返回对话查看。"


def _channel(sender: str) -> str:
    return channel_of(sender)


@routes.get("/h5/live-static/{name}")
async def live_static(request):
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or not name.endswith(".js") or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), content_type="text/javascript", headers={"Cache-Control": "no-cache"})


@routes.get("/h5/face-consent")
async def consent_page(request):
    svc = services(request)
    return render("face_consent.html", version=FACE_CONSENT_VERSION, retention_days=svc.consent.retention_days)


# --- reviewers (staff token) ---------------------------------------------------------------------------------

def _review_error(exc: ReviewError) -> web.Response:
    return json_error(exc.status, exc.code, str(exc))


@routes.get("/api/face-reviews")
@require("staff")
async def list_reviews(request):
    try:
        return web.json_response(await run(services(request).reviews.list, request.query.get("status") or None))
    except ReviewError as exc:
        return _review_error(exc)


@routes.get("/api/face-reviews/{id:\\d+}")
@require("staff")
async def get_review(request):
    view = await run(services(request).reviews.get, int(request.match_info["id"]))
    if view is None:
        return json_error(404, "not_found", "no such face review")
    return web.json_response(view)


@routes.post("/api/face-reviews/{id:\\d+}/decision")
@require("staff")
async def decide_review(request):
    body = await read_json(request)
    if not isinstance(body.get("approved"), bool):
        return json_error(400, "bad_request", "approved must be true or false")
    try:
        view = await decide(request.app, int(request.match_info["id"]), request["actor"], body["approved"],
                            str(body.get("reason") or ""))
    except ReviewError as exc:
        return _review_error(exc)
    return web.json_response(view)


async def decide(app, review_id: int, staff: str, approved: bool, reason: str = "") -> dict:
    """Record the decision; on the first call also its effects: the pass (and binding) or a failed try, the
    SMS, and the chat (the bot's waiting step continues, or our own text when it has nothing to say)."""
    svc = app[SERVICES]
    view, changed = await run(svc.reviews.decide, review_id, staff, approved, reason)
    if not changed:
        return view
    told = await run(svc.live.apply_review, view, svc.devices)
    view["nudge"] = await nudge_bot(app, view["sender"], view["channel"], NUDGE)
    if view["nudge"] not in ("delivered", "held"):
        await tell(app, view["sender"], view["channel"], told["text"])
    return view
