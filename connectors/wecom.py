"""Rasa input channel for 微信客服 (WeCom customer-service accounts): `/webhooks/wecom/webhook`,
sender id `wecom:{open_kfid}:{external_userid}`.

credentials.yml:
    connectors.wecom.WeComInput:
      # all optional; each falls back to the environment (WECOM_CORP_ID, WECOM_SECRET, WECOM_TOKEN, WECOM_AES_KEY,
      # WECOM_API_BASE, WECOM_HANDOFF) and, outside production, to development defaults (the simulator)
      corp_id: ...
      secret: ...       # the 微信客服 secret
      token: ...
      aes_key: ...      # EncodingAESKey (WeCom always encrypts callbacks)
      api_base: ...
      handoff: console  # or wecom
The behaviour lives in connectors.wecom_bridge (callbacks, one message) and connectors.wecom_pull (pulling);
this module adapts them to Sanic and Rasa and starts the background sweep with the server.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request

from backoffice.channels.client import BackofficeClient
from connectors import rasa_spans
from connectors.token_store import token_storage
from connectors.turns import bot_turn, traced
from connectors.wecom_api import KfClient
from connectors.wecom_bridge import WeComBridge
from connectors.wecom_metrics import METRICS
from connectors.wecom_settings import WeComSettings, kv_prefix, load_wecom_settings
from connectors.wecom_store import make_store

log = logging.getLogger("connectors.wecom")


class WeComInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "wecom"

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> "WeComInput":
        return cls(load_wecom_settings(credentials))

    def __init__(self, settings: WeComSettings | None = None) -> None:
        self.settings = settings or load_wecom_settings()
        if self.settings.enabled:
            log.info("微信客服 channel: API %s, handoff to %s", self.settings.api_base, self.settings.handoff)
        else:
            log.info("微信客服 channel not configured (no WECOM_* settings): disabled")
        self._bridge: WeComBridge | None = None
        self._agent = None  # Rasa's agent (its action endpoint is probed when a turn ends silent)

    def _bridge_for(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> WeComBridge:
        if self._bridge is None:
            async def bot(sender: str, text: str, metadata: dict) -> list[dict]:
                # 系统繁忙 instead of silence when Rasa's stores or the action server are down
                return await bot_turn(on_new_message, text, sender, self.name(), metadata, self._agent)

            redis_url = os.environ.get("REDIS_URL") or None
            client = KfClient(self.settings, token_storage(redis_url, "hall:wecom"), metrics=METRICS)
            self._bridge = WeComBridge(self.settings, client=client, store=make_store(redis_url, kv_prefix()),
                                       backoffice=BackofficeClient(timeout=15), bot=bot, metrics=METRICS)
        return self._bridge

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rasa_spans.setup()  # tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set) starts with the channels
        webhook = Blueprint("wecom_webhook", __name__)
        enabled = self.settings.enabled
        bridge = self._bridge_for(on_new_message) if enabled else None

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request):
            return response.json({"status": "ok" if enabled else "disabled"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request):
            if bridge is None:
                return response.text("not configured", status=503)
            result = bridge.verify({k: request.args.get(k) for k in request.args})
            return response.text(result.body, status=result.status)

        @webhook.route("/webhook", methods=["POST"])
        @traced("wecom", "/webhooks/wecom/webhook")  # the callback only; each pulled message has its own trace
        async def receive(request: Request):
            if bridge is None:
                return response.text("not configured", status=503)
            self._agent = getattr(request.app.ctx, "agent", None) or self._agent
            result = await bridge.receive({k: request.args.get(k) for k in request.args}, request.body or b"")
            return response.text(result.body, status=result.status, content_type=result.content_type)

        if bridge is not None:
            @webhook.listener("after_server_start")
            async def start_pulling(app, _loop):
                self._agent = getattr(app.ctx, "agent", None)
                bridge.puller.start()  # start-up recovery pull, then the periodic sweep

            @webhook.listener("before_server_stop")
            async def stop_pulling(_app, _loop):
                await bridge.puller.stop()
                await bridge.client.close()

        return webhook
