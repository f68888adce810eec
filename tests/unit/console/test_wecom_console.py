"""Console replies to 微信客服 customers go out through kf/send_msg within WeCom's budget (backoffice/delivery.py),
against the fake WeCom API; the channel's handoff route takes a conversation off the console queue."""
import time

import pytest

from backoffice.channels import delivery
from tests.unit.connectors.conftest import AES_KEY, CORP_ID, KFID, SECRET, TOKEN, fake_wecom  # noqa: F401

UID = "wmConsole01"
SENDER = f"wecom:{KFID}:{UID}"


@pytest.fixture
def wecom_env(fake_wecom, monkeypatch):  # noqa: F811
    fake, settings = fake_wecom
    for name, value in (("WECOM_CORP_ID", CORP_ID), ("WECOM_SECRET", SECRET), ("WECOM_TOKEN", TOKEN),
                        ("WECOM_AES_KEY", AES_KEY), ("WECOM_API_BASE", settings.api_base)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)  # the memory store: this test's process is both sides
    monkeypatch.setattr(delivery, "_wecom_outbound", None)
    return fake


def customer_wrote(fake):
    fake.customer_message(KFID, UID, text="你好")
    delivery.wecom_outbound().store.open_window(SENDER, time.time() + 48 * 3600)  # what the channel does


async def test_agent_replies_within_the_budget_then_held(client, services, wecom_env):
    fake = wecom_env
    customer_wrote(fake)
    services.conversations.request_human(SENDER, channel="wecom", reason="customer_request", account_number=None)
    token = {"Authorization": f"Bearer {services.settings.admin_token}"}
    assert (await client.post(f"/api/conversations/{SENDER}/claim", headers=token)).status == 200
    answers = []
    for i in range(1, 7):
        resp = await client.post(f"/api/conversations/{SENDER}/reply", json={"text": f"第{i}条回复"}, headers=token)
        assert resp.status == 201
        answers.append(await resp.json())
    assert [a["delivered"] for a in answers] == [True] * 5 + [False] and answers[5]["held"] is True
    assert [m["text"]["content"] for m in fake.messages_for(UID)] == [f"第{i}条回复" for i in range(1, 6)]
    assert not fake.refused  # the 6th was never sent to WeCom to be refused
    # the customer writes again: the channel flushes what was held
    customer_wrote(fake)
    outcome = await delivery.wecom_outbound().flush(SENDER)
    assert outcome.sent == 1 and fake.messages_for(UID)[-1]["text"]["content"] == "第6条回复"


async def test_agent_image_reply_is_uploaded_and_sent(client, services, wecom_env):
    import io

    from PIL import Image

    fake = wecom_env
    customer_wrote(fake)
    services.conversations.request_human(SENDER, channel="wecom", reason="customer_request", account_number=None)
    token = {"Authorization": f"Bearer {services.settings.admin_token}"}
    await client.post(f"/api/conversations/{SENDER}/claim", headers=token)
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buf, format="PNG")
    resp = await client.post(f"/api/conversations/{SENDER}/reply-image", data=buf.getvalue(),
                             headers={**token, "Content-Type": "image/png"})
    body = await resp.json()
    assert resp.status == 201 and body["delivered"] is True, body
    sent = fake.messages_for(UID)[-1]
    assert sent["msgtype"] == "image" and fake.media[sent["image"]["media_id"]][0][:4] == b"\x89PNG"


async def test_a_notice_outside_the_window_is_held_not_lost(wecom_env):
    result = await delivery.deliver({"sender": SENDER, "channel": "wecom"}, "您的账户解锁申请已通过。")
    assert result == delivery.HELD and wecom_env.send_attempts == 0
    assert delivery.wecom_outbound().store.held_count(SENDER) == 1


async def test_the_channels_own_servicers_take_it_off_the_console_queue(client, services):
    services.conversations.request_human(SENDER, channel="wecom", reason="customer_request", account_number=None)
    service = {"Authorization": f"Bearer {services.settings.service_token}"}
    resp = await client.post("/api/bot/handoff/channel", json={"sender": SENDER}, headers=service)
    assert resp.status == 200
    assert services.conversations.state(SENDER) == "bot"
    assert services.conversations.list("waiting") == []
