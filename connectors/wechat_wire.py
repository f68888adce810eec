"""The WeChat wire format: signatures, freshness, safe XML parsing and building, AES envelopes.

Used by the channel (inbound) and by the simulator and tests (which play WeChat's side).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time

import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto, _get_signature

MAX_AGE_SECONDS = 300  # WeChat's own requests are fresh; older ones are replays
MAX_BODY_BYTES = 64 * 1024


class WireError(ValueError):
    """status 403 (authentication) or 400 (malformed)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    return hashlib.sha1("".join(sorted([token, str(timestamp), str(nonce), *extra])).encode()).hexdigest()


def check_request(token: str, sig: str | None, timestamp: str | None, nonce: str | None,
                  now: float | None = None) -> None:
    if not sig or not timestamp or not nonce:
        raise WireError(403, "missing signature parameters")
    try:
        ts = int(timestamp)
    except ValueError:
        raise WireError(403, "bad timestamp")
    if abs((now if now is not None else time.time()) - ts) > MAX_AGE_SECONDS:
        raise WireError(403, "stale timestamp")
    if not hmac.compare_digest(signature(token, timestamp, nonce), sig.lower()):
        raise WireError(403, "bad signature")


def parse_xml(body: bytes | str) -> dict:
    """The <xml> element as a flat dict; refuses DTDs (entity expansion) and anything not WeChat-shaped."""
    raw = body.encode() if isinstance(body, str) else body
    if not raw or len(raw) > MAX_BODY_BYTES:
        raise WireError(400, "empty or oversized body")
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise WireError(400, "DTDs are not accepted")
    try:
        doc = xmltodict.parse(raw, disable_entities=True)
    except Exception:  # expat errors, encoding errors
        raise WireError(400, "malformed XML")
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise WireError(400, "no <xml> root")
    if _too_deep(root, MAX_DEPTH):  # WeChat XML is two or three levels deep; thousands would break callers
        raise WireError(400, "XML nested too deeply")
    return root


MAX_DEPTH = 8


def _too_deep(node, limit: int) -> bool:
    stack = [(node, 1)]  # iterative: the check itself must not recurse
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def decrypt(crypto: WeChatCrypto, root: dict, msg_signature: str | None, timestamp: str, nonce: str) -> dict:
    encrypted = root.get("Encrypt")
    if not isinstance(encrypted, str) or not msg_signature:
        raise WireError(400, "encrypted message without Encrypt or msg_signature")
    if not hmac.compare_digest(_get_signature(crypto.token, timestamp, nonce, encrypted), msg_signature.lower()):
        raise WireError(403, "bad msg_signature")
    try:
        plain = PrpCrypto(crypto.key).decrypt(encrypted, crypto.app_id)
    except Exception:  # padding, app id mismatch, base64
        raise WireError(400, "cannot decrypt")
    return parse_xml(plain)


def _cdata(value: str) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def cdata_el(tag: str, value: str) -> str:
    return f"<{tag}>{_cdata(value)}</{tag}>"


def build_xml(fields: dict) -> str:
    """Flat WeChat XML; numbers bare, strings in CDATA (as WeChat sends them)."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        parts.append(f"<{key}>{value if isinstance(value, int) else _cdata(value)}</{key}>")
    return "<xml>" + "".join(parts) + "</xml>"


def encrypt_inbound(crypto: WeChatCrypto, xml: str, to_user: str, timestamp: str, nonce: str) -> tuple[str, str]:
    """What WeChat posts in safe mode: (body, msg_signature)."""
    encrypted = PrpCrypto(crypto.key).encrypt(xml, crypto.app_id)
    encrypted = encrypted.decode() if isinstance(encrypted, bytes) else encrypted
    body = build_xml({"ToUserName": to_user, "Encrypt": encrypted})
    return body, _get_signature(crypto.token, timestamp, nonce, encrypted)


def signed_query(token: str, *, timestamp: int | None = None, nonce: str | None = None, openid: str | None = None,
                 encrypted_signature: str | None = None) -> dict:
    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or os.urandom(5).hex()
    query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if openid:
        query["openid"] = openid
    if encrypted_signature:
        query["encrypt_type"] = "aes"
        query["msg_signature"] = encrypted_signature
    return query


def open_reply(crypto: WeChatCrypto | None, body: str) -> dict | None:
    """The passive reply as a dict (decrypted when in safe mode); None for "success"/empty."""
    body = (body or "").strip()
    if not body or body == "success":
        return None
    root = parse_xml(body)
    if "Encrypt" in root and crypto is not None:
        if not hmac.compare_digest(_get_signature(crypto.token, root["TimeStamp"], root["Nonce"], root["Encrypt"]),
                                   root["MsgSignature"]):
            raise WireError(403, "reply signature mismatch")
        return parse_xml(PrpCrypto(crypto.key).decrypt(root["Encrypt"], crypto.app_id))
    return root
