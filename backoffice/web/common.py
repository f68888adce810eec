"""Shared pieces of the back-office web app: auth, JSON helpers, error middleware."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web

log = logging.getLogger("backoffice.web")

SERVICES = web.AppKey("services", object)
RASA = web.AppKey("rasa", object)


def services(request: web.Request):
    return request.app[SERVICES]


async def run(func, *args, **kwargs):
    """Service calls are synchronous SQL/Redis work: keep them off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def read_json(request: web.Request) -> dict:
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "bad_json", "message": "body must be JSON"}),
                                 content_type="application/json")
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "bad_json", "message": "body must be an object"}),
                                 content_type="application/json")
    return body


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


def require(role: str):
    """Decorator: the bearer token must be the admin token (staff API) or the service token (bot API)."""

    def wrap(handler):
        async def guarded(request: web.Request):
            settings = services(request).settings
            token = _bearer(request) or ""
            expected = settings.admin_token if role == "staff" else settings.service_token
            if not token or not hmac.compare_digest(token.encode(), expected.encode()):
                return json_error(401, "unauthorized", "a valid bearer token is required")
            request["actor"] = "admin" if role == "staff" else "bot"
            return await handler(request)

        guarded.__name__ = handler.__name__
        return guarded

    return wrap


@web.middleware
async def errors_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json" and request.path.startswith("/api"):
            return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        raise
    except Exception:  # never a stack trace to the client; the log keeps the type, not the payload
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal", "internal error")
