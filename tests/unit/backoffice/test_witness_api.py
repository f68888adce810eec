"""Video witness over HTTP (bot API, staff API, nudge to the bot), in-process on SQLite and PostgreSQL."""
import pytest
from aiohttp.test_utils import TestClient, TestServer

from backoffice.core.rasa_client import RasaError
from backoffice.web.app import create_app
from tests.unit.backoffice.test_applications_api import log_in
from tests.unit.conftest import ACCOUNT

BIZ = "close_account"


class FakeRasa:
    """Records injected intents and answers like Rasa's CollectingOutputChannel."""

    def __init__(self, fail=False):
        self.fail, self.triggered = fail, []

    async def trigger_intent(self, sender, name, entities=None):
        if self.fail:
            raise RasaError("Rasa unreachable: ClientConnectorError")
        self.triggered.append((sender, name))
        return [{"recipient_id": sender, "text": "视频见证已通过。接下来请签署协议。"},
                {"recipient_id": sender, "text": "是否继续？", "buttons": [{"title": "继续", "payload": "/affirm"},
                                                                          {"title": "取消", "payload": "/cancel"}]}]

    async def pause(self, sender):
        pass

    async def resume(self, sender):
        pass


@pytest.fixture
def rasa():
    return FakeRasa()


@pytest.fixture
async def client(services, rasa):
    services.accounts.create({**ACCOUNT, "balance": "0"})
    log_in(services, "rest:s1")  # a REST customer: nudges go to Rasa, nothing is pushed to WeChat
    async with TestClient(TestServer(create_app(services, rasa_client=rasa))) as c:
        c.staff = {"Authorization": f"Bearer {services.settings.admin_token}"}
        c.bot = {"Authorization": f"Bearer {services.settings.service_token}"}
        yield c


async def call(client, path, headers, **body):
    resp = await client.post(path, json=body, headers=headers)
    return resp.status, await resp.json()


async def test_tokens_and_login_are_required(client):
    for path in ("/api/bot/witness/open", "/api/bot/witness/status"):
        assert (await client.post(path, json={"sender": "rest:s1"}, headers=client.staff)).status == 401
        status, body = await call(client, path, client.bot, sender="stranger", business=BIZ)
        assert status == 403 and body["error"] == "not_logged_in"
    assert (await client.get("/api/witness", headers=client.bot)).status == 401
    assert (await client.post("/api/witness/x/verdict", json={"passed": True}, headers=client.bot)).status == 401


async def test_open_status_verdict_and_nudge(client, services, rasa):
    status, body = await call(client, "/api/bot/witness/status", client.bot, sender="rest:s1", business=BIZ)
    assert status == 200 and body["status"] == "none"
    status, opened = await call(client, "/api/bot/witness/open", client.bot, sender="rest:s1", business=BIZ,
                                channel="rest")
    assert status == 201 and opened["status"] == "waiting" and opened["position"] == 1
    assert opened["url"].startswith("http://127.0.0.1:8000/h5/witness/")
    status, again = await call(client, "/api/bot/witness/open", client.bot, sender="rest:s1", business=BIZ)
    assert status == 200 and again["witness_id"] == opened["witness_id"]
    status, body = await call(client, "/api/bot/witness/open", client.bot, sender="rest:s1", business="nope")
    assert status == 400 and body["error"] == "unknown_business"

    listed = await (await client.get("/api/witness?status=waiting", headers=client.staff)).json()
    assert [r["id"] for r in listed] == [opened["witness_id"]] and listed[0]["account_number"] == "80010001"
    assert (await client.get("/api/witness?status=bogus", headers=client.staff)).status == 400

    wid = opened["witness_id"]
    status, body = await call(client, f"/api/witness/{wid}/verdict", client.staff, passed="yes")
    assert status == 400
    status, view = await call(client, f"/api/witness/{wid}/verdict", client.staff, passed=True, notes="自动化通过")
    assert status == 200 and view["status"] == "passed" and view["nudge"] == "delivered"
    assert rasa.triggered == [("rest:s1", "witness_done")]
    # the bot's answer reached the REST customer's outbox, buttons as text
    outbox = await (await client.get("/api/conversations/rest:s1/outbox", headers=client.staff)).json()
    assert [m["author"] for m in outbox] == ["bot", "bot"]
    assert outbox[0]["text"].startswith("视频见证已通过") and "可回复：继续 / 取消" in outbox[1]["text"]
    status, body = await call(client, "/api/bot/witness/status", client.bot, sender="rest:s1", business=BIZ)
    assert body == {"status": "passed", "witness_id": wid, "position": 0, "reason": None}
    assert services.witness.passed("rest:s1", "80010001", BIZ) == wid
    status, body = await call(client, f"/api/witness/{wid}/verdict", client.staff, passed=False)
    assert status == 409 and body["error"] == "closed"
    assert (await client.get("/api/witness/" + "0" * 32, headers=client.staff)).status == 404


async def test_failed_verdict_reason_reaches_the_bot_api(client):
    _, opened = await call(client, "/api/bot/witness/open", client.bot, sender="rest:s1", business=BIZ)
    status, view = await call(client, f"/api/witness/{opened['witness_id']}/verdict", client.staff, passed=False,
                              reason="not_self", notes="与证件照不符")
    assert status == 200 and view["status"] == "failed"
    _, body = await call(client, "/api/bot/witness/status", client.bot, sender="rest:s1", business=BIZ)
    assert body["status"] == "failed" and "本人" in body["reason"] and "证件照" not in body["reason"]


async def test_no_nudge_while_an_agent_holds_the_conversation(client, services, rasa):
    _, opened = await call(client, "/api/bot/witness/open", client.bot, sender="rest:s1", business=BIZ)
    services.conversations.request_human("rest:s1", channel="rest", reason="customer_request",
                                         account_number="80010001")
    services.conversations.claim("rest:s1", "agent1")
    _, view = await call(client, f"/api/witness/{opened['witness_id']}/verdict", client.staff, passed=True)
    assert view["status"] == "passed" and view["nudge"] == "held" and rasa.triggered == []


@pytest.mark.parametrize("rasa", [FakeRasa(fail=True)])
async def test_a_failed_nudge_is_harmless(client, services, rasa):
    _, opened = await call(client, "/api/bot/witness/open", client.bot, sender="rest:s1", business=BIZ)
    status, view = await call(client, f"/api/witness/{opened['witness_id']}/verdict", client.staff, passed=True)
    assert status == 200 and view["nudge"] == "failed"
    assert services.witness.passed("rest:s1", "80010001", BIZ) == opened["witness_id"]


async def test_rasa_client_trigger_intent_against_a_fake_rasa_server():
    from aiohttp import web
    from aiohttp.test_utils import TestServer as Server

    from backoffice.core.rasa_client import RasaClient

    seen = []

    async def trigger(request):
        seen.append((request.match_info["sender"], await request.json(), dict(request.query)))
        return web.json_response({"tracker": {}, "messages": [{"recipient_id": "a b", "text": "好的"}]})

    app = web.Application()
    app.router.add_post("/conversations/{sender}/trigger_intent", trigger)
    async with Server(app) as server:
        messages = await RasaClient(str(server.make_url("")), token="t0k").trigger_intent("a b", "witness_done")
    assert messages == [{"recipient_id": "a b", "text": "好的"}]
    assert seen[0][0] == "a b" and seen[0][1]["name"] == "witness_done" and seen[0][2]["token"] == "t0k"
    with pytest.raises(RasaError):
        await RasaClient("http://127.0.0.1:1").trigger_intent("x", "witness_done")
