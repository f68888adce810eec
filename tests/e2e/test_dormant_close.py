"""休眠账户激活 and 在线销户 end to end through the REST webhook, with the video witness decided by staff.

Real stack (back-office, action server, Rasa on PostgreSQL and Redis). The witness verdict comes through the
admin API (`POST /api/witness/{id}/verdict`); the back-office then nudges the bot (trigger_intent witness_done)
and the bot's next step reaches the customer through the conversation's outbox, as a REST client polls it.
"""
from __future__ import annotations

import re
import time
import urllib.request

import pytest

from biometrics.testdata import make_id_back
from tests.e2e.conftest import latest_code
from tests.e2e.test_applications import applications, faces, log_in_and_bind, outbox, put_portrait, wait_for  # noqa: F401
from tests.e2e.test_identity import SIZE, card_front, login, owner, send_image
from tests.support.stack import texts

AGREEMENT_URL = re.compile(r"(http://\S+/h5/agreements/[^\s/]+)")


class Chat:
    """One customer's conversation: every reply kept, for the assertions and for a readable failure."""

    def __init__(self, stack, sender):
        self.stack, self.sender, self.lines = stack, sender, []

    def say(self, text: str) -> str:
        reply = texts(self.stack.say(self.sender, text))
        self.lines += [f"> {text}", reply]
        return reply

    def image(self, data: bytes, label: str) -> str:
        reply = send_image(self.stack, self.sender, data)
        self.lines += [f"> [{label}]", reply]
        return reply

    def pushed(self, since: int, needle: str) -> str:
        """Bot messages delivered to the outbox (not as a reply) after `since` of them, once `needle` is there."""
        def new_text():
            status, items = self.stack.api("GET", f"/api/conversations/{self.sender}/outbox")
            assert status == 200
            text = "\n".join(m["text"] for m in items[since:])
            return text if needle in text else None
        text = wait_for(new_text) or ""
        self.lines += ["[outbox]", text]
        return text

    def outbox_size(self) -> int:
        status, items = self.stack.api("GET", f"/api/conversations/{self.sender}/outbox")
        assert status == 200
        return len(items)


def witness_of(stack, sender, business):
    status, rows = stack.api("GET", "/api/witness")
    assert status == 200
    mine = [r for r in rows if r["sender"] == sender and r["business"] == business]
    assert mine, rows
    return mine[0]


def verdict(stack, witness_id, passed, **extra):
    status, view = stack.api("POST", f"/api/witness/{witness_id}/verdict", {"passed": passed, "notes": "e2e", **extra})
    assert status == 200, view
    return view


def id_card(chat, account, portrait):
    person = owner(account)
    assert "国徽面" in chat.image(card_front(person, portrait, seed=3), "身份证人像面")
    reply = chat.image(make_id_back(valid_until="2040-06-30", size=SIZE), "身份证国徽面")
    assert person["name"] in reply and "2040-06-30" in reply, reply
    return chat.say("正确")


def read_and_sign(chat, links_text, phone):
    """Open every reading page, stay ≥10 s (the server checks), agree, sign with the SMS code."""
    urls = AGREEMENT_URL.findall(links_text)
    assert urls, links_text
    for url in urls:
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
    time.sleep(10.5)
    reply = chat.say("已阅读并同意")
    assert "签署验证码已发送" in reply, reply
    return chat.say(latest_code(chat.stack, phone))


def test_activate_dormant_opened_before_2021_08_02(stack, sender, faces):
    account, phone = "80010003", "13800000003"
    chat = Chat(stack, sender)
    put_portrait(stack, account, faces["owner"][0])
    assert "休眠账户激活" in chat.say("我的账户休眠了，要激活")
    reply = log_in_and_bind(stack, sender, account, faces)
    assert "已校验成功并与本机绑定" in reply and "身份证人像面" in reply, reply
    reply = id_card(chat, account, faces["owner"][0])
    assert "请点击链接进入视频见证：http://" in reply and "/h5/witness/" in reply and "7 秒" in reply, reply
    witness = witness_of(stack, sender, "activate_dormant_account")
    assert witness["status"] == "waiting" and witness["account_number"] == account

    reply = chat.say("好了")  # before the verdict
    assert "见证尚未完成" in reply and "排在第" in reply and "/h5/witness/" not in reply, reply

    seen = chat.outbox_size()
    view = verdict(stack, witness["id"], True)
    assert view["status"] == "passed" and view["nudge"] == "delivered", view
    pushed = chat.pushed(seen, "期货交易风险揭示书")  # the nudge: the conversation went on by itself
    assert "视频见证已通过" in pushed and "休眠账户激活申请书" in pushed and "个人信息处理授权书" in pushed, pushed
    assert len(AGREEMENT_URL.findall(pushed)) == 3

    reply = read_and_sign(chat, pushed, phone)
    assert "协议签署成功" in reply and reply.count("/h5/agreements/pdf/") == 3, reply
    assert "休眠账户激活申请已提交" in reply and "恢复正常" in reply, reply
    [app] = applications(stack, account, "activate_dormant_account")
    assert app["status"] == "pending" and app["payload"]["witness_id"] == witness["id"]
    assert witness_of(stack, sender, "activate_dormant_account")["application_id"] == app["id"]

    status, _ = stack.api("POST", f"/api/applications/{app['id']}/approve", {"note": "见证通过"})
    assert status == 200
    sms = wait_for(lambda: [m["text"] for m in stack.sms(phone) if "休眠账户激活申请已审核通过" in m["text"]])
    assert sms and "恢复正常" in sms[-1]
    assert stack.api("GET", f"/api/accounts/{account}")[1]["state"] == "normal"
    assert "已审核通过" in wait_for(lambda: outbox(stack, sender))
    assert "您的账户不是休眠账户" in chat.say("激活休眠账户")
    print("\n".join(chat.lines))


# the seeded account opened after the date, and an account of the test's own opened on the date exactly
@pytest.mark.parametrize("opened_on", [None, "2021-08-02"])
def test_activate_dormant_opened_after_2021_08_02_signs_the_other_set(stack, sender, faces, new_account, opened_on):
    account = "80010004" if opened_on is None else new_account(state="dormant", opened_on=opened_on)["account_number"]
    chat = Chat(stack, sender)
    put_portrait(stack, account, faces["owner"][0])
    chat.say("休眠账户激活")
    log_in_and_bind(stack, sender, account, faces)
    assert "/h5/witness/" in id_card(chat, account, faces["owner"][0])
    witness = witness_of(stack, sender, "activate_dormant_account")
    seen = chat.outbox_size()
    verdict(stack, witness["id"], True)
    pushed = chat.pushed(seen, "休眠账户激活申请书")
    assert "视频见证已通过" in pushed and "个人信息处理授权书" in pushed
    assert "风险揭示书" not in pushed and len(AGREEMENT_URL.findall(pushed)) == 2, pushed


def test_close_refused_with_positions_and_balance(stack, sender):
    chat = Chat(stack, sender)
    assert "在线销户" in chat.say("我要销户")
    reply = login(stack, sender, "80010007")
    assert "登录成功" in reply and "暂不满足在线销户条件" in reply, reply
    assert "未平仓的持仓" in reply and "152,300.50元" in reply and "银期转账" in reply
    assert "绑定" not in reply and "身份证" not in reply  # explained before any other step
    assert applications(stack, "80010007", "close_account") == []


def test_close_account_failed_witness_then_closed(stack, sender, faces):
    account, phone = "80010009", "13800000009"
    chat = Chat(stack, sender)
    put_portrait(stack, account, faces["owner"][0])
    chat.say("在线销户")
    reply = log_in_and_bind(stack, sender, account, faces)
    assert "身份证人像面" in reply, reply
    assert "/h5/witness/" in id_card(chat, account, faces["owner"][0])

    # a failed witness ends the business politely
    first = witness_of(stack, sender, "close_account")
    seen = chat.outbox_size()
    verdict(stack, first["id"], False, reason="not_voluntary")
    pushed = chat.pushed(seen, "无法继续")
    assert "视频见证未通过" in pushed and "自愿" in pushed and "转人工" in pushed, pushed
    assert "当前没有正在办理的业务" in chat.say("取消")

    # again: the ID is on file now (skipped), a new witness, passed
    reply = chat.say("在线销户")
    assert "身份证人像面" not in reply and "/h5/witness/" in reply, reply
    second = witness_of(stack, sender, "close_account")
    assert second["id"] != first["id"]
    seen = chat.outbox_size()
    verdict(stack, second["id"], True)
    pushed = chat.pushed(seen, "客户销户申请书")
    assert "视频见证已通过" in pushed
    reply = read_and_sign(chat, pushed, phone)
    assert "协议签署成功" in reply and "在线销户申请已提交" in reply and "退出登录" in reply, reply
    [app] = applications(stack, account, "close_account")
    assert app["payload"]["witness_id"] == second["id"]

    status, _ = stack.api("POST", f"/api/applications/{app['id']}/approve", {"note": "见证通过，资产已清零"})
    assert status == 200
    sms = wait_for(lambda: [m["text"] for m in stack.sms(phone) if "在线销户申请已审核通过" in m["text"]])
    assert sms and "已销户" in sms[-1]
    status, closed = stack.api("GET", f"/api/accounts/{account}")
    assert closed["state"] == "closed" and closed["bound_device"] is None
    assert "已销户" in wait_for(lambda: outbox(stack, sender))
    # the login session ended with the account: a business asks for the login again, which is refused
    assert "请选择登录类型" in chat.say("办理进度")
    chat.say("投资者")
    chat.say(account)
    assert "已销户" in chat.say(phone)
    print("\n".join(chat.lines))
