"""The back-office web application."""
from __future__ import annotations

import logging
import os

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from backoffice.accounts import routes as accounts_routes
from backoffice.agreements import routes as agreements_routes
from backoffice.analytics import routes as analytics_routes
from backoffice.applications.routes import setup as setup_applications
from backoffice.channels import routes as channels_routes
from backoffice.console.analytics import setup as setup_console_analytics
from backoffice.console.face_reviews import setup as setup_console_face_reviews
from backoffice.console.views import setup as setup_console
from backoffice.console.witness import setup as setup_console_witness
from backoffice.core import tracing
from backoffice.core.config import load_settings
from backoffice.core.rasa_client import RasaClient
from backoffice.handoff import routes as handoff_routes
from backoffice.identity import live_routes
from backoffice.identity import routes as identity_routes
from backoffice.maintenance.retention import setup as setup_retention
from backoffice.media import routes as media_routes
from backoffice.otp import routes as otp_routes
from backoffice.services import build_services
from backoffice.web import metrics, openapi, system
from backoffice.web.common import RASA, SERVICES, errors_middleware
from backoffice.witness.routes import setup as setup_witness
from connectors import simulator

PREWARM = web.AppKey("prewarm", object)
MAX_BODY = 12 * 1024 * 1024  # a 10 MB photo plus multipart overhead


TRACE_ID = "hall_trace_id"  # the request's trace id (tracing on), for its access log line


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Access log without query strings: they may carry a phone number (sandbox SMS lookups). With tracing on
    the line ends with the request's trace id: it is written after the request's span has ended, so the log
    filter cannot add it."""

    def log(self, request, response, time):
        trace = request.get(TRACE_ID)
        self.logger.info("%s %s %s %.1fms%s", request.method, request.path, response.status, time * 1000,
                         f" trace_id={trace}" if trace else "")


BOT_API = "/api/bot/"
BOT_LISTENER_PATHS = (BOT_API, "/api/media", "/api/health")


@web.middleware
async def listeners_middleware(request: web.Request, handler):
    """The bot API answers only on its own listener, which only our services can reach; that listener serves
    nothing customers or staff use."""
    port = request.app[SERVICES].settings.bot_api_port
    if port is not None:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        on_bot_listener = bool(sockname) and sockname[1] == port
        if request.path.startswith(BOT_API) != on_bot_listener and not (
                on_bot_listener and request.path.startswith(BOT_LISTENER_PATHS)):
            raise web.HTTPNotFound()
    return await handler(request)


UNTRACED = ("/api/health", "/metrics")  # probes and scrapes: no trace of their own


@web.middleware
async def tracing_middleware(request: web.Request, handler):
    """A server span per request (installed only with tracing on), named by its route template, never the raw
    path (signed-link tokens, account numbers) nor the query string; child of the caller's `traceparent`."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    if route in UNTRACED:
        return await handler(request)
    with tracing.server_span(f"{request.method} {route}", request.headers,
                             {"http.method": request.method, "http.route": route}) as span:
        request[TRACE_ID] = tracing.trace_id()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            tracing.set_http_status(span, exc.status)
            raise
        tracing.set_http_status(span, response.status)
        return response


def create_app(services=None, rasa_client=None) -> web.Application:
    services = services or build_services(load_settings())
    app = web.Application(middlewares=[listeners_middleware, errors_middleware], client_max_size=MAX_BODY)
    app[SERVICES] = services
    app[RASA] = rasa_client or RasaClient(services.settings.rasa_url)
    app.add_routes(system.routes)  # health probe, audit log
    app.add_routes(media_routes.routes)  # uploads, signed media links
    app.add_routes(channels_routes.routes)  # REST client tokens
    app.add_routes(accounts_routes.routes)  # accounts, login, session, privacy page
    app.add_routes(handoff_routes.routes)  # human handoff, outbox
    app.add_routes(openapi.routes)  # GET /api/openapi.json
    app.add_routes(identity_routes.routes)  # ID card, signature, devices, 找回账户
    app.add_routes(live_routes.routes)  # live face check, consent to face data, staff review of doubtful matches
    app.add_routes(otp_routes.routes)  # business confirmation codes, sandbox SMS
    app.add_routes(analytics_routes.routes)  # funnels (staff)
    setup_applications(app)  # applications and their outbox worker
    app.add_routes(agreements_routes.routes)  # agreements, signing, H5 reading pages and PDFs
    setup_witness(app)  # video witness: bot/staff API, customer H5 page and signalling
    if services.settings.demo_allowed("simulator"):  # production: only with HALL_ALLOW_DEMO=simulator
        simulator.setup(app)  # WeChat simulator page + fake WeChat API
    setup_console(app)  # staff console under /console
    setup_console_witness(app)  # its video witness pages (视频见证)
    setup_console_face_reviews(app)  # its face review pages (人脸复核)
    setup_console_analytics(app)  # its funnels page (运营分析)
    setup_retention(app)  # periodic purge of expired personal data
    metrics.setup(app)  # GET /metrics for Prometheus, request counters
    if tracing.enabled():  # outermost: a span per request, around everything else; tracing off: no middleware
        app.middlewares.insert(0, tracing_middleware)

    async def close(_app):
        services.close()

    app.on_cleanup.append(close)
    return app


async def _prewarm_biometrics(_app) -> None:
    """Start the biometrics workers (they load OCR and face models) before the first customer needs them."""
    import asyncio

    from biometrics import pool  # heavy: the biometrics pool only when pre-warm is on

    async def warm():
        try:
            await pool.run(pool.warm_up, timeout=120)
        except Exception as exc:  # the first real job will start the pool again
            logging.getLogger(__name__).warning("biometrics pre-warm failed: %s", exc.__class__.__name__)

    _app[PREWARM] = asyncio.get_running_loop().create_task(warm())


def _listen(host: str, port: int):
    import socket

    sock = socket.create_server((host, port), reuse_port=False)
    sock.set_inheritable(False)
    return sock


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = os.environ.get("BACKOFFICE_HOST", "127.0.0.1")
    tracing.setup(tracing.BACKOFFICE)  # before the app: its middleware, SQL engine and clients are traced
    app = create_app()
    ports = [int(os.environ.get("BACKOFFICE_PORT", "8000"))]
    if app[SERVICES].settings.bot_api_port is not None:
        ports.append(app[SERVICES].settings.bot_api_port)  # the bot API's own listener
    if os.environ.get("BIOMETRICS_PREWARM", "1") == "1":
        app.on_startup.append(_prewarm_biometrics)
    urls = ", ".join(f"http://{host}:{p}" for p in ports)
    web.run_app(app, sock=[_listen(host, p) for p in ports], access_log_class=PathOnlyAccessLogger,
                print=lambda *_: print(f"back-office listening on {urls}", flush=True))


if __name__ == "__main__":
    main()
