"""The WeCom callback crypto against wechatpy's own (what WeCom sends), and the canonical sender ids."""
import time

import pytest
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from connectors import wechat_wire as wire
from connectors import wecom_wire
from connectors.wecom_ids import parse_sender, sender_id
from tests.unit.connectors.conftest import AES_KEY, CORP_ID, KFID, TOKEN

CRYPTO = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)


def wecom_post(xml: str, timestamp: str, nonce: str, corp_id: str = CORP_ID) -> tuple[dict, bytes]:
    """Built with wechatpy's primitives only, independently of wecom_wire.callback_request."""
    encrypted = PrpCrypto(CRYPTO.key).encrypt(xml, corp_id)
    encrypted = encrypted.decode() if isinstance(encrypted, bytes) else encrypted
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[]]></AgentID>" \
           f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    query = {"msg_signature": _get_signature(TOKEN, timestamp, nonce, encrypted), "timestamp": timestamp,
             "nonce": nonce}
    return query, body.encode()


def test_a_callback_made_with_wechatpy_opens():
    xml = wecom_wire.kf_event_xml(CORP_ID, KFID, "ENCtoken123")
    query, body = wecom_post(xml, str(int(time.time())), "n0nce")
    event = wecom_wire.open_callback(CRYPTO, query, body)
    assert event["Event"] == "kf_msg_or_event" and event["OpenKfId"] == KFID and event["Token"] == "ENCtoken123"
    assert event["ToUserName"] == CORP_ID and event["MsgType"] == "event"


def test_our_callback_request_is_what_wechatpy_decrypts():
    xml = wecom_wire.kf_event_xml(CORP_ID, KFID, "ENCtoken456")
    query, body = wecom_wire.callback_request(CRYPTO, xml)
    root = wire.parse_xml(body)
    plain = CRYPTO.decrypt_message({"Encrypt": root["Encrypt"]}, query["msg_signature"], query["timestamp"],
                                   query["nonce"])
    assert wire.parse_xml(plain)["Token"] == "ENCtoken456"


def test_bad_signature_stale_timestamp_and_other_corp():
    xml = wecom_wire.kf_event_xml(CORP_ID, KFID, "t")
    now = str(int(time.time()))
    query, body = wecom_post(xml, now, "n1")
    for bad in ({**query, "msg_signature": "0" * 40}, {**query, "nonce": "other"}, {k: v for k, v in query.items()
                                                                                   if k != "msg_signature"}):
        with pytest.raises(wire.WireError) as err:
            wecom_wire.open_callback(CRYPTO, bad, body)
        assert err.value.status == 403
    old = str(int(time.time()) - 301)
    query, body = wecom_post(xml, old, "n2")
    with pytest.raises(wire.WireError) as err:
        wecom_wire.open_callback(CRYPTO, query, body)
    assert err.value.status == 403
    query, body = wecom_post(xml, now, "n3", corp_id="wwsomeoneelse")  # signed right, for another corp
    with pytest.raises(wire.WireError) as err:
        wecom_wire.open_callback(CRYPTO, query, body)
    assert err.value.status == 400


@pytest.mark.parametrize("body", [b"", b"<xml><Encrypt>unterminated", b"<xml><NoEncrypt>x</NoEncrypt></xml>",
                                  b'<!DOCTYPE x [<!ENTITY a "a">]><xml><Encrypt>&a;</Encrypt></xml>'])
def test_malformed_bodies_are_400(body):
    query = {"msg_signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "n"}
    with pytest.raises(wire.WireError) as err:
        wecom_wire.open_callback(CRYPTO, query, body)
    assert err.value.status == 400


def test_url_verification_answers_the_decrypted_echo():
    query = wecom_wire.verification_query(CRYPTO, "echo-4711")
    assert wecom_wire.verify_url(CRYPTO, query) == "echo-4711"
    # the same check as wechatpy's own
    assert CRYPTO.check_signature(query["msg_signature"], query["timestamp"], query["nonce"],
                                  query["echostr"]) == "echo-4711"
    with pytest.raises(wire.WireError) as err:
        wecom_wire.verify_url(CRYPTO, {**query, "msg_signature": "f" * 40})
    assert err.value.status == 403


def test_sender_ids_are_canonical_and_refuse_unsafe_characters():
    assert sender_id("wkAJ2GCAAA", "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw") == "wecom:wkAJ2GCAAA:wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
    assert parse_sender("wecom:wkA:wmB") == ("wkA", "wmB")
    for bad in ("wm B", "wm\tB", "wm\nB", "wm\x00B", "wm\u200bB", "wm\u3000B", "wm:B", "wm/B", "", "x" * 65, None, 42):
        assert sender_id("wkA", bad) is None and sender_id(bad, "wmB") is None, repr(bad)
    for bad in ("wechat:wkA:wmB", "wecom:wkA", "wecom:wkA:wmB:x", "wecom:wk A:wmB", "oOpenid123", None):
        assert parse_sender(bad) is None, bad
