import base64
import os
import time

import pytest
from wechatpy.crypto import WeChatCrypto

from connectors import wechat_wire as wire

TOKEN = "unit-token"
AES_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")
APP_ID = "wxunit0000000001"


def test_signature_matches_wechat_definition():
    import hashlib

    expected = hashlib.sha1("".join(sorted([TOKEN, "1700000000", "abc"])).encode()).hexdigest()
    assert wire.signature(TOKEN, "1700000000", "abc") == expected


def test_check_request_accepts_fresh_signed_request():
    q = wire.signed_query(TOKEN)
    wire.check_request(TOKEN, q["signature"], q["timestamp"], q["nonce"])


@pytest.mark.parametrize("mutate", ["signature", "token", "missing"])
def test_bad_signature_is_403(mutate):
    q = wire.signed_query(TOKEN)
    sig = q["signature"]
    token = TOKEN
    if mutate == "signature":
        sig = "0" * 40
    elif mutate == "token":
        token = "other"
    else:
        sig = None
    with pytest.raises(wire.WireError) as err:
        wire.check_request(token, sig, q["timestamp"], q["nonce"])
    assert err.value.status == 403


def test_stale_timestamp_is_403_even_with_valid_signature():
    old = int(time.time()) - 301
    q = wire.signed_query(TOKEN, timestamp=old)
    with pytest.raises(wire.WireError) as err:
        wire.check_request(TOKEN, q["signature"], q["timestamp"], q["nonce"])
    assert err.value.status == 403
    wire.check_request(TOKEN, q["signature"], q["timestamp"], q["nonce"], now=old + 299)


@pytest.mark.parametrize("body", [
    b"", b"<xml><Content>unterminated", b"not xml at all", b"<notxml/>",
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><xml><Content>&lol;</Content></xml>',
])
def test_malformed_xml_is_400(body):
    with pytest.raises(wire.WireError) as err:
        wire.parse_xml(body)
    assert err.value.status == 400


def test_build_and_parse_round_trip_with_cdata_breakers():
    xml = wire.build_xml({"FromUserName": "o1", "CreateTime": 5, "Content": "a]]>b <&> 中文"})
    root = wire.parse_xml(xml)
    assert root["Content"] == "a]]>b <&> 中文" and root["CreateTime"] == "5"


def test_aes_round_trip_with_wechatpy_crypto():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    xml = wire.build_xml({"ToUserName": "gh", "FromUserName": "o1", "MsgType": "text", "Content": "登录"})
    q_ts, nonce = str(int(time.time())), "n1"
    body, msg_sig = wire.encrypt_inbound(crypto, xml, "gh", q_ts, nonce)
    # wechatpy (the reference implementation) decrypts what we produce
    assert wire.parse_xml(crypto.decrypt_message(body, msg_sig, q_ts, nonce))["Content"] == "登录"
    # and we decrypt it
    root = wire.decrypt(crypto, wire.parse_xml(body), msg_sig, q_ts, nonce)
    assert root["Content"] == "登录"
    # a reply encrypted by wechatpy opens
    reply = crypto.encrypt_message(wire.build_xml({"MsgType": "text", "Content": "您好"}), "n2", q_ts)
    assert wire.open_reply(crypto, reply)["Content"] == "您好"


def test_aes_bad_msg_signature_is_403_and_garbage_is_400():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    body, _sig = wire.encrypt_inbound(crypto, "<xml><A>1</A></xml>", "gh", "1", "n")
    with pytest.raises(wire.WireError) as err:
        wire.decrypt(crypto, wire.parse_xml(body), "f" * 40, "1", "n")
    assert err.value.status == 403
    other = WeChatCrypto(TOKEN, base64.b64encode(os.urandom(32)).decode().rstrip("="), APP_ID)
    body2, sig2 = wire.encrypt_inbound(other, "<xml><A>1</A></xml>", "gh", "1", "n")
    with pytest.raises(wire.WireError) as err:
        wire.decrypt(crypto, wire.parse_xml(body2), sig2, "1", "n")
    assert err.value.status == 400
