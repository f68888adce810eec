"""Helpers shared by every business's actions."""
from __future__ import annotations

from rasa_sdk import Tracker

BUSY = "utter_system_busy"
CODE_LIMIT = "utter_code_limit"  # a code-sending cap reached (per phone, conversation or address)


def requester(tracker: Tracker) -> dict:
    """Who a back-office call is for: the conversation and, for REST customers, the address the channel saw
    (connectors/rest.py puts it in the message metadata; the back-office limits codes per address)."""
    ip = None
    for event in reversed(tracker.events or []):  # the latest user message's own metadata (not its parse data)
        if event.get("event") == "user":
            metadata = event.get("metadata")
            ip = metadata.get("client_ip") if isinstance(metadata, dict) else None
            break
    return {"sender": tracker.sender_id, **({"client_ip": str(ip)[:64]} if ip else {})}


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def intent_of(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")
