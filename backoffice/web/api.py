"""The JSON API of CONTRACTS.md (staff, tests, channels)."""
from __future__ import annotations

from dataclasses import asdict

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from backoffice.accounts.service import AccountError
from backoffice.channels import client_tokens
from backoffice.channels.senders import BadSender, channel_of, conversation_id, rest_sender
from backoffice.handoff.conversations import STATES as CONVERSATION_STATES
from backoffice.handoff.conversations import ConversationError
from backoffice.media.store import MediaError
from backoffice.core.rasa_client import RasaError
from backoffice.web.common import (
    RASA,
    SERVICES,
    is_service,
    is_staff,
    json_error,
    read_json,
    require,
    run,
    services,
    too_large,
)

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request):
    svc = services(request)
    from sqlalchemy import text

    def probe():
        with svc.db.session() as s:
            s.execute(text("SELECT 1"))
        svc.kv.get("health")

    try:
        await run(probe)
    except Exception as exc:  # report which dependency is down, without details
        return web.json_response({"status": "unavailable", "error": exc.__class__.__name__}, status=503)
    return web.json_response({"status": "ok"})


@routes.post("/api/media")
async def upload_media(request):
    """Upload-only and unauthenticated by contract (channels and testers); ids are random 128-bit.

    A file belongs to the conversation that uploaded it (`sender` field): the channels, with the service token,
    name the conversation id they made; anyone else names a REST sender and the file belongs to `rest:<sender>`
    (with a client token, the sender it names). Only that conversation can use the file; a file without a
    sender is usable by none."""
    svc = services(request)
    if not request.content_type.startswith("multipart/"):
        return json_error(400, "bad_request", "multipart form with a 'file' field expected")
    limit = svc.settings.max_media_bytes
    if (request.content_length or 0) > request.app._client_max_size:
        return too_large(request.app._client_max_size)
    try:
        return await _read_upload(request, svc, limit)
    except (ValueError, HttpProcessingError):  # no or broken boundary, malformed part headers
        return json_error(400, "bad_request", "malformed multipart body")


def upload_owner(request, sender: str | None) -> str | None:
    """The conversation an upload belongs to (see upload_media); BadSender when `sender` cannot be one."""
    if sender is None:
        return None
    if is_service(request):
        channel_of(sender)
        return sender
    token = client_tokens.bearer(request.headers.get("Authorization"))
    if token is not None:
        try:
            named = client_tokens.verify(token)
        except client_tokens.InvalidClientToken:
            raise BadSender("invalid client token") from None
        if named != sender:
            raise BadSender("the client token names another sender")
    return conversation_id("rest", sender)


async def _read_upload(request, svc, limit: int):
    reader = await request.multipart()
    data, sender = None, None
    async for part in reader:
        if not isinstance(part, BodyPartReader):  # a nested multipart is nothing we asked for
            continue
        if part.name == "file":
            # Streamed with a cap: a multipart body is not bounded by client_max_size.
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data += chunk
                if len(data) > limit:
                    return json_error(413, "too_large", "文件过大（上限10MB），请压缩后重新发送。")
        elif part.name == "sender":
            sender = (await part.read_chunk(1024)).decode("utf-8", "replace")
    if data is None:
        return json_error(400, "bad_request", "field 'file' is missing")
    try:
        owner = upload_owner(request, sender)
    except BadSender as exc:
        return json_error(400, "bad_sender", str(exc))
    try:
        info = await run(svc.media.put, bytes(data), sender=owner)
    except MediaError as exc:
        return json_error(413 if exc.code == "too_large" else 400, exc.code, str(exc))
    return web.json_response({"media_id": info.media_id, "content_type": info.content_type, "size": info.size},
                             status=201)


@routes.post("/api/clients/token")
@require("staff")
async def client_token(request):
    """A REST client token for one sender (backoffice/channels/client_tokens.py): the app's backend asks for it
    once its user has signed in to the app, and hands it to the app, which sends it with every message."""
    body = await read_json(request)
    try:
        issued = client_tokens.issue(body.get("sender"), int(body.get("ttl_seconds") or client_tokens.DEFAULT_TTL))
    except (BadSender, TypeError, ValueError) as exc:
        return json_error(400, "bad_sender", str(exc))
    await run(services(request).audit.record, "client_token_issued", actor="staff:" + request["actor"])
    return web.json_response({**issued, "conversation": conversation_id("rest", body["sender"])}, status=201)


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


@routes.get("/api/sandbox/sms")
@require("staff")
async def sandbox_sms(request):
    gateway = services(request).sms
    if getattr(gateway, "name", "") != "sandbox":
        return json_error(404, "not_found", "the sandbox SMS gateway is not active")
    return web.json_response(await run(gateway.messages, request.query.get("phone") or None))


@routes.get("/api/audit")
@require("staff")
async def audit(request):
    q = request.query
    return web.json_response(await run(services(request).audit.list, event=q.get("event"),
                                       account_number=q.get("account_number")))


# --- human handoff ------------------------------------------------------------------------

@routes.get("/api/conversations")
@require("staff")
async def list_conversations(request):
    state = request.query.get("state") or None
    if state and state not in CONVERSATION_STATES:
        return json_error(400, "bad_request", f"state must be one of {', '.join(CONVERSATION_STATES)}")
    return web.json_response(await run(services(request).conversations.list, state))


class HandoffFailure(Exception):
    """A refused handoff step, with the HTTP status and error code the API answers."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


# Shared by the token API and the staff console so both run exactly the same steps.
BOT_BACK = "人工客服已离开，接下来由智能助手继续为您服务。"
RESUMING = "人工客服已离开，智能助手将继续为您办理{business}。"
FORM_TTL = 2 * 86400  # a claim lasts at most as long as WeChat lets staff answer (48 h)


def form_key(sender: str) -> str:
    """KV key of the business form in progress when the conversation went to a human."""
    return f"handoff:form:{sender}"


async def claim_conversation(app, sender: str, agent: str, notice: str | None = None) -> dict:
    """Claim in the registry, note the business form in progress, then pause the Rasa tracker.

    When Rasa cannot be paused the claim is undone and the conversation goes back to the waiting queue, at
    its old place: the customer still wants a human, the agent sees why it failed."""
    svc = app[SERVICES]
    before = await run(svc.conversations.get, sender)
    try:
        row = await run(svc.conversations.claim, sender, agent)
    except ConversationError as exc:
        raise HandoffFailure(409, "conflict", str(exc)) from exc
    try:
        tracker = await app[RASA].tracker(sender, include_events="NONE")
        form = ((tracker or {}).get("active_loop") or {}).get("name")
        if form:  # resumed on hand-back (release with resume_bot); else the one the bot noted when it queued
            await run(svc.kv.set, form_key(sender), form, FORM_TTL)
        await app[RASA].pause(sender)  # the bot stays silent while an agent holds it
    except RasaError as exc:
        await run(svc.conversations.requeue, sender, agent, (before or {}).get("since"))
        raise HandoffFailure(503, "rasa_unavailable", str(exc)) from exc
    if notice:
        await reply_conversation(app, sender, agent, notice)
    return row


async def reply_conversation(app, sender: str, agent: str, text: str) -> dict:
    """Store the reply in the outbox (REST clients poll it) and push it where the channel allows (WeChat)."""
    try:
        msg = await run(app[SERVICES].conversations.reply, sender, agent, text)
    except ConversationError as exc:
        raise HandoffFailure(409, "conflict", str(exc)) from exc
    from backoffice.channels.delivery import deliver

    delivered = await deliver(msg, msg["text"])  # stored either way; the outbox keeps it
    if delivered is not None:
        msg["delivered"] = delivered
    return msg


REPLY_IMAGE_TYPES = ("image/jpeg", "image/png")
OUTBOX_MEDIA_TTL = 3600  # REST clients fetch an agent's image through this signed link soon after polling


async def reply_image_conversation(app, sender: str, agent: str, data: bytes) -> dict:
    """An image from the agent: into the media store, an outbox row with it, pushed to WeChat as an image."""
    from backoffice.media.store import MediaError

    svc = app[SERVICES]
    current = await run(svc.conversations.get, sender)
    if current is None or current["state"] != "agent" or current["agent"] != agent:
        raise HandoffFailure(409, "conflict", "claim the conversation before replying")
    try:
        info = await run(svc.media.put, data, sender=sender)
    except MediaError as exc:
        raise HandoffFailure(413 if exc.code == "too_large" else 400, exc.code, str(exc)) from exc
    if info.content_type not in REPLY_IMAGE_TYPES:
        raise HandoffFailure(400, "unsupported", "只能发送 JPG 或 PNG 图片。")
    try:
        msg = await run(svc.conversations.reply_image, sender, agent, info.media_id)
    except ConversationError as exc:
        raise HandoffFailure(409, "conflict", str(exc)) from exc
    from backoffice.channels.delivery import deliver_image

    ext = "png" if info.content_type == "image/png" else "jpg"
    if msg["channel"] == "wechat":  # what the store kept: metadata (EXIF, GPS) already stripped
        data, _ctype = await run(svc.media.get, info.media_id)
    delivered = await deliver_image(msg, data, f"reply.{ext}")
    if delivered is not None:
        msg["delivered"] = delivered
    return msg


def business_of(form: str) -> str:
    from backoffice.applications.service import BUSINESS_NAMES

    return BUSINESS_NAMES.get(form.removesuffix("_form"), "刚才的业务")


async def release_conversation(app, sender: str, agent: str, resume_bot: bool = True,
                               notice: str | None = BOT_BACK) -> dict:
    """Hand the conversation back to the bot: it answers again in any case. With resume_bot, a business form
    that was active when the agent claimed it is run again so the bot re-asks its current step (delivered to
    the customer's channel); without, that form is closed and the notice says the bot is back."""
    svc = app[SERVICES]
    current = await run(svc.conversations.get, sender)
    if current is None:
        raise HandoffFailure(404, "not_found", "no such conversation")
    form = await run(svc.kv.get, form_key(sender)) if current["state"] == "agent" else None
    resuming = bool(resume_bot and form)
    if resuming:
        notice = RESUMING.format(business=business_of(form))
    if notice:  # said while the agent still holds it: reply() refuses once released
        try:
            await reply_conversation(app, sender, agent, notice)
        except HandoffFailure:
            pass
    try:
        row = await run(svc.conversations.release, sender, agent)
    except ConversationError as exc:
        raise HandoffFailure(404, "not_found", str(exc)) from exc
    await run(svc.kv.delete, form_key(sender))
    rasa = app[RASA]
    try:
        if resuming:
            # The form's last action was listening for the customer, whose later words went to the agent:
            # mark the form as the latest action so it re-asks its step without validating those words,
            # then listen again as after any bot turn.
            # The handoff closed the form when the customer asked for a human (its slots stay): make it the
            # active loop again without re-activating it, which would re-validate every filled step.
            await rasa.append_events(sender, [{"event": "resume"}, {"event": "active_loop", "name": form},
                                              {"event": "action", "name": form}])
            messages = await rasa.execute(sender, form)
            await rasa.append_events(sender, [{"event": "action", "name": "action_listen"}])
            from backoffice.channels.delivery import deliver_bot_messages

            row["resumed"] = form
            row["delivered"] = await deliver_bot_messages(svc, current, messages)
        elif form:  # not resumed: the business does not wait for an answer any more (if still active)
            await rasa.append_events(sender, [{"event": "resume"}, {"event": "active_loop", "name": None},
                                              {"event": "slot", "name": "requested_slot", "value": None}])
        else:
            await rasa.resume(sender)
    except RasaError as exc:
        raise HandoffFailure(503, "rasa_unavailable", str(exc)) from exc
    return row


@routes.post("/api/conversations/{sender}/claim")
@require("staff")
async def claim(request):
    try:
        row = await claim_conversation(request.app, request.match_info["sender"], request["actor"])
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
        msg = await reply_conversation(request.app, request.match_info["sender"], request["actor"],
                                       body.get("text", ""))
    except HandoffFailure as exc:
        return json_error(exc.status, exc.code, str(exc))
    return web.json_response(msg, status=201)


@routes.post("/api/conversations/{sender}/release")
@require("staff")
async def release(request):
    body = await read_json(request) if request.can_read_body else {}
    try:
        row = await release_conversation(request.app, request.match_info["sender"], request["actor"],
                                         bool(body.get("resume_bot", True)))
    except HandoffFailure as exc:
        return json_error(exc.status, exc.code, str(exc))
    return web.json_response(row)


@routes.post("/api/conversations/{sender}/reply-image")
@require("staff")
async def reply_image(request):
    """The image itself as the body (JPG or PNG), like PUT /api/accounts/{n}/portrait."""
    try:
        msg = await reply_image_conversation(request.app, request.match_info["sender"], request["actor"],
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
