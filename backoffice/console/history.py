"""Turns a Rasa tracker plus the staff outbox into what an agent reads, with personal data masked."""
from __future__ import annotations

import json
import re
from datetime import datetime

from backoffice.core.clock import china_time_from_timestamp

PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{3})\d{11,14}([0-9Xx]{1})(?![0-9A-Za-z])")
SECRET_SLOT_PARTS = ("otp", "code", "password")
NAME_SLOT_PARTS = ("name",)
MASKED_ENTITIES = {"phone_number", "id_number", "otp_code"}
MEDIA_TTL = 600
HIDDEN_SLOTS = {"session_started_metadata"}  # Rasa's own bookkeeping, nothing an agent acts on
REASONS = {"customer_request": "客户要求转人工", "repeated_fallback": "机器人多次未能理解",
           "fallback": "机器人多次未能理解", "face_failed": "人脸核验3次失败", "action": "业务规则转人工"}


def mask_text(text: str) -> str:
    text = PHONE_RE.sub(r"\1****\2", text)
    return ID_RE.sub(lambda m: m.group(1) + "*" * 12 + m.group(2), text)


def mask_slot(name: str, value):
    if value is None or isinstance(value, bool):
        return value
    lname = name.lower()
    if any(p in lname for p in SECRET_SLOT_PARTS) and value not in ("verified",):
        return "******"
    if isinstance(value, (list, tuple)):
        return [mask_slot(name, v) for v in value]
    if isinstance(value, dict):
        return {k: mask_slot(k, v) for k, v in value.items()}
    text = str(value)
    if any(p in lname for p in NAME_SLOT_PARTS) and re.search(r"[\u4e00-\u9fff]", text):
        return text[:1] + "*" * max(1, len(text) - 1)
    return mask_text(text)




def _time(ts) -> str:
    return china_time_from_timestamp(ts)


def _media_id(event: dict) -> str | None:
    text = event.get("text") or ""
    if not text.startswith("/upload_"):
        return None
    for ent in (event.get("parse_data") or {}).get("entities") or []:
        if ent.get("entity") == "media_id":
            return str(ent.get("value"))
    try:
        return str(json.loads(text[text.index("{"):]).get("media_id"))
    except (ValueError, AttributeError):
        return None


def _masked_user_text(event: dict) -> str:
    text = event.get("text") or ""
    for ent in (event.get("parse_data") or {}).get("entities") or []:
        if ent.get("entity") in MASKED_ENTITIES and ent.get("value"):
            value = str(ent["value"])
            text = text.replace(value, "*" * len(value) if ent["entity"] == "otp_code" else mask_text(value))
    return mask_text(text)


def build(tracker: dict | None, outbox: list[dict], sign_media) -> dict:
    """{"messages": [...], "slots": {...}, "form": ..., "requested_slot": ..., "last_form": ...}."""
    messages = []
    last_form, last_requested = None, None
    for ev in (tracker or {}).get("events") or []:
        kind, ts = ev.get("event"), ev.get("timestamp") or 0
        if kind == "user":
            media = _media_id(ev)
            if media:
                messages.append({"ts": ts, "who": "customer", "kind": "image" if "image" in ev.get("text", "")
                                 else "video", "url": sign_media(media), "text": ""})
            else:
                intent = ((ev.get("parse_data") or {}).get("intent") or {}).get("name")
                messages.append({"ts": ts, "who": "customer", "kind": "text", "text": _masked_user_text(ev),
                                 "intent": intent})
        elif kind == "bot":
            data = ev.get("data") or {}
            if ev.get("text"):
                messages.append({"ts": ts, "who": "bot", "kind": "text", "text": mask_text(ev["text"]),
                                 "buttons": [str(b.get("title", "")) for b in data.get("buttons") or []]})
            if data.get("image"):
                messages.append({"ts": ts, "who": "bot", "kind": "link", "url": str(data["image"]), "text": "图片"})
        elif kind in ("pause", "resume"):
            messages.append({"ts": ts, "who": "system", "kind": "text",
                             "text": "机器人已暂停（人工接管）" if kind == "pause" else "机器人已恢复"})
        elif kind == "active_loop" and ev.get("name"):
            last_form = ev["name"]
        elif kind == "slot" and ev.get("name") == "requested_slot" and ev.get("value"):
            last_requested = ev["value"]
    for m in outbox:
        if m["author"] == "bot":
            continue  # the bot's own words (a resumed step, a nudge) are in the tracker already
        try:
            ts = datetime.fromisoformat(m["sent_at"]).timestamp()
        except (TypeError, ValueError):
            ts = 0
        if m.get("media_id"):
            messages.append({"ts": ts, "who": "agent", "kind": "image", "url": sign_media(m["media_id"]), "text": "",
                             "author": m["author"]})
            continue
        messages.append({"ts": ts, "who": "agent" if m["author"] != "system" else "system", "kind": "text",
                         "text": m["text"], "author": m["author"]})
    messages.sort(key=lambda m: m["ts"])
    for m in messages:
        m["time"] = _time(m["ts"])
    slots = {k: mask_slot(k, v) for k, v in sorted(((tracker or {}).get("slots") or {}).items())
             if v not in (None, [], "", {}) and k not in HIDDEN_SLOTS}
    active = ((tracker or {}).get("active_loop") or {}).get("name")
    return {"messages": messages, "slots": slots, "form": active, "requested_slot": slots.get("requested_slot"),
            "last_form": last_form, "last_requested": last_requested, "paused": bool((tracker or {}).get("paused"))}
