"""Console pages and actions. Server-rendered Jinja2 (autoescaped) plus one small script for live parts."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import WSMsgType, web
from sqlalchemy import select

from backoffice.accounts.service import Account
from backoffice.agreements.service import AgreementError
from backoffice.applications.businesses import BUSINESS_NAMES
from backoffice.applications.notices import push_notices
from backoffice.applications.service import STATUS_LABELS, ApplicationError
from backoffice.console import history
from backoffice.console.staff import ROLES, StaffError, StaffService
from backoffice.core.clock import china_time_from_iso
from backoffice.core.rasa_client import RasaError
from backoffice.handoff.service import BOT_BACK, HandoffFailure, HandoffService, business_of, form_key
from backoffice.web.common import RASA, SERVICES, add_periodic, client_address, pdf_response, run

log = logging.getLogger(__name__)
STAFF = web.AppKey("console_staff", StaffService)
COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
STATIC = Path(__file__).resolve().parent / "static"
WS_POLL_SECONDS = 1.0
MEDIA_TTL = 600
HANDOFF_ROLES = ("agent", "admin")
REVIEW_ROLES = ("reviewer", "admin")
JOINED = "人工客服已接入，请问有什么可以帮您？"
LEFT = BOT_BACK
RESOLVED = "本次人工服务已结束，感谢您的耐心。如还有需要，可以随时告诉智能助手。"
HELD_NOTICE = "已保存：微信客服在客户再次发消息前最多只能发5条，这条将在客户下次发消息时自动送达。"
ROLE_LABELS = {"agent": "客服", "reviewer": "审核员", "admin": "管理员"}
STATE_LABELS = {"waiting": "等待中", "agent": "人工服务中", "bot": "机器人"}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=True,  # every template, whatever its name: customer text must never become markup
)
# Stored times are UTC ISO stamps; staff read Beijing time everywhere in the console: {{ app.created_at|bj }}
_env.filters["bj"] = lambda value: china_time_from_iso(value, "%Y-%m-%d %H:%M:%S") if value else ""
routes = web.RouteTableDef()
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def render(name: str, request, http_status: int = 200, **context) -> web.Response:
    staff = request.get("staff")
    body = _env.get_template(name).render(staff=staff, csrf=(staff or {}).get("csrf"), role_labels=ROLE_LABELS,
                                          **context)
    return web.Response(text=body, status=http_status, content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                 "X-Frame-Options": "DENY", "Cache-Control": "no-store",
                                 "Referrer-Policy": "same-origin"})


def redirect(url: str) -> web.Response:
    return web.Response(status=302, headers={"Location": url, "Cache-Control": "no-store"})


def _svc(request):
    return request.app[SERVICES]


def _handoff(request) -> HandoffService:
    return HandoffService(request.app[SERVICES], request.app[RASA])


def _secure(request) -> bool:
    return bool(_svc(request).settings.production)


def _client_ip(request) -> str:
    return client_address(request)


async def _audit(request, event: str, **details) -> None:
    await run(_svc(request).audit.record, event, actor=f"staff:{request['staff']['username']}", **details)


def staff_required(*roles):
    """Session cookie → request["staff"]; POSTs must carry the session's CSRF token (form field or header)."""

    def wrap(handler):
        async def guarded(request: web.Request):
            session = await run(request.app[STAFF].session, request.cookies.get(COOKIE))
            if session is None:
                if request.method == "GET" and not request.path.endswith((".json", "/ws")):
                    raise web.HTTPFound("/console/login?" + urlencode({"next": request.path_qs}))
                return web.json_response({"error": "unauthorized"}, status=401)
            request["staff"] = session
            if request.method == "POST":
                sent = request.headers.get("X-CSRF-Token", "")
                if not sent and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                    sent = str((await request.post()).get("csrf", ""))
                if not sent or not hmac.compare_digest(sent.encode(), session["csrf"].encode()):
                    return web.Response(status=403, text="CSRF token missing or wrong")
            if roles and session["role"] not in roles:
                return render("console_error.html", request, http_status=403, message="您的角色无权执行此操作。")
            return await handler(request)

        guarded.__name__ = handler.__name__
        return guarded

    return wrap


# --- login ----------------------------------------------------------------------------------

def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/console") and not value.startswith("//") else "/console"


@routes.get("/console/login")
async def login_page(request):
    token = secrets.token_urlsafe(24)
    response = render("console_login.html", request, error=None, next=_safe_next(request.query.get("next")),
                      login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(request),
                        path="/console/login", max_age=3600)
    return response


@routes.post("/console/login")
async def login(request):
    form = await request.post()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = str(form.get("csrf", ""))
    nxt = _safe_next(str(form.get("next", "")))
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):  # double submit
        return web.Response(status=403, text="CSRF token missing or wrong")
    staff: StaffService = request.app[STAFF]
    try:
        user = await run(staff.authenticate, str(form.get("username", "")), str(form.get("password", "")),
                         _client_ip(request))
    except StaffError as exc:
        limited = str(exc) == "rate_limited"
        token = secrets.token_urlsafe(24)
        response = render("console_login.html", request, http_status=429 if limited else 401, next=nxt,
                          login_csrf=token,
                          error="尝试次数过多，请15分钟后再试。" if limited else "用户名或密码错误。")
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(request),
                            path="/console/login", max_age=3600)
        return response
    # A fresh id at every login; the one the browser came with (planted or old) stops working.
    await run(staff.close_session, request.cookies.get(COOKIE))
    sid = await run(staff.open_session, user)
    response = redirect(nxt)
    response.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", secure=_secure(request), path="/console")
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@routes.post("/console/logout")
@staff_required()
async def logout(request):
    await run(request.app[STAFF].close_session, request.cookies.get(COOKIE))
    await _audit(request, "console_logout")
    response = redirect("/console/login")
    response.del_cookie(COOKIE, path="/console")
    return response


@routes.get("/console")
@routes.get("/console/")
@staff_required()
async def home(request):
    raise web.HTTPFound("/console/applications" if request["staff"]["role"] == "reviewer" else "/console/queue")


@routes.get("/console/static/{name}")
async def static(request):
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or not path.is_file():
        raise web.HTTPNotFound()
    ctype = "text/javascript" if name.endswith(".js") else "text/css"
    return web.Response(body=path.read_bytes(), content_type=ctype, headers={"Cache-Control": "no-cache"})


# --- handoff --------------------------------------------------------------------------------

def _local(iso_text: str | None) -> str:
    return china_time_from_iso(iso_text)


def _queue_rows(rows: list[dict]) -> list[dict]:
    return [{**r, "state_label": STATE_LABELS.get(r["state"], r["state"]), "since_local": _local(r["since"]),
             "reason_label": history.REASONS.get(r["reason"] or "", r["reason"] or "")}
            for r in rows if r["state"] in ("waiting", "agent")]


@routes.get("/console/queue")
@staff_required(*HANDOFF_ROLES)
async def queue(request):
    rows = _queue_rows(await run(_svc(request).conversations.list))
    return render("console_queue.html", request, rows=rows)


@routes.get("/console/ws")
@staff_required(*HANDOFF_ROLES)
async def queue_ws(request):
    """Pushes the queue whenever it changes (registry polled once a second: works across workers)."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:  # cross-site WebSocket hijacking
        raise web.HTTPForbidden()
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    last = None
    try:
        while not ws.closed:
            rows = _queue_rows(await run(_svc(request).conversations.list))
            snapshot = json.dumps(rows, ensure_ascii=False, sort_keys=True)
            if snapshot != last:
                await ws.send_str(json.dumps({"type": "queue", "items": rows, "me": request["staff"]["username"]},
                                             ensure_ascii=False))
                last = snapshot
            try:
                msg = await ws.receive(timeout=WS_POLL_SECONDS)
            except asyncio.TimeoutError:
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
    finally:
        await ws.close()
    return ws


async def _history(request, sender: str) -> dict:
    svc = _svc(request)
    error = None
    try:
        tracker = await request.app[RASA].tracker(sender)
    except (RasaError, AttributeError) as exc:
        tracker, error = None, str(exc)
    outbox = await run(svc.conversations.outbox, sender, 0)

    def sign(media_id: str) -> str:
        return "/h5/media/" + svc.links.sign({"m": media_id, "s": sender}, MEDIA_TTL)

    view = history.build(tracker, outbox, sign)
    view["error"] = error
    return view


@routes.get("/console/conversations/{sender}")
@staff_required(*HANDOFF_ROLES)
async def conversation(request):
    sender = request.match_info["sender"]
    row = await run(_svc(request).conversations.get, sender)
    if row is None:
        return render("console_error.html", request, http_status=404, message="没有这个会话。")
    row["state_label"] = STATE_LABELS.get(row["state"], row["state"])
    row["reason_label"] = history.REASONS.get(row["reason"] or "", row["reason"] or "")
    view = await _history(request, sender)
    noted = await run(_svc(request).kv.get, form_key(sender)) if row["state"] != "bot" else None
    await _audit(request, "console_conversation_viewed", account_number=row["account_number"])
    return render("console_conversation.html", request, conv=row, h=view, sender_q=quote(sender, safe=""),
                  flash=request.query.get("msg"), resume_business=business_of(noted) if noted else None)


@routes.get("/console/conversations/{sender}/history.json")
@staff_required(*HANDOFF_ROLES)
async def conversation_json(request):
    sender = request.match_info["sender"]
    row = await run(_svc(request).conversations.get, sender)
    if row is None:
        return web.json_response({"error": "not_found"}, status=404)
    view = await _history(request, sender)
    return web.json_response({"conversation": row, **view})


def _back(sender: str, msg: str | None = None) -> web.HTTPFound:
    url = f"/console/conversations/{quote(sender, safe='')}"
    return web.HTTPFound(url + ("?" + urlencode({"msg": msg}) if msg else ""))


@routes.post("/console/conversations/{sender}/{action:claim|reply|release|resolve}")
@staff_required(*HANDOFF_ROLES)
async def conversation_action(request):
    sender, action = request.match_info["sender"], request.match_info["action"]
    agent = request["staff"]["username"]
    form = await request.post()
    try:
        if action == "claim":
            await _handoff(request).claim(sender, agent, notice=JOINED)
            msg = "已接入，机器人已暂停。"
        elif action == "reply":
            sent = await _handoff(request).reply(sender, agent, str(form.get("text", "")))
            msg = "已发送。" if sent.get("delivered", True) else HELD_NOTICE if sent.get("held") else \
                "已保存，但推送到微信失败。"
        elif action == "release":
            row = await _handoff(request).release(sender, agent, resume_bot=form.get("resume_bot") == "1",
                                                  notice=LEFT)
            msg = "已交还机器人，并继续办理客户的业务。" if row.get("resumed") else "已交还机器人。"
            if row.get("delivered") is False:
                msg += "（机器人的提问推送到微信失败，客户下次发消息时会看到。）"
        else:  # resolved: the bot answers again, the business in progress (if any) is closed
            await _handoff(request).release(sender, agent, resume_bot=False, notice=RESOLVED)
            msg = "会话已结束。"
    except HandoffFailure as exc:
        if action == "claim" and exc.code == "rasa_unavailable":
            msg = "接入失败：机器人服务不可用，无法暂停机器人，会话已退回等待队列。" + str(exc)
        else:
            msg = {"conflict": "操作未执行：", "not_found": "没有这个会话：", "rasa_unavailable": "机器人服务不可用："}.get(
                exc.code, "") + str(exc)
    raise _back(sender, msg)


@routes.post("/console/conversations/{sender}/image")
@staff_required(*HANDOFF_ROLES)
async def conversation_image(request):
    """The agent's image reply (multipart upload from the conversation page)."""
    sender = request.match_info["sender"]
    field = (await request.post()).get("file")
    data = field.file.read() if isinstance(field, web.FileField) else b""
    try:
        sent = await _handoff(request).reply_image(sender, request["staff"]["username"], data)
        msg = "图片已发送。" if sent.get("delivered", True) else HELD_NOTICE if sent.get("held") else \
            "图片已保存，但推送到微信失败。"
    except HandoffFailure as exc:
        msg = "图片未发送：" + str(exc)
    raise _back(sender, msg)


# --- review ---------------------------------------------------------------------------------

@routes.get("/console/applications")
@staff_required(*REVIEW_ROLES)
async def applications(request):
    status = request.query.get("status") or ""
    business = request.query.get("business") or ""
    try:
        rows = await run(_svc(request).applications.list, status=status or None, business=business or None)
    except ApplicationError:
        rows = []
    return render("console_applications.html", request, rows=rows, status=status, business=business,
                  statuses=STATUS_LABELS, businesses=BUSINESS_NAMES)


def _media_links(svc, sender: str, app_view: dict, account_row) -> list[dict]:
    """Every image/video the reviewer needs, each through a short-lived signed link."""
    items: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        elif isinstance(value, str) and (prefix.rstrip(".").endswith(("media_id", "media")) and len(value) >= 16):
            items.append((prefix.rstrip("."), value))

    walk("", app_view.get("payload") or {})
    if account_row is not None:
        on_file = account_row.id_on_file or {}
        for key, label in (("front_media_id", "身份证人像面（存档）"), ("back_media_id", "身份证国徽面（存档）"),
                           ("portrait_media_id", "证件头像（存档）")):
            if on_file.get(key):
                items.append((label, on_file[key]))
        if account_row.portrait_media_id:
            items.append(("公安留存照片", account_row.portrait_media_id))
        if account_row.signature_media_id:
            items.append(("手写签名（存档）", account_row.signature_media_id))
    labels = {"face.media": "活体检测画面（人脸核验）", "selfie_media_id": "自拍", "signature_media_id": "手写签名",
              "video_media_id": "见证录像", "id_front_media_id": "身份证人像面", "id_back_media_id": "身份证国徽面"}
    out = []
    for label, media_id in items:
        token = svc.links.sign({"m": media_id, "s": sender}, MEDIA_TTL)
        out.append({"label": labels.get(label, label), "url": f"/h5/media/{token}",
                    "video": "video" in label})
    return out


@routes.get("/console/applications/{id:\\d+}")
@staff_required(*REVIEW_ROLES)
async def application(request):
    svc = _svc(request)
    view = await run(svc.applications.get, int(request.match_info["id"]), events=True)
    if view is None:
        return render("console_error.html", request, http_status=404, message="没有这个申请。")
    account = await run(svc.accounts.get, view["account_number"])

    def account_row():
        with svc.db.session() as s:
            row = s.execute(select(Account).where(Account.account_number == view["account_number"])).scalar_one_or_none()
            if row is not None:
                s.expunge(row)
            return row

    row = await run(account_row)
    signed = await run(svc.agreements.list_signed, view["account_number"])
    face = (view.get("payload") or {}).get("face") or {}
    payload = {k: history.mask_slot(k, v) for k, v in (view.get("payload") or {}).items() if k != "face"}
    await _audit(request, "console_application_viewed", account_number=view["account_number"],
                 application_id=view["id"])
    return render("console_application.html", request, app=view, account=asdict(account) if account else None,
                  face=face, payload=payload, media=_media_links(svc, view["sender"], view, row), signed=signed,
                  flash=request.query.get("msg"), ocr=((row.id_on_file or {}).get("ocr") if row else None),
                  review_labels=OCR_FIELDS, bands=_face_bands(),
                  witness=await run(_witness_view, svc, view))


OCR_FIELDS = {"name": "姓名", "id_number": "证件号码", "address": "住址", "birth_date": "出生日期", "gender": "性别",
              "ethnicity": "民族", "valid_until": "有效期限"}


def _face_bands() -> dict:
    """The decision bands the face score was judged by (configurable, see docs/biometrics.md)."""
    from biometrics.face import bands  # heavy: loads the face engine (dlib)

    accept, review = bands()
    return {"accept": accept, "review": review}


def _witness_view(svc, app_view: dict) -> dict | None:
    """The video witness linked to the application (休眠账户激活, 在线销户), with signed links to its media."""
    witness = getattr(svc, "witness", None)
    if witness is None:
        return None
    found = witness.for_application(app_view["id"])
    if found is None:
        witness_id = (app_view.get("payload") or {}).get("witness_id")
        found = witness.get(witness_id) if witness_id else None
    if found is None:
        return None

    def link(media_id: str) -> str:
        return "/h5/media/" + svc.links.sign({"m": media_id, "s": app_view["sender"]}, MEDIA_TTL)

    found["recording_links"] = [{"side": {"customer": "客户端", "staff": "坐席端"}.get(r.get("side"), r.get("side")),
                                 "url": link(r["media_id"]), "at": r.get("at")}
                                for r in found.get("recordings") or [] if r.get("media_id")]
    found["snapshot_url"] = link(found["snapshot_media_id"]) if found.get("snapshot_media_id") else None
    return found


@routes.post("/console/applications/{id:\\d+}/{action:approve|reject}")
@staff_required(*REVIEW_ROLES)
async def decide(request):
    svc, app_id = _svc(request), int(request.match_info["id"])
    form = await request.post()
    staff = request["staff"]["username"]
    try:
        if request.match_info["action"] == "approve":
            await run(svc.applications.approve, app_id, staff, str(form.get("note", "")).strip() or None)
            msg = "已通过，执行结果与短信已发送。"
        else:
            await run(svc.applications.reject, app_id, staff, str(form.get("reason", "")))
            msg = "已驳回。"
    except ApplicationError as exc:
        msg = "操作未执行：" + str(exc)
    await push_notices(svc)  # WeChat customers get the chat notice pushed, as through the API
    raise web.HTTPFound(f"/console/applications/{app_id}?" + urlencode({"msg": msg}))


@routes.get("/console/agreements/{id:\\d+}/pdf")
@staff_required(*REVIEW_ROLES)
async def agreement_pdf(request):
    svc = _svc(request)
    try:
        found = await run(svc.agreements.pdf, int(request.match_info["id"]))
    except AgreementError:
        found = None
    if found is None:
        return render("console_error.html", request, http_status=404, message="没有这份协议。")
    await _audit(request, "agreement_pdf_viewed", account_number=found[1]["account_number"], signed_id=found[1]["id"])
    return pdf_response(*found)


# --- pause guard ------------------------------------------------------------------------------
# Rasa drops a pause on its own in two cases: a "/restart" from the customer (handled even while paused,
# cf. RasaHQ/rasa#4107) and a new session after session_expiration_time (SessionStarted resets the
# tracker, paused flag included). While an agent holds a conversation, re-pause it whenever that happens.
PAUSE_GUARD_SECONDS = 5.0


async def guard_pauses(app: web.Application) -> int:
    """One round: re-pause every agent-held conversation whose tracker is no longer paused."""
    svc, rasa = app[SERVICES], app[RASA]
    repaused = 0
    for row in await run(svc.conversations.list, "agent"):
        try:
            tracker = await rasa.tracker(row["sender"], include_events="NONE")
            if tracker.get("paused") is False:
                await rasa.pause(row["sender"])
                repaused += 1
                await run(svc.audit.record, "handoff_repaused", actor="system", account_number=row["account_number"])
        except (RasaError, AttributeError, TypeError):
            continue  # Rasa down or an old client: the next round tries again
    return repaused


def setup(app: web.Application) -> None:
    svc = app[SERVICES]
    app[STAFF] = StaffService(svc.db, svc.kv, svc.audit, svc.clock)
    app.add_routes(routes)
    add_periodic(app, "pause guard", PAUSE_GUARD_SECONDS, guard_pauses)


__all__ = ["setup", "ROLES", "STAFF"]
