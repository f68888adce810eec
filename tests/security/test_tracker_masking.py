"""The masking tracker stores: what Rasa persists holds no phone number, ID number or name in clear."""
from __future__ import annotations

import json
import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from connectors.tracker_masking import (MaskingInMemoryTrackerStore, MaskingRedisTrackerStore, mask_bot_text,
                                       mask_dialogue, mask_event, mask_text)
from tests.support.databases import REDIS_URL

PII = ["13800000001", "110105198503120012", "张伟"]


@pytest.mark.parametrize("text,masked", [
    ("13800000001", "138****0001"), ("我的手机是 138-0000-0001 谢谢", "我的手机是 138****0001 谢谢"),
    ("１３８００００００01", "138****0001"), ("+86 138 0000 0001", "+861******0001"), ("138.0000.0001，验证码", "138****0001，验证码"),
    ("١٣٨٠٠٠٠٠٠٠١", "138****0001"), ("13800000001,123456", "138**********3456"),
    ("110105198503120012", "110***********0012"), ("11010519850312001x", "110***********001X"),
    ("姓名：张伟\n证件号码：110***********0012", "姓名：张*\n证件号码：110***********0012"),
    ("80010001", "80010001"), ("123456", "123456"), ("0f3a138000aa", "0f3a138000aa"),
    ("/upload_image{\"media_id\":\"5d41402abc4b2a76b9719d911017c592\"}",
     "/upload_image{\"media_id\":\"5d41402abc4b2a76b9719d911017c592\"}"),
])
def test_mask_text(text, masked):
    assert mask_text(text) == masked


def test_bot_links_stay_whole_and_the_text_around_them_is_masked():
    text = "请阅读《隐私政策》：http://127.0.0.1:56527/h5/privacy 验证码已发送至 13800000001。"
    assert mask_bot_text(text) == "请阅读《隐私政策》：http://127.0.0.1:56527/h5/privacy 验证码已发送至 138****0001。"
    dialogue = {"events": [{"event": "bot", "text": text}, {"event": "user", "text": "http://127.0.0.1:56527/x"}]}
    bot, user = mask_dialogue(dialogue)["events"]
    assert "http://127.0.0.1:56527/h5/privacy" in bot["text"] and "13800000001" not in bot["text"]
    assert user["text"] != "http://127.0.0.1:56527/x"  # a customer's typed text is masked whatever it looks like


def _tracker(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(SlotSet("session_started_metadata", {"client_ip": "203.0.113.7", "app_version": "5.2.0"}))
    tracker.update(UserUttered("我的手机号是13800000001", intent={"name": "inform", "confidence": 0.9},
                               metadata={"client_ip": "203.0.113.7", "app_version": "5.2.0"},
                               entities=[{"entity": "phone_number", "value": "13800000001", "start": 6, "end": 17}],
                               parse_data={"text": "我的手机号是13800000001", "intent": {"name": "inform"},
                                           "entities": [{"entity": "phone_number", "value": "13800000001"}]}))
    tracker.update(SlotSet("recover_phone", "13800000001"))
    tracker.update(BotUttered("已识别身份证信息：\n姓名：张伟\n证件号码：110105198503120012"))
    tracker.update(ActionExecuted("action_listen"))
    return tracker


DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  recover_phone:
    type: text
    mappings: [{type: custom}]
""")


def _assert_clean(serialised: str) -> None:
    serialised = json.dumps(json.loads(serialised), ensure_ascii=False)
    for value in [*PII, "203.0.113.7"]:  # the address is for the turn's own limits only
        assert value not in serialised, value
    assert "5.2.0" in serialised  # the rest of the channel's metadata stays
    assert "138****0001" in serialised and "张*" in serialised


async def test_in_memory_store_keeps_masks_only():
    store = MaskingInMemoryTrackerStore(DOMAIN)
    await store.save(_tracker("s1"))
    _assert_clean(store.store["s1"])
    again = await store.retrieve("s1")
    assert again.latest_message.text == "我的手机号是138****0001"
    assert again.get_slot("recover_phone") == "138****0001"


async def test_redis_store_keeps_masks_only_and_does_not_duplicate_events():
    prefix = "t" + uuid.uuid4().hex[:8]
    from urllib.parse import urlparse

    url = urlparse(REDIS_URL)
    store = MaskingRedisTrackerStore(DOMAIN, host=url.hostname, port=url.port or 6379, key_prefix=prefix,
                                     record_exp=60)
    try:
        await store.save(_tracker("s2"))
        raw = store.red.get(store.key_prefix + "s2")
        _assert_clean(raw)
        # the next turn: Rasa loads the (masked) tracker, adds events and saves again (Redis store merges)
        tracker = await store.retrieve("s2")
        tracker.update(UserUttered("110105198503120012", intent={"name": "inform"}))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        raw = store.red.get(store.key_prefix + "s2")
        _assert_clean(raw)
        events = json.loads(raw)["events"]
        assert [e["event"] for e in events].count("user") == 2
    finally:
        store.red.delete(store.key_prefix + "s2")


def test_answers_at_account_and_code_steps_are_masked_like_their_slots():
    """An account number (8-10 digits) or a code (6) typed at its step, or extracted as an entity anywhere, is
    stored masked; the same digits elsewhere (a quantity, a date) stay."""
    def user(text, entities=()):
        return {"event": "user", "text": text, "parse_data": {"text": text, "entities": [
            {"entity": e, "value": v} for e, v in entities]}}

    events = [user("共20001手"),
              {"event": "slot", "name": "requested_slot", "value": "account_number"}, user("我的账号是80010009"),
              {"event": "slot", "name": "requested_slot", "value": "otp_code"}, user("448304"),
              {"event": "slot", "name": "requested_slot", "value": "privacy_agreed"}, user("同意 20261206"),
              {"event": "active_loop", "name": None}, user("我要登录，资金账号6260662721", [("account_number", "6260662721")])]
    stored = [e for e in mask_dialogue({"events": events})["events"] if e["event"] == "user"]
    assert [e["text"] for e in stored] == ["共20001手", "我的账号是80****09", "******", "同意 20261206",
                                           "我要登录，资金账号62******21"]
    assert stored[1]["parse_data"]["text"] == "我的账号是80****09"
    assert stored[4]["parse_data"]["entities"][0]["value"] == "62******21"


def test_a_bot_message_keeps_no_template_values():
    """dispatcher.utter_message(response=..., name=...) stores the values in the bot event's metadata."""
    text = "已识别身份证信息：\n姓名：张伟\n证件号码：110***********0012"
    event = BotUttered(text, metadata={"name": "张伟", "id_masked": "110***********0012", "model_id": "m1",
                                       "assistant_id": "a"}).as_dict()
    [masked] = mask_dialogue({"events": [event]})["events"]
    logged = mask_event(event)  # the event log's copy (connectors/event_log.py)
    for kept in (masked, logged):
        assert "张伟" not in json.dumps(kept, ensure_ascii=False) and "姓名：张*" in kept["text"]
        assert kept["metadata"] == {"model_id": "m1", "assistant_id": "a"}
