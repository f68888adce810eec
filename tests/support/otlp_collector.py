"""A fake OpenTelemetry collector for tests: OTLP/HTTP `POST /v1/traces` (protobuf, gzip or not) on a free
loopback port, in a thread; the spans it received as plain dicts.

    with OtlpCollector() as collector:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
        ...
        spans = collector.wait_for(lambda spans: any(s["name"] == "..." for s in spans))
"""
from __future__ import annotations

import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(any_value, kind)
    if kind == "array_value":
        return [_value(v) for v in value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.values}
    return value


def _attributes(pairs) -> dict:
    return {kv.key: _value(kv.value) for kv in pairs}


def decode(body: bytes) -> list[dict]:
    """An ExportTraceServiceRequest's spans, each with its service's name."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "service": resource.get("service.name"),
                    "resource": resource,
                    "scope": scope_spans.scope.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                    "attributes": _attributes(span.attributes),
                    "events": [{"name": e.name, "attributes": _attributes(e.attributes)} for e in span.events],
                    "links": [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                               "attributes": _attributes(link.attributes)} for link in span.links],
                    "status": span.status.code,
                })
    return spans


class OtlpCollector:
    def __init__(self, max_spans: int = 200_000):
        self.max_spans = max_spans  # a whole e2e session's spans, the oldest dropped beyond
        self.spans: list[dict] = []
        self.requests = 0
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    spans = decode(body)
                except Exception:  # not an OTLP request: tell the sender
                    self.send_response(400)
                    self.end_headers()
                    return
                with collector._lock:
                    collector.spans.extend(spans)
                    del collector.spans[:-collector.max_spans]
                    collector.requests += 1
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-collector", daemon=True)

    @property
    def endpoint(self) -> str:
        """The value of OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "OtlpCollector":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "OtlpCollector":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.spans)

    def wait_for(self, predicate, timeout: float = 20.0, interval: float = 0.2) -> list[dict]:
        """The spans received once `predicate(spans)` holds (the last snapshot when it never does)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.snapshot()
            if predicate(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(interval)


def descendants(spans: list[dict], top: dict) -> list[dict]:
    """Every span below `top` in `spans` (children, their children, ...), nearest first."""
    found, frontier = [], [top]
    while frontier:
        ids = {p["span_id"] for p in frontier}
        frontier = [s for s in spans if s["parent_span_id"] in ids]
        found += frontier
    return found
