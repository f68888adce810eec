"""Conversations as customers have them (issue 17), through the REST webhook on the real stack: answers typed
the phone-keyboard way, several answers in one message, "I forgot", switching business mid-way, and questions
of the FAQ at the start and in the middle of a step.

Accounts come from new_account (numbers and phones of their own) so that no other test's codes, lock-outs or
applications on the seeded demo accounts get in the way.
"""
from __future__ import annotations

import re
import time
import urllib.request

import pytest

from biometrics.testdata import ensure_faces, make_id_back
from tests.e2e.conftest import latest_code
from tests.e2e.test_identity import SIZE, card_front, live, owner, put_portrait, send_image
from tests.support.stack import texts

NIGHT = "21:00"  # in the answer of faq/night_session (bot/faq/faq.yml)


@pytest.fixture(scope="module")
def faces():
    people = ensure_faces()
    return {"owner": people["obama"]}


def dashed(phone: str) -> str:
    return f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[7:]}"


def test_a_phone_typed_with_prefix_and_dashes_is_accepted(stack, sender, new_account):
    account = new_account()
    stack.say(sender, "我要登录")
    stack.say(sender, "投资者")
    assert "手机号" in texts(stack.say(sender, account["account_number"]))
    reply = texts(stack.say(sender, dashed(account["phone"])))
    assert "11位数字" not in reply and masked(account["phone"]) in reply, reply
    assert "登录成功" in texts(stack.say(sender, latest_code(stack, account["phone"]))) + \
        texts(stack.say(sender, "同意"))


def test_two_answers_in_the_first_message_start_the_login_and_skip_their_steps(stack, sender, new_account):
    account = new_account()
    reply = texts(stack.say(sender, f"我要登录，资金账号{account['account_number']}，手机号{account['phone']}"))
    # the investor type, the account number and the phone are taken: the code is sent, only it is asked
    assert masked(account["phone"]) in reply and "验证码" in reply, reply
    assert "登录类型" not in reply and "请输入您的资金账号" not in reply and "没有找到您之前的对话" not in reply
    assert "隐私政策" in texts(stack.say(sender, latest_code(stack, account["phone"])))


def test_a_forgotten_account_number_at_its_step_starts_recover_account(stack, sender):
    stack.say(sender, "登录")
    assert "资金账号" in texts(stack.say(sender, "投资者"))
    reply = texts(stack.say(sender, "资金账号我忘了"))
    assert "8至10位数字" not in reply, reply
    assert "找回账户" in reply and "身份证人像面" in reply, reply


def test_a_question_of_the_faq_at_the_start(stack, sender):
    reply = texts(stack.say(sender, "夜盘几点开始？"))
    assert NIGHT in reply and "更新于" in reply and "没有理解" not in reply, reply
    reply = texts(stack.say(sender, "开通股指期货要满足什么条件"))
    assert "50万" in reply and "转人工" in reply, reply
    assert "15:00" in texts(stack.say(sender, "下午几点收盘"))


def test_a_question_of_the_faq_mid_login_is_answered_and_the_step_asked_again(stack, sender, new_account):
    account = new_account()
    stack.say(sender, "我要登录")
    assert "资金账号" in texts(stack.say(sender, "投资者"))
    reply = texts(stack.say(sender, "夜盘几点开始？"))
    assert NIGHT in reply and "请输入您的资金账号" in reply, reply
    assert "8至10位数字，请检查" not in reply  # never taken for a wrong account number
    assert "手机号" in texts(stack.say(sender, account["account_number"]))  # the login goes on where it was
    reply = texts(stack.say(sender, "股指期货几点开盘"))
    assert "09:30" in reply and "预留的手机号码" in reply, reply


def test_naming_another_business_mid_way_switches_after_a_confirmation_and_offers_to_resume(
        stack, sender, new_account, faces):
    account = new_account(state="locked")
    number, phone = account["account_number"], account["phone"]
    put_portrait(stack, number, faces["owner"][0])
    assert "账户解锁" in texts(stack.say(sender, "我的账户被锁了"))
    stack.say(sender, "投资者")
    stack.say(sender, number)
    stack.say(sender, phone)
    reply = texts(stack.say(sender, latest_code(stack, phone))) + texts(stack.say(sender, "同意"))
    assert "登录成功" in reply and "未绑定" in reply, reply
    reply = live(stack, sender, texts(stack.say(sender, "去绑定")), faces["owner"][0])
    assert "已校验成功并与本机绑定" in reply, reply
    reply = live(stack, sender, reply, faces["owner"][0])  # 账户解锁's own face check: a step done
    assert "人脸认证通过" in reply and masked(phone) in reply, reply

    reply = texts(stack.say(sender, "算了，我要重置密码"))
    assert "确定先办理重置密码吗" in reply and "继续刚才的步骤" not in reply, reply
    reply = texts(stack.say(sender, "确定"))
    assert "为您改办重置密码" in reply and "请选择需要重置的密码类型" in reply, reply

    # 重置密码 to its end: the ID card, a code, a face check, the agreements
    person = owner(number)
    assert "身份证人像面" in texts(stack.say(sender, "交易密码"))
    assert "国徽面" in send_image(stack, sender, card_front(person, faces["owner"][0], seed=11))
    reply = send_image(stack, sender, make_id_back(valid_until="2041-03-31", size=SIZE))
    assert person["name"] in reply, reply
    wait = re.search(r"请(\d+)秒后", reply := texts(stack.say(sender, "正确")))
    if wait:  # the unlock's code was sent less than a minute ago
        time.sleep(int(wait.group(1)) + 1)
        reply = texts(stack.say(sender, "重新发送"))
    assert "验证码" in reply, reply
    reply = live(stack, sender, texts(stack.say(sender, latest_code(stack, phone))), faces["owner"][0])
    assert "人脸认证通过" in reply and "密码重置申请书" in reply, reply
    for url in re.findall(r"(http://\S+/h5/agreements/[^\s/]+)", reply):
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
    time.sleep(10.5)  # each agreement is read at least 10 s (the server checks)
    assert "签署验证码已发送" in texts(stack.say(sender, "同意"))
    reply = texts(stack.say(sender, latest_code(stack, phone)))
    assert "重置密码申请已提交" in reply, reply
    assert "您之前还有未办完的账户解锁" in reply, reply  # the business left is offered again
