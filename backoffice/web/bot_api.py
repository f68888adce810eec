"""Service API for the action server (service token). Actions stay thin: the rules live here."""
from __future__ import annotations

from aiohttp import web

from backoffice.web.common import json_error, read_json, require, run, services

routes = web.RouteTableDef()


def _sender(body: dict) -> str:
    sender = str(body.get("sender") or "").strip()
    if not sender or len(sender) > 128:
        raise web.HTTPBadRequest(text='{"error":"bad_request","message":"sender required"}',
                                 content_type="application/json")
    return sender


@routes.post("/api/bot/login/start")
@require("service")
async def login_start(request):
    body = await read_json(request)
    result = await run(services(request).login.start, _sender(body), str(body.get("account_number", "")),
                       str(body.get("phone", "")))
    return web.json_response(result.to_dict())


@routes.post("/api/bot/login/verify")
@require("service")
async def login_verify(request):
    body = await read_json(request)
    result = await run(services(request).login.verify, _sender(body), str(body.get("code", "")))
    return web.json_response(result.to_dict())


@routes.post("/api/bot/login/resend")
@require("service")
async def login_resend(request):
    body = await read_json(request)
    return web.json_response((await run(services(request).login.resend, _sender(body))).to_dict())


@routes.post("/api/bot/login/complete")
@require("service")
async def login_complete(request):
    body = await read_json(request)
    svc, sender = services(request), _sender(body)
    result = await run(svc.login.complete, sender, body.get("privacy_agreed") is True)
    answer = result.to_dict()
    if result.status == "ok":  # e.g. a temporary password from 重置密码 still to be changed
        from backoffice import credentials

        session = await run(svc.login.session, sender)
        if session:
            answer["notices"] = await run(credentials.login_reminders, svc.db, session["account_number"])
    return web.json_response(answer)


@routes.post("/api/bot/login/cancel")
@require("service")
async def login_cancel(request):
    body = await read_json(request)
    await run(services(request).login.cancel, _sender(body))
    return web.json_response({"status": "ok"})


@routes.post("/api/bot/session")
@require("service")
async def session(request):
    body = await read_json(request)
    sender = _sender(body)
    svc = services(request)
    current = await run(svc.login.session, sender)
    state = await run(svc.conversations.state, sender)
    return web.json_response({"logged_in": current is not None, "conversation": state, **(current or {})})


@routes.post("/api/bot/logout")
@require("service")
async def logout(request):
    body = await read_json(request)
    return web.json_response({"logged_out": await run(services(request).login.logout, _sender(body))})


@routes.post("/api/bot/handoff")
@require("service")
async def handoff(request):
    body = await read_json(request)
    sender = _sender(body)
    svc = services(request)
    current = await run(svc.login.session, sender)
    reason = str(body.get("reason") or "customer_request")
    position = await run(svc.conversations.request_human, sender, channel=str(body.get("channel") or "rest"),
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
