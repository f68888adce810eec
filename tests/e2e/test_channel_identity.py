"""A conversation's identity is its channel's, probed from outside through the real REST channel, action server
and back-office (the WeChat side of it: tests/e2e/test_wechat.py)."""
from __future__ import annotations

import json
import os

from biometrics.testdata import ensure_faces
from tests.e2e.conftest import latest_code
from tests.e2e.test_identity import card_front, login, owner
from tests.support.stack import http, texts


def rest(stack, sender, message, headers=None):
    return http("POST", f"{stack.rasa_url()}/webhooks/rest/webhook", {"sender": sender, "message": message},
                headers=headers)


def test_senders_differing_only_in_whitespace_are_refused(stack, sender):
    bare = sender.removeprefix("rest:")
    assert rest(stack, bare, "你好")[0] == 200
    for near in (bare + " ", " " + bare, bare + "\t", bare + "\u200b"):
        status, body = rest(stack, near, "我的业务办到哪了")
        assert status == 400 and body["error"] == "bad_sender", (near, body)


def test_a_media_id_works_only_in_the_conversation_that_uploaded_it(stack, new_account):
    """B sends the id of an ID photo A uploaded: answered like an expired file, nothing of A's card is read."""
    person = new_account(signature=False)
    faces = ensure_faces()["obama"]
    a, b = f"rest:e2e-media-a-{os.urandom(3).hex()}", f"rest:e2e-media-b-{os.urandom(3).hex()}"
    media = stack.upload(card_front(owner(person["account_number"]), faces[0]), a)
    stack.say(b, "绑定设备")
    assert "未绑定" in login(stack, b, person["account_number"])
    reply = texts(stack.say(b, "去绑定"))
    assert "身份证人像面" in reply, reply
    answer = texts(stack.say(b, f'/upload_image{{"media_id":"{media}"}}'))
    assert "已失效" in answer and person["name"] not in answer and "证件号码" not in answer, answer


def test_strangers_with_an_account_number_cannot_lock_its_owner_out(stack, new_account):
    account = new_account()
    number, phone = account["account_number"], account["phone"]
    for i in range(5):  # five conversations each try a wrong reserved phone
        stranger = f"rest:e2e-stranger-{i}-{os.urandom(3).hex()}"
        for text in ("我要登录", "投资者", number):
            stack.say(stranger, text)
        answer = texts(stack.say(stranger, "13912345678"))
        assert "不匹配" in answer or "次数过多" in answer, answer
    notices = [m["text"] for m in stack.sms(phone) if "多次登录失败" in m["text"]]
    assert len(notices) == 1, notices  # the owner is told once
    owner_conversation = f"rest:e2e-owner-{os.urandom(3).hex()}"
    for text in ("我要登录", "投资者", number):
        stack.say(owner_conversation, text)
    assert phone[:3] + "****" + phone[-4:] in texts(stack.say(owner_conversation, phone))
    assert "隐私政策" in texts(stack.say(owner_conversation, latest_code(stack, phone)))
    assert "登录成功" in texts(stack.say(owner_conversation, "同意"))
    # a sixth stranger is turned away at once
    late = f"rest:e2e-stranger-late-{os.urandom(3).hex()}"
    for text in ("我要登录", "投资者", number):
        stack.say(late, text)
    assert "次数过多" in texts(stack.say(late, "13912345679"))


def test_a_huge_message_gets_a_polite_answer_without_nlu(stack, sender):
    replies = stack.say(sender, "我" * 100_000)
    assert "太长" in texts(replies), replies
    status, tracker = http("GET", f"{stack.rasa_url()}/conversations/{sender}/tracker")
    assert status == 200 and not [e for e in tracker["events"] if e["event"] == "user"]


def test_only_rasa_reaches_the_action_server(stack, sender):
    """A made-up tracker posted to the action server is refused; Rasa's own calls carry the token."""
    made_up = {"next_action": "action_check_session", "sender_id": "rest:someone-else", "tracker": {
        "sender_id": "rest:someone-else", "slots": {}, "latest_message": {}, "events": [], "paused": False,
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}, "domain": {}}
    url = f"http://127.0.0.1:{stack.ports['actions']}/webhook"
    assert http("POST", url, made_up)[0] == 401
    assert http("POST", url, made_up, headers={"X-Hall-Action-Token": "guess"})[0] == 401
    assert http("GET", f"http://127.0.0.1:{stack.ports['actions']}/health")[0] == 200
    assert "登录类型" in texts(stack.say(sender, "我要登录"))  # Rasa itself gets through


def test_the_bot_api_is_not_on_the_public_listener(stack):
    status, _ = http("POST", stack.backoffice_url + "/api/bot/session", {"sender": "rest:x"},
                     token=stack.service_token)
    assert status == 404
    assert stack.bot("/api/bot/session", {"sender": "rest:x"})[0] == 200


def test_account_numbers_and_codes_are_masked_in_the_stored_conversation(stack, sender):
    number, phone = "80010001", "13800000001"
    for text in ("我要登录", "投资者", number, phone):
        stack.say(sender, text)
    code = latest_code(stack, phone)
    stack.say(sender, code)
    stack.say(sender, "同意")
    status, tracker = http("GET", f"{stack.rasa_url()}/conversations/{sender}/tracker")
    stored = json.dumps(tracker, ensure_ascii=False)
    assert status == 200 and number not in stored and code not in stored and phone not in stored
    typed = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert typed[2] == "80****01" and typed[4] == "******", typed
    assert "80**0001" in stored  # what the customer was shown of it
