"""Prometheus metrics of the channels, in whichever process talks to WeChat / 微信客服: the Rasa server (customer
messages, bot replies, media downloads, the 微信客服 pull) and the back-office (staff replies).

* hall_channel_api_errors_total{channel,call} — a WeChat / WeCom API call that failed for good (after WeCom's
  retries): counted where the call is made (connectors/wechat_api.py, connectors/wecom_api.py), so each failure
  counts once whichever process made it;
* hall_channel_messages_total{channel} — customer messages a connector handed to the bot;
* hall_channel_refused_total{channel,reason} — messages answered before NLU (connectors/guard.py: too long,
  throttled) or refused (a sender id that cannot be a conversation's);
* hall_wecom_<field>_total — the 微信客服 channel's counters (connectors/wecom_metrics.py), read at scrape time.

Labels are channel and call names, never customer data. The Rasa server serves them at GET /metrics
(connectors/metrics_endpoint.py, listed in credentials.yml; the ingress routes only /webhooks to Rasa); the back-office
serves its own at /metrics (backoffice/web/metrics.py).
"""
from __future__ import annotations

import hmac
import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connectors.wecom_metrics import METRICS as WECOM

API_ERRORS = Counter("hall_channel_api_errors_total", "WeChat / WeCom API calls that failed", ["channel", "call"])
MESSAGES = Counter("hall_channel_messages_total", "Customer messages handed to the bot", ["channel"])
REFUSED = Counter("hall_channel_refused_total", "Customer messages answered before NLU or refused",
                  ["channel", "reason"])


def api_error(channel: str, call: str) -> None:
    API_ERRORS.labels(channel, str(call)[:48]).inc()


class WeComCollector:
    """This process's 微信客服 counters, read when Prometheus scrapes."""

    def collect(self):
        for field, value in WECOM.snapshot().items():
            yield CounterMetricFamily(f"hall_wecom_{field}", f"微信客服 channel: {field}", value=value)

    def describe(self):
        for field in WECOM.snapshot():
            yield CounterMetricFamily(f"hall_wecom_{field}", "")


_collector: list[WeComCollector] = []


def register_wecom_collector() -> None:
    """Once per process (the back-office and the Rasa server both export the 微信客服 counters they keep)."""
    if not _collector:
        _collector.append(WeComCollector())
        REGISTRY.register(_collector[0])


def exposition() -> bytes:
    """The text Prometheus reads; with PROMETHEUS_MULTIPROC_DIR (several Sanic workers) the workers' sum."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess  # only in multiprocess mode

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def authorised(header: str, token: str | None) -> bool:
    """A scrape of /metrics (Rasa server and back-office alike): with a token (HALL_METRICS_TOKEN) set, it must carry
    `Authorization: Bearer <token>`."""
    return not token or hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
