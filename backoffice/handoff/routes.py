"""Human handoff over HTTP: the bot queues a conversation (service token), staff list, claim, reply and release
(staff token; backoffice/handoff/service.py runs the steps), REST apps read their outbox (client token)."""
from __future__ import annotations

from aiohttp import web

from backoffice.channels import client_tokens
from backoffice.channels.senders import channel_of, rest_sender
from backoffice.handoff.conversations import STATES as CONVERSATION_STATES
from backoffice.handoff.service import (OUTBOX_MEDIA_TTL, HandoffFailure, HandoffService, channel_took_over,
                                       request_human)
from backoffice.web.bot_routes import bot_request
from backoffice.web.common import RASA, SERVICES, is_staff, json_error, read_json, require, run, services

routes = web.RouteTableDef()


def _handoff(request) -> HandoffService:
    return HandoffService(request.app[SERVICES], request.app[RASA])


@routes.post("/api/bot/handoff")
@require("service")
async def handoff(request):
    body, sender = await bot_request(request)
    position = await run(request_human, services(request), sender, channel_of(sender),
                         str(body.get("reason") or "customer_request"), str(body.get("form") or "")[:64])
    if position == 0:
        return json_error(409, "conflict", "an agent already holds this conversation")
    return web.json_response({"position": position})


@routes.post("/api/bot/handoff/channel")
@require("service")
async def handoff_to_channel(request):
    """WeCom's own servicers took the conversation (handoff/service.channel_took_over)."""
    _, sender = await bot_request(request)
    await run(channel_took_over, services(request), sender)
    return web.json_response({"conversation": "bot"})


@routes.get("/api/conversations")
@require("staff")
async def list_conversations(request):
    state = request.query.get("state") or None
    if state and state not in CONVERSATION_STATES:
        return json_error(400, "bad_request", f"state must be one of {', '.join(CONVERSATION_STATES)}")
    return web.json_response(await run(services(request).conversations.list, state))


@routes.post("/api/conversations/{sender}/claim")
@require("staff")
async def claim(request):
    try:
        row = await _handoff(request).claim(request.match_info["sender"], request["actor"])
    except HandoffFailure as exc:
        return json_error(exc.status, exc.code, str(exc))
    return web.json_response(row)


@routes.post("/api/conversations/{sender}/reply")
@require("staff")
async def reply(request):
    body = await read_json(request)
    if not isinstance(body.get("text", ""), str):
        return json_error(400, "bad_request", "text must be a string")
    try:
        msg = await _handoff(request).reply(request.match_info["sender"], request["actor"],
                                       body.get("text", ""))
    except HandoffFailure as exc:
        return json_error(exc.status, exc.code, str(exc))
    return web.json_response(msg, status=201)


@routes.post("/api/conversations/{sender}/release")
@require("staff")
async def release(request):
    body = await read_json(request) if request.can_read_body else {}
    try:
        row = await _handoff(request).release(request.match_info["sender"], request["actor"],
                                         bool(body.get("resume_bot", True)))
    except HandoffFailure as exc:
        return json_error(exc.status, exc.code, str(exc))
    return web.json_response(row)


@routes.post("/api/conversations/{sender}/reply-image")
@require("staff")
async def reply_image(request):
    """The image itself as the body (JPG or PNG), like PUT /api/accounts/{n}/portrait."""
    try:
        msg = await _handoff(request).reply_image(request.match_info["sender"], request["actor"],
                                             await request.read())
    except HandoffFailure as exc:
        return json_error(exc.status, exc.code, str(exc))
    return web.json_response(msg, status=201)


def _client_reads_own_outbox(request, sender: str) -> bool:
    """A REST app reads its own conversation's outbox with its client token (staff with the staff token)."""
    token = client_tokens.bearer(request.headers.get("Authorization"))
    if token is None or rest_sender(sender) is None:
        return False
    try:
        return client_tokens.verify(token) == rest_sender(sender)
    except client_tokens.InvalidClientToken:
        return False


@routes.get("/api/conversations/{sender}/outbox")
async def outbox(request):
    svc, sender = services(request), request.match_info["sender"]
    if not (is_staff(request) or _client_reads_own_outbox(request, sender)):
        return json_error(401, "unauthorized", "a valid bearer token is required")
    try:
        after = int(request.query.get("after", "0") or 0)
    except ValueError:
        return json_error(400, "bad_request", "after must be an integer")
    after = max(0, min(after, 2**62))  # a 64-bit column: larger values mean "nothing newer" anyway
    rows = await run(svc.conversations.outbox, sender, after)
    for row in rows:  # an agent's image: a signed, expiring link the customer's client can open
        if row.get("media_id"):
            token = svc.links.sign({"m": row["media_id"], "s": sender}, OUTBOX_MEDIA_TTL)
            row["image_url"] = f"{svc.settings.public_url}/h5/media/{token}"
    return web.json_response(rows)
