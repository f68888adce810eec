"""WeCom fixtures: the fake WeCom API on a local port, and the channel's store on memory and on real Redis."""
from __future__ import annotations

import base64
import os
import socket
import uuid

import pytest
from aiohttp import web

from backoffice.core.clock import ManualClock
from connectors.simulator.fake_wecom import FakeWeCom
from connectors.wecom_api import KfClient
from connectors.wecom_metrics import WeComMetrics
from connectors.wecom_settings import WeComSettings
from connectors.wecom_store import MemoryWeComStore, RedisWeComStore
from tests.support.databases import REDIS_URL

CORP_ID = "wwunit0000000001"
SECRET = "unit-kf-secret"
TOKEN = "unit-wecom-token"
AES_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")
KFID = "wkunit0000000001"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wecom_settings(api_base: str = "http://127.0.0.1:9/cgi-bin/", handoff: str = "console") -> WeComSettings:
    return WeComSettings(corp_id=CORP_ID, secret=SECRET, token=TOKEN, aes_key=AES_KEY, api_base=api_base,
                         handoff=handoff, production=False)


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = _port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


@pytest.fixture
async def fake_wecom():
    """(fake, settings pointing at it): untokened pulls are not rate-limited here unless a test says so."""
    fake = FakeWeCom(CORP_ID, SECRET, token=TOKEN, aes_key=AES_KEY, untokened_interval=0)
    app = web.Application()
    app.add_routes(fake.routes("/cgi-bin"))
    runner, port = await serve(app)
    yield fake, wecom_settings(f"http://127.0.0.1:{port}/cgi-bin/")
    await runner.cleanup()


@pytest.fixture
async def kf_client(fake_wecom):
    _fake, settings = fake_wecom
    client = KfClient(settings, metrics=WeComMetrics(), backoff=(0.01, 0.02, 0.04))
    yield client
    await client.close()


@pytest.fixture(params=["memory", "redis"])
def wecom_store(request):
    if request.param == "memory":
        yield MemoryWeComStore(ManualClock())
        return
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    store = RedisWeComStore(REDIS_URL, prefix=prefix)
    yield store
    for key in store.client.scan_iter(prefix + "*"):
        store.client.delete(key)
