"""Rasa's REST channel (`/webhooks/rest/webhook`, same requests and answers) with a busy answer on outages.

Rasa's own RestInput answers an empty list when the turn fails (tracker store down) and logs the message text;
this one answers "系统繁忙" (connectors.turns) and logs only the error type.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request

from connectors.turns import bot_turn


def client_metadata(metadata, address: str | None) -> dict:
    """The message's metadata plus the customer's address (never the client's own claim of it). The back-office
    limits codes per address; the tracker store drops it (connectors/tracker_masking.py)."""
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    metadata.pop("client_ip", None)
    if address:
        metadata["client_ip"] = address
    return metadata


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("custom_webhook_hall_rest", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request):
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request):
            if not isinstance(request.json, dict):
                return response.json({"error": "body must be a JSON object"}, status=400)
            sender, text = await self._extract_sender(request), self._extract_message(request)
            channel = self._extract_input_channel(request)
            # the peer, or behind reverse proxies what Sanic reads from their headers (SANIC_PROXIES_COUNT)
            metadata = client_metadata(self.get_metadata(request), request.remote_addr or request.ip)
            if bool_arg(request, "stream", default=False):
                return response.stream(self.stream_response(on_new_message, text, sender, channel, metadata),
                                       content_type="text/event-stream")
            agent = getattr(request.app.ctx, "agent", None)
            return response.json(await bot_turn(on_new_message, text, sender, channel, metadata, agent))

        return webhook
