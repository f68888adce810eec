"""OpenTelemetry tracing of a turn across the three processes: channel (Rasa) → action server → back-office →
SQL / Redis / biometrics pool, W3C trace context (`traceparent`) over the HTTP hops, exported with OTLP/HTTP.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and off costs nothing: this module imports no opentelemetry
module until `setup()` finds the endpoint, `setup()` is then the only thing that runs, no middleware is
installed and the helpers return a shared no-op context (`OFF`). On, each process calls `setup(<service>)`
once (`hall-rasa` from the channels, `hall-actions` from bot/action_server.py, `hall-backoffice` from
backoffice/web/app.py); it installs:

* the SDK's tracer provider with a batch processor and the OTLP/HTTP exporter (the standard `OTEL_*`
  variables apply: `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS` ...);
* the aiohttp client instrumentation: a client span per request and `traceparent` injected into its headers
  (Rasa → action server, action server → back-office, the back-office's own calls), URLs through `client_url`;
* Redis spans of our own (redis-py's command methods wrapped; the command name only, never keys or values) and,
  per engine (`instrument_engine`), SQL spans with the statement's text only, never its bound values; both
  only below a span of a request or turn, so periodic jobs (outbox workers, event-log writer) make no traces;
* `TraceIdFilter` on every log record: a record logged inside a span ends with ` trace_id=<32 hex>`.

Span attributes are names, routes, statuses and sizes: never phone or ID numbers, codes, account numbers,
message texts, tokens or media (tests/unit/backoffice/test_tracing.py, tests/e2e/test_tracing.py).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
RASA, ACTIONS, BACKOFFICE = "hall-rasa", "hall-actions", "hall-backoffice"
OFF = contextlib.nullcontext()  # what every helper returns while tracing is off (reusable, does nothing)
MAX_STATEMENT = 2000  # characters of a SQL statement kept on its span

log = logging.getLogger("hall.tracing")
_lock = threading.Lock()
_tracer = None  # the process's tracer once setup() turned tracing on
_service: str | None = None
_api = None  # opentelemetry.trace, once on
_propagate = None  # opentelemetry.propagate, once on


def requested() -> bool:
    """The environment asks for tracing (an OTLP endpoint is set)."""
    return bool(os.environ.get(ENDPOINT_ENV, "").strip())


def enabled() -> bool:
    return _tracer is not None


def service() -> str | None:
    return _service


def setup(service_name: str) -> bool:
    """Turn tracing on for this process when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; whether it is on. Idempotent:
    the first call names the process's service, later calls change nothing."""
    global _tracer, _service, _api, _propagate
    if _tracer is not None:
        return True
    if not requested():
        return False
    with _lock:
        if _tracer is not None:
            return True
        # Imported only here: with tracing off no opentelemetry module is loaded at all.
        from opentelemetry import propagate, trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({
            "service.name": service_name, "deployment.environment": os.environ.get("HALL_ENV", "development")}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _api, _propagate = trace, propagate
        AioHttpClientInstrumentor().instrument(tracer_provider=provider, url_filter=client_url)
        _instrument_redis()
        _install_log_filter()
        _service = service_name
        _tracer = provider.get_tracer("hall")
    log.info("tracing on: %s exports to %s", service_name, client_url(os.environ[ENDPOINT_ENV].strip()))
    return True


# --- spans ------------------------------------------------------------------------------------------------------
def _kind(kind: str):
    return getattr(_api.SpanKind, kind.upper())


@contextlib.contextmanager
def _span(name: str, kind: str, parent, attributes: Mapping[str, Any] | None, links=None) -> Iterator[Any]:
    # record_exception=False: an exception's message may hold customer data; its type name is enough
    with _tracer.start_as_current_span(name, context=parent, kind=_kind(kind), attributes=_clean(attributes),
                                       links=links, record_exception=False,
                                       set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            if not isinstance(exc, (GeneratorExit,)):
                fail(current, exc)
            raise


def server_span(name: str, headers: Mapping[str, str] | None = None, attributes: Mapping[str, Any] | None = None,
                kind: str = "server"):
    """A span for an incoming request, child of the caller's span when its headers carry `traceparent`
    (a root otherwise). Used as `with server_span(...) as span:`; `span` is None while tracing is off."""
    if _tracer is None:
        return OFF
    parent = _propagate.extract(headers) if headers else None
    return _span(name, kind, parent, attributes)


def root_span(name: str, attributes: Mapping[str, Any] | None = None, kind: str = "consumer"):
    """A new trace for work that no request carries (a pulled 微信客服 message), linked to the span that is
    current (the callback that triggered the pull), if any."""
    if _tracer is None:
        return OFF
    from opentelemetry.context import Context  # loaded with the SDK in setup(): tracing is on here

    current = _api.get_current_span().get_span_context()
    links = [_api.Link(current)] if current.is_valid else None
    return _span(name, kind, Context(), attributes, links)


def span(name: str, attributes: Mapping[str, Any] | None = None, kind: str = "internal"):
    """A child span of the current one (no span, `OFF`, while tracing is off)."""
    if _tracer is None:
        return OFF
    return _span(name, kind, None, attributes)


def in_span() -> bool:
    """A recording span is current (SQL and Redis spans are made only then)."""
    return _tracer is not None and _api.get_current_span().is_recording()


def set_attributes(current, attributes: Mapping[str, Any]) -> None:
    if current is not None:
        current.set_attributes(_clean(attributes))


def set_http_status(current, status: int) -> None:
    """The answer's status on a server span; 5xx marks it failed."""
    if current is None:
        return
    current.set_attribute("http.status_code", int(status))
    if status >= 500:
        from opentelemetry.trace import Status, StatusCode  # loaded with the SDK in setup(): tracing is on here

        current.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


def fail(current, exc: BaseException) -> None:
    """Mark a span failed by an exception: its type only, never its message (it may quote customer data)."""
    if current is None:
        return
    from opentelemetry.trace import Status, StatusCode  # loaded with the SDK in setup(): tracing is on here

    current.set_attribute("error.type", type(exc).__qualname__)
    current.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))


def trace_id() -> str | None:
    """The current span's trace id as 32 hex digits, None outside a span (or with tracing off)."""
    if _tracer is None:
        return None
    context = _api.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def inject(headers: dict) -> dict:
    """`traceparent` (and `tracestate`) of the current span added to `headers` (nothing while tracing is off)."""
    if _tracer is not None:
        _propagate.inject(headers)
    return headers


def _clean(attributes: Mapping[str, Any] | None) -> dict | None:
    if not attributes:
        return None
    return {k: v for k, v in attributes.items() if v is not None}


# --- what an attribute may hold ------------------------------------------------------------------------------
_SECRETISH = re.compile(r"\d{4,}|[A-Za-z0-9_\-]{20,}|\.")


def client_url(url) -> str:
    """A URL as it may appear on a span: no user info, query string or fragment (access tokens, phone numbers
    in sandbox look-ups), and a path segment that could be a number, code or token (4+ digits, 20+ token
    characters, a dot as in our signed links) becomes `{}`."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = "/".join("{}" if _SECRETISH.search(seg) else seg for seg in parts.path.split("/"))
    return urlunsplit((parts.scheme, host, path, "", ""))


_OPERATION = re.compile(r"\s*(\w+)")


def sql_operation(statement: str) -> str:
    match = _OPERATION.match(statement or "")
    return match.group(1).upper() if match else "SQL"


# --- SQL ------------------------------------------------------------------------------------------------------
def instrument_engine(engine) -> None:
    """SQL spans for an engine's statements (text only: SQLAlchemy sends values as bound parameters, which are
    never recorded). Nothing is attached while tracing is off."""
    if _tracer is None or getattr(engine, "_hall_traced", False):
        return
    from sqlalchemy import event  # the engine's own library

    url = engine.url
    base = {"db.system": url.get_backend_name(), "db.name": url.database if url.get_backend_name() != "sqlite"
            else os.path.basename(url.database or "") or ":memory:", "net.peer.name": url.host, "net.peer.port": url.port}

    @event.listens_for(engine, "before_cursor_execute")
    def started(_conn, _cursor, statement, _parameters, context, _executemany):
        if context is None or not in_span():
            return
        operation = sql_operation(statement)
        current = _tracer.start_span(f"{operation} {base['db.name']}", kind=_kind("client"), attributes=_clean({
            **base, "db.operation": operation, "db.statement": statement[:MAX_STATEMENT]}))
        context._hall_span = current

    @event.listens_for(engine, "after_cursor_execute")
    def finished(_conn, _cursor, _statement, _parameters, context, _executemany):
        current = getattr(context, "_hall_span", None)
        if current is not None:
            context._hall_span = None
            current.end()

    @event.listens_for(engine, "handle_error")
    def failed(exception_context):
        context = exception_context.execution_context
        current = getattr(context, "_hall_span", None)
        if current is not None:
            context._hall_span = None
            fail(current, exception_context.original_exception)
            current.end()

    engine._hall_traced = True


# --- Redis ----------------------------------------------------------------------------------------------------
def _redis_attributes(client, operation: str) -> dict:
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    return _clean({"db.system": "redis", "db.operation": operation, "net.peer.name": kwargs.get("host"),
                   "net.peer.port": kwargs.get("port"), "db.redis.database_index": kwargs.get("db")})


def _command_name(args) -> str:
    name = args[0] if args else "?"
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    return str(name).split(" ")[0].upper()[:32]


def _pipeline_attributes(pipeline) -> dict:
    names = [_command_name(args) for args, _options in getattr(pipeline, "command_stack", [])]
    return {**_redis_attributes(pipeline, "PIPELINE"), "db.redis.commands": " ".join(names[:20]),
            "db.redis.pipeline_length": len(names)}


def _instrument_redis() -> None:
    """Wrap redis-py's command methods (sync and asyncio, single commands and pipelines): one client span per
    command or pipeline with its command names; never a key, a value or a script's arguments."""
    try:
        import redis.asyncio.client as async_client  # the library whose calls we trace
        import redis.client as sync_client
    except ImportError:  # pragma: no cover - redis is a dependency of every process
        return

    def sync_wrap(method, describe):
        @functools.wraps(method)
        def traced(self, *args, **kwargs):
            if not in_span():
                return method(self, *args, **kwargs)
            name, attributes = describe(self, args)
            with _span(name, "client", None, attributes):
                return method(self, *args, **kwargs)
        traced._hall_traced = True
        return traced

    def async_wrap(method, describe):
        @functools.wraps(method)
        async def traced(self, *args, **kwargs):
            if not in_span():
                return await method(self, *args, **kwargs)
            name, attributes = describe(self, args)
            with _span(name, "client", None, attributes):
                return await method(self, *args, **kwargs)
        traced._hall_traced = True
        return traced

    def command(client, args):
        name = _command_name(args)
        return name, _redis_attributes(client, name)

    def pipeline(client, _args):
        return "PIPELINE", _pipeline_attributes(client)

    for module, wrap in ((sync_client, sync_wrap), (async_client, async_wrap)):
        for cls, method, describe in ((module.Redis, "execute_command", command),
                                      (module.Pipeline, "execute", pipeline)):
            current = getattr(cls, method)
            if not getattr(current, "_hall_traced", False):
                setattr(cls, method, wrap(current, describe))


# --- logs -----------------------------------------------------------------------------------------------------
class TraceIdFilter(logging.Filter):
    """A record logged inside a span gets `record.trace_id` and ` trace_id=<32 hex>` at the end of its message
    (so every handler's format shows it: Rasa's, Sanic's, the back-office's). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            current = trace_id()
            record.trace_id = current or ""
            if current:
                record.msg = f"{record.msg} trace_id={current}"
        return True


def _install_log_filter() -> None:
    """On every record of the process, whichever logger or handler (set up before or after this): through the
    record factory rather than on handlers that Rasa and Sanic create later."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_hall_trace", False):
        return
    stamp = TraceIdFilter()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        stamp.filter(record)
        return record

    factory._hall_trace = True
    logging.setLogRecordFactory(factory)


def elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
