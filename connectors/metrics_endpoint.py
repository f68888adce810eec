"""GET /metrics on the Rasa server: the channels' Prometheus metrics (connectors/channel_metrics.py).

Listed in credentials.yml like a channel, because Rasa mounts a connector's blueprint on its app: this one takes
no messages. The ingress routes only /webhooks to Rasa, so /metrics is reached inside the cluster only
(deploy/k8s/rasa.yaml has the scrape annotations); HALL_METRICS_TOKEN guards it as the back-office's.
"""
from __future__ import annotations

import os

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response

from connectors.channel_metrics import authorised, exposition, register_wecom_collector


class MetricsInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "metrics"

    def url_prefix(self) -> str:
        return "/metrics"  # absolute: Rasa joins it to /webhooks/ and an absolute path wins

    def blueprint(self, on_new_message) -> Blueprint:
        register_wecom_collector()
        bp = Blueprint("hall_metrics", __name__)

        @bp.route("", methods=["GET"])
        async def metrics(request):
            if not authorised(request.headers.get("Authorization", ""), os.environ.get("HALL_METRICS_TOKEN")):
                return response.text("unauthorized", status=401)
            return response.raw(exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

        return bp
