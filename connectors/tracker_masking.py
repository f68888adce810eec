"""Rasa tracker stores that never persist phone numbers, ID numbers or names in clear.

Rasa keeps every user message as typed (UserUttered text, parse_data, entity values) and every bot message
as sent. The action server needs the typed phone number during the turn it is typed in (the tracker it is
sent is Rasa's in-memory one), but nothing needs it afterwards: the slots already hold masks. So the
tracker is masked when it is serialised for the store: phone numbers (138****0001), resident ID numbers
(110***********0012) and the name after 姓名： (张*) in user and bot events and in slot values. Every reader
of the store (the next turn, GET /conversations/{id}/tracker, the staff console, Redis itself) sees masks.

Used through the endpoints file (scripts/rasa_endpoints.py): MaskingRedisTrackerStore with REDIS_URL,
MaskingInMemoryTrackerStore without. Messages typed at an account-number, phone or code step (SECRET_STEPS) or
holding such an entity have every number of 4 digits or more masked too; the back-office keeps what later steps
need (the typed account number), so the slots only ever hold masks.
"""
from __future__ import annotations

import functools
import itertools
import json
import re
import unicodedata

from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore

_SEPARATORS = re.compile(r"[\s\-_.,，。·:：]")  # what bot/actions/common.normalize() removes
_NAME = re.compile(r"(姓\s*名\s*[:：]\s*)([^\s,，;；。:：]{1,20})")
MIN_DIGITS = 11  # phones (11), ID numbers (15/18), bank cards; account numbers (8-10) and codes (6) stay
# Keys whose values are identifiers, not text a person typed or was shown.
_KEEP = {"event", "timestamp", "message_id", "input_channel", "policy", "action_name", "sender_id", "name",
         "intent_ranking", "confidence", "start", "end", "extractor", "entity", "processors", "model_id",
         "assistant_id"}
_MASKED_EVENTS = {"user", "bot", "slot", "user_featurization", "entities"}


@functools.lru_cache(maxsize=8192)  # a pure function of one character, asked for every character of every text
def _kind(char: str) -> str:
    """'s' separator, 'd' digits, 'x' anything else — judged the way the bot reads digits (NFKC, any script)."""
    norm = _SEPARATORS.sub("", unicodedata.normalize("NFKC", char))
    if not norm:
        return "s"
    return "d" if all(c.isdecimal() for c in norm) else "x"


def _digits(chars: str) -> str:
    norm = _SEPARATORS.sub("", unicodedata.normalize("NFKC", chars))
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c.upper() for c in norm)


def _mask_long(digits: str) -> str:
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def _mask_short(digits: str) -> str:
    """Account numbers (8-10 digits) as the bot shows them (80**0001 style: 2 and 2 kept), codes wholly."""
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:] if len(digits) > 6 else "*" * len(digits)


def _mask_digits(text: str, min_digits: int = MIN_DIGITS) -> str:
    """Every run of digits the bot would read as one number (digits joined by separators, in any script or
    width) is masked to its first 3 and last 4 when it has 11 digits or more; an 18th character X counts.
    With a lower `min_digits` (answers to an account-number or code step), shorter runs are masked too."""
    kinds = [_kind(c) for c in text]
    out, i, n = [], 0, len(text)
    while i < n:
        if kinds[i] != "d":
            out.append(text[i])
            i += 1
            continue
        j, last_digit = i, i
        while j < n and kinds[j] in ("d", "s"):
            if kinds[j] == "d":
                last_digit = j
            j += 1
        end = last_digit + 1
        digits = _digits(text[i:end])
        if len(digits) == 17 and end < n and unicodedata.normalize("NFKC", text[end]).upper() == "X":
            digits += "X"
            end += 1
        if len(digits) >= MIN_DIGITS:
            out.append(_mask_long(digits))
        elif len(digits) >= min_digits:
            out.append(_mask_short(digits))
        else:
            out.append(text[i:end])
        i = end
    return "".join(out)


def _mask_name(match: re.Match) -> str:
    name = match.group(2)
    return match.group(1) + (name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*")


# Texts masking leaves as they are (no personal data in them). The whole tracker is serialised at every save,
# so without this every earlier message was masked again each turn (~2 µs a character, growing with the
# conversation). Only clean texts are remembered: nothing personal is kept in memory by this.
_CLEAN: dict[str, None] = {}
_CLEAN_MAX = 50_000


def mask_text(text: str) -> str:
    if text in _CLEAN:
        return text
    masked = _NAME.sub(_mask_name, _mask_digits(text))
    if masked == text:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN[text] = None
    return masked


# Steps whose answer is an account number, a phone number, an ID number or a code, and the entities that hold
# one: a customer's message at such a step (or carrying such an entity) is kept with every number of 4 digits
# or more masked, like the slots (the back-office keeps what later steps need; see LoginService.note_account).
SECRET_STEPS = {"account_number", "phone_number", "otp_code", "unbind_code", "business_code", "sign_code",
                "recover_phone", "recover_code"}
SECRET_ENTITIES = {"account_number", "phone_number", "otp_code", "id_number"}
SECRET_MIN_DIGITS = 4


def mask_secret_text(text: str) -> str:
    return _NAME.sub(_mask_name, _mask_digits(text, SECRET_MIN_DIGITS))


def _holds_secret_entity(event: dict) -> bool:
    entities = (event.get("parse_data") or {}).get("entities") or []
    return any(isinstance(e, dict) and e.get("entity") in SECRET_ENTITIES for e in entities)


_URL = re.compile(r"https?://[^\s\u3000-\u303f\uff00-\uffef]+")


def mask_bot_text(text: str) -> str:
    """The bot's own links (privacy page, agreements, witness, media) carry signed tokens and hosts whose digits
    would read as one long number (127.0.0.1:56527): they are kept whole, the text around them is masked.
    Only for bot messages: the bot never puts personal data in a URL, a customer's typed text may."""
    parts, last = [], 0
    for match in _URL.finditer(text):
        parts += [mask_text(text[last:match.start()]), match.group(0)]
        last = match.end()
    return "".join(parts + [mask_text(text[last:])])


def _mask(value, key: str | None = None, masker=mask_text):
    if isinstance(value, str):
        return value if key in _KEEP else masker(value)
    if isinstance(value, dict):
        return {k: _mask(v, k, masker) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key, masker) for v in value]
    return value


# Metadata the channel adds for the turn only: the customer's IP address (connectors/rest.py; per-IP code
# limits in the back-office). Actions read it from the turn's own message; the store never keeps it.
_TURN_ONLY_METADATA = ("client_ip",)


def _has_turn_only(metadata) -> bool:
    return isinstance(metadata, dict) and any(k in metadata for k in _TURN_ONLY_METADATA)


def _drop_turn_only(metadata: dict) -> dict:
    return {k: v for k, v in metadata.items() if k not in _TURN_ONLY_METADATA}


# A bot event's metadata holds its response's template values (name=张伟, id_masked=…) next to these: the
# values are already in the text, masked there; kept raw they would leak (the key "name" is kept elsewhere).
_BOT_METADATA = {"model_id", "assistant_id", "utter_action"}


def _without_turn_metadata(event: dict) -> dict:
    """Rasa keeps a message's metadata on the event, in its parse data, and the first message's in the
    session_started_metadata slot; a bot event's metadata also holds its template values. The event is copied
    only when one of them holds such keys: the whole tracker goes through here at every save."""
    changes = {}
    metadata = event.get("metadata")
    if event.get("event") == "bot" and isinstance(metadata, dict) and not metadata.keys() <= _BOT_METADATA:
        changes["metadata"] = {k: v for k, v in metadata.items() if k in _BOT_METADATA}
    elif _has_turn_only(metadata):
        changes["metadata"] = _drop_turn_only(metadata)
    parse_data = event.get("parse_data")
    if isinstance(parse_data, dict) and _has_turn_only(parse_data.get("metadata")):
        changes["parse_data"] = {**parse_data, "metadata": _drop_turn_only(parse_data["metadata"])}
    if event.get("event") == "slot" and event.get("name") == "session_started_metadata" \
            and _has_turn_only(event.get("value")):
        changes["value"] = _drop_turn_only(event["value"])
    return {**event, **changes} if changes else event



def _masker(event: dict, requested: str | None):
    kind = event.get("event")
    if kind == "bot":
        return mask_bot_text
    if kind == "user" and (requested in SECRET_STEPS or _holds_secret_entity(event)):
        return mask_secret_text
    return mask_text


def mask_dialogue(dialogue: dict) -> dict:
    events, requested = [], None  # the step being asked when each message came
    for event in dialogue.get("events") or []:
        if isinstance(event, dict):
            event = _without_turn_metadata(event)
            kind = event.get("event")
            if kind == "slot" and event.get("name") == "requested_slot":
                requested = event.get("value")
            elif kind in ("restart", "session_started") or (kind == "active_loop" and not event.get("name")):
                requested = None
            if kind in _MASKED_EVENTS:
                event = _mask(event, masker=_masker(event, requested))
        events.append(event)
    return {**dialogue, "events": events}


def serialise_masked(tracker) -> str:
    return json.dumps(mask_dialogue(tracker.as_dialogue().as_dict()))


# Set on every tracker this store hands out or saves: how many of its events the event broker has seen.
STREAMED = "hall_streamed_events"


class KnownOffsetStreaming:
    """Streams a tracker's new events to the event broker without loading the tracker a second time.

    Rasa's TrackerStore.stream_events retrieves the stored tracker at every save (a Redis GET and a full
    deserialisation) only to learn how many events are new. The tracker being saved is the one this store
    loaded at the start of the turn (under the conversation's lock), so the count is noted on it when it is
    loaded and after each save; trackers the store did not hand out take Rasa's way."""

    async def _retrieve(self, sender_id, fetch_all_sessions):
        tracker = await super()._retrieve(sender_id, fetch_all_sessions)
        if tracker is not None:
            setattr(tracker, STREAMED, len(tracker.events))
        return tracker

    async def stream_events(self, tracker) -> None:
        if self.event_broker is None:
            return
        offset = getattr(tracker, STREAMED, None)
        if offset is None:
            await super().stream_events(tracker)
        else:
            events = tracker.events
            await self._stream_new_events(self.event_broker, list(itertools.islice(events, offset, len(events))),
                                          tracker.sender_id)
        setattr(tracker, STREAMED, len(tracker.events))


class MaskingRedisTrackerStore(KnownOffsetStreaming, RedisTrackerStore):
    @staticmethod
    def serialise_tracker(tracker) -> str:
        return serialise_masked(tracker)


class MaskingInMemoryTrackerStore(KnownOffsetStreaming, InMemoryTrackerStore):
    @staticmethod
    def serialise_tracker(tracker) -> str:
        return serialise_masked(tracker)

    async def save(self, tracker) -> None:
        await self.stream_events(tracker)
        self.store[tracker.sender_id] = serialise_masked(tracker)


def mask_event(event: dict) -> dict:
    """One event as the event log keeps it (connectors/event_log.py): turn-only metadata dropped, bot texts
    masked around their links, and every customer message masked as strictly as one typed at a secret step
    (numbers of 4 digits or more), since a broker sees events one by one without the step they answered.
    Slot values, intents and action names pass as the tracker store keeps them."""
    event = _without_turn_metadata(event)
    kind = event.get("event")
    if kind == "bot":
        return _mask(event, masker=mask_bot_text)
    if kind == "user":
        return _mask(event, masker=mask_secret_text)
    if kind in _MASKED_EVENTS:
        return _mask(event, masker=mask_text)
    return event
