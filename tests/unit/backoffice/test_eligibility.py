"""Eligibility before any step: 休眠账户激活 only for a dormant account; 在线销户 preconditions explained."""
import pytest

from backoffice.accounts.login import CustomerSession
from backoffice.accounts.service import Account
from backoffice.applications import eligibility
from tests.unit.conftest import ACCOUNT


def account(**values) -> Account:
    row = Account(state="normal", has_positions=False, balance_cents=0, pending_withdrawals_cents=0)
    for key, value in values.items():
        setattr(row, key, value)
    return row


def codes(business, **values):
    return [m["code"] for m in eligibility.unmet(business, account(**values))]


def test_activation_only_for_a_dormant_account():
    assert codes("activate_dormant_account", state="dormant") == []
    assert codes("activate_dormant_account", state="normal") == ["not_dormant"]
    assert codes("activate_dormant_account", state="closed") == ["closed"]
    answer = eligibility.answer("activate_dormant_account", account(state="locked"))
    assert not answer["eligible"] and "不是休眠账户" in answer["message"] and "账户解锁" in answer["message"]
    assert eligibility.answer("activate_dormant_account", account(state="normal"))["message"].startswith(
        "您的账户不是休眠账户")


def test_closure_preconditions_each_explained():
    assert codes("close_account") == []
    assert codes("close_account", state="dormant") == []  # a dormant account may be closed as it is
    assert codes("close_account", has_positions=True, pending_withdrawals_cents=5000, balance_cents=15230050) == [
        "open_positions", "pending_withdrawals", "balance"]
    answer = eligibility.answer("close_account", account(has_positions=True, pending_withdrawals_cents=5000,
                                                         balance_cents=15230050))
    text = answer["message"]
    assert not answer["eligible"] and "暂不满足在线销户条件" in text
    assert "1. 账户仍有未平仓的持仓" in text and "平仓" in text
    assert "2. 账户有在途出金50.00元" in text and "到账" in text
    assert "3. 账户仍有资金余额152,300.50元" in text and "银期转账" in text
    assert "转人工" in text
    only_balance = eligibility.answer("close_account", account(balance_cents=1))
    assert [m["code"] for m in only_balance["unmet"]] == ["balance"] and "0.01元" in only_balance["message"]
    assert codes("close_account", state="closed") == ["closed"]


def test_other_businesses_have_no_rule():
    assert eligibility.answer("reset_password", account())["eligible"] is True


def log_in(services, sender, number):
    now = services.clock.utcnow()
    with services.db.session() as s:
        s.add(CustomerSession(sender=sender, account_number=number, started_at=now, last_seen=now))


async def ask(client, sender, business):
    resp = await client.post("/api/bot/applications/eligibility", json={"sender": sender, "business": business},
                             headers=client.bot)
    return resp.status, await resp.json()


async def test_eligibility_over_http(client, services):
    services.accounts.create({**ACCOUNT, "state": "dormant"})  # balance 100.50 in the fixture account
    services.accounts.create({**ACCOUNT, "account_number": "80010099", "balance": "0", "state": "normal"})
    log_in(services, "s1", "80010001")
    log_in(services, "s2", "80010099")
    status, body = await ask(client, "s1", "activate_dormant_account")
    assert status == 200 and body["eligible"] is True
    status, body = await ask(client, "s1", "close_account")
    assert status == 200 and body["eligible"] is False and [m["code"] for m in body["unmet"]] == ["balance"]
    assert "100.50元" in body["message"]
    status, body = await ask(client, "s2", "activate_dormant_account")
    assert body["eligible"] is False and body["unmet"][0]["code"] == "not_dormant"
    status, body = await ask(client, "s2", "close_account")
    assert body["eligible"] is True
    status, body = await ask(client, "s2", "no_such_business")
    assert status == 400
    status, body = await ask(client, "stranger", "close_account")
    assert status == 403 and body["error"] == "not_logged_in"
    resp = await client.post("/api/bot/applications/eligibility", json={"sender": "s1", "business": "close_account"},
                             headers=client.staff)
    assert resp.status == 401


@pytest.mark.parametrize("number,expected", [("80010003", True), ("80010004", True), ("80010008", True),
                                             ("80010001", False)])
def test_demo_accounts_for_activation(services, number, expected):
    from backoffice.accounts.seed import seed

    seed(services)
    assert eligibility.check(services.db, "activate_dormant_account", number)["eligible"] is expected


def test_demo_accounts_for_closure(services):
    from backoffice.accounts.seed import seed

    seed(services)
    assert eligibility.check(services.db, "close_account", "80010009")["eligible"] is True
    refused = eligibility.check(services.db, "close_account", "80010007")
    assert [m["code"] for m in refused["unmet"]] == ["open_positions", "balance"]
    assert eligibility.check(services.db, "close_account", "99999999") is None
