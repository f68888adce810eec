"""Applications and agreements over HTTP, in-process, on SQLite and PostgreSQL."""
import hashlib
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from backoffice.accounts.login import CustomerSession
from backoffice.accounts.seed import demo_signature_png
from backoffice.web.app import create_app
from tests.unit.backoffice.business_steps import live_check_over_http, pass_business_steps, photos
from tests.unit.conftest import ACCOUNT

PHONE = ACCOUNT["phone"]


def log_in(services, sender="s1", number="80010001"):
    now = services.clock.utcnow()
    with services.db.session() as s:
        s.add(CustomerSession(sender=sender, account_number=number, started_at=now, last_seen=now))


@pytest.fixture
def customer(services):
    signature = services.media.put(demo_signature_png()).media_id
    services.accounts.create({**ACCOUNT, "state": "locked"})
    services.accounts._update("80010001", signature_media_id=signature)
    log_in(services)
    return services


async def bot(client, path, **body):
    resp = await client.post(path, json={"sender": "s1", **body}, headers=client.bot)
    return resp.status, await resp.json()


async def steps_over_http(client, services, business, sender="s1", account="80010001"):
    """The business's live face check and SMS code as the bot runs them, through the service API."""
    portrait, _selfie, _ = photos()
    if not services.accounts.portrait_refs(account):
        services.accounts.set_portrait(account, services.media.put(portrait).media_id)
    face = await live_check_over_http(client, services, sender)
    assert face["status"] == "passed", face
    status, sent = await bot(client, "/api/bot/business/otp/start", sender=sender, business=business)
    if sent["status"] == "wait":  # 60 s between codes for one phone
        services.clock.advance(sent["wait_seconds"] + 1)
        status, sent = await bot(client, "/api/bot/business/otp/start", sender=sender, business=business)
    assert sent["status"] == "sent", sent
    code = re.search(r"验证码(\d{6})", services.sms.messages(services.accounts.phone_of(account))[-1]["text"]).group(1)
    status, verified = await bot(client, "/api/bot/business/otp/verify", sender=sender, business=business, code=code)
    assert verified == {"status": "ok"}
    return face


@pytest.mark.parametrize("method,path", [("GET", "/api/applications"), ("POST", "/api/applications/1/approve"),
                                         ("POST", "/api/applications/1/reject"), ("GET", "/api/agreements/1/pdf")])
async def test_staff_endpoints_need_the_staff_token(client, method, path):
    assert (await client.request(method, path)).status == 401
    assert (await client.request(method, path, headers=client.bot)).status == 401


async def test_bot_endpoints_need_service_token_and_login(client, customer):
    resp = await client.post("/api/bot/applications/status", json={"sender": "s1"}, headers=client.staff)
    assert resp.status == 401
    status, body = await bot(client, "/api/bot/applications/status", sender="stranger")
    assert status == 403 and body["error"] == "not_logged_in"


async def test_unlock_end_to_end_over_http(client, customer, services):
    # without the steps the back-office refuses, whatever the bot's payload claims
    status, body = await bot(client, "/api/bot/applications/open", business="unlock_account",
                             payload={"face": {"decision": "accept", "distance": 0.3}})
    assert status == 409 and body["error"] == "face_required" and "人脸认证" in body["message"]
    face = await steps_over_http(client, services, "unlock_account")
    # the bot cannot choose the account: it comes from the login session
    status, body = await bot(client, "/api/bot/applications/open", business="unlock_account",
                             account_number="80019999", payload={"face": {"decision": "review", "distance": 0.5}})
    assert status == 201 and body["created"] is True and body["application"]["account_number"] == "80010001"
    recorded = (await (await client.get(f"/api/applications/{body['application']['id']}",
                                        headers=client.staff)).json())["payload"]["face"]
    assert recorded["decision"] == "accept" and recorded["score"] == face["distance"]  # the server's result
    app_id = body["application"]["id"]
    status, again = await bot(client, "/api/bot/applications/open", business="unlock_account")
    assert status == 200 and again["created"] is False and again["application"]["id"] == app_id
    status, body = await bot(client, f"/api/bot/applications/{app_id}/submit")
    assert status == 200 and body["application"]["status"] == "pending"

    listed = await (await client.get("/api/applications?status=审批中&business=unlock_account",
                                     headers=client.staff)).json()
    assert [a["id"] for a in listed] == [app_id]
    assert {"id", "business", "account_number", "status", "created_at"} <= set(listed[0])
    assert listed[0]["status"] == "pending"
    assert (await client.get("/api/applications?status=nope", headers=client.staff)).status == 400

    resp = await client.post(f"/api/applications/{app_id}/approve", json={"note": "ok"}, headers=client.staff)
    assert resp.status == 200 and (await resp.json())["status"] == "approved"
    repeat = await client.post(f"/api/applications/{app_id}/approve", headers=client.staff)
    assert repeat.status == 200 and (await repeat.json())["status"] == "approved"
    assert (await client.post(f"/api/applications/{app_id}/reject", json={"reason": "x"},
                              headers=client.staff)).status == 409
    detail = await (await client.get(f"/api/applications/{app_id}", headers=client.staff)).json()
    assert [e["to"] for e in detail["events"]] == ["in_progress", "pending", "approved"]

    sms = await (await client.get(f"/api/sandbox/sms?phone={PHONE}", headers=client.staff)).json()
    sms = [m for m in sms if "验证码" not in m["text"]]
    assert len(sms) == 1 and "账户解锁申请已审核通过" in sms[0]["text"]
    outbox = await (await client.get("/api/conversations/s1/outbox", headers=client.staff)).json()
    assert len(outbox) == 1 and outbox[0]["author"] == "system"
    account = await (await client.get("/api/accounts/80010001", headers=client.staff)).json()
    assert account["state"] == "normal"

    status, body = await bot(client, "/api/bot/applications/status")
    item = body["applications"][0]
    assert item["status_label"] == "已通过" and item["business_name"] == "账户解锁" and "账户解锁：已通过" in item["text"]


async def test_rejection_over_http(client, customer, services):
    await steps_over_http(client, services, "unlock_account")
    _, body = await bot(client, "/api/bot/applications/open", business="unlock_account", submit=True)
    app_id = body["application"]["id"]
    assert body["application"]["status"] == "pending"
    missing_reason = await client.post(f"/api/applications/{app_id}/reject", json={}, headers=client.staff)
    assert missing_reason.status == 400
    resp = await client.post(f"/api/applications/{app_id}/reject", json={"reason": "人脸比对未通过"},
                             headers=client.staff)
    assert resp.status == 200 and (await resp.json())["status"] == "rejected"
    again = await client.post(f"/api/applications/{app_id}/reject", json={"reason": "人脸比对未通过"},
                              headers=client.staff)
    assert again.status == 200
    assert (await client.post(f"/api/applications/{app_id}/approve", headers=client.staff)).status == 409
    assert (await client.post("/api/applications/999999/approve", headers=client.staff)).status == 404
    _, status = await bot(client, "/api/bot/applications/status")
    assert "人脸比对未通过" in status["applications"][0]["text"]


async def test_not_locked_is_refused(client, services):
    services.accounts.create(ACCOUNT)
    log_in(services)
    status, body = await bot(client, "/api/bot/applications/open", business="unlock_account")
    assert status == 409 and body["error"] == "not_locked"


async def test_other_customers_application_is_hidden(client, customer, services):
    await steps_over_http(client, services, "unlock_account")
    _, body = await bot(client, "/api/bot/applications/open", business="unlock_account")
    services.accounts.create({**ACCOUNT, "account_number": "80010009"})
    log_in(services, sender="s2", number="80010009")
    resp = await client.post(f"/api/bot/applications/{body['application']['id']}/withdraw", json={"sender": "s2"},
                             headers=client.bot)
    assert resp.status == 404
    status, mine = await bot(client, f"/api/bot/applications/{body['application']['id']}/withdraw")
    assert status == 200 and mine["application"]["status"] == "withdrawn"


async def test_reset_password_with_agreements_over_http(client, customer, clock, services):
    await steps_over_http(client, services, "reset_password")
    _, body = await bot(client, "/api/bot/applications/open", business="reset_password",
                        payload={"password_type": "资金密码"})
    app_id = body["application"]["id"]
    status, refused = await bot(client, f"/api/bot/applications/{app_id}/submit")
    assert status == 409 and refused["error"] == "missing_agreements"

    _, required = await bot(client, "/api/bot/agreements/required", business="reset_password")
    codes = [m["code"] for m in required["missing"]]
    assert codes == ["password_reset_application", "personal_info_authorization"]
    for code in codes:
        _, link = await bot(client, "/api/bot/agreements/link", code=code)
        path = link["url"].replace("http://127.0.0.1:8000", "")
        page = await client.get(path)
        html = await page.text()
        assert page.status == 200 and link["title"] in html and "至少停留10秒" in html
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    status, early = await bot(client, "/api/bot/agreements/agree", codes=codes)
    assert early["status"] == "too_soon" and "10秒" in early["message"]
    clock.advance(11)
    _, agreed = await bot(client, "/api/bot/agreements/agree", codes=codes)
    assert agreed["status"] == "ok"
    _, started = await bot(client, "/api/bot/agreements/sign/start", codes=codes)
    assert started["status"] == "sent" and started["phone_masked"] == "138****0001"
    sms = await (await client.get(f"/api/sandbox/sms?phone={PHONE}", headers=client.staff)).json()
    code = re.search(r"验证码(\d{6})", sms[-1]["text"]).group(1)
    _, signed = await bot(client, "/api/bot/agreements/sign/confirm", otp_code=code)
    assert signed["status"] == "ok" and len(signed["signed"]) == 2

    pdf_id = signed["signed"][0]["id"]
    staff_pdf = await client.get(f"/api/agreements/{pdf_id}/pdf", headers=client.staff)
    data = await staff_pdf.read()
    assert staff_pdf.status == 200 and staff_pdf.content_type == "application/pdf" and data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == signed["signed"][0]["sha256"]
    customer_pdf = await client.get(signed["signed"][0]["pdf_url"].replace("http://127.0.0.1:8000", ""))
    assert customer_pdf.status == 200 and await customer_pdf.read() == data
    assert (await client.get("/h5/agreements/pdf/forged.token")).status == 404
    assert (await client.get(f"/api/agreements/{pdf_id}/pdf", headers=client.bot)).status == 401

    _, overview = await bot(client, "/api/bot/agreements/overview")
    assert {s["title"] for s in overview["signed"]} == {"密码重置申请书", "个人信息处理授权书"}

    status, body = await bot(client, f"/api/bot/applications/{app_id}/submit")
    assert status == 200 and body["application"]["status"] == "pending"
    approved = await client.post(f"/api/applications/{app_id}/approve", headers=client.staff)
    assert approved.status == 200
    sms = await (await client.get(f"/api/sandbox/sms?phone={PHONE}", headers=client.staff)).json()
    assert re.search(r"临时资金密码为\d{6}", sms[-1]["text"])
    outbox = await (await client.get("/api/conversations/s1/outbox", headers=client.staff)).json()
    assert not re.search(r"\d{6}", outbox[-1]["text"])  # never the password in chat


async def test_agree_on_the_page(client, customer, clock):
    _, link = await bot(client, "/api/bot/agreements/link", code="personal_info_authorization")
    path = link["url"].replace("http://127.0.0.1:8000", "")
    await client.get(path)
    early = await client.post(path + "/agree")
    assert "请再阅读" in await early.text()
    clock.advance(10)
    ok = await client.post(path + "/agree")
    assert "您已阅读并同意" in await ok.text()
    _, started = await bot(client, "/api/bot/agreements/sign/start", code="personal_info_authorization")
    assert started["status"] == "sent"


async def test_expired_or_forged_reading_link(client, customer, clock):
    _, link = await bot(client, "/api/bot/agreements/link", code="personal_info_authorization")
    path = link["url"].replace("http://127.0.0.1:8000", "")
    status, body = await bot(client, "/api/bot/agreements/link", code="nope")
    assert status == 404 and body["error"] == "unknown_agreement"
    clock.advance(30 * 60 + 1)
    resp = await client.get(path)
    assert resp.status == 404 and "已失效" in await resp.text()
    assert (await client.get("/h5/agreements/not-a-token")).status == 404


async def test_page_escapes_template_text(client, customer, services):
    tpl = services.agreements.templates["personal_info_authorization"]
    tpl.blocks.append({"kind": "p", "text": "<script>alert(1)</script>"})
    _, link = await bot(client, "/api/bot/agreements/link", code="personal_info_authorization")
    html = await (await client.get(link["url"].replace("http://127.0.0.1:8000", ""))).text()
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_background_worker_finishes_a_failed_sms(services, monkeypatch):
    """The web app's periodic outbox worker completes what failed right after the decision."""
    import asyncio

    from backoffice.applications import routes as applications_api

    monkeypatch.setattr(applications_api, "OUTBOX_INTERVAL", 0.05)
    services.accounts.create({**ACCOUNT, "state": "locked"})
    await pass_business_steps(services, "s1", "80010001", "unlock_account")
    view, _ = services.applications.open("unlock_account", "80010001", "s1", submit=True)
    real_send, calls = services.sms.send, []

    def flaky(phone, text):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("gateway down")
        real_send(phone, text)

    services.sms.send = flaky
    app = create_app(services)
    async with TestClient(TestServer(app)) as c:
        resp = await c.post(f"/api/applications/{view['id']}/approve",
                            headers={"Authorization": f"Bearer {services.settings.admin_token}"})
        assert resp.status == 200
        for _ in range(100):
            if services.conversations.outbox("s1"):
                break
            await asyncio.sleep(0.05)
    assert len([m for m in services.sms.messages(PHONE) if "验证码" not in m["text"]]) == 1
    assert len(services.conversations.outbox("s1")) == 1
