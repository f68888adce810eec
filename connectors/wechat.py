"""Rasa input channel for the WeChat Official Account: `/webhooks/wechat/webhook`, sender id = openid.

credentials.yml:
    connectors.wechat.WeChatInput:
      # all optional; each falls back to the environment (WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET,
      # WECHAT_AES_KEY, WECHAT_API_BASE, WECHAT_TRANSFER_TO_KF) and, outside production, to dev defaults
      token: ...
      app_id: ...
      app_secret: ...
      aes_key: ...      # set → safe (AES) mode replies; plaintext and compatible mode are accepted too
      api_base: ...
The behaviour lives in connectors.wechat_bridge; this module adapts it to Sanic and Rasa.
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
from backoffice.core.kvstore import make_kv
from connectors.guard import guard
from connectors.turns import bot_turn, traced
from connectors.wechat_api import get_api
from connectors.wechat_bridge import WeChatBridge
from connectors.wechat_settings import WeChatSettings, load_wechat_settings

log = logging.getLogger("connectors.wechat")


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> "WeChatInput":
        return cls(load_wechat_settings(credentials))

    def __init__(self, settings: WeChatSettings | None = None) -> None:
        self.settings = settings or load_wechat_settings()
        log.info("WeChat channel: %s mode, API %s", "safe (AES)" if self.settings.safe_mode else "plaintext",
                 self.settings.api_base)
        self._bridge: WeChatBridge | None = None
        self._agent = None  # Rasa's agent, known from the first request (its action endpoint is probed)

    def _bridge_for(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> WeChatBridge:
        if self._bridge is None:
            async def bot(openid: str, text: str, metadata: dict) -> list[dict]:
                # length and rate caps before NLU (WeChat's requests carry no customer address)
                refusal = await guard().admit(openid, text, channel="wechat")
                if refusal:
                    return [{"recipient_id": openid, "text": refusal}]
                # 系统繁忙 instead of silence when Rasa's stores or the action server are down
                return await bot_turn(on_new_message, text, openid, self.name(), metadata, self._agent)

            self._bridge = WeChatBridge(self.settings, kv=make_kv(os.environ.get("REDIS_URL") or None),
                                        api=get_api(self.settings), backoffice=BackofficeClient(timeout=15), bot=bot)
        return self._bridge

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rasa_spans.setup()  # tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set) starts with the channels
        webhook = Blueprint("wechat_webhook", __name__)
        bridge = self._bridge_for(on_new_message)

        def query(request: Request) -> dict:
            return {k: request.args.get(k) for k in request.args}

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request):
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request):
            result = bridge.verify(query(request))
            return response.text(result.body, status=result.status)

        @webhook.route("/webhook", methods=["POST"])
        @traced("wechat", "/webhooks/wechat/webhook")  # the turn's task starts inside the callback's span
        async def receive(request: Request):
            self._agent = getattr(request.app.ctx, "agent", None)
            result = await bridge.receive(query(request), request.body or b"")
            return response.text(result.body, status=result.status, content_type=result.content_type)

        return webhook
