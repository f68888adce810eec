"""Conversation ids: who a conversation is, decided by the channel that received it, never by a caller.

Every channel owns a namespace of ids, and the id is the same string in Rasa (its sender_id) and in the
back-office (sessions, device bindings, OTP state, media owners, handoff):

* WeChat Official Account: the openid itself (CONTRACTS: the WeChat sender id is the openid). Openids are
  URL-safe base64 (28 characters); no colon, so no other channel's id can look like one.
* REST: ``rest:<sender>`` — a REST caller chooses ``sender`` but can never leave the ``rest:`` namespace, so a
  leaked openid gives no access to that WeChat customer's conversation.
* 微信客服 (WeCom kf): ``wecom:<open_kfid>:<external_userid>``.

Ids are canonical when they arrive: a sender holding whitespace, control or format characters is refused
(``"S "`` and ``"S"`` would otherwise be two Rasa conversations on one back-office session), text is NFC.
"""
from __future__ import annotations

import re
import unicodedata

CHANNELS = ("wechat", "rest", "wecom")
MAX_SENDER = 64  # what a channel accepts for its own part; the whole id fits the 128-character columns
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
WECOM_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BadSender(ValueError):
    """A sender id that is not canonical (refused by the channel with 400, never rewritten)."""


def canonical(raw) -> str:
    """The sender as given, if it is canonical: non-empty, at most MAX_SENDER characters, NFC, and no
    whitespace, control, format or separator characters. Anything else is refused, not repaired: a repaired
    id would be a second name for the same conversation."""
    if not isinstance(raw, str) or not raw:
        raise BadSender("sender required")
    if len(raw) > MAX_SENDER:
        raise BadSender(f"sender longer than {MAX_SENDER} characters")
    if unicodedata.normalize("NFC", raw) != raw:
        raise BadSender("sender must be NFC")
    if any(unicodedata.category(c)[0] in "CZ" for c in raw):  # Cc Cf Cs Co Cn, Zs Zl Zp
        raise BadSender("sender must not hold whitespace or control characters")
    return raw


def _part(pattern: re.Pattern, value) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def conversation_id(channel: str, sender: str, account: str | None = None) -> str:
    """The conversation id of `sender` on `channel` (for WeCom, `account` is the open_kfid)."""
    if channel == "wechat":
        if not _part(_OPENID, sender):
            raise BadSender("not an openid")
        return sender
    if channel == "rest":
        return "rest:" + canonical(sender)
    if channel == "wecom":
        if not (_part(WECOM_PART, account) and _part(WECOM_PART, sender)):
            raise BadSender("not a WeCom open_kfid / external_userid")
        return f"wecom:{account}:{sender}"
    raise BadSender(f"unknown channel {channel!r}")


def channel_of(conversation: str) -> str:
    """The channel a conversation id belongs to; BadSender when it belongs to none."""
    if not isinstance(conversation, str):
        raise BadSender("sender required")
    prefix, sep, rest = conversation.partition(":")
    if not sep:
        if _OPENID.fullmatch(conversation):
            return "wechat"
        raise BadSender("not a conversation id")
    if prefix == "rest":
        canonical(rest)
        return "rest"
    if prefix == "wecom":
        kfid, sep2, user = rest.partition(":")
        if sep2 and WECOM_PART.fullmatch(kfid) and WECOM_PART.fullmatch(user):
            return "wecom"
    raise BadSender("not a conversation id")


def rest_sender(conversation: str) -> str | None:
    """The REST client's own sender of a REST conversation id (what its client token names), else None."""
    return conversation[5:] if conversation.startswith("rest:") else None
