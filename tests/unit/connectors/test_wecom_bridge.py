"""The channel's behaviour on one pulled message at a time, end to end through the callback, against the fake
WeCom API and a scripted bot and back-office (no Rasa)."""
import time

import pytest

from connectors import wecom_wire
from connectors.wecom_api import KfClient
from connectors.wecom_bridge import UNSUPPORTED, VOICE, WeComBridge
from connectors.wecom_metrics import WeComMetrics
from connectors.wecom_replies import CUT_NOTE
from connectors.wecom_store import MemoryWeComStore
from tests.unit.connectors.conftest import KFID, wecom_settings

LONG = "。".join(f"第{i}条注意事项的详细说明" for i in range(400)) + "。"  # ~ 12 KB: 7 messages


class Backoffice:
    def __init__(self):
        self.states, self.media, self.calls = {}, {}, []

    async def conversation_state(self, sender):
        return self.states.get(sender, "bot")

    async def store_media(self, data, sender, filename="upload"):
        media_id = f"m{len(self.media) + 1}"
        self.media[media_id] = (data, sender, filename)
        return media_id

    async def call(self, path, payload):
        self.calls.append((path, payload))
        if path == "/api/bot/handoff/channel":
            self.states.pop(payload["sender"], None)
        return {}


class Bot:
    def __init__(self, backoffice):
        self.backoffice, self.turns = backoffice, []

    async def __call__(self, sender, text, metadata):
        self.turns.append((sender, text, metadata))
        if metadata.get("held_by_agent"):
            return []
        if text == "转人工":
            self.backoffice.states[sender] = "waiting"
            return [{"text": "已为您转接人工客服，请稍候。"}]
        if text == "长":
            return [{"text": LONG}]
        if text == "登录":
            return [{"text": "请选择登录类型：", "buttons": [{"title": "投资者", "payload": "投资者"},
                                                          {"title": "其他类型", "payload": "其他类型"}]}]
        if text == "/greet":
            return [{"text": "您好，我是掌厅助手。"}]
        return [{"text": f"答复：{text}"}]


@pytest.fixture
async def wecom(fake_wecom):
    fake, settings = fake_wecom
    return await make(fake, settings)


async def make(fake, settings, handoff="console"):
    settings = wecom_settings(settings.api_base, handoff)
    metrics, backoffice = WeComMetrics(), Backoffice()
    client = KfClient(settings, metrics=metrics, backoff=(0.01,))
    bridge = WeComBridge(settings, client=client, store=MemoryWeComStore(), backoffice=backoffice,
                         bot=Bot(backoffice), metrics=metrics)

    class W:
        pass

    w = W()
    w.fake, w.bridge, w.backoffice, w.bot, w.metrics = fake, bridge, backoffice, bridge.bot, metrics

    async def callback():
        query, body = wecom_wire.callback_request(bridge.crypto, wecom_wire.kf_event_xml(
            settings.corp_id, KFID, fake.sync_token(KFID)))
        started = time.monotonic()
        resp = await bridge.receive(query, body)
        elapsed = time.monotonic() - started
        await bridge.puller.idle()
        return resp, elapsed

    async def says(uid, text=None, msgtype="text", **content):
        if text is not None:
            content["text"] = text
        fake.customer_message(KFID, uid, msgtype, **content)
        return await callback()

    def received(uid):
        return [m["text"]["content"] if m["msgtype"] == "text" else m["msgtype"] for m in fake.messages_for(uid)]

    w.callback, w.says, w.received = callback, says, received
    return w


def sender(uid):
    return f"wecom:{KFID}:{uid}"


async def test_a_callback_is_answered_at_once_and_the_customer_gets_the_bots_answer(wecom):
    resp, elapsed = await wecom.says("wmA", "你好")
    assert resp.status == 200 and resp.body == "success"
    assert wecom.received("wmA") == ["答复：你好"]
    assert wecom.bot.turns[0][:2] == (sender("wmA"), "你好") and wecom.bot.turns[0][2]["wecom_msg_type"] == "text"
    assert wecom.fake.transitions == [(KFID, "wmA", 1)]  # the new session (0) was taken by the bot
    # three callbacks for one message: one turn, one answer
    wecom.fake.customer_message(KFID, "wmA", text="帮助")
    for _ in range(3):
        await wecom.callback()
    assert wecom.received("wmA") == ["答复：你好", "答复：帮助"] and len(wecom.bot.turns) == 2


async def test_url_verification_and_bad_callbacks(wecom):
    query = wecom_wire.verification_query(wecom.bridge.crypto, "echo-1")
    assert wecom.bridge.verify(query).body == "echo-1"
    assert wecom.bridge.verify({**query, "msg_signature": "0" * 40}).status == 403
    query, body = wecom_wire.callback_request(wecom.bridge.crypto, wecom_wire.kf_event_xml(
        "wwunit0000000001", "wk bad", "t"))
    assert (await wecom.bridge.receive(query, body)).status == 400
    query, body = wecom_wire.callback_request(wecom.bridge.crypto, wecom_wire.kf_event_xml(
        "wwunit0000000001", KFID, "t"))
    assert (await wecom.bridge.receive({**query, "msg_signature": "f" * 40}, body)).status == 403


async def test_numbered_options_images_videos_voice_and_other_kinds(wecom):
    await wecom.says("wmB", "登录")
    assert "1. 投资者\n2. 其他类型\n回复数字选择" in wecom.received("wmB")[0]
    await wecom.says("wmB", "1")
    assert wecom.bot.turns[-1][1] == "投资者"
    image = wecom.fake.put_media(b"\x89PNG-photo", "image/png")
    await wecom.says("wmB", msgtype="image", image={"media_id": image})
    assert wecom.bot.turns[-1][1] == '/upload_image{"media_id": "m1"}'
    assert wecom.backoffice.media["m1"] == (b"\x89PNG-photo", sender("wmB"), "wecom-image")
    video = wecom.fake.put_media(b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    await wecom.says("wmB", msgtype="video", video={"media_id": video})
    assert wecom.bot.turns[-1][1] == '/upload_video{"media_id": "m2"}'
    turns = len(wecom.bot.turns)
    await wecom.says("wmB", msgtype="voice", voice={"media_id": "v1"})
    await wecom.says("wmB", msgtype="location", location={"latitude": 1, "longitude": 2})
    assert wecom.received("wmB")[-2:] == [VOICE, UNSUPPORTED] and len(wecom.bot.turns) == turns


async def test_a_long_answer_is_cut_with_a_note_and_the_rest_follows_the_next_message(wecom):
    await wecom.says("wmC", "长")
    first = wecom.received("wmC")
    assert len(first) == 5 and first[-1].endswith(CUT_NOTE) and not wecom.fake.refused
    await wecom.says("wmC", "继续")  # only asks for the rest: no bot turn
    rest = wecom.received("wmC")[5:]
    assert len(wecom.bot.turns) == 1 and rest and not rest[-1].endswith(CUT_NOTE)
    whole = "".join(t.removesuffix("\n" + CUT_NOTE).replace("\n", "") for t in first + rest)
    assert whole == LONG


async def test_a_wecom_servicer_session_silences_the_bot(wecom):
    await wecom.says("wmD", "你好")
    wecom.fake.servicer_accepts(KFID, "wmD")  # an event in the log, then state 3
    await wecom.says("wmD", "人工在吗")
    assert wecom.received("wmD")[-1] == "答复：你好" and len(wecom.bot.turns) == 1
    wecom.fake.servicer_ends(KFID, "wmD")
    await wecom.says("wmD", "我回来了")  # a new session: the bot takes it again
    assert wecom.received("wmD")[-1] == "答复：我回来了" and wecom.fake.state_of(KFID, "wmD") == 1


async def test_console_agent_holds_it_messages_go_to_the_history_only(wecom):
    await wecom.says("wmE", "你好")
    wecom.backoffice.states[sender("wmE")] = "agent"
    await wecom.says("wmE", "我要人工")
    assert wecom.bot.turns[-1][1] == "我要人工" and wecom.bot.turns[-1][2]["held_by_agent"] is True
    assert wecom.received("wmE") == ["答复：你好"]


async def test_handoff_to_wecom_servicers_after_the_answer(fake_wecom):
    fake, settings = fake_wecom
    w = await make(fake, settings, handoff="wecom")
    await w.says("wmF", "转人工")
    assert w.received("wmF") == ["已为您转接人工客服，请稍候。"]  # sent while the state was still 1
    assert fake.state_of(KFID, "wmF") == 2 and fake.transitions[-1] == (KFID, "wmF", 2)
    assert w.backoffice.calls == [("/api/bot/handoff/channel", {"sender": sender("wmF")})]
    await w.says("wmF", "在吗")  # in WeCom's pool: the bot is silent
    assert len(w.bot.turns) == 1


async def test_handoff_to_the_console_keeps_the_session_with_the_bot(wecom):
    await wecom.says("wmG", "转人工")
    assert wecom.fake.state_of(KFID, "wmG") == 1 and wecom.backoffice.calls == []


async def test_welcome_on_entering_the_session(wecom):
    wecom.fake.enter_session(KFID, "wmH")
    await wecom.callback()
    sent = wecom.fake.messages_for("wmH")
    assert len(sent) == 1 and sent[0]["via"] == "event"
    assert "掌厅助手" in sent[0]["text"]["content"] and "1. 掌厅登录" in sent[0]["text"]["content"]
    assert wecom.bot.turns[0][1] == "/greet"
    wecom.fake.customer_message(KFID, "wmH", text="1")
    await wecom.callback()
    assert wecom.bot.turns[-1][1] == "/login"
