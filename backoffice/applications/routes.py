"""Applications over HTTP: the staff API of CONTRACTS.md and the bot's service API. `setup(app)` registers the
routes and the outbox worker."""
from __future__ import annotations

import os

from aiohttp import web

from backoffice.accounts import credentials
from backoffice.applications import eligibility
from backoffice.applications.businesses import BUSINESS_NAMES
from backoffice.applications.checks import ApplicationError
from backoffice.applications.notices import push_notices
from backoffice.channels.senders import channel_of
from backoffice.web.bot_routes import logged_in_customer
from backoffice.web.common import SERVICES, add_periodic, json_error, read_json, require, run, services

routes = web.RouteTableDef()
OUTBOX_INTERVAL = float(os.environ.get("HALL_OUTBOX_INTERVAL", "5"))


def _error(exc: ApplicationError) -> web.Response:
    return json_error(exc.status, exc.code, str(exc))


def _app_id(request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound()


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
    await push_notices(services(request))
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
    await push_notices(services(request))
    return web.json_response(view)


@routes.post("/api/accounts/{number}/password-changed")
@require("staff")
async def password_changed(request):
    """Hook for the trading core: the customer replaced the temporary password of a 重置密码 there."""
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


# --- registration and the outbox worker -----------------------------------------------------------

async def _drain_outbox(app: web.Application) -> None:
    await run(app[SERVICES].applications.process_outbox)  # the rows stay pending if this fails
    await push_notices(app[SERVICES])


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    add_periodic(app, "applications outbox", OUTBOX_INTERVAL, _drain_outbox, wait_first=False)
