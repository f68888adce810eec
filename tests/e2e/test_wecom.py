"""The 微信客服 (WeCom kf) channel end to end: real back-office, action server and Rasa on PostgreSQL and Redis,
a fake WeCom (connectors/simulator/fake_wecom.py) on a free port that calls the channel back and serves
kf/sync_msg, kf/send_msg and the rest.

Two Rasa instances share the stores: rasa0 with WECOM_HANDOFF=console (our staff console answers; the back-office
sends through the same fake WeCom), rasa1 with WECOM_HANDOFF=wecom on a second WeCom corp (WeCom's own servicers
take the session). Callbacks are posted here with urllib, as an independent client, encrypted and signed with
wechatpy's WeCom crypto.

The acceptance figures (callback answer time, callback → kf/send_msg time, Rasa CPU per message) are written to
var/results/wecom_acceptance.json; the tests only poll with generous deadlines.
"""
from __future__ import annotations

import base64
import json
import os
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from aiohttp import web

from biometrics.testdata import make_id_back, make_selfie
from tests.support.live import announced, live_video
from connectors import wecom_wire
from connectors.simulator.fake_wecom import FakeWeCom
from scripts.train import model_path
from tests.e2e.conftest import latest_code
from tests.e2e.test_identity import SIZE, card_front, faces, owner  # noqa: F401 (faces is a fixture)
from tests.e2e.test_wechat import Background
from tests.support.databases import REDIS_URL, temporary_postgres
from tests.support.stack import ROOT, Stack, http

KFID = "wkE2Ehall0000000001"  # the console-mode account (rasa0)
KFID_WECOM = "wkE2Ehall0000000002"  # the wecom-mode account (rasa1): cursors and locks are per account
QUIET = 1.0  # a turn's messages go out back to back; this long without another means the turn is done


class WeComSide:
    """Plays WeCom (callbacks) and the customer towards one Rasa instance; reads what customers received."""

    def __init__(self, stack: Stack, fake: FakeWeCom, rasa_index: int, kfid: str):
        self.stack, self.fake, self.index, self.kfid = stack, fake, rasa_index, kfid
        self.url = stack.rasa_url(rasa_index) + "/webhooks/wecom/webhook"

    def sender(self, uid: str) -> str:
        return f"wecom:{self.kfid}:{uid}"

    def callback_request(self) -> tuple[dict, bytes]:
        xml = wecom_wire.kf_event_xml(self.fake.corp_id, self.kfid, self.fake.sync_token(self.kfid))
        return wecom_wire.callback_request(self.fake.crypto, xml)

    def post(self, query: dict, body: bytes) -> tuple[int, str, float]:
        req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(query), data=body, method="POST",
                                     headers={"Content-Type": "text/xml"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        return status, text, time.monotonic() - started

    def says(self, uid: str, text: str | None = None, msgtype: str = "text", **content) -> tuple[int, str, float]:
        if text is not None:
            content["text"] = text
        self.fake.customer_message(self.kfid, uid, msgtype, **content)
        return self.post(*self.callback_request())

    def received(self, uid: str) -> list[str]:
        return [m["text"]["content"] if m["msgtype"] == "text" else f"[{m['msgtype']}]"
                for m in self.fake.messages_for(uid)]

    def wait_received(self, uid: str, count: int, timeout: float = 60.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.received(uid)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received(uid)

    def settle(self, uid: str, before: int, timeout: float = 60.0) -> list[str]:
        """What arrived after the first `before` messages, once nothing more comes."""
        self.wait_received(uid, before + 1, timeout)
        count = len(self.received(uid))
        while True:
            time.sleep(QUIET)
            now = len(self.received(uid))
            if now == count:
                return self.received(uid)[before:]
            count = now

    def turn(self, uid: str, text: str | None = None, msgtype: str = "text", **content) -> str:
        before = len(self.received(uid))
        status, _body, _elapsed = self.says(uid, text, msgtype, **content)
        assert status == 200
        return "\n".join(self.settle(uid, before))

    def user_turns(self, uid: str) -> int:
        sender = urllib.parse.quote(self.sender(uid), safe=":")  # Sanic does not decode %3A in a path
        status, tracker = http("GET", f"{self.stack.rasa_url(self.index)}/conversations/{sender}/tracker")
        assert status == 200, tracker
        return sum(1 for e in tracker["events"] if e["event"] == "user")


def wecom_env(fake: FakeWeCom, token: str, aes_key: str, api_port: int, handoff: str) -> dict:
    return {"WECOM_CORP_ID": fake.corp_id, "WECOM_SECRET": fake.secret, "WECOM_TOKEN": token,
            "WECOM_AES_KEY": aes_key, "WECOM_API_BASE": f"http://127.0.0.1:{api_port}/cgi-bin/",
            "WECOM_HANDOFF": handoff, "WECOM_SWEEP_SECONDS": "5"}


def serve_fake(bg: Background, handoff: str) -> tuple[FakeWeCom, dict]:
    corp = "wwe2e" + os.urandom(5).hex()  # the access token in Redis is per corp: nothing shared across runs
    token, aes_key = "e2e-wecom-" + os.urandom(4).hex(), base64.b64encode(os.urandom(32)).decode().rstrip("=")
    fake = FakeWeCom(corp, "e2e-kf-secret", token=token, aes_key=aes_key)
    app = web.Application()
    app.add_routes(fake.routes("/cgi-bin"))
    return fake, wecom_env(fake, token, aes_key, bg.serve(app), handoff)


class WeComStack:
    def __init__(self, stack: Stack, console: WeComSide, wecom: WeComSide):
        self.stack, self.console, self.wecom = stack, console, wecom


@pytest.fixture(scope="module")
def wecom(tmp_path_factory):
    model = model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` first")
    bg = Background()
    console_fake, console_env = serve_fake(bg, "console")
    wecom_fake, handoff_env = serve_fake(bg, "wecom")
    with temporary_postgres("hall_wecom") as url:
        # the back-office sends console replies through the console-mode corp
        stack = Stack(tmp_path_factory.mktemp("wecom"), database_url=url, redis_url=REDIS_URL, model=model,
                      extra_env=console_env, rasa_instances=2)
        try:
            stack.start_backoffice()
            stack.start_actions()
            stack.start_rasa(0)
            stack.start_rasa(1, env=handoff_env)
            stack.wait_ready()
            yield WeComStack(stack, WeComSide(stack, console_fake, 0, KFID),
                             WeComSide(stack, wecom_fake, 1, KFID_WECOM))
        finally:
            stack.stop()
            bg.close()


@pytest.fixture(scope="module")
def stack(wecom):
    """conftest's new_account on this module's stack."""
    return wecom.stack


def uid(tag: str) -> str:
    return f"wm{tag}{os.urandom(5).hex()}"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_url_verification_echoes(wecom):
    query = wecom_wire.verification_query(wecom.console.fake.crypto, "echo-e2e-42")
    with urllib.request.urlopen(wecom.console.url + "?" + urllib.parse.urlencode(query), timeout=10) as resp:
        assert resp.read().decode() == "echo-e2e-42"
    query["msg_signature"] = "0" * 40
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(wecom.console.url + "?" + urllib.parse.urlencode(query), timeout=10)
    assert err.value.code == 403


def test_acceptance_callback_answered_at_once_reply_sent_and_repeats_make_one_answer(wecom):
    """Done-when figures: the callback's answer time and callback → kf/send_msg time, over 10 customers."""
    side, fake = wecom.console, wecom.console.fake
    rasa_pid = wecom.stack.procs["rasa0"].pid
    answers, replies = [], []
    cpu_before = cpu_seconds(rasa_pid)
    for i in range(10):
        customer = uid("acc")
        fake.customer_message(KFID, customer, text="你好")
        query, body = side.callback_request()
        started = time.time()
        status, text, elapsed = side.post(query, body)
        assert status == 200 and text == "success"
        sent = side.wait_received(customer, 1, timeout=30)
        assert sent and "掌厅助手" in sent[0], sent
        answers.append(elapsed)
        replies.append(fake.messages_for(customer)[0]["at"] - started)
    cpu = cpu_seconds(rasa_pid) - cpu_before

    # the same callback three times (WeCom's retries of one event): one turn, one answer
    customer = uid("rep")
    fake.customer_message(KFID, customer, text="帮助")
    query, body = side.callback_request()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: side.post(query, body), range(3)))
    assert [r[0] for r in results] == [200, 200, 200]
    side.settle(customer, 0)
    assert len(side.received(customer)) == 1 and side.user_turns(customer) == 1

    figures = {"set": "e2e fake WeCom, 10 customers each sending 你好 (greeting turn), sequential",
               "callback_answer_s": {"median": statistics.median(answers), "max": max(answers)},
               "callback_to_send_msg_s": {"median": statistics.median(replies), "max": max(replies)},
               "rasa_cpu_s_per_message": cpu / 10, "machine_load_1min": os.getloadavg()[0],
               "repeated_callback_answers": len(side.received(customer))}
    out = ROOT / "var" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "wecom_acceptance.json").write_text(json.dumps(figures, indent=2))
    print("\nWeCom acceptance:", json.dumps(figures))


def test_login_and_bind_device_with_id_card_and_live_clip(wecom, new_account, faces):  # noqa: F811
    """掌厅登录 then 绑定设备 with real pictures and a live selfie clip (a WeCom video message), all through 微信客服:
    the device bound is the WeCom sender."""
    side = wecom.console
    account = new_account()
    person = owner(account["account_number"])
    customer = uid("bind")
    reply = side.turn(customer, "我要绑定设备")
    assert "1. 投资者" in reply and "回复数字选择" in reply, reply
    assert "资金账号" in side.turn(customer, "1")  # the numbered option
    assert "手机号" in side.turn(customer, account["account_number"])
    assert "验证码" in side.turn(customer, account["phone"])
    assert "隐私政策" in side.turn(customer, latest_code(wecom.stack, account["phone"]))
    reply = side.turn(customer, "同意")
    assert "登录成功" in reply and "未绑定" in reply, reply
    assert "身份证人像面" in side.turn(customer, "去绑定")

    def picture(data: bytes) -> str:
        return side.turn(customer, msgtype="image", image={"media_id": side.fake.put_media(data, "image/jpeg")})

    assert "国徽面" in picture(card_front(person, faces["owner"][0], seed=11))
    reply = picture(make_id_back(valid_until="2041-03-31", size=SIZE))
    assert person["name"] in reply and "2041-03-31" in reply, reply
    reply = side.turn(customer, "正确")
    if "人脸信息处理授权" in reply:  # the separate consent to face data, before the first face check
        reply = side.turn(customer, "同意")
    assert "眨眨眼" in reply and "/h5/live/" in reply, reply
    reply = picture(make_selfie(str(faces["owner"][0])))  # a photo is never a pass
    assert "照片无法通过" in reply, reply
    clip = live_video(str(faces["owner"][0]), announced(reply))
    reply = side.turn(customer, msgtype="video", video={"media_id": side.fake.put_media(clip, "video/mp4")})
    assert "绑定完成" in reply, reply
    status, view = wecom.stack.api("GET", f"/api/accounts/{account['account_number']}")
    assert status == 200 and view["bound_device"] == f"wecom:{KFID}:{customer}"
    assert not side.fake.refused  # every answer within WeCom's budget and session rules


def test_replayed_pages_and_a_lost_cursor_make_no_second_turn(wecom):
    side, fake = wecom.console, wecom.console.fake
    customer = uid("dup")
    side.turn(customer, "你好")
    side.turn(customer, "帮助")
    turns, sent = side.user_turns(customer), len(side.received(customer))
    fake.duplicate_last(KFID, 2)  # WeCom serves the same two messages again
    calls = len(fake.sync_calls)
    assert side.post(*side.callback_request())[0] == 200
    deadline = time.monotonic() + 30
    while len(fake.sync_calls) == calls and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2 * QUIET)  # that pull is over (and stored the cursor)
    # the cursor is lost: the next pull replays the last 3 days
    prefix = wecom.stack.env["HALL_KV_PREFIX"] + "wecom:"
    redis.Redis.from_url(REDIS_URL).delete(prefix + "cursor:" + KFID)
    calls = len(fake.sync_calls)
    assert side.post(*side.callback_request())[0] == 200
    deadline = time.monotonic() + 30
    while not any(c["cursor"] == "" for c in fake.sync_calls[calls:]) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2 * QUIET)
    assert any(c["cursor"] == "" and c["returned"] >= 4 for c in fake.sync_calls[calls:]), fake.sync_calls[calls:]
    assert side.user_turns(customer) == turns and len(side.received(customer)) == sent


def test_console_handoff_sixth_message_is_held_not_lost(wecom):
    side, fake, stack = wecom.console, wecom.console.fake, wecom.stack
    customer = uid("kf")
    sender = f"wecom:{KFID}:{customer}"
    assert "人工" in side.turn(customer, "转人工")
    status, rows = stack.api("GET", "/api/conversations?state=waiting")
    assert any(r["sender"] == sender and r["channel"] == "wecom" for r in rows), rows
    assert stack.api("POST", f"/api/conversations/{sender}/claim")[0] == 200
    turns = side.user_turns(customer)
    assert side.says(customer, "我的账户被锁了")[0] == 200  # to the agent: in the history, no bot answer
    deadline = time.monotonic() + 30
    while side.user_turns(customer) == turns and time.monotonic() < deadline:
        time.sleep(0.2)
    assert side.user_turns(customer) == turns + 1
    before = len(side.received(customer))
    results = [stack.api("POST", f"/api/conversations/{sender}/reply", {"text": f"人工客服第{i}条：请稍候。"})
               for i in range(1, 7)]
    assert all(status == 201 for status, _ in results)
    assert [r["delivered"] for _, r in results] == [True] * 5 + [False] and results[5][1]["held"] is True
    assert side.received(customer)[before:] == [f"人工客服第{i}条：请稍候。" for i in range(1, 6)]
    assert not fake.refused and fake.state_of(KFID, customer) == 1  # console mode: the session stays 1
    # the customer writes again: the held reply arrives first
    assert side.says(customer, "好的")[0] == 200
    assert side.wait_received(customer, before + 6, timeout=30)[before + 5] == "人工客服第6条：请稍候。"
    status, row = stack.api("POST", f"/api/conversations/{sender}/release", {"resume_bot": False})
    assert status == 200
    assert "智能助手" in side.wait_received(customer, before + 7, timeout=30)[-1]
    assert "掌厅助手" in side.turn(customer, "你好")  # the bot answers again


def test_wecom_handoff_moves_the_session_to_wecom_servicers(wecom):
    side, fake, stack = wecom.wecom, wecom.wecom.fake, wecom.stack
    customer = uid("svc")
    sender = side.sender(customer)
    reply = side.turn(customer, "转人工")
    assert "人工" in reply
    deadline = time.monotonic() + 30
    while fake.state_of(side.kfid, customer) != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fake.state_of(side.kfid, customer) == 2  # WeCom's 待接入池, after the answer went out
    status, rows = stack.api("GET", "/api/conversations?state=waiting")
    assert not any(r["sender"] == sender for r in rows)  # not in our console's queue
    fake.servicer_accepts(side.kfid, customer)
    fake.servicer_message(side.kfid, customer, "您好，我是企业微信客服小王。")
    turns = side.user_turns(customer)
    assert side.says(customer, "我忘了密码")[0] == 200
    time.sleep(3 * QUIET)
    assert side.user_turns(customer) == turns and side.received(customer)[-1] == "您好，我是企业微信客服小王。"
    fake.servicer_ends(side.kfid, customer)
    assert "掌厅助手" in side.turn(customer, "你好")  # a new session: the bot again
    assert fake.state_of(side.kfid, customer) == 1


def test_welcome_and_unsupported_kinds(wecom):
    side, fake = wecom.console, wecom.console.fake
    customer = uid("wel")
    fake.enter_session(KFID, customer)
    assert side.post(*side.callback_request())[0] == 200
    welcome = side.settle(customer, 0)
    assert len(welcome) == 1 and "掌厅助手" in welcome[0] and "1. 掌厅登录" in welcome[0]
    assert fake.messages_for(customer)[0]["via"] == "event"
    assert "登录类型" in side.turn(customer, "1")
    side.turn(customer, "取消")
    assert "文字" in side.turn(customer, msgtype="voice", voice={"media_id": fake.put_media(b"", "audio/amr")})
    reply = side.turn(customer, msgtype="location", location={"name": "北京", "latitude": 39.9, "longitude": 116.3})
    assert "文字" in reply
