"""Agreements over HTTP: the staff API of CONTRACTS.md (signed agreements, their PDFs), the bot's service API
(required, reading links, agreeing, signing with an SMS code, 协议查看与补签) and the customer's H5 reading
pages and PDF links."""
from __future__ import annotations

import json

from aiohttp import web

from backoffice.agreements.service import AgreementError
from backoffice.web.bot_routes import bot_request, logged_in_customer
from backoffice.web.common import json_error, pdf_response, require, run, services
from backoffice.web.pages import render

routes = web.RouteTableDef()


def _error(exc: AgreementError) -> web.Response:
    return json_error(exc.status, exc.code, str(exc))


def _signed_id(request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound()


# --- staff (CONTRACTS.md) ---------------------------------------------------------------------

@routes.get("/api/agreements")
@require("staff")
async def staff_signed_agreements(request):
    number = request.query.get("account_number") or ""
    if not number:
        return json_error(400, "bad_request", "account_number required")
    return web.json_response(await run(services(request).agreements.list_signed, number))


@routes.get("/api/agreements/{id}/pdf")
@require("staff")
async def staff_pdf(request):
    svc = services(request)
    try:
        found = await run(svc.agreements.pdf, _signed_id(request))
    except AgreementError as exc:
        return _error(exc)
    if found is None:
        return json_error(404, "not_found", "no such signed agreement")
    await run(svc.audit.record, "agreement_pdf_viewed", actor="staff:" + request["actor"],
              account_number=found[1]["account_number"], signed_id=found[1]["id"])
    return pdf_response(*found)


# --- bot (service token); the account always comes from the sender's login session ---------------

@routes.post("/api/bot/agreements/required")
@require("service")
async def bot_required(request):
    body, _, account = await logged_in_customer(request)
    svc = services(request)
    business = str(body.get("business") or "") or None
    try:
        required = await run(svc.agreements.required_for, business or "*", account)
        missing = await run(svc.agreements.missing, account, business)
    except AgreementError as exc:
        return _error(exc)
    return web.json_response({"required": required, "missing": missing})


@routes.post("/api/bot/agreements/link")
@require("service")
async def bot_link(request):
    body, sender, account = await logged_in_customer(request)
    try:
        link = await run(services(request).agreements.reading_link, account, sender, str(body.get("code") or ""))
    except AgreementError as exc:
        return _error(exc)
    return web.json_response(link)


@routes.post("/api/bot/agreements/agree")
@require("service")
async def bot_agree(request):
    body, sender, account = await logged_in_customer(request)
    codes = body.get("codes") or [body.get("code")]
    results = []
    try:
        for code in codes:
            results.append(await run(services(request).agreements.agree, account, sender, str(code or "")))
    except AgreementError as exc:
        return _error(exc)
    failed = [r for r in results if r["status"] != "ok"]
    return web.json_response({"status": failed[0]["status"] if failed else "ok", "results": results,
                              **({"message": failed[0]["message"]} if failed else {})})


@routes.post("/api/bot/agreements/sign/start")
@require("service")
async def bot_sign_start(request):
    body, sender, account = await logged_in_customer(request)
    codes = body.get("codes") or ([body["code"]] if body.get("code") else [])
    try:
        result = await run(services(request).agreements.start_signing, account, sender, [str(c) for c in codes])
    except AgreementError as exc:
        return _error(exc)
    return web.json_response(result)


@routes.post("/api/bot/agreements/sign/confirm")
@require("service")
async def bot_sign_confirm(request):
    body, sender, account = await logged_in_customer(request)
    try:
        result = await run(services(request).agreements.confirm_signing, account, sender,
                           str(body.get("otp_code") or body.get("code") or ""))
    except AgreementError as exc:
        return _error(exc)
    return web.json_response(result)


@routes.post("/api/bot/agreements/overview")
@require("service")
async def bot_overview(request):
    """协议查看与补签: signed agreements with expiring PDF links, and the ones to sign now."""
    _, _, account = await logged_in_customer(request)
    return web.json_response(await run(services(request).agreements.overview, account))


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


# --- customer H5 pages -------------------------------------------------------------------------

@routes.get("/h5/agreements/pdf/{token}")
async def customer_pdf(request):
    try:
        found = await run(services(request).agreements.pdf_by_token, request.match_info["token"])
    except AgreementError:
        found = None
    if found is None:
        return render_expired()
    return pdf_response(*found)


@routes.get("/h5/agreements/{token}")
async def reading_page(request):
    opened = await run(services(request).agreements.open_reading, request.match_info["token"])
    if opened is None:
        return render_expired()
    tpl, _ = opened
    return render("agreement.html", tpl=tpl, token=request.match_info["token"], result=None)


@routes.post("/h5/agreements/{token}/agree")
async def reading_page_agree(request):
    svc = services(request)
    opened = await run(svc.agreements.open_reading, request.match_info["token"])
    if opened is None:
        return render_expired()
    tpl, info = opened
    result = await run(svc.agreements.agree, info["account_number"], info["sender"], tpl.code)
    return render("agreement.html", tpl=tpl, token=request.match_info["token"], result=result)


def render_expired() -> web.Response:
    response = render("agreement.html", tpl=None, token=None, result=None)
    response.set_status(404)
    return response
