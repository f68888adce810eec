"""Rasa tracker stores that never persist phone numbers, ID numbers or names in clear.

Rasa keeps every user message as typed (UserUttered text, parse_data, entity values) and every bot message
as sent. The action server needs the typed phone number during the turn it is typed in (the tracker it is
sent is Rasa's in-memory one), but nothing needs it afterwards: the slots already hold masks. So the
tracker is masked when it is serialised for the store: phone numbers (138****0001), resident ID numbers
(110***********0012) and the name after 姓名： (张*) in user and bot events and in slot values. Every reader
of the store (the next turn, GET /conversations/{id}/tracker, the staff console, Redis itself) sees masks.

Used through the endpoints file (scripts/rasa_endpoints.py): MaskingRedisTrackerStore with REDIS_URL,
MaskingInMemoryTrackerStore without. Account numbers are not masked: the login form reads the
account_number slot on the turn after it was typed (docs/security.md, residual risks).
"""
from __future__ import annotations

import json
import re
import unicodedata

from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore

_DIGIT = "0-9\uff10-\uff19"
# A run of digits, optionally broken by spaces or dashes ("138 0000 0001"), maybe ending in X (ID numbers),
# not glued to other letters/digits (so hex media ids and longer numbers are left alone).
_RUN = re.compile(rf"(?<![{_DIGIT}A-Za-z])[{_DIGIT}](?:[{_DIGIT}]|[\s\-\u2010-\u2015\uff0d](?=[{_DIGIT}Xx\uff38\uff58]))*"
                  rf"[Xx\uff38\uff58]?(?![{_DIGIT}A-Za-z])")
_PHONE = re.compile(r"1[3-9]\d{9}")
_ID = re.compile(r"\d{17}[\dX]|\d{15}")
_NAME = re.compile(r"(姓\s*名\s*[:：]\s*)([^\s,，;；。:：]{1,20})")
# Keys whose values are identifiers, not text a person typed or was shown.
_KEEP = {"event", "timestamp", "message_id", "input_channel", "policy", "action_name", "sender_id", "name",
         "intent_ranking", "confidence", "start", "end", "extractor", "entity", "processors", "model_id",
         "assistant_id"}
_MASKED_EVENTS = {"user", "bot", "slot", "user_featurization", "entities"}


def _mask_run(match: re.Match) -> str:
    raw = match.group(0)
    digits = re.sub(r"[^0-9X]", "", unicodedata.normalize("NFKC", raw).upper())
    if digits.startswith("86") and _PHONE.fullmatch(digits[2:]):  # +86 138 0000 0001
        digits = digits[2:]
    if _PHONE.fullmatch(digits):
        return f"{digits[:3]}****{digits[-4:]}"
    if _ID.fullmatch(digits):
        return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    return raw


def _mask_name(match: re.Match) -> str:
    name = match.group(2)
    return match.group(1) + (name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*")


def mask_text(text: str) -> str:
    return _NAME.sub(_mask_name, _RUN.sub(_mask_run, text))


def _mask(value, key: str | None = None):
    if isinstance(value, str):
        return value if key in _KEEP else mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    return value


def mask_dialogue(dialogue: dict) -> dict:
    events = []
    for event in dialogue.get("events") or []:
        events.append(_mask(event) if isinstance(event, dict) and event.get("event") in _MASKED_EVENTS else event)
    return {**dialogue, "events": events}


def serialise_masked(tracker) -> str:
    return json.dumps(mask_dialogue(tracker.as_dialogue().as_dict()))


class MaskingRedisTrackerStore(RedisTrackerStore):
    @staticmethod
    def serialise_tracker(tracker) -> str:
        return serialise_masked(tracker)


class MaskingInMemoryTrackerStore(InMemoryTrackerStore):
    @staticmethod
    def serialise_tracker(tracker) -> str:
        return serialise_masked(tracker)

    async def save(self, tracker) -> None:
        await self.stream_events(tracker)
        self.store[tracker.sender_id] = serialise_masked(tracker)
