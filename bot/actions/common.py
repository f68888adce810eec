"""Helpers shared by every business's actions."""
from __future__ import annotations

import re
import unicodedata

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


def normalize(text: str | None) -> str:
    """Full-width to half-width, no spaces or separators: what a customer means by '138 0000-0001'."""
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s\-_.,，。·:：]", "", text)


def digits_in(text: str | None) -> str:
    """The digit run a customer typed, tolerant of words around it ('我的账号是80010001')."""
    runs = re.findall(r"\d+", normalize(text))
    # Any script's decimal digits count, but only ASCII digits leave: the back-office compares ASCII.
    return "".join(str(unicodedata.decimal(c)) for c in max(runs, key=len)) if runs else ""


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def intent_of(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")
