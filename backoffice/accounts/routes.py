"""Accounts over HTTP: the staff API of CONTRACTS.md (accounts, portraits), the bot's login, session and logout
(service token; actions stay thin, the rules live in the services) and the privacy policy page."""
from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from backoffice.accounts import credentials
from backoffice.accounts.login import PRIVACY_POLICY_VERSION
from backoffice.accounts.service import AccountError
from backoffice.media.store import MediaError
from backoffice.web.bot_routes import bot_call, bot_request
from backoffice.web.common import json_error, read_json, require, run, services
from backoffice.web.pages import render

routes = web.RouteTableDef()

bot_call(routes, "/api/bot/login/account", "login.note_account", "account_number")
bot_call(routes, "/api/bot/login/start", "login.start", "account_number", "phone")
bot_call(routes, "/api/bot/login/verify", "login.verify", "code")
bot_call(routes, "/api/bot/login/resend", "login.resend")


@routes.post("/api/bot/login/complete")
@require("service")
async def login_complete(request):
    body, sender = await bot_request(request)
    svc = services(request)
    result = await run(svc.login.complete, sender, body.get("privacy_agreed") is True)
    answer = result.to_dict()
    if result.status == "ok":  # e.g. a temporary password from 重置密码 still to be changed
        session = await run(svc.login.session, sender)
        if session:
            answer["notices"] = await run(credentials.login_reminders, svc.db, session["account_number"])
    return web.json_response(answer)


@routes.post("/api/bot/login/cancel")
@require("service")
async def login_cancel(request):
    _, sender = await bot_request(request)
    await run(services(request).login.cancel, sender)
    return web.json_response({"status": "ok"})


@routes.post("/api/bot/session")
@require("service")
async def session(request):
    _, sender = await bot_request(request)
    svc = services(request)
    current = await run(svc.login.session, sender)
    state = await run(svc.conversations.state, sender)
    return web.json_response({"logged_in": current is not None, "conversation": state, **(current or {})})


@routes.post("/api/bot/logout")
@require("service")
async def logout(request):
    _, sender = await bot_request(request)
    return web.json_response({"logged_out": await run(services(request).login.logout, sender)})


# --- staff (CONTRACTS.md) ---------------------------------------------------------------------

@routes.post("/api/accounts")
@require("staff")
async def create_account(request):
    body = await read_json(request)
    try:
        view = await run(services(request).accounts.create, body)
    except AccountError as exc:
        status = 409 if "exists" in str(exc) else 400
        return json_error(status, "invalid_account", str(exc))
    return web.json_response(asdict(view), status=201)


@routes.get("/api/accounts/{number}")
@require("staff")
async def get_account(request):
    view = await run(services(request).accounts.get, request.match_info["number"])
    if view is None:
        return json_error(404, "not_found", "no such account")
    return web.json_response(asdict(view))


@routes.put("/api/accounts/{number}/portrait")
@require("staff")
async def put_portrait(request):
    svc = services(request)
    number = request.match_info["number"]
    if not await run(svc.accounts.exists, number):
        return json_error(404, "not_found", "no such account")
    data = await request.read()
    try:
        info = await run(svc.media.put, data)
    except MediaError as exc:
        return json_error(413 if exc.code == "too_large" else 400, exc.code, str(exc))
    if not info.content_type.startswith("image/"):
        return json_error(400, "unsupported", "the portrait must be an image")
    await run(svc.accounts.set_portrait, number, info.media_id)
    await run(svc.audit.record, "portrait_set", actor="staff:" + request["actor"], account_number=number)
    return web.json_response({"media_id": info.media_id})


# --- customer H5 page -------------------------------------------------------------------------

@routes.get("/h5/privacy")
async def privacy(request):
    return render("privacy.html", version=PRIVACY_POLICY_VERSION)
