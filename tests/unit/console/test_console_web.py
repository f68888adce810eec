"""The console over HTTP, in-process: cookies, CSRF, roles, escaping, handoff and review actions."""
import json

import pytest

from backoffice.accounts.service import Account
from tests.unit.backoffice.business_steps import pass_business_steps
from tests.unit.conftest import ACCOUNT
from tests.unit.console.conftest import PASSWORD, form_csrf, login, session_csrf

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_login_sets_a_safe_session_cookie(client):
    resp = await login(client, "agent1")
    assert resp.status == 302 and resp.headers["Location"] == "/console"
    cookie = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("console_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # development over plain http
    assert (await client.get("/console/queue")).status == 200


async def test_session_cookie_is_secure_in_production(client, services, monkeypatch):
    monkeypatch.setattr(services.settings, "production", True)
    page = await client.get("/console/login")
    login_cookie = page.headers["Set-Cookie"]
    assert "Secure" in login_cookie and "HttpOnly" in login_cookie and "SameSite=Strict" in login_cookie
    token = form_csrf(await page.text())
    client.session.cookie_jar.clear()  # the jar would not send a Secure cookie over http: send it by hand
    resp = await client.post("/console/login", data={"csrf": token, "username": "agent1", "password": PASSWORD},
                             headers={"Cookie": f"console_login_csrf={token}"}, allow_redirects=False)
    assert resp.status == 302
    cookie = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("console_session=")][0]
    assert "Secure" in cookie


async def test_pages_need_a_session(client):
    resp = await client.get("/console/queue", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/console/login")
    assert (await client.get("/console/conversations/x/history.json")).status == 401
    assert (await client.post("/console/conversations/x/claim", data={"csrf": "x"})).status == 401
    # the staff API token is not a console session
    resp = await client.get("/console/queue", allow_redirects=False, headers={"Authorization": "Bearer x"})
    assert resp.status == 302


async def test_wrong_password_and_rate_limit_over_http(client):
    resp = await login(client, "agent1", "wrong-password")
    assert resp.status == 401 and "用户名或密码错误" in await resp.text()
    for _ in range(4):
        await login(client, "agent1", "wrong-password")
    resp = await login(client, "agent1", PASSWORD)
    assert resp.status == 429 and "尝试次数过多" in await resp.text()


async def test_login_needs_its_csrf_token(client):
    await client.get("/console/login")  # sets the double-submit cookie
    resp = await client.post("/console/login", data={"username": "agent1", "password": PASSWORD})
    assert resp.status == 403
    resp = await client.post("/console/login", data={"csrf": "forged", "username": "agent1", "password": PASSWORD})
    assert resp.status == 403


async def test_posts_without_the_session_csrf_token_are_refused(client, services, rasa):
    services.conversations.request_human("c1", channel="rest", reason="customer_request", account_number=None)
    await login(client, "agent1")
    for data in ({}, {"csrf": "forged"}):
        resp = await client.post("/console/conversations/c1/claim", data=data, allow_redirects=False)
        assert resp.status == 403
    assert services.conversations.get("c1")["state"] == "waiting" and rasa.calls == []
    resp = await client.post("/console/logout", data={}, allow_redirects=False)
    assert resp.status == 403  # logout too: no cross-site logouts
    csrf = await session_csrf(client)
    resp = await client.post("/console/conversations/c1/claim", headers={"X-CSRF-Token": csrf},
                             allow_redirects=False)
    assert resp.status == 302 and services.conversations.get("c1")["state"] == "agent"


async def test_open_redirect_after_login_is_refused(client):
    page = await client.get("/console/login?next=https://evil.example/")
    html = await page.text()
    assert "evil.example" not in html
    resp = await client.post("/console/login", data={"csrf": form_csrf(html), "username": "agent1",
                                                     "password": PASSWORD, "next": "//evil.example/"},
                             allow_redirects=False)
    assert resp.headers["Location"] == "/console"


async def test_logout_ends_the_session(client, services):
    await login(client, "agent1")
    csrf = await session_csrf(client)
    resp = await client.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 302
    assert (await client.get("/console/queue", allow_redirects=False)).status == 302
    assert any(e["event"] == "console_logout" and e["actor"] == "staff:agent1" for e in services.audit.list())


async def test_handoff_claim_reply_release(client, services, rasa):
    services.conversations.request_human("c2", channel="rest", reason="customer_request", account_number="80010001")
    await login(client, "agent1")
    queue = await (await client.get("/console/queue")).text()
    assert "c2" in queue and "客户要求转人工" in queue
    csrf = await session_csrf(client)
    resp = await client.post("/console/conversations/c2/claim", data={"csrf": csrf})
    assert resp.status == 200 and "已接入" in await resp.text()
    assert rasa.calls == [("pause", "c2")]
    row = services.conversations.get("c2")
    assert row["state"] == "agent" and row["agent"] == "agent1"
    await client.post("/console/conversations/c2/reply", data={"csrf": csrf, "text": "您好，我是客服小王"})
    texts = [m["text"] for m in services.conversations.outbox("c2")]
    assert texts[0].startswith("人工客服已接入") and texts[1] == "您好，我是客服小王"
    await client.post("/console/conversations/c2/release", data={"csrf": csrf, "resume_bot": "1"})
    assert rasa.calls[-1] == ("resume", "c2") and services.conversations.get("c2")["state"] == "bot"
    assert services.conversations.outbox("c2")[-1]["text"].startswith("人工客服已离开")
    actors = {e["actor"] for e in services.audit.list() if e["event"].startswith("handoff_")}
    assert "staff:agent1" in actors


ASK_CODE = [{"text": "请输入短信中的6位验证码（5分钟内有效）。没收到可回复“重新发送”。"}]
ASK_CONFIRM = [{"text": "确认解锁？", "buttons": [{"title": "确认解锁", "payload": "/affirm"},
                                                  {"title": "暂不解锁", "payload": "/deny"}]}]


async def test_release_without_resume_unpauses_without_a_form(client, services, rasa):
    services.conversations.request_human("c3", channel="rest", reason="customer_request", account_number=None)
    await login(client, "agent1")
    csrf = await session_csrf(client)
    await client.post("/console/conversations/c3/claim", data={"csrf": csrf})
    await client.post("/console/conversations/c3/release", data={"csrf": csrf})
    assert rasa.calls == [("pause", "c3"), ("resume", "c3")]  # the bot answers again: hand-back means that
    assert services.conversations.outbox("c3")[-1]["text"] == "人工客服已离开，接下来由智能助手继续为您服务。"


async def test_hand_back_resumes_the_business_form(client, services, rasa):
    """A form active at claim time is run again on hand-back: the bot re-asks its step, the customer gets it."""
    services.conversations.request_human("c10", channel="rest", reason="customer_request", account_number="80010001")
    rasa.trackers["c10"] = {"events": [], "slots": {}, "active_loop": {"name": "unlock_account_form"}}
    rasa.executed["unlock_account_form"] = ASK_CONFIRM
    await login(client, "agent1")
    csrf = await session_csrf(client)
    await client.post("/console/conversations/c10/claim", data={"csrf": csrf})
    rasa.trackers["c10"] = {"events": [], "slots": {}, "active_loop": {}}  # whatever happens meanwhile
    page = await client.post("/console/conversations/c10/release", data={"csrf": csrf, "resume_bot": "1"})
    assert "继续办理客户的业务" in await page.text()
    assert rasa.calls[1:] == [("events", "c10", ("resume", "unlock_account_form", "unlock_account_form")),
                              ("execute", "c10", "unlock_account_form"), ("events", "c10", ("action_listen",))]
    out = services.conversations.outbox("c10")
    assert out[-2]["text"] == "人工客服已离开，智能助手将继续为您办理账户解锁。"
    assert out[-1]["author"] == "bot" and out[-1]["text"] == "确认解锁？\n可回复：确认解锁 / 暂不解锁"
    assert services.conversations.get("c10")["state"] == "bot"
    # the console does not show the bot's words twice (they are in the tracker)
    history = await (await client.get("/console/conversations/c10/history.json")).json()
    assert all(m["who"] != "agent" or m["text"] != out[-1]["text"] for m in history["messages"])


async def test_hand_back_resumes_the_form_the_bot_noted_when_queueing(client, services, rasa):
    """转人工 closes the form (its slots stay); the bot tells the back-office which one it was."""
    bot = {"Authorization": f"Bearer {services.settings.service_token}"}
    resp = await client.post("/api/bot/handoff", json={"sender": "c13", "channel": "rest", "reason": "customer_request",
                                                       "form": "reset_password_form"}, headers=bot)
    assert (await resp.json()) == {"position": 1}
    rasa.trackers["c13"] = {"events": [], "slots": {}, "active_loop": {}}
    rasa.executed["reset_password_form"] = ASK_CODE
    await login(client, "agent1")
    csrf = await session_csrf(client)
    page = await (await client.post("/console/conversations/c13/claim", data={"csrf": csrf})).text()
    assert '<dd id="resume-business">重置密码</dd>' in page  # the agent sees what a hand-back continues
    await client.post("/console/conversations/c13/release", data={"csrf": csrf, "resume_bot": "1"})
    assert ("execute", "c13", "reset_password_form") in rasa.calls
    assert [m["text"] for m in services.conversations.outbox("c13")][-2:] == [
        "人工客服已离开，智能助手将继续为您办理重置密码。", ASK_CODE[0]["text"]]
    # a later handoff outside any business: nothing to resume
    await client.post("/api/bot/handoff", json={"sender": "c13", "reason": "customer_request"}, headers=bot)
    await client.post("/console/conversations/c13/claim", data={"csrf": csrf})
    await client.post("/console/conversations/c13/release", data={"csrf": csrf, "resume_bot": "1"})
    assert rasa.calls[-1] == ("resume", "c13")


async def test_hand_back_without_resume_closes_the_form(client, services, rasa):
    services.conversations.request_human("c11", channel="rest", reason="customer_request", account_number="80010001")
    rasa.trackers["c11"] = {"events": [], "slots": {}, "active_loop": {"name": "reset_password_form"}}
    rasa.executed["reset_password_form"] = ASK_CODE
    await login(client, "agent1")
    csrf = await session_csrf(client)
    await client.post("/console/conversations/c11/claim", data={"csrf": csrf})
    await client.post("/console/conversations/c11/resolve", data={"csrf": csrf})
    assert rasa.calls[1:] == [("events", "c11", ("resume", "active_loop", "requested_slot"))]
    assert [m["author"] for m in services.conversations.outbox("c11")] == ["agent1", "agent1"]  # joined, resolved
    # claimed again later without a form: nothing of the old form is resumed
    services.conversations.request_human("c11", channel="rest", reason="customer_request", account_number=None)
    rasa.trackers["c11"] = {"events": [], "slots": {}}
    await client.post("/console/conversations/c11/claim", data={"csrf": csrf})
    await client.post("/console/conversations/c11/release", data={"csrf": csrf, "resume_bot": "1"})
    assert rasa.calls[-1] == ("resume", "c11")


async def test_api_release_resume_pushes_the_question_to_wechat(client, services, rasa, monkeypatch):
    """The token API does the same; a WeChat customer gets the re-asked step as a 客服消息."""
    sent = []

    class RecordingWeChat:
        async def send_text(self, openid, text):
            sent.append((openid, text))

    import connectors.wechat_api

    monkeypatch.setattr(connectors.wechat_api, "get_api", lambda *a: RecordingWeChat())
    services.conversations.request_human("oW1", channel="wechat", reason="customer_request", account_number=None)
    rasa.trackers["oW1"] = {"events": [], "slots": {}, "active_loop": {"name": "unlock_account_form"}}
    rasa.executed["unlock_account_form"] = ASK_CODE
    token = {"Authorization": f"Bearer {services.settings.admin_token}"}
    assert (await client.post("/api/conversations/oW1/claim", headers=token)).status == 200
    resp = await client.post("/api/conversations/oW1/release", json={"resume_bot": True}, headers=token)
    body = await resp.json()
    assert resp.status == 200 and body["resumed"] == "unlock_account_form" and body["delivered"] is True
    assert [t for _, t in sent] == ["人工客服已离开，智能助手将继续为您办理账户解锁。", ASK_CODE[0]["text"]]


async def test_claim_conflict_is_reported(client, services, rasa):
    services.conversations.request_human("c4", channel="rest", reason="customer_request", account_number=None)
    services.conversations.claim("c4", "someone-else")
    await login(client, "agent1")
    resp = await client.post("/console/conversations/c4/claim", data={"csrf": await session_csrf(client)})
    assert "already claimed" in await resp.text()
    assert services.conversations.get("c4")["agent"] == "someone-else" and rasa.calls == []


async def test_customer_text_is_rendered_inert(client, services, rasa):
    services.conversations.request_human(XSS[:100], channel="rest", reason="customer_request", account_number=None)
    services.conversations.request_human("c5", channel="rest", reason="customer_request", account_number=None)
    rasa.trackers["c5"] = {"events": [
        {"event": "user", "timestamp": 1, "text": XSS, "parse_data": {"intent": {"name": "out_of_scope"}}},
        {"event": "bot", "timestamp": 2, "text": "抱歉，我没有理解。"},
    ], "slots": {"note": XSS}}
    await login(client, "agent1")
    for path in ("/console/queue", "/console/conversations/c5"):
        html = await (await client.get(path)).text()
        assert "<script>alert" not in html and "<img src=x" not in html
    html = await (await client.get("/console/conversations/c5")).text()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    resp = await client.get("/console/conversations/c5")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    data = await (await client.get("/console/conversations/c5/history.json")).json()
    assert data["messages"][0]["text"] == XSS  # as data, for textContent in the page script


async def test_history_masks_pii_and_links_images(client, services, rasa):
    services.conversations.request_human("c6", channel="rest", reason="face_failed", account_number="80010001")
    rasa.trackers["c6"] = {"events": [
        {"event": "user", "timestamp": 1, "text": "13800000001",
         "parse_data": {"entities": [{"entity": "phone_number", "value": "13800000001"}]}},
        {"event": "user", "timestamp": 2, "text": "123456",
         "parse_data": {"entities": [{"entity": "otp_code", "value": "123456"}]}},
        {"event": "user", "timestamp": 3, "text": '/upload_image{"media_id":"abcdef0123456789abcdef0123456789"}'},
        {"event": "active_loop", "timestamp": 4, "name": "unlock_account_form"},
        {"event": "slot", "timestamp": 4, "name": "requested_slot", "value": "selfie"},
        {"event": "pause", "timestamp": 5},
    ], "slots": {"phone_number": "13800000001", "otp_code": "123456", "id_number": "110105198503120012",
                 "customer_name": "张伟", "requested_slot": "selfie"},
        "active_loop": {"name": "unlock_account_form"}}
    await login(client, "agent1")
    html = await (await client.get("/console/conversations/c6")).text()
    for secret in ("13800000001", "123456", "110105198503120012", "张伟"):
        assert secret not in html
    assert "138****0001" in html and "unlock_account_form" in html and "selfie" in html
    assert "人脸核验3次失败" in html
    data = await (await client.get("/console/conversations/c6/history.json")).json()
    image = [m for m in data["messages"] if m["kind"] == "image"][0]
    assert image["url"].startswith("/h5/media/")
    payload = services.links.verify(image["url"].rsplit("/", 1)[1])
    assert payload["m"] == "abcdef0123456789abcdef0123456789" and payload["s"] == "c6"


async def test_queue_websocket_pushes_changes(client, services):
    await login(client, "agent1")
    ws = await client.ws_connect("/console/ws")
    first = json.loads((await ws.receive(timeout=5)).data)
    assert first["type"] == "queue" and first["items"] == []
    services.conversations.request_human("c7", channel="wechat", reason="customer_request", account_number=None)
    second = json.loads((await ws.receive(timeout=5)).data)
    assert [i["sender"] for i in second["items"]] == ["c7"] and second["items"][0]["state_label"] == "等待中"
    await ws.close()


async def test_websocket_refuses_other_origins_and_anonymous(client):
    resp = await client.get("/console/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                    "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "x" * 24})
    assert resp.status == 401
    await login(client, "agent1")
    with pytest.raises(Exception):
        await client.ws_connect("/console/ws", headers={"Origin": "https://evil.example"})


# --- review ------------------------------------------------------------------------------------

@pytest.fixture
async def pending(services):
    services.accounts.create({**ACCOUNT, "state": "locked"})
    with services.db.session() as s:
        s.get(Account, "80010001").password_failures = 6
    await pass_business_steps(services, "s-review", "80010001", "unlock_account")
    view, _ = services.applications.open("unlock_account", "80010001", "s-review", "rest", {}, submit=True)
    assert view["status"] == "pending" and view["payload"]["face"]["decision"] == "accept"
    return view


async def test_roles_an_agent_cannot_review(client, services, pending):
    await login(client, "agent1")
    csrf = await session_csrf(client)
    assert (await client.get("/console/applications")).status == 403
    resp = await client.post(f"/console/applications/{pending['id']}/approve", data={"csrf": csrf})
    assert resp.status == 403
    assert services.applications.get(pending["id"])["status"] == "pending"


async def test_roles_a_reviewer_cannot_take_conversations(client, services):
    services.conversations.request_human("c8", channel="rest", reason="customer_request", account_number=None)
    await login(client, "reviewer1")
    csrf = await session_csrf(client, "/console/applications")
    assert (await client.get("/console/queue")).status == 403
    assert (await client.post("/console/conversations/c8/claim", data={"csrf": csrf})).status == 403
    assert services.conversations.get("c8")["state"] == "waiting"


async def test_reviewer_sees_and_approves(client, services, pending):
    await login(client, "reviewer1")
    listing = await (await client.get("/console/applications?business=unlock_account&status=pending")).text()
    assert f"/console/applications/{pending['id']}" in listing and "账户解锁" in listing
    empty = await (await client.get("/console/applications?business=close_account")).text()
    assert f"/console/applications/{pending['id']}" not in empty
    detail = await (await client.get(f"/console/applications/{pending['id']}")).text()
    assert "138****0001" in detail and "13800000001" not in detail and "张*" in detail
    assert str(pending["payload"]["face"]["score"]) in detail and "人工复核" in detail and "/h5/media/" in detail
    csrf = form_csrf(detail)
    resp = await client.post(f"/console/applications/{pending['id']}/approve", data={"csrf": csrf, "note": "核实"})
    assert resp.status == 200 and "已通过" in await resp.text()
    view = services.applications.get(pending["id"])
    assert view["status"] == "approved" and view["decided_by"] == "reviewer1"
    assert any("账户解锁申请已审核通过" in m["text"] for m in services.sms.messages(ACCOUNT["phone"]))
    assert any(e["event"] == "application_approved" and e["actor"] == "staff:reviewer1"
               for e in services.audit.list())


async def test_reject_needs_a_reason(client, services, pending):
    await login(client, "admin1")
    csrf = await session_csrf(client, f"/console/applications/{pending['id']}")
    resp = await client.post(f"/console/applications/{pending['id']}/reject", data={"csrf": csrf, "reason": ""})
    assert "操作未执行" in await resp.text() and services.applications.get(pending["id"])["status"] == "pending"
    await client.post(f"/console/applications/{pending['id']}/reject", data={"csrf": csrf, "reason": "自拍不清晰"})
    view = services.applications.get(pending["id"])
    assert view["status"] == "rejected" and view["reason"] == "自拍不清晰"


async def test_agreement_pdf_needs_a_reviewer_session(client):
    assert (await client.get("/console/agreements/1/pdf", allow_redirects=False)).status == 302
    await login(client, "reviewer1")
    assert (await client.get("/console/agreements/999/pdf")).status == 404


async def test_pause_guard_repauses_a_tracker_rasa_unpaused(client, services, rasa):
    """A /restart or an expired session unpauses the tracker in Rasa while the agent still holds it."""
    from backoffice.console.views import guard_pauses

    for sender in ("g1", "g2"):
        services.conversations.request_human(sender, channel="rest", reason="customer_request", account_number=None)
        services.conversations.claim(sender, "agent1")
    rasa.trackers["g1"] = {"paused": False}
    rasa.trackers["g2"] = {"paused": True}
    assert await guard_pauses(client.server.app) == 1
    assert rasa.calls == [("pause", "g1")]
    assert any(e["event"] == "handoff_repaused" for e in services.audit.list())


async def test_claim_with_rasa_down_is_rolled_back_like_the_api(client, services, rasa):
    from backoffice.core.rasa_client import RasaError

    async def down(sender):
        raise RasaError("Rasa unreachable: ClientConnectorError")

    rasa.pause = down
    services.conversations.request_human("c9", channel="rest", reason="customer_request", account_number=None)
    await login(client, "agent1")
    resp = await client.post("/console/conversations/c9/claim", data={"csrf": await session_csrf(client)})
    assert "接入失败" in await resp.text() and "已退回等待队列" in await resp.text()
    row = services.conversations.get("c9")
    assert row["state"] == "waiting" and row["agent"] is None  # back in the queue, not to the bot
    assert any(e["event"] == "handoff_requeued" for e in services.audit.list())
    assert services.conversations.outbox("c9") == []  # no "joined" notice for a claim that did not happen


def png_bytes(color=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


async def test_agent_sends_an_image(client, services, rasa):
    """Upload → media store → outbox row; REST clients get a signed, expiring link; the console shows it."""
    import aiohttp

    services.conversations.request_human("c12", channel="rest", reason="customer_request", account_number=None)
    await login(client, "agent1")
    csrf = await session_csrf(client)

    def form(data, name="shot.png", ctype="image/png"):
        f = aiohttp.FormData()
        f.add_field("csrf", csrf)
        f.add_field("file", data, filename=name, content_type=ctype)
        return f

    refused = await client.post("/console/conversations/c12/image", data=form(png_bytes()))
    assert "图片未发送" in await refused.text()  # not claimed yet
    await client.post("/console/conversations/c12/claim", data={"csrf": csrf})
    wrong = await client.post("/console/conversations/c12/image", data=form(b"%PDF-1.4 not an image", "a.pdf",
                                                                            "application/pdf"))
    assert "图片未发送" in await wrong.text() and "JPG/PNG" in await wrong.text()
    no_csrf = aiohttp.FormData()
    no_csrf.add_field("file", png_bytes(), filename="x.png", content_type="image/png")
    assert (await client.post("/console/conversations/c12/image", data=no_csrf)).status == 403
    image = png_bytes()
    page = await client.post("/console/conversations/c12/image", data=form(image))
    assert "图片已发送" in await page.text() and 'alt="客服图片"' in await page.text()
    [joined, row] = services.conversations.outbox("c12")
    assert row["text"] == "[图片]" and row["author"] == "agent1" and len(row["media_id"]) == 32
    token = {"Authorization": f"Bearer {services.settings.admin_token}"}
    polled = await (await client.get("/api/conversations/c12/outbox", headers=token)).json()
    url = polled[-1]["image_url"]
    assert url.startswith(services.settings.public_url + "/h5/media/") and "image_url" not in polled[0]
    served = await client.get(url.replace(services.settings.public_url, ""))
    assert served.status == 200 and served.content_type == "image/png"
    from PIL import Image as PILImage

    assert PILImage.open(__import__("io").BytesIO(await served.read())).size == (64, 48)
    services.clock.advance(3601)  # the link expires
    assert (await client.get(url.replace(services.settings.public_url, ""))).status == 404
    history = await (await client.get("/console/conversations/c12/history.json")).json()
    assert [m["kind"] for m in history["messages"] if m["who"] == "agent"] == ["text", "image"]
    assert any(e["event"] == "handoff_reply_image" for e in services.audit.list())


async def test_agent_image_to_wechat_goes_out_as_temporary_media(client, services, rasa, monkeypatch):
    calls = []

    class RecordingWeChat:
        async def send_text(self, openid, text):
            calls.append(("text", openid, text))

        async def upload_media(self, kind, filename, data):
            calls.append(("upload", kind, filename, len(data)))
            return "wx-media-1"

        async def send_image(self, openid, media_id):
            calls.append(("image", openid, media_id))

    import connectors.wechat_api

    monkeypatch.setattr(connectors.wechat_api, "get_api", lambda *a: RecordingWeChat())
    services.conversations.request_human("oW2", channel="wechat", reason="customer_request", account_number=None)
    token = {"Authorization": f"Bearer {services.settings.admin_token}"}
    await client.post("/api/conversations/oW2/claim", headers=token)
    image = png_bytes((10, 90, 200))
    resp = await client.post("/api/conversations/oW2/reply-image", data=image, headers=token)
    body = await resp.json()
    assert resp.status == 201 and body["delivered"] is True and body["text"] == "[图片]"
    assert calls[0][:3] == ("upload", "image", "reply.png") and calls[1] == ("image", "oW2", "wx-media-1")
