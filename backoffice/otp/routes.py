"""Service API for the businesses' own confirmation codes (账户解锁, 重置密码, ...) and re-sending a signing code.

A business code is an OtpService code with purpose "biz:<business>" sent by SMS to the phone reserved at
account opening. The bot asks for it once per step: `start` sends a code, `resend` a new one (the OTP rules
— 60 s between sends, 10 a day, 5 tries — are the OtpService's).
"""
from __future__ import annotations

import json

from aiohttp import web

from backoffice.applications.service import BUSINESS_NAMES
from backoffice.core.crypto import mask_phone
from backoffice.otp.sms import compose
from backoffice.web.bot_routes import bot_request
from backoffice.web.common import json_error, require, run, services

routes = web.RouteTableDef()
PENDING_TTL = 600  # which business a sender's last code was for, so that "重新发送" knows


def _purpose(business: str) -> str:
    return f"biz:{business}"


def _issue(svc, sender: str, business: str) -> dict:
    session = svc.login.session(sender)
    if session is None:
        return {"status": "not_logged_in"}
    number = session["account_number"]
    phone = svc.accounts.phone_of(number)
    issued = svc.otp.issue(phone, _purpose(business), sender=sender)
    svc.kv.set(f"bizotp:pending:{sender}", json.dumps({"a": number, "b": business}), PENDING_TTL)
    if issued.status == "wait":
        return {"status": "wait", "wait_seconds": issued.wait_seconds, "phone_masked": mask_phone(phone)}
    if issued.status == "too_many":
        return {"status": "too_many"}
    svc.sms.send(phone, compose("otp_generic", business=BUSINESS_NAMES[business], code=issued.code))
    svc.audit.record("otp_sent", actor=f"customer:{sender}", account_number=number, purpose=_purpose(business))
    return {"status": "sent", "phone_masked": mask_phone(phone)}


def _verify(svc, sender: str, business: str, code: str) -> dict:
    session = svc.login.session(sender)
    if session is None:
        return {"status": "not_logged_in"}
    number = session["account_number"]
    checked = svc.otp.verify(svc.accounts.phone_of(number), _purpose(business), code, sender=sender)
    if checked.status != "ok":
        svc.audit.record("otp_failed", actor=f"customer:{sender}", account_number=number,
                         purpose=_purpose(business), result=checked.status)
        return {"status": checked.status, "remaining": checked.remaining}
    svc.kv.delete(f"bizotp:pending:{sender}")
    svc.business_codes.mark_verified(sender, number, business)  # opening the application requires it
    svc.audit.record("otp_verified", actor=f"customer:{sender}", account_number=number, purpose=_purpose(business))
    return {"status": "ok"}


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
    return web.json_response(await run(_issue, services(request), sender, business))


@routes.post("/api/bot/business/otp/resend")
@require("service")
async def otp_resend(request):
    _, sender = await bot_request(request)
    svc = services(request)
    raw = await run(svc.kv.get, f"bizotp:pending:{sender}")
    if not raw:
        return web.json_response({"status": "no_pending"})
    return web.json_response(await run(_issue, svc, sender, json.loads(raw)["b"]))


@routes.post("/api/bot/business/otp/verify")
@require("service")
async def otp_verify(request):
    body, sender = await bot_request(request)
    business = _business(body)
    if business is None:
        return json_error(400, "bad_request", "unknown business")
    return web.json_response(await run(_verify, services(request), sender, business,
                                       str(body.get("code") or "").strip()))


@routes.post("/api/bot/agreements/sign/resend")
@require("service")
async def sign_resend(request):
    """A new signing code for the agreements the customer already agreed to in this conversation."""
    _, sender = await bot_request(request)
    svc = services(request)
    raw = await run(svc.kv.get, f"sign:pending:{sender}")
    session = await run(svc.login.session, sender)
    if not raw or session is None:
        return web.json_response({"status": "no_pending"})
    pending = json.loads(raw)
    if pending["a"] != session["account_number"]:
        return web.json_response({"status": "no_pending"})
    return web.json_response(await run(svc.agreements.start_signing, pending["a"], sender, pending["c"]))
