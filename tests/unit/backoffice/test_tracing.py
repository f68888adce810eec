"""Tracing (backoffice/core/tracing.py): off costs nothing and loads nothing; on, a turn's spans reach an OTLP
collector with intact parent links, the trace context crosses an HTTP hop, log lines carry the trace id, and no
attribute holds the customer's data. Each side runs in a fresh interpreter (tracing_child.py): tracing is
process-wide."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from backoffice.core import tracing
from tests.support.otlp_collector import OtlpCollector, descendants
from tests.support.stack import ROOT
from tests.unit.backoffice.tracing_child import CALLER_SPAN, CALLER_TRACE, CUSTOMER, SIGNED_TOKEN


def _child(mode: str, tmp_path, endpoint: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT)
    if endpoint:
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_BSP_SCHEDULE_DELAY="50")
    proc = subprocess.run([sys.executable, "-m", "tests.unit.backoffice.tracing_child", mode, str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_off_imports_nothing_and_installs_nothing(tmp_path):
    facts = _child("off", tmp_path, None)
    assert facts["setup"] == [False, False, False]
    assert facts["channel_handler_unchanged"] and facts["rest_handlers_wrapped"] == []
    assert facts["action_middlewares"] == 0
    assert not facts["backoffice_traced"] and not facts["engine_traced"]
    assert not facts["redis_wrapped"] and not facts["aiohttp_wrapped"] and facts["record_factory_kept"]
    assert all(facts["span_helpers"])
    assert facts["otel_modules"] == []


@pytest.fixture(scope="module")
def traced_turn(tmp_path_factory):
    with OtlpCollector() as collector:
        facts = _child("on", tmp_path_factory.mktemp("tracing"), collector.endpoint)
        spans = collector.wait_for(lambda s: any(x["name"].startswith("biometrics") for x in s), timeout=10)
    return facts, spans


def test_a_turn_is_one_trace_continued_from_the_caller(traced_turn):
    facts, spans = traced_turn
    assert facts["setup"] == [True, True] and facts["service"] == tracing.BACKOFFICE  # idempotent, first name kept
    assert facts["backoffice_traced"]
    assert facts["login_start"]["status"] == "sent" and facts["login_verify"]["status"] == "ok"
    assert facts["trace_id"] == CALLER_TRACE
    assert facts["injected"]["traceparent"].startswith(f"00-{CALLER_TRACE}-")
    (root,) = [s for s in spans if s["name"] == "POST /webhooks/rest/webhook"]
    assert root["kind"] == "server" and root["parent_span_id"] == CALLER_SPAN
    assert {s["service"] for s in spans} == {tracing.BACKOFFICE}
    # the HTTP hop: client span (ours) → server span of the back-office by route, via traceparent
    servers = {s["name"]: s for s in spans if s["kind"] == "server" and s is not root}
    assert {"POST /api/accounts", "POST /api/bot/login/start", "GET /api/sandbox/sms", "POST /api/bot/login/verify",
            "GET /h5/media/{token}"} <= set(servers)
    for server in servers.values():
        (client,) = [s for s in spans if s["span_id"] == server["parent_span_id"]]
        assert client["kind"] == "client" and client["parent_span_id"] == root["span_id"]
        assert server["attributes"]["http.status_code"] > 0
    start = servers["POST /api/bot/login/start"]
    below = descendants(spans, start)
    assert any(s["attributes"].get("db.system") == "sqlite" for s in below)
    assert any(s["attributes"].get("db.system") == "redis" for s in below)
    (bio,) = [s for s in spans if s["name"] == "biometrics fake_job"]
    assert bio["parent_span_id"] == root["span_id"] and bio["attributes"]["biometrics.job"] == "fake_job"
    # a pulled message starts a trace of its own, linked to the span that triggered the pull
    (pulled,) = [s for s in spans if s["name"] == "wecom message"]
    assert pulled["kind"] == "consumer" and pulled["parent_span_id"] is None
    assert pulled["trace_id"] == facts["pulled_trace_id"] != CALLER_TRACE
    assert pulled["links"] == [{"trace_id": CALLER_TRACE, "span_id": root["span_id"], "attributes": {}}]
    # nothing outside the turn: SQL and Redis make spans only inside one
    assert all(s["trace_id"] == CALLER_TRACE for s in spans if "db.system" in s["attributes"])


def test_logs_carry_the_trace_id_inside_a_span_only(traced_turn):
    facts, _spans = traced_turn
    assert facts["logs"][0] == f"inside a span trace_id={CALLER_TRACE}"
    assert facts["logs"][-1] == "outside any span"


def test_no_attribute_holds_customer_data(traced_turn):
    facts, spans = traced_turn
    secrets = [CUSTOMER["phone"], CUSTOMER["account_number"], CUSTOMER["id_number"], CUSTOMER["name"],
               facts["code"], SIGNED_TOKEN, "photo bytes"]
    for s in spans:
        text = json.dumps([s["name"], s["attributes"], s["events"], s["resource"]], ensure_ascii=False)
        assert not [x for x in secrets if x in text], (s["name"], s["attributes"])
    sms = [s for s in spans if s["kind"] == "client" and "sandbox" in str(s["attributes"].get("http.url"))]
    assert sms and "?" not in sms[0]["attributes"]["http.url"]
    statements = [s["attributes"]["db.statement"] for s in spans if "db.statement" in s["attributes"]]
    assert statements and all("?" in x or "%(" in x or not any(c.isdigit() for c in x) for x in statements
                              if x.upper().startswith(("INSERT", "UPDATE")))


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:5055/webhook", "http://127.0.0.1:5055/webhook"),
    ("https://user:pw@api.weixin.qq.com/cgi-bin/message/custom/send?access_token=SECRET",
     "https://api.weixin.qq.com/cgi-bin/message/custom/send"),
    ("http://h:8000/api/sandbox/sms?phone=13800000001#x", "http://h:8000/api/sandbox/sms"),
    ("http://h:8000/api/accounts/80010001", "http://h:8000/api/accounts/{}"),
    (f"http://h/h5/media/{SIGNED_TOKEN}", "http://h/h5/media/{}"),
    ("http://h/api/conversations/rest:abcdefghijklmnopqrstuvwxyz/outbox", "http://h/api/conversations/{}/outbox"),
])
def test_client_urls_lose_queries_credentials_and_secret_looking_segments(url, expected):
    assert tracing.client_url(url) == expected


def test_sql_operation():
    assert tracing.sql_operation("  select * from accounts where id = ?") == "SELECT"
    assert tracing.sql_operation("") == "SQL"


def test_helpers_and_log_filter_do_nothing_while_off():
    assert not tracing.enabled() or os.environ.get(tracing.ENDPOINT_ENV)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    assert tracing.TraceIdFilter().filter(record) and record.getMessage() == "hello you"
    assert record.trace_id == ""
    with tracing.span("x") as current:
        assert current is None
    tracing.set_http_status(None, 500)
    tracing.set_attributes(None, {"a": 1})


def test_the_access_log_has_no_query_string_and_the_trace_id_when_there_is_one(caplog):
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from backoffice.web.app import TRACE_ID, PathOnlyAccessLogger

    access = PathOnlyAccessLogger(logging.getLogger("test.access"), "")
    request = make_mocked_request("GET", "/api/sandbox/sms?phone=13800000001")
    with caplog.at_level(logging.INFO, logger="test.access"):
        access.log(request, web.Response(status=200), 0.0123)
        request[TRACE_ID] = CALLER_TRACE
        access.log(request, web.Response(status=201), 0.5)
    assert caplog.messages == ["GET /api/sandbox/sms 200 12.3ms",
                               f"GET /api/sandbox/sms 201 500.0ms trace_id={CALLER_TRACE}"]
