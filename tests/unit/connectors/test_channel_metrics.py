"""Channel metrics: API failures counted once where the call is made, customer messages and refusals by channel,
and the Rasa server's /metrics route mounted at the root."""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sanic import Sanic

from connectors.channel_metrics import exposition
from connectors.guard import Guard
from connectors.wecom_api import WeComAPIError
from tests.support.metrics import sample
from tests.unit.connectors.conftest import KFID
from tests.unit.connectors.test_settings_api import fake_api  # noqa: F401  (fixture)


async def test_a_failed_wecom_call_counts_once_after_its_retries(fake_wecom, kf_client):
    fake, _ = fake_wecom
    before = sample("hall_channel_api_errors_total", channel="wecom", call="kf/sync_msg")
    fake.fail_next("kf/sync_msg", 45009, times=4)  # the call and its three retries
    with pytest.raises(WeComAPIError):
        await kf_client.sync_msg(KFID)
    assert kf_client.metrics.api_retries == 3  # three retries, one failure
    assert sample("hall_channel_api_errors_total", channel="wecom", call="kf/sync_msg") == before + 1
    fake.customer_message(KFID, "wmA", text="你好")
    await kf_client.sync_msg(KFID)  # a success counts nothing
    assert sample("hall_channel_api_errors_total", channel="wecom", call="kf/sync_msg") == before + 1


async def test_a_failed_wechat_call_is_counted_by_its_name(fake_api, monkeypatch):  # noqa: F811
    from connectors.wechat_api import WeChatAPIError

    fake, api = fake_api
    monkeypatch.setattr(fake, "tokens", type("Never", (set,), {"__contains__": lambda self, x: False})())
    before = sample("hall_channel_api_errors_total", channel="wechat", call="send_text")
    with pytest.raises(WeChatAPIError):
        await api.send_text("o1", "x")
    assert sample("hall_channel_api_errors_total", channel="wechat", call="send_text") == before + 1


async def test_refusals_are_counted_by_channel_and_reason():
    guard = Guard(max_chars=10, per_sender=(1, 0.0))
    long_before = sample("hall_channel_refused_total", channel="wecom", reason="too_long")
    fast_before = sample("hall_channel_refused_total", channel="rest", reason="throttled")
    assert await guard.admit("wecom:k:u", "字" * 11, channel="wecom")
    assert await guard.admit("rest:a", "你好", channel="rest") is None
    assert await guard.admit("rest:a", "你好", channel="rest")  # the bucket of one is empty
    assert sample("hall_channel_refused_total", channel="wecom", reason="too_long") == long_before + 1
    assert sample("hall_channel_refused_total", channel="rest", reason="throttled") == fast_before + 1


async def test_a_turn_counts_the_message_on_its_channel():
    from connectors.turns import bot_turn

    async def answer(message):
        await message.output_channel.send_text_message(message.sender_id, "您好")

    before = sample("hall_channel_messages_total", channel="wechat")
    assert await bot_turn(answer, "你好", "o1", "wechat", None) == [{"recipient_id": "o1", "text": "您好"}]
    assert sample("hall_channel_messages_total", channel="wechat") == before + 1
    assert b"hall_channel_messages_total" in exposition()


def test_the_rasa_server_serves_metrics_at_the_root():
    from rasa.core.channels.channel import register

    from connectors.metrics_endpoint import MetricsInput

    app = Sanic("metrics_route_test")
    register([MetricsInput()], app, "/webhooks/")
    assert [route.path for route in app.router.routes] == ["metrics"]
    assert any(type(c).__name__ == "WeComCollector" for c in list(REGISTRY._collector_to_names))


def test_one_token_check_for_every_metrics_endpoint():
    from connectors.channel_metrics import authorised

    assert authorised("", None) and authorised("anything", "")
    assert authorised("Bearer s3cret", "s3cret")
    assert not authorised("", "s3cret") and not authorised("Bearer wrong", "s3cret")
