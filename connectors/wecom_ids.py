"""The canonical Rasa sender id of a 微信客服 customer: `wecom:{open_kfid}:{external_userid}`.

One customer talks to each customer-service account separately (WeCom keeps a session and a reply budget per
account and customer), so the account is part of the id. Ids WeCom documents are `[0-9a-zA-Z_-]`; anything
with whitespace, control or format characters, a ':' (the separator) or a '/' (the id is a path segment of
the back-office API) is refused rather than cleaned, so one customer can never appear under two ids.
"""
from __future__ import annotations

import unicodedata

PREFIX = "wecom"
MAX_PART = 64


def valid_part(value) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_PART:
        return False
    return not any(ch in ":/" or ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in value)


def sender_id(open_kfid, external_userid) -> str | None:
    """The sender id, or None when either part is not an acceptable id."""
    if not (valid_part(open_kfid) and valid_part(external_userid)):
        return None
    return f"{PREFIX}:{open_kfid}:{external_userid}"


def parse_sender(sender) -> tuple[str, str] | None:
    """(open_kfid, external_userid) of a WeCom sender id; None for any other sender."""
    if not isinstance(sender, str):
        return None
    parts = sender.split(":")
    if len(parts) != 3 or parts[0] != PREFIX or sender_id(parts[1], parts[2]) != sender:
        return None
    return parts[1], parts[2]
