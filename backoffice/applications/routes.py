"""Applications and agreements over HTTP: the staff API of CONTRACTS.md, the bot's service API and the
customer's H5 agreement pages. `setup(app)` registers everything, including the outbox worker."""
from __future__ import annotations

import os

from aiohttp import web

from backoffice.applications import eligibility
from backoffice.agreements.service import AgreementError
from backoffice.applications.service import BUSINESS_NAMES, ApplicationError
from backoffice.channels.senders import channel_of
from backoffice.web.bot_routes import logged_in_customer
from backoffice.web.common import add_periodic, json_error, read_json, require, run, services
from backoffice.web.pages import render

routes = web.RouteTableDef()
OUTBOX_INTERVAL = float(os.environ.get("HALL_OUTBOX_INTERVAL", "5"))


def _error(exc: ApplicationError | AgreementError) -> web.Response:
    return json_error(exc.status, exc.code, str(exc))


def _app_id(request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound()


async def _push(request_or_app) -> None:
    """Push freshly queued chat notifications to channels that can be pushed (WeChat)."""
    app = request_or_app.app if isinstance(request_or_app, web.Request) else request_or_app
    from backoffice.web.common import SERVICES

    pending = app[SERVICES].applications.drain_pushes()
    if not pending:
        return
    from backoffice.channels.delivery import deliver

    for item in pending:
        await deliver({"sender": item["sender"], "channel": item["channel"]}, item["text"])


# --- staff (CONTRACTS.md) ---------------------------------------------------------------------

@routes.get("/api/applications")
@require("staff")
async def list_applications(request):
    q = request.query
    try:
        rows = await run(services(request).applications.list, status=q.get("status") or None,
                         business=q.get("business") or None, account_number=q.get("account_number") or None)
    except ApplicationError as exc:
        return _error(exc)
    return web.json_response(rows)


@routes.get("/api/applications/{id}")
@require("staff")
async def get_application(request):
    view = await run(services(request).applications.get, _app_id(request), events=True)
    if view is None:
        return json_error(404, "not_found", "no such application")
    return web.json_response(view)


@routes.post("/api/applications/{id}/approve")
@require("staff")
async def approve(request):
    body = await read_json(request) if request.can_read_body else {}
    try:
        view = await run(services(request).applications.approve, _app_id(request), request["actor"],
                         (str(body.get("note") or "").strip() or None))
    except ApplicationError as exc:
        return _error(exc)
    await _push(request)
    return web.json_response(view)


@routes.post("/api/applications/{id}/reject")
@require("staff")
async def reject(request):
    body = await read_json(request) if request.can_read_body else {}
    try:
        view = await run(services(request).applications.reject, _app_id(request), request["actor"],
                         str(body.get("reason") or ""))
    except ApplicationError as exc:
        return _error(exc)
    await _push(request)
    return web.json_response(view)


@routes.post("/api/accounts/{number}/password-changed")
@require("staff")
async def password_changed(request):
    """Hook for the trading core: the customer replaced the temporary password of a 重置密码 there."""
    from backoffice.accounts import credentials

    body = await read_json(request)
    try:
        kind = credentials.kind_of(str(body.get("password_type") or ""))
    except ValueError as exc:
        return json_error(400, "bad_request", str(exc))
    svc, number = services(request), request.match_info["number"]
    if not await run(svc.accounts.exists, number):
        return json_error(404, "not_found", "no such account")
    cleared = await run(credentials.mark_changed, svc.db, svc.audit, number, kind, svc.clock.utcnow())
    return web.json_response({"cleared": cleared, "temporary": await run(credentials.temporary_kinds, svc.db, number)})


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
        found = await run(svc.agreements.pdf, _app_id(request))
    except AgreementError as exc:
        return _error(exc)
    if found is None:
        return json_error(404, "not_found", "no such signed agreement")
    await run(svc.audit.record, "agreement_pdf_viewed", actor="staff:" + request["actor"],
              account_number=found[1]["account_number"], signed_id=found[1]["id"])
    return _pdf_response(*found)


def _pdf_response(data: bytes, view: dict) -> web.Response:
    return web.Response(body=data, content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="agreement-{view["id"]}.pdf"',
                                 "X-Content-SHA256": view["sha256"], "Cache-Control": "private, no-store",
                                 "X-Content-Type-Options": "nosniff"})


# --- bot (service token); the account always comes from the sender's login session ---------------

def _customer_view(view: dict) -> dict:
    """What the bot may show: no sender ids, no staff names, no review flags."""
    keys = ("id", "business", "business_name", "status", "status_label", "created_at", "updated_at",
            "submitted_at", "decided_at", "reason", "account_number")
    return {k: view.get(k) for k in keys}


async def _own_application(request, account_number: str) -> dict:
    view = await run(services(request).applications.get, _app_id(request))
    if view is None or view["account_number"] != account_number:
        raise web.HTTPNotFound(text='{"error":"not_found","message":"申请不存在。"}', content_type="application/json")
    return view


@routes.post("/api/bot/applications/open")
@require("service")
async def bot_open(request):
    body, sender, account = await logged_in_customer(request)
    payload = body.get("payload") or {}
    if not isinstance(payload, dict):
        return json_error(400, "bad_payload", "payload must be an object")
    try:
        view, created = await run(services(request).applications.open, str(body.get("business") or ""), account,
                                  sender, channel_of(sender), payload,
                                  submit=body.get("submit") is True)
    except ApplicationError as exc:
        return _error(exc)
    return web.json_response({"created": created, "application": _customer_view(view)}, status=201 if created else 200)


@routes.post("/api/bot/applications/eligibility")
@require("service")
async def bot_eligibility(request):
    """May the logged-in customer start this business? Asked before any step; unmet conditions explained."""
    body, _, account = await logged_in_customer(request)
    business = str(body.get("business") or "")
    if business not in BUSINESS_NAMES:
        return json_error(400, "bad_request", "unknown business")
    answer = await run(eligibility.check, services(request).db, business, account)
    if answer is None:
        return json_error(404, "not_found", "no such account")
    return web.json_response(answer)


@routes.post("/api/bot/applications/{id}/submit")
@require("service")
async def bot_submit(request):
    _, sender, account = await logged_in_customer(request)
    await _own_application(request, account)
    try:
        view = await run(services(request).applications.submit, _app_id(request), f"customer:{sender}")
    except ApplicationError as exc:
        return _error(exc)
    return web.json_response({"application": _customer_view(view)})


@routes.post("/api/bot/applications/{id}/withdraw")
@require("service")
async def bot_withdraw(request):
    _, sender, account = await logged_in_customer(request)
    await _own_application(request, account)
    try:
        view = await run(services(request).applications.withdraw, _app_id(request), f"customer:{sender}")
    except ApplicationError as exc:
        return _error(exc)
    return web.json_response({"application": _customer_view(view)})


@routes.post("/api/bot/applications/status")
@require("service")
async def bot_status(request):
    """我的业务办到哪了: newest first, each with a ready-made Chinese line."""
    _, _, account = await logged_in_customer(request)
    items = await run(services(request).applications.status_for_customer, account)
    return web.json_response({"applications": items})


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


# --- customer H5 pages -------------------------------------------------------------------------

@routes.get("/h5/agreements/pdf/{token}")
async def customer_pdf(request):
    try:
        found = await run(services(request).agreements.pdf_by_token, request.match_info["token"])
    except AgreementError:
        found = None
    if found is None:
        return render_expired()
    return _pdf_response(*found)


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


# --- registration and the outbox worker -----------------------------------------------------------

async def _drain_outbox(app: web.Application) -> None:
    from backoffice.web.common import SERVICES

    await run(app[SERVICES].applications.process_outbox)  # the rows stay pending if this fails
    await _push(app)


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    add_periodic(app, "applications outbox", OUTBOX_INTERVAL, _drain_outbox, wait_first=False)
