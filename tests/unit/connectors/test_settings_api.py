import socket

import pytest
from aiohttp import web

from connectors.simulator.fake_wechat import FakeWeChat
from connectors.wechat_api import WeChatAPI, WeChatAPIError
from connectors.wechat_settings import DEV_TOKEN, WeChatConfigError, WeChatSettings, load_wechat_settings


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_AES_KEY", "WECHAT_API_BASE",
                 "HALL_ENV", "BACKOFFICE_URL", "WECHAT_TRANSFER_TO_KF"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_PORT", "8123")
    return monkeypatch


def test_development_defaults_point_at_the_simulator(clean_env):
    s = load_wechat_settings()
    assert s.token == DEV_TOKEN and not s.safe_mode
    assert s.api_base == "http://127.0.0.1:8123/simulator/wechat-api/"


def test_credentials_win_over_environment(clean_env):
    clean_env.setenv("WECHAT_TOKEN", "from-env")
    clean_env.setenv("WECHAT_API_BASE", "http://fake:1")
    s = load_wechat_settings({"token": "from-credentials", "app_id": None})
    assert s.token == "from-credentials" and s.api_base == "http://fake:1/"


def test_production_refuses_missing_secrets_and_uses_the_real_api(clean_env):
    clean_env.setenv("HALL_ENV", "production")
    with pytest.raises(WeChatConfigError):
        load_wechat_settings()
    for k, v in (("WECHAT_TOKEN", "t"), ("WECHAT_APP_ID", "wx1"), ("WECHAT_APP_SECRET", "s")):
        clean_env.setenv(k, v)
    assert load_wechat_settings().api_base == "https://api.weixin.qq.com/"


def test_bad_aes_key_length_is_rejected(clean_env):
    clean_env.setenv("WECHAT_AES_KEY", "short")
    with pytest.raises(WeChatConfigError):
        load_wechat_settings()


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def fake_api():
    fake = FakeWeChat("wxunitapi", "secret")
    app = web.Application()
    app.add_routes(fake.routes(""))
    runner = web.AppRunner(app)
    await runner.setup()
    port = _port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    settings = WeChatSettings(token="t", app_id="wxunitapi", app_secret="secret", aes_key=None,
                              api_base=f"http://127.0.0.1:{port}/", production=False)
    yield fake, WeChatAPI(settings)  # memory token storage (no REDIS_URL)
    await runner.cleanup()


async def test_token_is_cached_and_refreshed_once_on_40001(fake_api):
    fake, api = fake_api
    await api.send_text("o1", "一")
    await api.send_text("o1", "二")
    assert fake.token_fetches == 1
    fake.expire_tokens()
    await api.send_text("o1", "三")
    assert fake.token_fetches == 2
    assert [m["text"]["content"] for m in fake.messages_for("o1")] == ["一", "二", "三"]


async def test_a_server_that_keeps_answering_40001_fails_instead_of_looping(fake_api, monkeypatch):
    fake, api = fake_api
    monkeypatch.setattr(fake, "tokens", type("Never", (set,), {"__contains__": lambda self, x: False})())
    with pytest.raises(WeChatAPIError):
        await api.send_text("o1", "x")
    assert fake.send_attempts == 2  # the original call and one retry after refreshing


async def test_media_round_trip(fake_api):
    fake, api = fake_api
    media_id = await api.upload_media("image", "a.png", b"\x89PNG....")
    data, ctype = await api.download_media(media_id)
    assert data == b"\x89PNG...." and fake.media[media_id][0] == data
