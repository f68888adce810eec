"""PII never in clear in Rasa's tracker store: a real login and 找回账户 conversation, then every event Rasa
kept (GET /conversations/{id}/tracker and the raw Redis record) is scanned for the phone number, the ID
number and the name (connectors/tracker_masking.py masks them when the tracker is stored)."""
from __future__ import annotations

import json

import redis

from tests.e2e.conftest import latest_code
from tests.e2e.test_identity import card_front, faces, live, owner, send_image  # noqa: F401  (fixture)
from tests.support.databases import REDIS_URL
from tests.support.stack import http, texts


def _scan(stack, sender: str, secrets: list[str]) -> str:
    status, tracker = http("GET", f"{stack.rasa_url()}/conversations/{sender}/tracker?include_events=ALL")
    assert status == 200 and tracker["events"]
    dumped = json.dumps(tracker, ensure_ascii=False)
    for value in secrets:
        assert value not in dumped, f"{value!r} in clear in the tracker"
    raw = redis.Redis.from_url(REDIS_URL, decode_responses=True).get(
        f"{stack.env['RASA_KEY_PREFIX']}:tracker:{sender}")
    assert raw, "the tracker is in Redis"
    stored = json.dumps(json.loads(raw), ensure_ascii=False)
    for value in secrets:
        assert value not in stored, f"{value!r} in clear in Redis"
    return dumped


def test_login_and_recovery_leave_no_pii_in_the_tracker(stack, sender, faces):  # noqa: F811
    person = owner("80010001")
    secrets = [person["phone"], person["id_number"], person["name"]]
    # 登录: the customer types the account number and the phone number
    stack.say(sender, "登录")
    stack.say(sender, "投资者")
    stack.say(sender, "80010001")
    assert "138****0001" in texts(stack.say(sender, f"我的手机号是 {person['phone']}"))
    stack.say(sender, latest_code(stack, person["phone"]))
    assert "登录成功" in texts(stack.say(sender, "同意"))
    dumped = _scan(stack, sender, secrets)
    assert "138****0001" in dumped  # masked, not dropped: staff still see what was said

    # 找回账户 (another device): the ID card is read aloud by the bot (name, masked ID), the phone typed
    other = sender + "-r"
    stack.say(other, "找回账户")
    reply = send_image(stack, other, card_front(person, faces["owner"][0]))
    assert person["name"] in reply  # the customer sees the name to confirm it ...
    assert "人脸认证通过" in live(stack, other, texts(stack.say(other, "正确")), faces["owner"][0])
    stack.say(other, person["phone"])
    assert "80**0001" in texts(stack.say(other, latest_code(stack, person["phone"])))
    dumped = _scan(stack, other, secrets)  # ... but the store keeps 姓名：张* only
    assert "姓名：" + person["name"][0] + "*" in dumped
