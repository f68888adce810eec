"""The WeChat channel end to end: real back-office, action server and Rasa, a fake WeChat API on a free port.

The stack runs in safe mode (WECHAT_AES_KEY set); plaintext requests (no encrypt_type) are still accepted,
as WeChat's compatible mode does. The slow bot is deterministic: Rasa reaches the action server through a
proxy that holds the first action call of every sender whose openid starts with "slow-" for 6 s.
"""
from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from connectors import wechat_wire as wire
from connectors.simulator.fake_wechat import FakeWeChat
from scripts.train import model_path
from tests.support.databases import REDIS_URL, temporary_postgres
from tests.support.stack import Stack, free_port, http

SLOW_SECONDS = 6.0
TOKEN = "e2e-wechat-token"
SECRET = "e2e-wechat-secret"


class Background:
    """An asyncio loop in a thread hosting the fake WeChat API and the slow action proxy."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners = []

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _serve(self, app: web.Application, port: int):
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        self.runners.append(runner)

    def serve(self, app: web.Application) -> int:
        port = free_port()
        self.run(self._serve(app, port))
        return port

    def close(self):
        for runner in self.runners:
            self.run(runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)


def slow_proxy(target: str, delayed: set):
    async def forward(request: web.Request):
        body = await request.read()
        sender = (json.loads(body or b"{}").get("sender_id") or "")
        if sender.startswith("slow-") and sender not in delayed:
            delayed.add(sender)
            await asyncio.sleep(SLOW_SECONDS)
        headers = {"Content-Type": "application/json"}
        if "X-Hall-Action-Token" in request.headers:  # Rasa's token for the action server, passed on
            headers["X-Hall-Action-Token"] = request.headers["X-Hall-Action-Token"]
        async with aiohttp.ClientSession() as session:
            async with session.post(target, data=body, headers=headers) as resp:
                return web.Response(body=await resp.read(), status=resp.status, content_type="application/json")

    app = web.Application()
    app.router.add_post("/webhook", forward)
    return app


class WeChat:
    """Plays the WeChat server towards the stack's webhook (urllib, like an independent client)."""

    def __init__(self, stack: Stack, fake: FakeWeChat, crypto: WeChatCrypto):
        self.stack, self.fake, self.crypto = stack, fake, crypto
        self.url = stack.rasa_url() + "/webhooks/wechat/webhook"
        self._ids = iter(range(int(time.time() * 1000) * 100, 2 ** 62))

    def message(self, openid: str, kind: str = "text", **fields) -> dict:
        msg = {"ToUserName": "gh_e2e", "FromUserName": openid, "CreateTime": int(time.time()), "MsgType": kind,
               **fields}
        if kind != "event" and "MsgId" not in msg:
            msg["MsgId"] = next(self._ids)
        return msg

    def post(self, msg: dict | None = None, *, encrypt: bool = False, query: dict | None = None,
             body: bytes | None = None, timeout: float = 20.0):
        """→ (status, passive reply dict | None, raw text, seconds)."""
        timestamp, nonce = str(int(time.time())), os.urandom(4).hex()
        if body is None:
            xml = wire.build_xml(msg)
            if encrypt:
                enc, msg_sig = wire.encrypt_inbound(self.crypto, xml, "gh_e2e", timestamp, nonce)
                body = enc.encode()
                query = query or wire.signed_query(TOKEN, timestamp=timestamp, nonce=nonce,
                                                   encrypted_signature=msg_sig)
            else:
                body = xml.encode()
        query = query or wire.signed_query(TOKEN, timestamp=timestamp, nonce=nonce)
        req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(query), data=body, method="POST",
                                     headers={"Content-Type": "text/xml"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        elapsed = time.monotonic() - started
        reply = wire.open_reply(self.crypto, text) if status == 200 else None
        return status, reply, text, elapsed

    def user_turns(self, openid: str) -> int:
        status, tracker = http("GET", f"{self.stack.rasa_url()}/conversations/{openid}/tracker")
        assert status == 200, tracker
        return sum(1 for e in tracker["events"] if e["event"] == "user")

    def wait_sent(self, openid: str, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent = self.fake.messages_for(openid)
            if len(sent) >= count:
                return sent
            time.sleep(0.2)
        return self.fake.messages_for(openid)


@pytest.fixture(scope="module")
def wechat(tmp_path_factory):
    model = model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` first")
    app_id = "wxe2e" + os.urandom(6).hex()  # the access token in Redis is per app id: no cross-run sharing
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    fake = FakeWeChat(app_id, SECRET)
    bg = Background()
    api_app = web.Application()
    api_app.add_routes(fake.routes(""))
    api_port = bg.serve(api_app)
    with temporary_postgres("hall_wechat") as url:
        stack = Stack(tmp_path_factory.mktemp("wechat"), database_url=url, redis_url=REDIS_URL, model=model,
                      extra_env={"WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": app_id, "WECHAT_APP_SECRET": SECRET,
                                 "WECHAT_AES_KEY": aes_key, "WECHAT_API_BASE": f"http://127.0.0.1:{api_port}/"})
        delayed: set = set()
        proxy_port = bg.serve(slow_proxy(f"http://127.0.0.1:{stack.ports['actions']}/webhook", delayed))
        stack.env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{proxy_port}/webhook"
        try:
            stack.start()
            yield WeChat(stack, fake, WeChatCrypto(TOKEN, aes_key, app_id))
        finally:
            stack.stop()
            bg.close()


def openid(tag: str) -> str:
    return f"o{tag}-{os.urandom(5).hex()}"


def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_url_verification_echoes(wechat):
    q = {**wire.signed_query(TOKEN), "echostr": "echo-123"}
    with urllib.request.urlopen(wechat.url + "?" + urllib.parse.urlencode(q), timeout=10) as resp:
        assert resp.read().decode() == "echo-123"


def test_signed_plaintext_text_gets_passive_reply(wechat):
    user = openid("plain")
    status, reply, _raw, elapsed = wechat.post(wechat.message(user, Content="你好"))
    assert status == 200 and reply is not None, _raw
    assert reply["MsgType"] == "text" and "掌厅助手" in reply["Content"]
    assert reply["ToUserName"] == user and elapsed < 5
    assert wechat.fake.messages_for(user) == []


def test_aes_safe_mode_round_trip(wechat):
    user = openid("aes")
    status, reply, raw, _ = wechat.post(wechat.message(user, Content="登录"), encrypt=True)
    assert status == 200 and "<Encrypt>" in raw and "登录" not in raw  # the reply itself is encrypted
    assert "1. 投资者" in reply["Content"] and "回复数字选择" in reply["Content"]
    # the number answers the numbered option
    status, reply, _raw, _ = wechat.post(wechat.message(user, Content="1"), encrypt=True)
    assert "资金账号" in reply["Content"]


def test_image_is_stored_and_the_bot_answers(wechat):
    user = openid("img")
    media_dir = wechat.stack.workdir / "media"
    before = sum(1 for p in media_dir.rglob("*") if p.is_file()) if media_dir.exists() else 0
    media_id = wechat.fake.put_media(png(), "image/png")
    status, reply, raw, _ = wechat.post(wechat.message(user, "image", MediaId=media_id,
                                                       PicUrl="http://127.0.0.1:9/unused.png"))
    assert status == 200 and reply, raw
    assert "收到您的图片" in reply["Content"] and "没有需要上传图片的步骤" in reply["Content"]
    after = sum(1 for p in media_dir.rglob("*") if p.is_file())
    assert after == before + 1


def test_slow_bot_answers_success_then_one_customer_service_message(wechat):
    user = openid("slow-").replace("oslow-", "slow-")
    status, reply, raw, elapsed = wechat.post(wechat.message(user, Content="登录"))
    assert status == 200 and raw == "success" and reply is None
    assert 4 <= elapsed < 5, elapsed
    sent = wechat.wait_sent(user, 1)
    time.sleep(1.0)  # nothing else may follow
    sent = wechat.fake.messages_for(user)
    assert len(sent) == 1 and sent[0]["msgtype"] == "text"
    assert "1. 投资者" in sent[0]["text"]["content"]


def test_three_retries_of_one_msgid_make_one_turn_and_one_reply(wechat):
    user = openid("slow-").replace("oslow-", "slow-")
    msg = wechat.message(user, Content="登录")
    fetches = wechat.fake.token_fetches
    wechat.fake.expire_tokens()  # the channel's cached token is now rejected: its send meets 40001 mid-way

    def attempt(delay):
        time.sleep(delay)
        return wechat.post(msg)

    with ThreadPoolExecutor(3) as pool:  # WeChat retries while the first is still being processed
        results = list(pool.map(attempt, [0, 0.5, 1.0]))  # all windows end before the 6 s bot is done
    passive = [r for r in results if r[1] is not None]
    assert all(r[0] == 200 for r in results)
    wechat.wait_sent(user, 1, timeout=15)
    time.sleep(1.0)
    assert len(passive) + len(wechat.fake.messages_for(user)) == 1
    assert wechat.user_turns(user) == 1
    assert wechat.fake.token_fetches == fetches + 1  # refreshed once, then the send went through

    # and sequential retries of a fast message: one passive reply, the rest "success"
    fast = openid("fast")
    msg = wechat.message(fast, Content="你好")
    results = [wechat.post(msg) for _ in range(3)]
    assert [r[1] is not None for r in results] == [True, False, False]
    assert [r[2] for r in results[1:]] == ["success", "success"]
    assert wechat.user_turns(fast) == 1 and wechat.fake.messages_for(fast) == []


def test_invalid_signature_is_403(wechat):
    msg = wechat.message(openid("sig"), Content="你好")
    q = wire.signed_query(TOKEN)
    q["signature"] = "0" * 40
    assert wechat.post(msg, query=q)[0] == 403
    q = wire.signed_query("not-the-token")
    assert wechat.post(msg, query=q)[0] == 403


def test_bad_msg_signature_in_safe_mode_is_403(wechat):
    msg = wechat.message(openid("msgsig"), Content="你好")
    timestamp, nonce = str(int(time.time())), "n0nce"
    body, _sig = wire.encrypt_inbound(wechat.crypto, wire.build_xml(msg), "gh_e2e", timestamp, nonce)
    q = wire.signed_query(TOKEN, timestamp=timestamp, nonce=nonce, encrypted_signature="f" * 40)
    assert wechat.post(query=q, body=body.encode())[0] == 403


def test_malformed_xml_is_400(wechat):
    for body in (b"<xml><Content>broken", b"{\"json\": true}",
                 b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>',
                 b"<xml><Content>no sender</Content></xml>"):
        assert wechat.post(body=body)[0] == 400, body


def test_replayed_old_timestamp_is_403(wechat):
    msg = wechat.message(openid("old"), Content="你好")
    q = wire.signed_query(TOKEN, timestamp=int(time.time()) - 600)  # correctly signed, 10 minutes old
    assert wechat.post(msg, query=q)[0] == 403


def test_agent_handoff_and_token_expiry_mid_send(wechat):
    user = openid("kf")
    status, reply, raw, _ = wechat.post(wechat.message(user, Content="转人工"))
    assert status == 200
    status, rows = wechat.stack.api("GET", "/api/conversations?state=waiting")
    assert any(r["sender"] == user and r["channel"] == "wechat" for r in rows), rows
    assert wechat.stack.api("POST", f"/api/conversations/{user}/claim")[0] == 200

    # while the agent holds it, the message is kept in the tracker for the agent's history, and the bot is silent
    turns, pushed = wechat.user_turns(user), len(wechat.fake.messages_for(user))
    status, reply, raw, _ = wechat.post(wechat.message(user, Content="你好"))
    assert status == 200 and raw == "success" and reply is None
    assert wechat.user_turns(user) == turns + 1
    status, tracker = http("GET", f"{wechat.stack.rasa_url()}/conversations/{user}/tracker")
    events = tracker["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    assert events[last_user]["text"] == "你好"
    assert not any(e["event"] == "bot" for e in events[last_user:]), events[last_user:]
    assert len(wechat.fake.messages_for(user)) == pushed

    # agent replies go out as 客服消息; the second one meets an expired token (40001) and still arrives once
    status, msg = wechat.stack.api("POST", f"/api/conversations/{user}/reply", {"text": "您好，我是人工客服小金。"})
    assert status == 201 and msg["delivered"] is True, msg
    fetches = wechat.fake.token_fetches
    wechat.fake.expire_tokens()
    status, msg = wechat.stack.api("POST", f"/api/conversations/{user}/reply", {"text": "请问有什么可以帮您？"})
    assert status == 201 and msg["delivered"] is True, msg
    texts = [m["text"]["content"] for m in wechat.fake.messages_for(user)]
    assert texts[-2:] == ["您好，我是人工客服小金。", "请问有什么可以帮您？"]
    assert wechat.fake.token_fetches == fetches + 1


def test_events_voice_video_and_other_messages(wechat):
    user = openid("evt")
    _, reply, raw, _ = wechat.post(wechat.message(user, "event", Event="subscribe"))
    assert "掌厅助手" in reply["Content"] and "1. 掌厅登录" in reply["Content"], raw
    _, reply, _, _ = wechat.post(wechat.message(user, Content="1"))  # the welcome options answer by number
    assert "登录类型" in reply["Content"]
    _, reply, _, _ = wechat.post(wechat.message(user, Content="取消"))

    _, reply, _, _ = wechat.post(wechat.message(user, "event", Event="CLICK", EventKey="LOGIN"))
    assert "登录类型" in reply["Content"]
    wechat.post(wechat.message(user, Content="取消"))

    _, reply, _, _ = wechat.post(wechat.message(user, "voice", MediaId="v1", Format="amr", Recognition="你好"))
    assert "掌厅助手" in reply["Content"]
    turns = wechat.user_turns(user)
    _, reply, _, _ = wechat.post(wechat.message(user, "voice", MediaId="v2", Format="amr"))
    assert "文字" in reply["Content"] and wechat.user_turns(user) == turns  # asked for text, no bot turn

    video = wechat.fake.put_media(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")
    status, reply, raw, _ = wechat.post(wechat.message(user, "shortvideo", MediaId=video, ThumbMediaId="t"))
    assert status == 200 and reply and ("视频" in reply["Content"] or "文件" in reply["Content"]), raw

    _, reply, _, _ = wechat.post(wechat.message(user, "location", Location_X="39.9", Location_Y="116.3",
                                                Scale="15", Label="北京"))
    assert "文字" in reply["Content"]
    status, reply, raw, _ = wechat.post(wechat.message(user, "event", Event="VIEW", EventKey="http://x"))
    assert status == 200 and raw == "success"
    status, reply, raw, _ = wechat.post(wechat.message(user, "event", Event="unsubscribe"))
    assert status == 200 and raw == "success"


def wechat_say(wechat, user: str, text: str) -> str:
    """A text from a WeChat customer; the passive reply, or the 客服消息 pushed when the turn ran long."""
    pushed = len(wechat.fake.messages_for(user))
    status, reply, raw, _ = wechat.post(wechat.message(user, Content=text))
    assert status == 200, raw
    if reply is not None:
        return reply.get("Content") or ""
    sent = wechat.wait_sent(user, pushed + 1)
    return "\n".join(m.get("text", {}).get("content", "") for m in sent[pushed:])


def test_a_rest_caller_naming_an_openid_does_not_reach_that_wechat_session(wechat):
    """The openid of a logged-in WeChat customer, sent as a REST sender, is another conversation (rest:<openid>):
    not logged in, no business of the WeChat customer's, and the WeChat customer stays logged in."""
    user = openid("victim")
    for text in ("登录", "1", "80010009"):
        wechat_say(wechat, user, text)
    assert "****" in wechat_say(wechat, user, "13800000009")
    code = re.search(r"验证码(\d{6})", wechat.stack.sms("13800000009")[-1]["text"]).group(1)
    assert "隐私政策" in wechat_say(wechat, user, code)
    assert "登录成功" in wechat_say(wechat, user, "同意")
    assert wechat.stack.bot("/api/bot/session", {"sender": user})[1]["logged_in"] is True

    replies = wechat.stack.say(user, "我的业务办到哪了")  # POST /webhooks/rest/webhook {"sender": <openid>}
    answer = "\n".join(r.get("text", "") for r in replies)
    assert all(r["recipient_id"] == f"rest:{user}" for r in replies)
    assert "没有在掌厅办理" not in answer and "登录" in answer, answer  # asked to log in, not the logged-in answer
    assert wechat.stack.bot("/api/bot/session", {"sender": f"rest:{user}"})[1]["logged_in"] is False
    status, tracker = http("GET", f"{wechat.stack.rasa_url()}/conversations/{user}/tracker")
    assert "我的业务办到哪了" not in json.dumps(tracker, ensure_ascii=False)  # nothing reached the WeChat conversation


def test_a_long_wechat_message_is_refused_before_nlu(wechat):
    user = openid("long")
    reply = wechat_say(wechat, user, "好" * 20000)
    assert "太长" in reply, reply
    assert wechat.user_turns(user) == 0  # never reached Rasa (make bench measures what a flood costs others)
