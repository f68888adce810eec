"""Shared pieces of the back-office web app: auth, JSON helpers, error middleware."""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging

import redis.exceptions
import sqlalchemy.exc
from aiohttp import web

from backoffice.core.requester import peer_address

log = logging.getLogger("backoffice.web")

# A lost database or Redis connection (restart, failover): the request may be retried, nothing half-written
# stays (each unit of work is one transaction).
DEPENDENCY_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                     redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

SERVICES = web.AppKey("services", object)
RASA = web.AppKey("rasa", object)
MAX_JSON_BYTES = 256 * 1024  # the largest real JSON body (an application payload) is a few KB


def services(request: web.Request):
    return request.app[SERVICES]


async def run(func, *args, **kwargs):
    """Service calls are synchronous SQL/Redis work: keep them off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


def add_periodic(app: web.Application, name: str, interval: float, job, *, wait_first: bool = True) -> None:
    """Run `await job(app)` every `interval` seconds while the app runs (outbox, pause guard, purge).

    A failing round is logged (its error type only) and the next round tries again: a background job never
    takes the app down. Stopped before the services close their database. `wait_first` keeps start-up quick
    for jobs that have nothing urgent to do."""
    key = web.AppKey(f"periodic:{name}", object)

    async def loop() -> None:
        while True:
            if wait_first:
                await asyncio.sleep(interval)
            try:
                await job(app)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s round failed: %s", name, exc.__class__.__name__)
            if not wait_first:
                await asyncio.sleep(interval)

    async def start(_app: web.Application) -> None:
        _app[key] = asyncio.get_running_loop().create_task(loop())

    async def stop(_app: web.Application) -> None:
        task = _app.get(key)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def pdf_response(data: bytes, view: dict) -> web.Response:
    """A signed agreement's PDF (view: its id and SHA-256), shown inline and never cached."""
    return web.Response(body=data, content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="agreement-{view["id"]}.pdf"',
                                 "X-Content-SHA256": view["sha256"], "Cache-Control": "private, no-store",
                                 "X-Content-Type-Options": "nosniff"})


def too_large(limit: int) -> web.Response:
    return json_error(413, "too_large", f"request body too large (limit {limit} bytes)")


async def read_json(request: web.Request) -> dict:
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_JSON_BYTES, request.content_length,
                                            text=json.dumps({"error": "too_large", "message":
                                                             f"JSON body too large (limit {MAX_JSON_BYTES} bytes)"}),
                                            content_type="application/json")
    raw = bytearray()  # chunked bodies have no Content-Length: stop reading past the limit
    while len(raw) <= MAX_JSON_BYTES and (chunk := await request.content.read(MAX_JSON_BYTES + 1 - len(raw))):
        raw += chunk
    if len(raw) > MAX_JSON_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_JSON_BYTES, len(raw),
                                            text=json.dumps({"error": "too_large", "message":
                                                             f"JSON body too large (limit {MAX_JSON_BYTES} bytes)"}),
                                            content_type="application/json")
    try:
        body = json.loads(bytes(raw))
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, RecursionError):
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


def _token_is(request: web.Request, expected: str) -> bool:
    token = _bearer(request) or ""
    return bool(token) and hmac.compare_digest(token.encode(), expected.encode())


def is_service(request: web.Request) -> bool:
    return _token_is(request, services(request).settings.service_token)


def is_staff(request: web.Request) -> bool:
    return _token_is(request, services(request).settings.admin_token)


def client_address(request: web.Request) -> str:
    """The customer's address (through HALL_PROXIES_COUNT trusted proxies; backoffice/core/requester.py)."""
    proxies = services(request).settings.proxies_count
    return peer_address(request.remote, request.headers.get("X-Forwarded-For"), proxies)


def _ip_bucket(request: web.Request) -> tuple[str, int] | None:
    """What customers reach without a token is limited per client IP (the channels carry the service token)."""
    if request.method != "POST":
        return None
    settings = services(request).settings
    if request.path == "/api/media" and not is_service(request):
        return "media", settings.ip_media_per_hour
    if request.path.startswith("/h5/"):
        return "h5", settings.ip_h5_posts_per_hour
    return None


@web.middleware
async def errors_middleware(request: web.Request, handler):
    try:
        bucket = _ip_bucket(request)
        if bucket is not None:
            key = f"ip:{bucket[0]}:{client_address(request)}"
            if await run(services(request).kv.incr, key, 3600) > bucket[1]:
                if request.path.startswith("/api"):
                    return json_error(429, "rate_limited", "请求过于频繁，请稍后再试。")
                return web.Response(status=429, text="请求过于频繁，请稍后再试。", content_type="text/plain",
                                    charset="utf-8")
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 413 and exc.content_type != "application/json" and request.path.startswith("/api"):
            return json_error(413, "too_large", f"request body too large (limit {request.app._client_max_size} bytes)")
        if exc.status >= 400 and exc.content_type != "application/json" and request.path.startswith("/api"):
            return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        raise
    except DEPENDENCY_ERRORS as exc:  # database or Redis unreachable: a quick, retryable answer
        log.error("dependency unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
        return json_error(503, "unavailable", "系统繁忙，请稍后再试")
    except Exception:  # never a stack trace to the client; the log keeps the type, not the payload
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal", "internal error")
