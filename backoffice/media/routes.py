"""The media store over HTTP: uploads from channels and testers (`POST /api/media`) and a customer's own
files through signed, expiring links (`GET /h5/media/{token}`)."""
from __future__ import annotations

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from backoffice.channels import client_tokens
from backoffice.channels.senders import BadSender, channel_of, conversation_id
from backoffice.media.store import MediaError
from backoffice.web.common import is_service, json_error, run, services, too_large

routes = web.RouteTableDef()


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


@routes.get("/h5/media/{token}")
async def media_preview(request):
    """A customer's own preview (e.g. the cleaned signature), only through a signed, expiring link."""
    svc = services(request)
    payload = svc.links.verify(request.match_info["token"])
    if not payload or "m" not in payload:
        return web.Response(status=404, text="链接已失效")
    try:
        data, ctype = await run(svc.media.get, payload["m"])
    except MediaError:
        return web.Response(status=404, text="链接已失效")
    return web.Response(body=data, content_type=ctype, headers={"Cache-Control": "private, max-age=600",
                                                                "X-Content-Type-Options": "nosniff"})
