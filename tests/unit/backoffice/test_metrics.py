"""GET /metrics: Prometheus text with the back-office's counters and the values read at scrape time."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families


def _samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics(client, services):
    services.conversations.request_human("rest:m1", channel="rest", reason="customer_request", account_number=None)
    before = _samples(await (await client.get("/metrics")).text())
    sent = before.get(("hall_sms_sent_total", (("gateway", "sandbox"),)), 0)
    services.sms.send("13800000001", "【金信期货】测试")
    assert (await client.get("/api/health")).status == 200
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    now = _samples(await resp.text())
    assert now[("hall_sms_sent_total", (("gateway", "sandbox"),))] == sent + 1
    health = ("hall_http_requests_total", (("method", "GET"), ("route", "/api/health"), ("status", "200")))
    assert now.get(health, 0) >= before.get(health, 0) + 1, [k for k in now if k[0].startswith("hall_http")]
    assert now[("hall_handoff_queue_length", (("state", "waiting"),))] == 1
    assert ("hall_biometrics_pending_jobs", ()) in now
    assert ("hall_wecom_sent_total", ()) in now
    assert "13800000001" not in await resp.text()


@pytest.fixture
def metrics_token(services):
    services.settings.metrics_token = "scrape-secret"
    yield "scrape-secret"
    services.settings.metrics_token = None


async def test_metrics_token(client, metrics_token):
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 401
    assert (await client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})).status == 200
