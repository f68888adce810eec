"""WeChat XML parsing and the webhook handler under random, malformed, huge and hostile input."""
from __future__ import annotations

import asyncio
import time

from hypothesis import given
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from backoffice.core.kvstore import MemoryKV
from connectors import wechat_wire as wire
from connectors.wechat_bridge import WeChatBridge
from connectors.wechat_settings import WeChatSettings

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PLAIN = WeChatSettings(token="t", app_id="wxfuzz", app_secret="s", aes_key=None, api_base="http://127.0.0.1:9/",
                       production=False)
SAFE = WeChatSettings(token="t", app_id="wxfuzz", app_secret="s", aes_key=AES_KEY,
                      api_base="http://127.0.0.1:9/", production=False)
REAL = wire.build_xml({"ToUserName": "gh_1", "FromUserName": "o-fuzz", "CreateTime": 1700000000, "MsgType": "text",
                       "Content": "你好，我想登录", "MsgId": 1234567890}).encode()
HOSTILE = [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Content>&c;</Content></xml>',
    b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
    b'<!doctype xml [<!entity xxe SYSTEM "http://127.0.0.1:9/">]><xml>&xxe;</xml>',
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><xml><C>&a;</C></xml>'.encode("utf-16"),
    b'<?xml version="1.0" encoding="UTF-7"?><xml>+ADw-script+AD4-</xml>',
    b'<?xml version="1.0" encoding="x-unknown"?><xml/>',
    b"<xml><A><![CDATA[" + b"\xff\xfe" * 100 + b"]]></A></xml>",
    b"<xml>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</xml>",
    b"<xml>" + b"x" * (wire.MAX_BODY_BYTES + 1) + b"</xml>",
    b'<xml xmlns:x="urn:x"><x:FromUserName>o</x:FromUserName><MsgType>text</MsgType></xml>',
    b"<xml><FromUserName>o</FromUserName><FromUserName>p</FromUserName><MsgType>text</MsgType></xml>",
    b"<xml><FromUserName><a>o</a></FromUserName><MsgType>text</MsgType></xml>",
    b"\xef\xbb\xbf<xml><FromUserName>o</FromUserName><MsgType>event</MsgType><Event>subscribe</Event></xml>",
    b"<xml><?php echo 1; ?><FromUserName>o</FromUserName><MsgType>text</MsgType></xml>",
]

TAGS = st.sampled_from(["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "MediaId",
                        "PicUrl", "Event", "EventKey", "Encrypt", "Recognition", "Format", "xml", "a", ""])
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@st.composite
def xmlish(draw):
    """Roughly WeChat-shaped documents: random tags, CDATA or text, nesting, attributes, junk between."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        tag = draw(TAGS)
        value = draw(TEXT)
        style = draw(st.integers(0, 4))
        if style == 0:
            parts.append(f"<{tag}><![CDATA[{value}]]></{tag}>")
        elif style == 1:
            parts.append(f"<{tag}>{value}</{tag}>")
        elif style == 2:
            parts.append(f'<{tag} a="{value}"/>')
        elif style == 3:
            parts.append(f"<{tag}><{draw(TAGS)}>{value}</{tag}>")  # crossed tags
        else:
            parts.append(value)
    body = "<xml>" + "".join(parts) + ("</xml>" if draw(st.booleans()) else "")
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "gbk", "latin-1"]))
    return body.encode(encoding, errors="replace")


@st.composite
def mutated(draw, seed: bytes = REAL):
    data = bytearray(draw(st.sampled_from([seed, *HOSTILE])))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == 0 and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.binary(max_size=16))
        elif op == 2:
            del data[pos:pos + draw(st.integers(1, 16))]
        else:
            data = data[:pos]
    return bytes(data)


BODIES = st.one_of(st.binary(max_size=512), xmlish(), mutated(), st.sampled_from(HOSTILE))


@given(body=BODIES)
def test_parse_xml_returns_a_dict_or_refuses(fuzzed, body):
    with fuzzed:
        try:
            root = wire.parse_xml(body)
        except wire.WireError as exc:
            assert exc.status == 400
            return
        assert isinstance(root, dict)
        text = repr(root)
        assert "root:" not in text and "aaaaaaaaaaaaaaaaaaaa" not in text  # no file read, no entity expansion


class FakeAPI:
    async def send(self, openid, item):
        return None

    async def download_media(self, media_id):
        return b"\xff\xd8\xff", "image/jpeg"

    async def fetch_url(self, url):
        return None, None

    async def upload_media(self, *a):
        return "m"


class FakeBackoffice:
    async def conversation_state(self, openid):
        return "bot"

    async def store_media(self, data, openid, filename="upload"):
        return "0" * 32


async def _bot(openid, text, metadata):
    return [{"text": "收到"}]


_loop = asyncio.new_event_loop()


def _bridge(settings):
    return WeChatBridge(settings, kv=MemoryKV(), api=FakeAPI(), backoffice=FakeBackoffice(), bot=_bot, window=0.0)


BRIDGES = {"plain": None, "aes": None}


async def _receive(mode: str, query: dict, body: bytes):
    if BRIDGES[mode] is None:
        BRIDGES[mode] = _bridge(PLAIN if mode == "plain" else SAFE)
    bridge = BRIDGES[mode]
    resp = await bridge.receive(query, body)
    if bridge._tasks:
        await asyncio.gather(*bridge._tasks, return_exceptions=True)
    return resp


@given(body=BODIES, mode=st.sampled_from(["plain", "aes"]), signed=st.booleans(),
       extra=st.dictionaries(st.sampled_from(["encrypt_type", "msg_signature", "openid", "echostr", "nonce"]),
                             TEXT, max_size=3))
def test_webhook_answers_every_body_without_crashing(fuzzed, body, mode, signed, extra):
    """The signed query is valid (or not); the body is anything: 200/400/403, never an exception."""
    query = wire.signed_query("t") if signed else {}
    query.update(extra)
    if mode == "aes" and signed and "encrypt_type" not in extra:
        crypto = WeChatCrypto("t", AES_KEY, "wxfuzz")
        plain = body.decode("utf-8", "replace")
        body, msg_sig = wire.encrypt_inbound(crypto, plain, "gh_1", query["timestamp"], query["nonce"])
        body = body.encode()
        query.update({"encrypt_type": "aes", "msg_signature": msg_sig})
    with fuzzed:
        resp = _loop.run_until_complete(_receive(mode, query, body))
    assert resp.status in (200, 400, 403)


def test_a_real_message_still_gets_its_answer():
    """The fuzz target is live: a valid message is answered (so refusals above are not the only outcome)."""
    xml = wire.build_xml({"ToUserName": "gh_1", "FromUserName": "o-live", "CreateTime": int(time.time()),
                          "MsgType": "text", "Content": "你好", "MsgId": 99}).encode()
    bridge = WeChatBridge(PLAIN, kv=MemoryKV(), api=FakeAPI(), backoffice=FakeBackoffice(), bot=_bot, window=2.0)
    resp = _loop.run_until_complete(bridge.receive(wire.signed_query("t"), xml))
    assert resp.status == 200 and wire.open_reply(None, resp.body)["Content"] == "收到"
