"""Redis and PostgreSQL go away in the middle of 账户解锁 and come back (the stack's private servers).

While a dependency is down the customer gets "系统繁忙" (REST and WeChat), never silence or an HTTP 500;
afterwards the conversation continues at the same step and nothing is lost or done twice.
"""
from __future__ import annotations

import shutil

import pytest

from tests.faults.conftest import BUSY
from tests.support.stack import http

pytestmark = pytest.mark.faults


def unlock_sms(customer) -> list[str]:
    return [t for t in customer.sms() if "账户解锁" in t and "验证码" in t]


def test_redis_stopped_and_restarted_mid_business(faults, customer):
    c, wechat = customer, faults.wechat
    c.login_for_unlock()
    c.face_passed()
    code = c.code()

    faults.redis.stop()
    try:
        assert BUSY in c.say(code)  # Rasa's tracker and lock stores are down
        status, body = http("POST", faults.stack.bot_api_url + "/api/bot/gate", {"sender": c.sender},
                            token=faults.stack.service_token)
        assert status == 503 and "系统繁忙" in body["message"], (status, body)
        status, reply, raw, _ = wechat.post(wechat.message("o-redis-down", Content="你好"))
        assert status == 200 and reply is not None and BUSY in reply["Content"], raw
    finally:
        faults.redis.start()

    # Redis kept its data (append-only file): the form still waits for the same code
    reply = c.say(code)
    assert "确认解锁" in reply, reply
    assert "账户解锁申请已提交" in c.say("确认解锁")
    assert len(c.applications()) == 1 and len(unlock_sms(c)) == 1
    # the WeChat customer is answered normally again
    status, reply, raw, _ = wechat.post(wechat.message("o-redis-back", Content="你好"))
    assert status == 200 and reply is not None and BUSY not in reply["Content"], raw


def test_postgres_down_then_restarted_mid_business(faults, customer):
    c, wechat = customer, faults.wechat
    c.login_for_unlock()
    c.face_passed()
    code = c.code()

    faults.postgres.stop()
    try:
        status, body = http("POST", faults.stack.bot_api_url + "/api/bot/gate", {"sender": c.sender},
                            token=faults.stack.service_token)
        assert status == 503 and "系统繁忙" in body["message"], (status, body)
        assert BUSY in c.say(code)
        status, reply, raw, _ = wechat.post(wechat.message("o-pg-down", Content="我的账户被锁了"))
        assert status == 200 and reply is not None and BUSY in reply["Content"], raw
    finally:
        faults.postgres.start()

    reply = c.say(code)  # the code was not used up by the failed attempt
    assert "确认解锁" in reply, reply
    # a restart between two turns: pooled connections are dead, pre-ping replaces them, no busy answer
    faults.postgres.restart()
    reply = c.say("确认解锁")
    assert "账户解锁申请已提交" in reply, reply
    assert len(c.applications()) == 1 and len(unlock_sms(c)) == 1


def test_redis_restarted_without_its_data(faults, customer):
    """A Redis without persistence (or a failover to an empty replica): the conversation state is gone."""
    c = customer
    c.login_for_unlock()
    c.face_passed()
    code = c.code()

    faults.redis.stop()
    for path in faults.redis.dir.iterdir():
        if path.name.startswith("appendonly"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    faults.redis.start()

    # the bot no longer knows what the code answers: it says so instead of pretending nothing was asked
    reply = c.say(code)
    assert "没有找到您之前的对话记录" in reply and "账户解锁" in reply, reply
    # the login lives in PostgreSQL: asking again goes straight back to the face step
    reply = c.say("账户解锁")
    assert "自拍" in reply and "登录" not in reply, reply
    c.face_passed()
    assert "确认解锁" in c.say(c.code())
    assert "账户解锁申请已提交" in c.say("确认解锁")
    assert len(c.applications()) == 1 and len(unlock_sms(c)) == 2  # the lost code and the new one
