"""掌厅登录 end to end: REST webhook → Rasa → action server → back-office on PostgreSQL and Redis."""
from __future__ import annotations

from tests.e2e.conftest import latest_code
from tests.support.stack import texts

PHONE = "13800000001"


def start_login(stack, sender, account="80010001", phone=PHONE):
    assert "登录类型" in texts(stack.say(sender, "我要登录"))
    assert "资金账号" in texts(stack.say(sender, "投资者"))
    assert "手机号" in texts(stack.say(sender, account))
    return texts(stack.say(sender, phone))


def test_login_happy_path(stack, sender):
    assert "138****0001" in start_login(stack, sender)
    code = latest_code(stack, PHONE)
    reply = stack.say(sender, code)
    assert "/h5/privacy" in texts(reply)
    assert [b["title"] for b in reply[-1]["buttons"]] == ["同意", "不同意"]
    reply = stack.say(sender, "同意")
    assert "登录成功" in texts(reply) and "80**0001" in texts(reply)
    assert any("账户解锁" in [b["title"] for b in r.get("buttons", [])] for r in reply)
    assert "已登录" in texts(stack.say(sender, "登录"))
    status, audit = stack.api("GET", "/api/audit?event=login_succeeded&account_number=80010001")
    assert status == 200 and any(e["actor"] == f"customer:{sender}" for e in audit)
    assert "退出" in texts(stack.say(sender, "退出登录"))
    assert "登录类型" in texts(stack.say(sender, "登录"))  # logged out for real


def test_wrong_code_then_right_code(stack, sender):
    # 80010006: an account no other e2e test closes or locks (80010009 is closed by the 在线销户 test)
    start_login(stack, sender, account="80010006", phone="13800000006")
    code = latest_code(stack, "13800000006")
    wrong = "000000" if code != "000000" else "111111"
    assert "验证码不正确" in texts(stack.say(sender, wrong))
    assert "6位数字" in texts(stack.say(sender, "12ab"))
    assert "隐私政策" in texts(stack.say(sender, code))
    assert "登录成功" in texts(stack.say(sender, "同意"))


def test_wrong_phone_does_not_say_which_was_wrong(stack, sender):
    reply = start_login(stack, sender, account="80010002", phone="13912345678")
    assert "不匹配" in reply and "资金账号" in reply
    unknown = start_login(stack, sender + "b", account="80019999", phone="13800000002")
    assert unknown == reply
    assert stack.sms("13912345678") == []


def test_privacy_refusal_ends_login(stack, sender):
    start_login(stack, sender, account="80010004", phone="13800000004")
    stack.say(sender, latest_code(stack, "13800000004"))
    assert "未同意《隐私政策》" in texts(stack.say(sender, "不同意"))
    assert "登录类型" in texts(stack.say(sender, "登录"))


def test_cancel_midway_and_bad_input(stack, sender):
    stack.say(sender, "登录")
    stack.say(sender, "投资者")
    assert "8至10位数字" in texts(stack.say(sender, "abcdefgh"))
    assert stack.say(sender, "😀😀😀")  # never silent
    assert stack.say(sender, "啊" * 2000)
    assert "取消" in texts(stack.say(sender, "取消"))
    assert "没有正在办理" in texts(stack.say(sender, "取消"))


def test_human_handoff_silences_the_bot_until_released(stack, sender):
    assert "人工客服" in texts(stack.say(sender, "转人工"))
    status, waiting = stack.api("GET", "/api/conversations?state=waiting")
    assert status == 200 and sender in [c["sender"] for c in waiting]
    status, _ = stack.api("POST", f"/api/conversations/{sender}/claim")
    assert status == 200
    assert stack.say(sender, "你好") == []  # an agent holds it: the bot stays silent
    status, msg = stack.api("POST", f"/api/conversations/{sender}/reply", {"text": "您好，客服小金为您服务"})
    assert status == 201
    status, outbox = stack.api("GET", f"/api/conversations/{sender}/outbox")
    assert [m["text"] for m in outbox] == ["您好，客服小金为您服务"]
    status, _ = stack.api("POST", f"/api/conversations/{sender}/release", {"resume_bot": True})
    assert status == 200
    assert "掌厅助手" in texts(stack.say(sender, "你好"))
