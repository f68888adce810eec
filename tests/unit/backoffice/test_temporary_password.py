"""重置密码's temporary password: flagged must-change, reminded at every 掌厅 login until the trading core
reports the change through POST /api/accounts/{n}/password-changed."""
import re

from backoffice.accounts import credentials
from tests.unit.backoffice.business_steps import pass_business_steps
from tests.unit.conftest import ACCOUNT

PHONE = ACCOUNT["phone"]


async def approved_reset(services, password_type):
    services.agreements.requirements["reset_password"] = [{"codes": []}]  # agreements are tested on their own
    await pass_business_steps(services, "s0", "80010001", "reset_password")
    view, _ = services.applications.open("reset_password", "80010001", "s0", "rest", {"password_type": password_type},
                                         submit=True)
    services.applications.approve(view["id"], "alice")


async def chat_login(client, services, sender="s1"):
    """The bot's three login calls; returns the answer of the last one (privacy agreed)."""
    async def call(path, **body):
        resp = await client.post(path, json={"sender": sender, **body}, headers=client.bot)
        return await resp.json()

    if services.clock.now() - getattr(services, "_last_login", -1e9) < 61:
        services.clock.advance(61)  # 60 s between login codes for one phone
    services._last_login = services.clock.now()
    assert (await call("/api/bot/login/start", account_number="80010001", phone=PHONE))["status"] == "sent"
    code = re.search(r"验证码(\d{6})", services.sms.messages(PHONE)[-1]["text"]).group(1)
    assert (await call("/api/bot/login/verify", code=code))["status"] == "ok"
    return await call("/api/bot/login/complete", privacy_agreed=True)


async def test_reminded_at_login_until_the_trading_core_reports_the_change(client, services):
    services.accounts.create(ACCOUNT)
    assert (await chat_login(client, services)).get("notices") == []  # nothing temporary yet
    await approved_reset(services, "资金密码")
    assert credentials.temporary_kinds(services.db, "80010001") == ["fund"]
    answer = await chat_login(client, services)
    assert answer["status"] == "ok"
    [notice] = answer["notices"]
    assert "资金密码已重置为临时密码" in notice and "首次使用时交易系统将要求您立即修改" in notice
    sms = services.sms.messages(PHONE)
    temporary = next(re.search(r"临时资金密码为(\d{6})", m["text"]).group(1) for m in sms if "临时资金密码" in m["text"])
    assert temporary not in notice
    assert len((await chat_login(client, services, sender="s2"))["notices"]) == 1  # every login, any device

    # a second reset of the other password: both reminded, trade first
    await approved_reset(services, "交易密码")
    notices = (await chat_login(client, services))["notices"]
    assert ["交易密码" in notices[0], "资金密码" in notices[1]] == [True, True]

    # the trading core's hook clears one flag
    hook = "/api/accounts/80010001/password-changed"
    resp = await client.post(hook, json={"password_type": "资金密码"}, headers=client.staff)
    assert resp.status == 200 and await resp.json() == {"cleared": True, "temporary": ["trade"]}
    again = await client.post(hook, json={"password_type": "fund"}, headers=client.staff)
    assert (await again.json())["cleared"] is False  # repeated: nothing left to clear
    [notice] = (await chat_login(client, services))["notices"]
    assert "交易密码" in notice and "资金密码" not in notice
    await client.post(hook, json={"password_type": "交易密码"}, headers=client.staff)
    assert (await chat_login(client, services))["notices"] == []
    with services.db.session() as s:
        assert credentials.check(s, "80010001", "fund", temporary)["must_change"] is False
    assert [e["details"]["kind"] for e in services.audit.list(event="password_changed")] == ["trade", "fund"]


async def test_password_changed_hook_checks_its_input(client, services):
    services.accounts.create(ACCOUNT)
    hook = "/api/accounts/80010001/password-changed"
    assert (await client.post(hook, json={"password_type": "交易密码"}, headers=client.bot)).status == 401
    assert (await client.post(hook, json={"password_type": "登录密码"}, headers=client.staff)).status == 400
    resp = await client.post("/api/accounts/80019999/password-changed", json={"password_type": "交易密码"},
                             headers=client.staff)
    assert resp.status == 404
    resp = await client.post(hook, json={"password_type": "交易密码"}, headers=client.staff)
    assert await resp.json() == {"cleared": False, "temporary": []}
