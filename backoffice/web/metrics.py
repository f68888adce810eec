"""GET /metrics for Prometheus: the back-office's own counters (backoffice/core/metrics.py: requests, SMS,
WeChat/WeCom API errors, connectors/channel_metrics.py), the biometrics pool (jobs, latency, refusals, queue), the handoff queue and the
微信客服 channel's counters, read at scrape time.

The public port serves it (CONTRACTS); the ingress routes `/` there, so with HALL_METRICS_TOKEN set a scrape
must carry `Authorization: Bearer <token>` (production: set it and give Prometheus the token).
"""
from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from backoffice.core.metrics import HTTP_REQUESTS, HTTP_SECONDS
from biometrics import pool
from connectors.channel_metrics import authorised, register_wecom_collector
from backoffice.handoff.conversations import Conversation
from backoffice.web.common import SERVICES

routes = web.RouteTableDef()


class LiveCollector:
    """Values read when Prometheus scrapes: the handoff queue, the biometrics pool's queue, WeCom counters."""

    def __init__(self, app: web.Application):
        self.app = app

    def collect(self):
        svc = self.app[SERVICES]
        queue = GaugeMetricFamily("hall_handoff_queue_length", "Conversations waiting for or held by an agent",
                                  labels=["state"])
        try:
            with svc.db.session() as s:
                counts = dict(s.execute(select(Conversation.state, func.count()).group_by(Conversation.state)).all())
            for state in ("waiting", "agent"):
                queue.add_metric([state], counts.get(state, 0))
        except Exception:  # the database is away: no sample rather than a failed scrape
            pass
        yield queue
        yield GaugeMetricFamily("hall_biometrics_pending_jobs", "Biometrics jobs queued or running",
                                value=pool.pending())

    def describe(self):
        """The names only: registering must not query the database."""
        yield GaugeMetricFamily("hall_handoff_queue_length", "", labels=["state"])
        yield GaugeMetricFamily("hall_biometrics_pending_jobs", "")


@web.middleware
async def metrics_middleware(request: web.Request, handler):
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route_info = getattr(request.match_info, "route", None)  # (match_info is an empty dict without parameters)
        resource = getattr(route_info, "resource", None)
        route = resource.canonical if resource is not None else "unmatched"
        HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        HTTP_SECONDS.labels(route).observe(time.monotonic() - started)


@routes.get("/metrics")
async def metrics(request: web.Request):
    if not authorised(request.headers.get("Authorization", ""), request.app[SERVICES].settings.metrics_token):
        return web.Response(status=401, text="unauthorized")
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


_registered: list = []


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    app.middlewares.insert(0, metrics_middleware)  # outermost: sees the status errors_middleware answers
    # one live collector per process, on the latest app (tests build many apps in one process)
    for old in _registered:
        REGISTRY.unregister(old)
    _registered[:] = [LiveCollector(app)]
    REGISTRY.register(_registered[0])
    register_wecom_collector()  # this process's 微信客服 counters (staff replies)
