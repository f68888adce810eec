"""The typed kf client against the fake WeCom API on a local port: token sharing and refresh, retries."""
import pytest
from wechatpy.session.memorystorage import MemoryStorage

from connectors.wecom_api import KfClient, WeComAPIError
from connectors.wecom_metrics import WeComMetrics
from tests.unit.connectors.conftest import KFID


async def test_the_token_is_shared_through_its_storage_and_refreshed_once_when_rejected(fake_wecom):
    fake, settings = fake_wecom
    storage = MemoryStorage()  # what Redis is between processes
    first, second = KfClient(settings, storage), KfClient(settings, storage)
    try:
        await first.service_state(KFID, "wmA")
        await second.service_state(KFID, "wmA")
        assert fake.token_fetches == 1
        fake.expire_tokens()
        await second.service_state(KFID, "wmA")
        await first.service_state(KFID, "wmA")
        assert fake.token_fetches == 2
    finally:
        await first.close()
        await second.close()


async def test_frequency_limit_and_busy_are_retried_with_backoff(fake_wecom, kf_client):
    fake, _ = fake_wecom
    fake.customer_message(KFID, "wmA", text="你好")
    fake.fail_next("kf/sync_msg", 45009)
    fake.fail_next("kf/sync_msg", -1)
    page = await kf_client.sync_msg(KFID)
    assert [m["text"]["content"] for m in page.messages] == ["你好"]
    assert kf_client.metrics.api_retries == 2


async def test_other_errors_raise_with_the_errcode_and_retries_end(fake_wecom, kf_client):
    fake, _ = fake_wecom
    with pytest.raises(WeComAPIError) as err:
        await kf_client.send_msg("wmNobody", KFID, "text", {"content": "x"})
    assert err.value.errcode == 95002  # no customer message to answer
    fake.fail_next("kf/sync_msg", 45009, times=10)
    with pytest.raises(WeComAPIError) as err:
        await kf_client.sync_msg(KFID)
    assert err.value.errcode == 45009 and kf_client.metrics.api_retries == 3


async def test_unreachable_wecom_is_an_error_not_a_hang():
    from tests.unit.connectors.conftest import wecom_settings

    client = KfClient(wecom_settings("http://127.0.0.1:9/cgi-bin/"), metrics=WeComMetrics(), backoff=(0.01,))
    try:
        with pytest.raises(WeComAPIError):
            await client.sync_msg(KFID)
    finally:
        await client.close()


async def test_paging_session_state_and_media(fake_wecom, kf_client):
    fake, _ = fake_wecom
    for i in range(3):
        fake.customer_message(KFID, "wmA", text=f"m{i}")
    page = await kf_client.sync_msg(KFID, limit=2)
    assert len(page.messages) == 2 and page.has_more
    rest = await kf_client.sync_msg(KFID, cursor=page.next_cursor, limit=2)
    assert [m["text"]["content"] for m in rest.messages] == ["m2"] and not rest.has_more
    assert (await kf_client.service_state(KFID, "wmA")).state == 0
    await kf_client.trans_state(KFID, "wmA", 1)
    assert (await kf_client.service_state(KFID, "wmA")).state == 1
    with pytest.raises(WeComAPIError) as err:
        await kf_client.trans_state(KFID, "wmA", 3)  # a human needs a servicer id
    assert err.value.errcode == 95016
    media_id = await kf_client.media_upload("image", "a.png", b"\x89PNG-data", "image/png")
    assert await kf_client.media_get(media_id) == (b"\x89PNG-data", "image/png")
    with pytest.raises(WeComAPIError):
        await kf_client.media_get("nope")
