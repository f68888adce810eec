"""What every action-server route shares: a POST with the service token whose JSON body names the conversation
(`sender`). The account, when a route needs one, always comes from that sender's login session, never from
the body, so one conversation cannot act on another customer's account."""
from __future__ import annotations

import inspect
import json
from operator import attrgetter

from aiohttp import web

from backoffice.channels.senders import BadSender, channel_of
from backoffice.core.requester import set_client_ip
from backoffice.web.common import read_json, require, run, services


def _bad(error: str, message: str, status: type[web.HTTPException]) -> web.HTTPException:
    return status(text=json.dumps({"error": error, "message": message}, ensure_ascii=False),
                  content_type="application/json")


def sender_of(body: dict) -> str:
    """The conversation id as the channel made it (backoffice/channels/senders.py), never repaired: a sender
    that is not a canonical id of some channel is refused."""
    sender = body.get("sender")
    try:
        channel_of(sender)
    except BadSender:
        raise _bad("bad_request", "sender must be a conversation id", web.HTTPBadRequest) from None
    return sender


async def bot_request(request: web.Request) -> tuple[dict, str]:
    body = await read_json(request)
    sender = sender_of(body)
    set_client_ip(body.get("client_ip"))  # the customer's address as the REST channel saw it, for per-IP limits
    return body, sender


async def session_account(request: web.Request, sender: str) -> str | None:
    session = await run(services(request).login.session, sender)
    return session["account_number"] if session else None


async def logged_in_customer(request: web.Request) -> tuple[dict, str, str]:
    """Body, sender and account of a logged-in customer; 403 otherwise."""
    body, sender = await bot_request(request)
    account = await session_account(request, sender)
    if account is None:
        raise _bad("not_logged_in", "请先登录掌厅。", web.HTTPForbidden)
    return body, sender, account


def bot_call(routes: web.RouteTableDef, path: str, target: str, *fields: str) -> None:
    """POST `path` → `services.<target>(sender, *fields)`, the named body fields passed as strings; the answer
    as JSON (result objects through their to_dict()). Synchronous service calls run in the thread pool."""

    @routes.post(path)
    @require("service")
    async def handler(request: web.Request):
        body, sender = await bot_request(request)
        call = attrgetter(target)(services(request))
        args = [str(body.get(field) or "") for field in fields]
        result = await call(sender, *args) if inspect.iscoroutinefunction(call) else await run(call, sender, *args)
        return web.json_response(result.to_dict() if hasattr(result, "to_dict") else result)

    handler.__name__ = handler.__qualname__ = target.replace(".", "_")
