"""Service API for the businesses' own confirmation codes (账户解锁, 重置密码, ...): the use cases are
BusinessCodeService's (backoffice/otp/business_codes.py); and the sandbox SMS view for staff."""
from __future__ import annotations

from aiohttp import web

from backoffice.applications.businesses import BUSINESS_NAMES
from backoffice.web.bot_routes import bot_request
from backoffice.web.common import json_error, require, run, services

routes = web.RouteTableDef()


def _business(body: dict) -> str | None:
    business = str(body.get("business") or "")
    return business if business in BUSINESS_NAMES else None


@routes.post("/api/bot/business/otp/start")
@require("service")
async def otp_start(request):
    body, sender = await bot_request(request)
    business = _business(body)
    if business is None:
        return json_error(400, "bad_request", "unknown business")
    return web.json_response(await run(services(request).business_codes.issue, sender, business))


@routes.post("/api/bot/business/otp/resend")
@require("service")
async def otp_resend(request):
    _, sender = await bot_request(request)
    return web.json_response(await run(services(request).business_codes.resend, sender))


@routes.post("/api/bot/business/otp/verify")
@require("service")
async def otp_verify(request):
    body, sender = await bot_request(request)
    business = _business(body)
    if business is None:
        return json_error(400, "bad_request", "unknown business")
    return web.json_response(await run(services(request).business_codes.verify, sender, business,
                                       str(body.get("code") or "").strip()))


@routes.get("/api/sandbox/sms")
@require("staff")
async def sandbox_sms(request):
    gateway = services(request).sms
    if getattr(gateway, "name", "") != "sandbox":
        return json_error(404, "not_found", "the sandbox SMS gateway is not active")
    return web.json_response(await run(gateway.messages, request.query.get("phone") or None))
