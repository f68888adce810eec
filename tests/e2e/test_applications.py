"""账户解锁, 重置密码, 协议查看与补签 and 办理进度 end to end through the REST webhook, to staff decisions and SMS.

Real back-office (applications, agreements, outbox), action server and Rasa on PostgreSQL and Redis; real live
face checks (rendered selfie clips of the announced action) against a portrait put on the account, a real ID card
read for 重置密码.
"""
from __future__ import annotations

import re
import time
import urllib.request

import pytest

from biometrics.testdata import ensure_faces, make_id_back
from tests.e2e.conftest import latest_code
from tests.e2e.test_identity import SIZE, card_front, consent_if_asked, live, login, owner, put_portrait, send_image
from tests.support.live import film
from tests.support.stack import texts


@pytest.fixture(scope="module")
def faces():
    people = ensure_faces()
    return {"owner": people["obama"], "other": people["biden"]}


def log_in_and_bind(stack, sender, account, faces):
    """Login, then the gate's 绑定设备 with a live face check against the portrait on file."""
    reply = login(stack, sender, account)
    assert "登录成功" in reply and "未绑定" in reply, reply
    return live(stack, sender, texts(stack.say(sender, "去绑定")), faces["owner"][0])


def applications(stack, account, business=None):
    status, items = stack.api("GET", f"/api/applications?account_number={account}"
                                     + (f"&business={business}" if business else ""))
    assert status == 200
    return items


def outbox(stack, sender):
    status, items = stack.api("GET", f"/api/conversations/{sender}/outbox")
    assert status == 200
    return "\n".join(m["text"] for m in items)


def wait_for(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    return check()


def unlock_until_submitted(stack, sender, faces, asked: str):
    """From the business's face step (`asked`: the bot's invitation) to the submitted application."""
    reply = live(stack, sender, asked, faces["owner"][0])
    assert "人脸认证通过" in reply and "138****0002" in reply, reply
    wait = re.search(r"请(\d+)秒后回复“重新发送”", reply)
    if wait:  # a code was sent less than 60 s ago: the customer waits and asks for a new one
        time.sleep(int(wait.group(1)) + 1)
        assert "新的验证码已发送" in texts(stack.say(sender, "重新发送"))
    reply = texts(stack.say(sender, latest_code(stack, "13800000002")))
    assert "确认解锁" in reply, reply
    return texts(stack.say(sender, "确认解锁"))


def test_unlock_rejected_resubmitted_approved(stack, sender, faces):
    phone = "13800000002"
    put_portrait(stack, "80010002", faces["owner"][0])
    assert "账户解锁" in texts(stack.say(sender, "我的账户被锁了"))
    reply = log_in_and_bind(stack, sender, "80010002", faces)
    assert "已校验成功并与本机绑定" in reply and "/h5/live/" in reply, reply
    reply = unlock_until_submitted(stack, sender, faces, reply)
    assert "账户解锁申请已提交" in reply and "办理进度" in reply, reply
    [app] = applications(stack, "80010002", "unlock_account")
    assert app["status"] == "pending" and app["payload"]["face"]["decision"] == "accept"
    assert app["payload"]["face"]["liveness"] == "video" and app["payload"]["face"]["media"]

    # the same business again: answered with the application under way, no second one
    reply = texts(stack.say(sender, "解锁账户"))
    assert "无需重复提交" in reply and f"编号{app['id']}" in reply and "审批中" in reply, reply
    assert len(applications(stack, "80010002", "unlock_account")) == 1

    # rejected: the reason reaches the customer by SMS and in the conversation's outbox
    status, _ = stack.api("POST", f"/api/applications/{app['id']}/reject", {"reason": "人脸照片与开户照片差异较大"})
    assert status == 200
    assert "人脸照片与开户照片差异较大" in wait_for(lambda: outbox(stack, sender))
    assert "人脸照片与开户照片差异较大" in stack.sms(phone)[-1]["text"]
    assert "已驳回" in texts(stack.say(sender, "我的业务办到哪了"))

    # a new application, approved twice: executed once, one SMS
    reply = texts(stack.say(sender, "解锁"))
    assert "/h5/live/" in reply, reply
    reply = unlock_until_submitted(stack, sender, faces, reply)
    assert "账户解锁申请已提交" in reply, reply
    new = next(a for a in applications(stack, "80010002", "unlock_account") if a["status"] == "pending")
    for _ in range(2):
        status, body = stack.api("POST", f"/api/applications/{new['id']}/approve", {"note": "核实无误"})
        assert status == 200 and body["status"] == "approved"
    approved = wait_for(lambda: [m for m in stack.sms(phone) if "已解锁" in m["text"]])
    time.sleep(1)
    assert len([m for m in stack.sms(phone) if "已解锁" in m["text"]]) == 1 == len(approved)
    status, account = stack.api("GET", "/api/accounts/80010002")
    assert account["state"] == "normal"
    assert "已解锁" in wait_for(lambda: outbox(stack, sender))
    reply = texts(stack.say(sender, "办理进度"))
    assert "已通过" in reply and "已驳回" in reply
    assert "您的账户当前未被锁定，无需解锁" in texts(stack.say(sender, "账户解锁"))


def test_reset_password_with_id_agreements_and_restart(stack, sender, faces):
    person, phone = owner("80010001"), "13800000001"
    put_portrait(stack, "80010001", faces["owner"][0])
    chat = []

    def say(text):
        reply = texts(stack.say(sender, text))
        chat.append(reply)
        return reply

    def image(data):
        reply = send_image(stack, sender, data)
        chat.append(reply)
        return reply

    assert "重置密码" in say("我要重置资金密码")
    chat.append(log_in_and_bind(stack, sender, "80010001", faces))
    assert "身份证人像面" in chat[-1], chat[-1]  # 资金密码 was taken from the request; no ID on file yet
    assert "国徽面" in image(card_front(person, faces["owner"][0], seed=7))
    reply = image(make_id_back(valid_until="2041-03-31", size=SIZE))
    assert person["name"] in reply and "2041-03-31" in reply
    reply = say("正确")
    assert "138****0001" in reply and "验证码" in reply, reply
    asked = consent_if_asked(stack, sender, say(latest_code(stack, phone)))

    # the action server restarts mid-business: the conversation continues where it was
    stack.stop("actions")
    stack.start_actions()
    stack.wait_ready()
    reply = texts(film(stack, sender, asked, faces["owner"][0]))
    chat.append(reply)
    assert "人脸认证通过" in reply and "密码重置申请书" in reply, reply
    urls = re.findall(r"(http://\S+/h5/agreements/[^\s/]+)", reply)
    assert len(urls) == 2

    assert "请先点击链接阅读" in say("已阅读并同意")  # never opened
    for url in urls:
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
    assert "需至少阅读10秒" in say("同意")  # opened a moment ago: refused by the server
    time.sleep(10.5)
    reply = say("同意")
    assert "签署验证码已发送至 138****0001" in reply, reply
    reply = say(latest_code(stack, phone))
    assert "协议签署成功" in reply and reply.count("/h5/agreements/pdf/") == 2
    assert "重置密码申请已提交" in reply and "短信" in reply, reply
    pdf = re.search(r"(http://\S+/h5/agreements/pdf/\S+)", reply).group(1)
    with urllib.request.urlopen(pdf, timeout=20) as resp:
        assert resp.headers["Content-Type"] == "application/pdf" and resp.read().startswith(b"%PDF")

    [app] = applications(stack, "80010001", "reset_password")
    assert app["payload"]["password_type"] == "资金密码"
    status, _ = stack.api("POST", f"/api/applications/{app['id']}/approve", {})
    assert status == 200
    sms = wait_for(lambda: [m["text"] for m in stack.sms(phone) if "临时资金密码" in m["text"]])
    password = re.search(r"临时资金密码为(\d{6})", sms[-1]).group(1)
    notice = wait_for(lambda: outbox(stack, sender))
    chat.append(notice)
    chat.append(say("办理进度"))
    assert "已通过" in chat[-1]
    assert all(password not in text for text in chat)  # the temporary password is only in the SMS


def test_cancel_mid_business(stack, sender, faces):
    put_portrait(stack, "80010008", faces["owner"][0])
    assert "重置密码" in texts(stack.say(sender, "密码忘了"))
    reply = log_in_and_bind(stack, sender, "80010008", faces)
    assert "请选择需要重置的密码类型" in reply, reply
    assert "身份证" in texts(stack.say(sender, "交易密码"))
    assert "已为您取消当前业务" in texts(stack.say(sender, "取消"))
    assert applications(stack, "80010008") == []
    assert "当前没有正在办理的业务" in texts(stack.say(sender, "取消"))


def test_view_agreements(stack, sender, faces):
    put_portrait(stack, "80010007", faces["owner"][0])
    stack.say(sender, "协议查看")
    reply = log_in_and_bind(stack, sender, "80010007", faces)
    assert "您目前没有在掌厅签署的协议" in reply and "个人信息处理授权书" in reply, reply
    assert "未签署相关协议" in texts(stack.say(sender, "暂不签署"))
    assert "没有在掌厅签署" in texts(stack.say(sender, "我签了哪些协议"))
