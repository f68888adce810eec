"""Service API for the shared identity steps and the businesses built on them (找回账户, 绑定/解绑, 签名); the
face steps are live checks (live_routes.py)."""
from __future__ import annotations

from aiohttp import web

from backoffice.web.bot_routes import bot_call, bot_request, session_account
from backoffice.web.common import require, run, services

routes = web.RouteTableDef()
PREVIEW_TTL = 30 * 60


# the steps whose answer is the service's answer
bot_call(routes, "/api/bot/gate", "devices.gate")
bot_call(routes, "/api/bot/id/front", "identity.read_id_front", "media_id")
bot_call(routes, "/api/bot/id/back", "identity.read_id_back", "media_id")
bot_call(routes, "/api/bot/device/bind", "devices.bind")
bot_call(routes, "/api/bot/device/unbind/start", "devices.unbind_start")
bot_call(routes, "/api/bot/device/unbind/verify", "devices.unbind_verify", "code")
bot_call(routes, "/api/bot/recover/start", "recovery.start", "phone")
bot_call(routes, "/api/bot/recover/resend", "recovery.resend")
bot_call(routes, "/api/bot/recover/verify", "recovery.verify", "code")


@routes.post("/api/bot/id/confirm")
@require("service")
async def id_confirm(request):
    body, sender = await bot_request(request)
    svc = services(request)
    if not body.get("confirmed", True):
        await run(svc.identity.clear, sender)
        return web.json_response({"status": "cleared"})
    # A logged-in customer's ID must be the account owner's; recovery (not logged in) has no account yet.
    account = await session_account(request, sender) if body.get("for_account", True) else None
    return web.json_response(await run(svc.identity.confirm_id, sender, account))


@routes.post("/api/bot/signature/check")
@require("service")
async def signature_check(request):
    body, sender = await bot_request(request)
    svc = services(request)
    result = await svc.identity.check_signature(sender, str(body.get("media_id", "")))
    if result["status"] == "ok":
        token = svc.links.sign({"m": result["preview_media_id"], "s": sender}, PREVIEW_TTL)
        result["preview_url"] = f"{svc.settings.public_url}/h5/media/{token}"
    return web.json_response(result)


@routes.post("/api/bot/signature/confirm")
@require("service")
async def signature_confirm(request):
    _, sender = await bot_request(request)
    account = await session_account(request, sender)
    if not account:
        return web.json_response({"status": "not_logged_in"})
    return web.json_response(await run(services(request).identity.confirm_signature, sender, account))
