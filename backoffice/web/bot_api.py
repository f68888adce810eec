"""Service API for the action server (service token). Actions stay thin: the rules live here."""
from __future__ import annotations

from aiohttp import web

from backoffice.channels.senders import channel_of
from backoffice.web.bot_routes import bot_call, bot_request
from backoffice.web.common import json_error, require, run, services

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
        from backoffice.accounts import credentials

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


@routes.post("/api/bot/handoff")
@require("service")
async def handoff(request):
    body, sender = await bot_request(request)
    svc = services(request)
    current = await run(svc.login.session, sender)
    reason = str(body.get("reason") or "customer_request")
    position = await run(svc.conversations.request_human, sender, channel=channel_of(sender),
                         reason=reason, account_number=(current or {}).get("account_number"))
    if position == 0:
        return json_error(409, "conflict", "an agent already holds this conversation")
    from backoffice.web.api import FORM_TTL, form_key

    form = str(body.get("form") or "")[:64]
    if form.endswith("_form"):  # the business in progress, resumed when the agent hands back
        await run(svc.kv.set, form_key(sender), form, FORM_TTL)
    else:
        await run(svc.kv.delete, form_key(sender))
    return web.json_response({"position": position})
