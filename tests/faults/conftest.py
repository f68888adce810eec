"""One real stack for the fault tests, on a private PostgreSQL and a private Redis that the tests may break.

The machine's shared PostgreSQL/Redis are never touched: the fault tests stop and restart their own servers
(tests/support/private_services.py). Rasa runs with the Redis tracker and lock stores (scripts/rasa_endpoints.py
writes them when REDIS_URL is set), so a restarted Rasa finds its conversations again. The WeChat channel talks
to a fake WeChat API on a free port (tests/e2e/test_wechat.py's helpers), the 微信客服 channel to a fake WeCom
(tests/e2e/test_wecom.py's helpers).
"""
from __future__ import annotations

import base64
import itertools
import os
import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from backoffice.accounts.seed import demo_signature_png, id_number
from biometrics.testdata import ensure_faces
from connectors.simulator.fake_wechat import FakeWeChat
from scripts.train import model_path
from tests.e2e.test_wechat import SECRET, TOKEN, Background, WeChat
from tests.e2e.test_wecom import KFID, WeComSide, serve_fake
from tests.support.live import live_video
from tests.support.private_services import private_postgres, private_redis
from tests.support.stack import Stack, texts

BUSY = "系统繁忙"
_numbers = itertools.count(1)


class Faults:
    """The stack plus its breakable dependencies and the fake WeChat."""

    def __init__(self, stack: Stack, postgres, redis_server, wechat: WeChat, wecom: WeComSide | None = None):
        self.stack, self.postgres, self.redis, self.wechat, self.wecom = stack, postgres, redis_server, wechat, wecom

    def heal(self) -> None:
        """After a test (passed or not): every server and process running again, for the next test."""
        if self.redis.proc is None or self.redis.proc.poll() is not None:
            self.redis.start()
        if not (self.postgres.data / "postmaster.pid").exists():
            self.postgres.start()
        starters = {"backoffice": self.stack.start_backoffice, "actions": self.stack.start_actions,
                    "rasa0": self.stack.start_rasa}
        dead = [n for n in starters if n not in self.stack.procs or self.stack.procs[n].poll() is not None]
        for name in dead:
            starters[name]()
        if dead:
            self.stack.wait_ready()

    def restart(self, name: str) -> None:
        """Start a stopped stack process again and wait until every process answers."""
        {"actions": self.stack.start_actions, "backoffice": self.stack.start_backoffice,
         "rasa0": self.stack.start_rasa}[name]()
        self.stack.wait_ready()


@pytest.fixture(scope="session")
def faults(tmp_path_factory):
    # HALL_TEST_MODEL: run against a given model while the current sources' model is still training
    model = Path(os.environ["HALL_TEST_MODEL"]) if os.environ.get("HALL_TEST_MODEL") else model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` first (make test does)")
    app_id = "wxfault" + os.urandom(5).hex()
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    fake = FakeWeChat(app_id, SECRET)
    bg = Background()
    api_app = web.Application()
    api_app.add_routes(fake.routes(""))
    api_port = bg.serve(api_app)
    wecom_fake, wecom_env = serve_fake(bg, "console")
    with private_postgres() as postgres, private_redis(persistent=True) as redis_server:
        stack = Stack(tmp_path_factory.mktemp("faults"), database_url=postgres.url, redis_url=redis_server.url,
                      model=model,
                      extra_env={"WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": app_id, "WECHAT_APP_SECRET": SECRET,
                                 "WECHAT_AES_KEY": aes_key, "WECHAT_API_BASE": f"http://127.0.0.1:{api_port}/",
                                 "BIOMETRICS_PREWARM": "1", **wecom_env})
        try:
            stack.start()
            yield Faults(stack, postgres, redis_server, WeChat(stack, fake, WeChatCrypto(TOKEN, aes_key, app_id)),
                         WeComSide(stack, wecom_fake, 0, KFID))
        finally:
            stack.stop()
            bg.close()


@pytest.fixture(scope="session")
def faces():
    people = ensure_faces()
    return {"owner": people["obama"], "other": people["biden"]}


# --- a customer with a locked account, logged in and bound to this sender -----------------------------------
class Customer:
    def __init__(self, faults: Faults, faces, tag: str):
        n = next(_numbers)
        self.faults, self.stack, self.faces = faults, faults.stack, faces
        self.sender = f"rest:fault-{tag}-{uuid.uuid4().hex[:8]}"  # a REST conversation
        # the database is this session's own: plain sequence numbers are unique
        self.account, self.phone = f"8009{n:04d}", f"1390000{n:04d}"
        self.id_number = id_number(f"11010519900101{n:03d}")
        self.chat: list[str] = []

    def create(self, state: str = "locked") -> "Customer":
        signature = self.stack.upload(demo_signature_png(), None)
        body = {"account_number": self.account, "name": "吴敏", "phone": self.phone,
                "id_number": self.id_number,
                "investor_type": "投资者", "opened_on": "2020-01-02", "state": state, "bound_device": self.sender,
                "signature_media_id": signature}
        status, view = self.stack.api("POST", "/api/accounts", body)
        assert status == 201, view
        with open(self.faces["owner"][0], "rb") as fh:
            req = urllib.request.Request(f"{self.stack.backoffice_url}/api/accounts/{self.account}/portrait",
                                         data=fh.read(), method="PUT",
                                         headers={"Authorization": f"Bearer {self.stack.admin_token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        return self

    def say(self, text: str, instance: int = 0) -> str:
        reply = texts(self.stack.say(self.sender, text, index=instance))
        self.chat.append(reply)
        return reply

    def clip_media(self) -> str:
        """A live selfie clip of the announced action (the stack asks for 眨眨眼 only), uploaded."""
        return self.stack.upload(live_video(str(self.faces["owner"][0])), self.sender, "selfie.mp4")

    def live_clip(self) -> str:
        return self.say(f'/upload_video{{"media_id":"{self.clip_media()}"}}')

    def sms(self) -> list[str]:
        return [m["text"] for m in self.stack.sms(self.phone)]

    def code(self) -> str:
        messages = self.sms()
        assert messages, f"no SMS to {self.phone}"
        return re.search(r"验证码(\d{6})", messages[-1]).group(1)

    def applications(self) -> list[dict]:
        status, items = self.stack.api("GET", f"/api/applications?account_number={self.account}")
        assert status == 200, items
        return items

    def login_for_unlock(self) -> str:
        """账户解锁 → login (SMS code) → the face step is asked."""
        assert "账户解锁" in self.say("我的账户被锁了")
        self.say("投资者")
        self.say(self.account)
        self.say(self.phone)
        self.say(self.code())
        reply = self.say("同意")
        assert "登录成功" in reply and "人脸信息处理授权" in reply, reply
        reply = self.say("同意")  # the separate consent to face data: then the live check is announced
        assert "眨眨眼" in reply and "/h5/live/" in reply, reply
        return reply

    def face_passed(self) -> str:
        reply = self.live_clip()
        assert "人脸认证通过" in reply and "验证码" in reply, reply
        return reply


def until(check, timeout: float = 30.0, every: float = 0.3):
    """Poll for an outcome (an effect that happens in the background); the last value either way."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(every)
        value = check()
    return value


@pytest.fixture(autouse=True)
def _heal(request):
    yield
    if "faults" in request.fixturenames:
        request.getfixturevalue("faults").heal()


@pytest.fixture
def customer(faults, faces, request):
    return Customer(faults, faces, request.node.name[5:25].replace("_", "-")).create()
