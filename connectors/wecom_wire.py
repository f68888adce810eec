"""The 微信客服 callback wire format: WeCom's encrypted callbacks, checked and opened with wechatpy's WeCom crypto.

WeCom always encrypts (EncodingAESKey, receive id = the corp id) and signs with
msg_signature = sha1(sorted [token, timestamp, nonce, Encrypt]). The callback only says "something happened on
account X" (`kf_msg_or_event` with a short-lived sync Token and the OpenKfId); the messages themselves are pulled
with kf/sync_msg. XML parsing, size and freshness rules are the WeChat channel's (connectors.wechat_wire).

The `callback_*` helpers play WeCom's side; the fake WeCom server, the simulator and the tests use them.
"""
from __future__ import annotations

import os
import time

from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from connectors import wechat_wire as wire
from connectors.wechat_wire import WireError

KF_EVENT = "kf_msg_or_event"


def make_crypto(token: str, aes_key: str, corp_id: str) -> WeChatCrypto:
    return WeChatCrypto(token, aes_key, corp_id)


def check_fresh(timestamp: str | None, now: float | None = None) -> None:
    try:
        ts = int(timestamp or "")
    except ValueError:
        raise WireError(403, "bad timestamp")
    if abs((now if now is not None else time.time()) - ts) > wire.MAX_AGE_SECONDS:
        raise WireError(403, "stale timestamp")


def verify_url(crypto: WeChatCrypto, query: dict, now: float | None = None) -> str:
    """GET URL verification: the decrypted `echostr`, to be answered as the plain body."""
    sig, timestamp, nonce, echostr = (query.get(k) for k in ("msg_signature", "timestamp", "nonce", "echostr"))
    if not (sig and nonce and echostr):
        raise WireError(403, "missing signature parameters")
    check_fresh(timestamp, now)
    try:
        plain = crypto.check_signature(sig.lower(), timestamp, nonce, echostr)
    except InvalidSignatureException:
        raise WireError(403, "bad msg_signature")
    except Exception:  # base64, padding, another corp's receive id
        raise WireError(400, "cannot decrypt echostr")
    return plain.decode() if isinstance(plain, bytes) else str(plain)


def open_callback(crypto: WeChatCrypto, query: dict, body: bytes, now: float | None = None) -> dict:
    """POST callback → the decrypted event as a flat dict. 403 on a bad signature or a stale timestamp,
    400 on anything malformed."""
    sig, timestamp, nonce = (query.get(k) for k in ("msg_signature", "timestamp", "nonce"))
    if not (sig and nonce):
        raise WireError(403, "missing signature parameters")
    check_fresh(timestamp, now)
    root = wire.parse_xml(body)
    if not isinstance(root.get("Encrypt"), str):
        raise WireError(400, "no Encrypt element")
    try:
        plain = crypto.decrypt_message({"Encrypt": root["Encrypt"]}, sig.lower(), timestamp, nonce)
    except InvalidSignatureException:
        raise WireError(403, "bad msg_signature")
    except Exception:  # base64, padding, another corp's receive id
        raise WireError(400, "cannot decrypt")
    event = wire.parse_xml(plain)
    return {k: v for k, v in event.items() if isinstance(v, str) or v is None}


# --- WeCom's side ------------------------------------------------------------------------------------------
def kf_event_xml(corp_id: str, open_kfid: str, token: str, create_time: int | None = None) -> str:
    return wire.build_xml({"ToUserName": corp_id, "CreateTime": int(create_time or time.time()), "MsgType": "event",
                           "Event": KF_EVENT, "Token": token, "OpenKfId": open_kfid})


def callback_request(crypto: WeChatCrypto, xml: str, *, timestamp: int | None = None,
                     nonce: str | None = None) -> tuple[dict, bytes]:
    """(query, body) of the POST WeCom makes for `xml`: encrypted and signed with wechatpy's own crypto."""
    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or os.urandom(6).hex()
    envelope = wire.parse_xml(crypto.encrypt_message(xml, nonce, timestamp))
    body = wire.build_xml({"ToUserName": crypto.corp_id, "AgentID": "", "Encrypt": envelope["Encrypt"]})
    query = {"msg_signature": envelope["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
    return query, body.encode()


def verification_query(crypto: WeChatCrypto, echo: str, timestamp: int | None = None) -> dict:
    """The GET WeCom makes when the callback URL is saved: the expected answer is `echo`."""
    from wechatpy.crypto import _get_signature

    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = os.urandom(6).hex()
    encrypted = PrpCrypto(crypto.key).encrypt(echo, crypto.corp_id)
    encrypted = encrypted.decode() if isinstance(encrypted, bytes) else encrypted
    return {"msg_signature": _get_signature(crypto.token, timestamp, nonce, encrypted), "timestamp": timestamp,
            "nonce": nonce, "echostr": encrypted}
