"""The 微信客服 customer's conversation id, `wecom:{open_kfid}:{external_userid}` (backoffice/channels/senders.py
decides it for every channel; these are the WeCom channel's helpers around it).

One customer talks to each customer-service account separately (WeCom keeps a session and a reply budget per
account and customer), so the account is part of the id. Anything but WeCom's documented `[0-9a-zA-Z_-]` is
refused rather than cleaned, so one customer can never appear under two ids.
"""
from __future__ import annotations

from backoffice.channels.senders import WECOM_PART, BadSender, channel_of, conversation_id

PREFIX = "wecom"


def valid_part(value) -> bool:
    return isinstance(value, str) and WECOM_PART.fullmatch(value) is not None


def sender_id(open_kfid, external_userid) -> str | None:
    """The conversation id, or None when either part is not an acceptable id."""
    try:
        return conversation_id("wecom", external_userid, open_kfid)
    except BadSender:
        return None


def parse_sender(sender) -> tuple[str, str] | None:
    """(open_kfid, external_userid) of a WeCom conversation id; None for any other."""
    try:
        if channel_of(sender) != "wecom":
            return None
    except BadSender:
        return None
    _, kfid, user = sender.split(":")
    return kfid, user
