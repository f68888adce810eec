"""Rasa's REST channel (`/webhooks/rest/webhook`, same requests and answers), made safe for customers.

* The conversation is `rest:<sender>` (backoffice/channels/senders.py): a REST caller cannot reach a WeChat or
  WeCom customer's conversation by naming their id, and a sender with whitespace or control characters is
  refused (400) instead of becoming a second name for someone's session. The input channel is always "rest",
  whatever the body says.
* Outside development a client token (backoffice/channels/client_tokens.py) for that sender is required
  (`Authorization: Bearer <token>`); in development it is optional but checked when present.
* Every message passes the guard (connectors/guard.py: length cap, per-conversation and per-address rate)
  before NLU.
* Rasa's own RestInput answers an empty list when the turn fails (tracker store down) and logs the message
  text; this one answers "系统繁忙" (connectors.turns) and logs only the error type.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request

from backoffice.channels import client_tokens
from backoffice.channels.senders import BadSender, conversation_id
from connectors import rasa_spans
from connectors.guard import guard
from connectors.turns import bot_turn, traced


def client_metadata(metadata, address: str | None) -> dict:
    """The message's metadata plus the customer's address (never the client's own claim of it). The back-office
    limits codes per address; the tracker store drops it (connectors/tracker_masking.py)."""
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    metadata.pop("client_ip", None)
    if address:
        metadata["client_ip"] = address
    return metadata


def _refused(status: int, error: str, message: str):
    return response.json({"error": error, "message": message}, status=status)


def authorise(sender: str, authorization: str | None) -> str | None:
    """None when the caller may speak for `sender`, else the error code (401)."""
    token = client_tokens.bearer(authorization)
    if token is None:
        return "token_required" if client_tokens.production() else None
    try:
        named = client_tokens.verify(token)
    except client_tokens.InvalidClientToken:
        return "invalid_token"
    return None if named == sender else "token_for_another_sender"


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()  # never the body's "input_channel": the channel is the connector that received it

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rasa_spans.setup()  # tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set) starts with the channels
        webhook = Blueprint("custom_webhook_hall_rest", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request):
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        @traced("rest", "/webhooks/rest/webhook")
        async def receive(request: Request):
            if not isinstance(request.json, dict):
                return _refused(400, "bad_request", "body must be a JSON object")
            sender, text = request.json.get("sender"), self._extract_message(request)
            try:
                conversation = conversation_id("rest", sender)
            except BadSender as exc:
                return _refused(400, "bad_sender", str(exc))
            if text is not None and not isinstance(text, str):
                return _refused(400, "bad_request", "message must be a string")
            problem = authorise(sender, request.headers.get("Authorization"))
            if problem:
                return _refused(401, problem, "a valid client token for this sender is required")
            # the peer, or behind reverse proxies what Sanic reads from their headers (SANIC_PROXIES_COUNT)
            address = request.remote_addr or request.ip
            refusal = await guard().admit(conversation, text, address, channel="rest")
            if refusal:
                return response.json([{"recipient_id": conversation, "text": refusal}])
            metadata = client_metadata(self.get_metadata(request), address)
            if bool_arg(request, "stream", default=False):
                return response.stream(self.stream_response(on_new_message, text, conversation, self.name(),
                                                            metadata), content_type="text/event-stream")
            agent = getattr(request.app.ctx, "agent", None)
            return response.json(await bot_turn(on_new_message, text, conversation, self.name(), metadata, agent))

        return webhook
