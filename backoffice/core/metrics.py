"""Prometheus metrics of the back-office process (served at /metrics by backoffice/web/metrics.py).

Counters and histograms live in prometheus_client's default registry, one per process: with several
back-office replicas Prometheus scrapes each pod (deploy/k8s annotations) and sums. Labels are names
(routes, gateways, channels), never customer data.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("hall_http_requests_total", "HTTP requests answered by the back-office",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("hall_http_request_seconds", "Back-office request latency", ["route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
SMS_SENT = Counter("hall_sms_sent_total", "SMS handed to the gateway", ["gateway"])
SMS_FAILED = Counter("hall_sms_failed_total", "SMS the gateway refused or failed to take", ["gateway"])
# WeChat / WeCom API errors are counted where the calls are made: connectors/channel_metrics.py
