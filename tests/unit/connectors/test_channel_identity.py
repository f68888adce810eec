"""A conversation's identity is its channel's: conversation ids, the REST channel's checks, client tokens, the guard."""
from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import aiohttp
import pytest

from backoffice.channels import client_tokens
from backoffice.channels.senders import BadSender, canonical, channel_of, conversation_id, rest_sender
from connectors.guard import TOO_FAST, Guard, parse_rate
from tests.support.databases import REDIS_URL


def test_each_channel_has_its_own_namespace():
    assert conversation_id("wechat", "oABC_12-x") == "oABC_12-x"
    assert conversation_id("rest", "oABC_12-x") == "rest:oABC_12-x"  # a leaked openid reaches no WeChat session
    assert conversation_id("wecom", "wmUser1", "wkKf01") == "wecom:wkKf01:wmUser1"
    assert channel_of("oABC_12-x") == "wechat"
    assert channel_of("rest:oABC_12-x") == "rest" and rest_sender("rest:oABC_12-x") == "oABC_12-x"
    assert channel_of("wecom:wkKf01:wmUser1") == "wecom"
    assert channel_of("rest:wecom:wkKf01:wmUser1") == "rest"  # a REST caller cannot leave its namespace


@pytest.mark.parametrize("sender", ["S ", " S", "S\t", "S\n", "a\u200bb", "a\u3000b", "", "x" * 65, "e\u0301"])
def test_senders_that_are_not_canonical_are_refused(sender):
    with pytest.raises(BadSender):
        canonical(sender)
    with pytest.raises(BadSender):
        channel_of("rest:" + sender)


@pytest.mark.parametrize("conversation", ["", "has space", "wecom:only-one-part", "wecom:a b:c", "sms:123", None, 5,
                                          "o" * 65, "openid:with:colons"])
def test_the_backoffice_refuses_what_no_channel_makes(conversation):
    with pytest.raises(BadSender):
        channel_of(conversation)


def test_client_tokens_name_one_sender_and_expire(monkeypatch, tmp_path):
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HALL_CLIENT_TOKEN_KEY", raising=False)
    issued = client_tokens.issue("app-user-1", 600)
    assert client_tokens.verify(issued["token"]) == "app-user-1"
    assert (tmp_path / "client_token_key").stat().st_mode & 0o777 == 0o600
    old = client_tokens.issue("app-user-1", 60, now=time.time() - 3600)
    with pytest.raises(client_tokens.InvalidClientToken):
        client_tokens.verify(old["token"])
    forged = client_tokens.issue("app-user-1", 600, key="not-our-key")
    with pytest.raises(client_tokens.InvalidClientToken):
        client_tokens.verify(forged["token"])
    with pytest.raises(client_tokens.InvalidClientToken):
        client_tokens.verify("not.a.jwt")
    monkeypatch.setenv("HALL_ENV", "production")
    with pytest.raises(RuntimeError):
        client_tokens.signing_key()


def test_rates_are_read_as_burst_per_minute():
    assert parse_rate("20/60", (1, 1)) == (20.0, 1.0)
    assert parse_rate(None, (120, 300)) == (120.0, 5.0)


@pytest.fixture(params=["memory", "redis"])
def make_guard(request):
    clock = [1000.0]
    prefix = f"t{os.urandom(4).hex()}:guard:"

    def make(**kw):
        return Guard(redis_url=REDIS_URL if request.param == "redis" else None, prefix=prefix,
                     clock=lambda: clock[0], **kw)

    make.clock = clock
    return make


async def test_the_guard_refuses_long_texts_before_anything_else(make_guard):
    guard = make_guard(max_chars=1000)
    assert await guard.admit("rest:a", "好" * 1000) is None
    answer = await guard.admit("rest:a", "好" * 1001)
    assert answer and "1000" in answer


async def test_the_guard_buckets_per_conversation_and_per_address(make_guard):
    guard = make_guard(per_sender=(3, 1.0), per_address=(5, 1.0))
    assert [await guard.admit("rest:a", "hi") for _ in range(4)] == [None, None, None, TOO_FAST]
    assert await guard.admit("rest:b", "hi") is None  # another conversation has its own bucket
    make_guard.clock[0] += 1.0  # one token back per second
    assert await guard.admit("rest:a", "hi") is None
    # one address spreading over many conversations meets the address bucket
    results = [await guard.admit(f"rest:c{i}", "hi", "203.0.113.9") for i in range(7)]
    assert results[:5] == [None] * 5 and results[5:] == [TOO_FAST] * 2
    assert await guard.admit("rest:d", "hi", "198.51.100.1") is None  # another address is not affected
    assert all([await guard.admit(f"rest:e{i}", "hi", "127.0.0.1") is None for i in range(8)])  # loopback exempt


async def test_the_guard_lets_messages_through_when_its_store_is_down():
    guard = Guard(redis_url="redis://127.0.0.1:9/0", per_sender=(1, 0.0))
    assert await guard.admit("rest:a", "hi") is None and await guard.admit("rest:a", "hi") is None
    assert await guard.admit("rest:a", "好" * 5000) is not None  # the length cap holds without the store


# --- the REST channel itself, served by Sanic on a real port ---------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Channel:
    """The channel's blueprint on a Sanic app in a thread of its own (one per module: Sanic 21.12 patches its
    own modules at the first start-up and cannot start a second app in the same process); the bot echoes."""

    def __init__(self):
        from sanic import Sanic

        from connectors.rest import RestInput

        self.seen: list[tuple] = []

        async def on_new_message(message):
            self.seen.append((message.sender_id, message.input_channel, message.text))
            await message.output_channel.send_text_message(message.sender_id, f"echo {message.text}")

        app = Sanic(f"rest_test_{os.urandom(4).hex()}")
        app.blueprint(RestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
        self.url = f"http://127.0.0.1:{_free_port()}/webhooks/rest/webhook"
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            port = int(self.url.split(":")[2].split("/")[0])
            server = self.loop.run_until_complete(app.create_server(host="127.0.0.1", port=port,
                                                                    return_asyncio_server=True))
            self.loop.run_until_complete(server.startup())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        started.wait(30)

    async def post(self, body, headers=None):
        async with aiohttp.ClientSession() as http:
            async with http.post(self.url, json=body, headers=headers or {}) as resp:
                return resp.status, await resp.json()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def channel_server():
    server = _Channel()
    yield server
    server.stop()


@pytest.fixture
def rest_channel(channel_server, monkeypatch, tmp_path):
    import connectors.guard as guard_module

    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HALL_ENV", raising=False)
    monkeypatch.setattr(guard_module, "_GUARD", Guard(max_chars=50, per_sender=(100, 1.0)))
    channel_server.seen.clear()
    return channel_server.post, channel_server.seen


async def test_rest_senders_live_in_their_own_namespace(rest_channel):
    post, seen = rest_channel
    status, body = await post({"sender": "oWeChatOpenid", "message": "我的业务办到哪了", "input_channel": "wechat"})
    assert status == 200 and body[0]["recipient_id"] == "rest:oWeChatOpenid"
    assert seen == [("rest:oWeChatOpenid", "rest", "我的业务办到哪了")]  # the body's input_channel is ignored
    for sender in ("S ", " S", "S\t", "", None, 7):
        status, body = await post({"sender": sender, "message": "hi"})
        assert status == 400 and body["error"] == "bad_sender"
    assert len(seen) == 1


async def test_rest_messages_pass_the_guard(rest_channel):
    post, seen = rest_channel
    status, body = await post({"sender": "u1", "message": "好" * 51})
    assert status == 200 and "50" in body[0]["text"] and seen == []


async def test_client_tokens_on_the_rest_channel(rest_channel, monkeypatch):
    post, seen = rest_channel
    token = client_tokens.issue("u1")["token"]
    assert (await post({"sender": "u1", "message": "a"}, {"Authorization": f"Bearer {token}"}))[0] == 200
    status, body = await post({"sender": "u2", "message": "a"}, {"Authorization": f"Bearer {token}"})
    assert status == 401 and body["error"] == "token_for_another_sender"
    status, body = await post({"sender": "u1", "message": "a"}, {"Authorization": "Bearer forged.token.value"})
    assert status == 401 and body["error"] == "invalid_token"
    monkeypatch.setenv("HALL_ENV", "production")
    monkeypatch.setenv("HALL_CLIENT_TOKEN_KEY", "k" * 32)
    status, body = await post({"sender": "u1", "message": "a"})
    assert status == 401 and body["error"] == "token_required"
    token = client_tokens.issue("u1")["token"]
    assert (await post({"sender": "u1", "message": "b"}, {"Authorization": f"Bearer {token}"}))[0] == 200
    assert [s[2] for s in seen] == ["a", "b"]
