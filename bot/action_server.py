"""The action server (rasa_sdk) that only Rasa may call.

rasa_sdk runs whatever tracker it is sent, and every action speaks to the back-office with the service token:
anyone who reaches port 5055 could otherwise act as any customer. Rasa sends the token of the action endpoint
as a header (`scripts/rasa_endpoints.py` writes it into the endpoints file); every other request to
`/webhook` is refused with 401. `/health` stays open for probes, `/metrics` for Prometheus (bot/action_metrics.py).

The token is `HALL_ACTION_TOKEN` (required in production), in development generated once into
var/action_token. Run: `python -m bot.action_server --port 5055` (the same options as `python -m rasa_sdk`).
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets
import sys
import time
from pathlib import Path

from backoffice.core import tracing
from bot.action_metrics import action_of, instrument

HEADER = "X-Hall-Action-Token"
ROOT = Path(__file__).resolve().parents[1]

log = logging.getLogger(__name__)


def action_token() -> str:
    value = os.environ.get("HALL_ACTION_TOKEN")
    if value:
        return value
    if os.environ.get("HALL_ENV", "development") == "production":
        raise RuntimeError("HALL_ACTION_TOKEN must be set in production")
    path = Path(os.environ.get("HALL_VAR_DIR", ROOT / "var")) / "action_token"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def protect(app, token: str) -> None:
    """Refuse every call of an action that does not carry the token."""
    from sanic import response

    expected = token.encode()

    @app.middleware("request")
    async def check_token(request):
        if request.path.rstrip("/") in ("/health", "/metrics"):  # probes and Prometheus: no action runs
            return None
        given = (request.headers.get(HEADER) or "").encode()
        if not given or not hmac.compare_digest(given, expected):
            return response.json({"error": "unauthorized"}, status=401)
        return None


UNTRACED = ("/health", "/metrics")  # probes and scrapes: no span


def action_name(request) -> str:
    """The action Rasa asks for, named as the metrics name it (bot/action_metrics.action_of)."""
    try:
        return action_of(request.json or {})
    except Exception:  # a body that is not JSON: rasa_sdk answers it; the span only lacks the name
        return "unknown"


def trace_calls(app) -> None:
    """A server span per action call, child of Rasa's client span (its `traceparent`), and one log line with the
    trace id. Installed only when tracing is on (backoffice/core/tracing.py); register it before the other
    middlewares so that it opens first and closes last (a refused token is inside the span too)."""
    if not tracing.enabled():
        return

    @app.middleware("request")
    async def open_span(request):
        if request.path.rstrip("/") in UNTRACED:
            return None
        action = action_name(request)
        manager = tracing.server_span(f"action {action}", request.headers, {
            "http.method": request.method, "http.route": request.path, "hall.action": action})
        request.ctx.hall_span = (manager, manager.__enter__(), action, time.monotonic())
        return None

    @app.middleware("response")
    async def close_span(request, response):
        held = getattr(request.ctx, "hall_span", None)
        if held is None:
            return
        manager, span, action, started = held
        request.ctx.hall_span = None
        status = response.status if response is not None else 500
        tracing.set_http_status(span, status)
        log.info("action %s answered %s in %.1f ms", action, status, tracing.elapsed_ms(started))  # with its trace id
        manager.__exit__(None, None, None)


def main(argv=None) -> None:
    from rasa_sdk import utils
    from rasa_sdk.endpoint import create_app, create_argument_parser

    args = create_argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    tracing.setup(tracing.ACTIONS)  # on only with OTEL_EXPORTER_OTLP_ENDPOINT; before the back-office client exists
    app = create_app(args.actions, cors_origins=args.cors, auto_reload=args.auto_reload)
    trace_calls(app)  # first: its span holds the token check and the action
    protect(app, action_token())
    instrument(app)  # Prometheus counters and /metrics
    host = os.environ.get("SANIC_HOST", "127.0.0.1")
    log.info("action server on http://%s:%s (token required)", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    sys.exit(main())
