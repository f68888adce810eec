"""The 5-second rule and dedup, on the framework-free bridge with a scripted bot (no servers)."""
import asyncio
import time

import pytest

from backoffice.core.kvstore import MemoryKV
from connectors import wechat_format as fmt
from connectors import wechat_wire as wire
from connectors.wechat_bridge import WeChatBridge
from connectors.wechat_settings import WeChatSettings

SETTINGS = WeChatSettings(token="t", app_id="wxunit", app_secret="s", aes_key=None,
                          api_base="http://127.0.0.1:9/", production=False)


class FakeAPI:
    def __init__(self):
        self.sent = []

    async def send(self, openid, item):
        self.sent.append((openid, item))


class FakeBackoffice:
    def __init__(self, state="bot"):
        self.state = state

    async def conversation_state(self, openid):
        return self.state


class Bot:
    def __init__(self, delay=0.0):
        self.delay, self.turns = delay, []

    async def __call__(self, openid, text, metadata):
        self.turns.append(text)
        await asyncio.sleep(self.delay)
        return [{"text": f"答复：{text}"}]


def make(bot, window=0.5, state="bot"):
    return WeChatBridge(SETTINGS, kv=MemoryKV(), api=FakeAPI(), backoffice=FakeBackoffice(state), bot=bot,
                        window=window)


def request(msg_id="1001", content="你好", openid="o-unit"):
    xml = wire.build_xml({"ToUserName": "gh", "FromUserName": openid, "CreateTime": int(time.time()),
                          "MsgType": "text", "Content": content, "MsgId": int(msg_id)})
    return wire.signed_query(SETTINGS.token), xml.encode()


def passive(resp):
    return wire.open_reply(None, resp.body)


@pytest.mark.asyncio
async def test_fast_bot_answers_passively():
    bridge = make(Bot())
    resp = await bridge.receive(*request())
    assert resp.status == 200 and passive(resp)["Content"] == "答复：你好"
    assert bridge.api.sent == []


@pytest.mark.asyncio
async def test_slow_bot_gets_success_then_one_customer_service_message():
    bridge = make(Bot(delay=0.8), window=0.3)
    resp = await bridge.receive(*request())
    assert resp.body == "success"
    await asyncio.sleep(0.8)
    assert [item["content"] for _, item in bridge.api.sent] == ["答复：你好"]


@pytest.mark.asyncio
async def test_concurrent_retries_make_one_turn_and_one_reply():
    bot = Bot(delay=0.1)
    bridge = make(bot)
    q, body = request("2002")
    results = await asyncio.gather(*[bridge.receive(q, body) for _ in range(3)])
    replies = [passive(r) for r in results if passive(r)]
    await asyncio.sleep(0.2)
    assert bot.turns == ["你好"]
    assert len(replies) + len(bridge.api.sent) == 1


@pytest.mark.asyncio
async def test_retry_after_slow_first_request_does_not_answer_twice():
    bot = Bot(delay=0.5)
    bridge = make(bot, window=0.2)
    q, body = request("3003")
    first = await bridge.receive(q, body)
    second = await bridge.receive(q, body)
    await asyncio.sleep(0.6)
    assert first.body == "success" and second.body == "success"
    assert bot.turns == ["你好"] and len(bridge.api.sent) == 1


@pytest.mark.asyncio
async def test_dedup_mark_from_another_worker_means_success_without_a_turn():
    bot = Bot()
    bridge = make(bot)
    bridge.kv.set_nx("wechat:seen:wxunit:4004", "1", 60)
    resp = await bridge.receive(*request("4004"))
    assert resp.body == "success" and bot.turns == []


@pytest.mark.asyncio
async def test_numbered_option_maps_to_payload_and_stale_options_are_dropped():
    class ButtonBot(Bot):
        async def __call__(self, openid, text, metadata):
            self.turns.append(text)
            if text == "登录":
                return [{"text": "请选择", "buttons": [{"title": "投资者", "payload": "投资者"}]}]
            return [{"text": "请输入资金账号"}]

    bot = ButtonBot()
    bridge = make(bot)
    reply = passive(await bridge.receive(*request("5001", "登录")))
    assert "1. 投资者" in reply["Content"] and "回复数字选择" in reply["Content"]
    await bridge.receive(*request("5002", "1"))
    await bridge.receive(*request("5003", "1"))
    assert bot.turns == ["登录", "投资者", "1"]


@pytest.mark.asyncio
async def test_agent_held_conversation_is_logged_but_never_answered_by_the_bot():
    """The message reaches the (paused) tracker for the agent's history; nothing the bot says goes out."""
    bot = Bot()
    bridge = make(bot, state="agent")
    bridge.kv.set(fmt.options_key("o-unit"), fmt.dump_options(["/affirm", "/deny"]), 60)
    resp = await bridge.receive(*request("6006"))
    assert resp.body == "success" and bot.turns == ["你好"]
    resp = await bridge.receive(*request("6007", "1"))  # typed to the agent: not an answer to an old question
    assert resp.body == "success" and bot.turns == ["你好", "1"]
    await asyncio.sleep(0.1)
    assert bridge.api.sent == []  # no passive reply, no 客服消息 from the bot


@pytest.mark.asyncio
async def test_voice_without_recognition_asks_for_text():
    bot = Bot()
    bridge = make(bot)
    xml = wire.build_xml({"ToUserName": "gh", "FromUserName": "o1", "CreateTime": int(time.time()),
                          "MsgType": "voice", "MediaId": "m", "MsgId": 7007})
    reply = passive(await bridge.receive(wire.signed_query("t"), xml.encode()))
    assert "文字" in reply["Content"] and bot.turns == []


@pytest.mark.asyncio
async def test_transfer_to_wechat_kf_when_configured_and_agent_holds():
    import dataclasses

    bot = Bot()
    bridge = make(bot, state="agent")
    bridge.settings = dataclasses.replace(SETTINGS, transfer_to_kf=True)
    reply = passive(await bridge.receive(*request("8008")))
    assert reply["MsgType"] == "transfer_customer_service" and bot.turns == ["你好"]  # logged, not answered


@pytest.mark.asyncio
async def test_bot_image_is_uploaded_and_sent_as_passive_image_reply():
    class ImageBot(Bot):
        async def __call__(self, openid, text, metadata):
            return [{"image": "http://backoffice/h5/qr.png"}]

    class MediaAPI(FakeAPI):
        async def fetch_url(self, url):
            return b"\x89PNG", "image/png"

        async def upload_media(self, kind, filename, data):
            assert kind == "image" and data == b"\x89PNG"
            return "wx-media-1"

    bridge = make(ImageBot())
    bridge.api = MediaAPI()
    reply = passive(await bridge.receive(*request("9009")))
    assert reply["MsgType"] == "image" and reply["Image"]["MediaId"] == "wx-media-1"


@pytest.mark.asyncio
async def test_several_bot_messages_go_out_in_order_as_customer_service_messages():
    class TwoBot(Bot):
        async def __call__(self, openid, text, metadata):
            return [{"text": "先看图"}, {"image": "http://x/a.png"}]

    class MediaAPI(FakeAPI):
        async def fetch_url(self, url):
            return b"img", "image/png"

        async def upload_media(self, kind, filename, data):
            return "m1"

    bridge = make(TwoBot())
    bridge.api = MediaAPI()
    resp = await bridge.receive(*request("9010"))
    await asyncio.sleep(0.05)
    assert resp.body == "success"
    assert [item["type"] for _, item in bridge.api.sent] == ["text", "image"]
