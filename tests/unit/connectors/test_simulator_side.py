"""The simulator's WeChat side (signing, AES, retries) against the channel's bridge on a local port."""
import asyncio
import base64
import os
import socket

import pytest
from aiohttp import web

from backoffice.core.kvstore import MemoryKV
from connectors.simulator import WeChatSide
from connectors.wechat_bridge import WeChatBridge
from connectors.wechat_settings import WeChatSettings
from tests.unit.connectors.test_bridge import Bot, FakeAPI, FakeBackoffice

AES = WeChatSettings(token="t", app_id="wxsim", app_secret="s",
                     aes_key=base64.b64encode(os.urandom(32)).decode().rstrip("="),
                     api_base="http://127.0.0.1:9/", production=False)


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve(bridge):
    async def receive(request):
        r = await bridge.receive(dict(request.query), await request.read())
        return web.Response(status=r.status, text=r.body, content_type=r.content_type.split(";")[0])

    app = web.Application()
    app.router.add_post("/webhook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/webhook"


@pytest.mark.asyncio
async def test_safe_mode_message_and_passive_reply():
    bot = Bot()
    bridge = WeChatBridge(AES, kv=MemoryKV(), api=FakeAPI(), backoffice=FakeBackoffice(), bot=bot, window=1.0)
    runner, url = await serve(bridge)
    try:
        side = WeChatSide(AES, url)
        result = await side.send(side.message("o1", "text", Content="你好"))
        assert result["status"] == "passive" and result["reply"]["Content"] == "答复：你好"
        assert result["attempts"] == 1
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_simulator_retries_like_wechat_and_the_retry_gets_the_answer_once():
    bot = Bot(delay=0.7)
    # a channel whose window is longer than WeChat's patience: the first attempt times out, the retry answers
    bridge = WeChatBridge(AES, kv=MemoryKV(), api=FakeAPI(), backoffice=FakeBackoffice(), bot=bot, window=1.0)
    runner, url = await serve(bridge)
    try:
        side = WeChatSide(AES, url, timeout=0.5)
        result = await side.send(side.message("o2", "text", Content="登录"))
        await asyncio.sleep(0.1)
        assert result["attempts"] == 2 and result["status"] == "passive"
        assert bot.turns == ["登录"] and bridge.api.sent == []
    finally:
        await runner.cleanup()
