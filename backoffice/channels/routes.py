"""REST client tokens for app backends (backoffice/channels/client_tokens.py)."""
from __future__ import annotations

from aiohttp import web

from backoffice.channels import client_tokens
from backoffice.channels.senders import BadSender, conversation_id
from backoffice.web.common import json_error, read_json, require, run, services

routes = web.RouteTableDef()


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
