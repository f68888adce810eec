"""休眠账户激活 and 在线销户 open only with a passed video witness (real WitnessService), attached and used up."""
import pytest

from backoffice.applications.service import ApplicationError
from tests.unit.conftest import ACCOUNT


@pytest.fixture
def dormant(services):
    services.accounts.create({**ACCOUNT, "state": "dormant", "balance": "0"})
    services.agreements.requirements["activate_dormant_account"] = [{"codes": []}]  # signing is tested elsewhere
    return services


def witness(svc, passed=True, sender="s1", business="activate_dormant_account", reason=None):
    view, _ = svc.witness.open(sender, "80010001", business)
    return svc.witness.decide(view["id"], "alice", passed, notes="核实", reason=reason, any_staff=True)


def refused(svc, business="activate_dormant_account", sender="s1", **kw):
    with pytest.raises(ApplicationError) as err:
        svc.applications.open(business, "80010001", sender, **kw)
    return err.value


@pytest.mark.parametrize("business", ["activate_dormant_account", "close_account"])
def test_no_application_without_a_passed_witness(dormant, business):
    err = refused(dormant, business)
    assert err.code == "witness_required" and "视频见证" in str(err) and err.status == 409
    view, _ = dormant.witness.open("s1", "80010001", business)  # waiting is not enough
    assert refused(dormant, business).code == "witness_required"
    dormant.witness.decide(view["id"], "alice", False, reason="not_self", any_staff=True)
    assert refused(dormant, business).code == "witness_required"
    assert dormant.applications.list() == []
    assert [e for e in dormant.audit.list() if e["event"] == "application_refused"]


def test_witness_attached_used_once_and_not_taken_from_the_caller(dormant):
    passed = witness(dormant)
    other = witness(dormant, business="close_account")  # another business's witness does not count for this one
    app, created = dormant.applications.open("activate_dormant_account", "80010001", "s1",
                                             payload={"witness_id": other["id"]}, submit=True)
    assert created and app["payload"]["witness_id"] == passed["id"] and app["status"] == "pending"
    assert dormant.witness.get(passed["id"])["application_id"] == app["id"]
    assert dormant.witness.get(other["id"])["application_id"] is None
    dormant.applications.reject(app["id"], "bob", "材料不全")
    # a new application needs a new witness: the old one is used up
    assert refused(dormant).code == "witness_required"
    again = witness(dormant)
    app2, _ = dormant.applications.open("activate_dormant_account", "80010001", "s1", submit=True)
    assert app2["payload"]["witness_id"] == again["id"] != passed["id"]


def test_another_senders_witness_does_not_count(dormant):
    witness(dormant, sender="someone-else")
    assert refused(dormant).code == "witness_required"


def test_activation_approved_makes_the_account_normal(dormant):
    witness(dormant)
    app, _ = dormant.applications.open("activate_dormant_account", "80010001", "s1", submit=True)
    dormant.applications.approve(app["id"], "alice")
    assert dormant.accounts.get("80010001").state == "normal"
    texts = [m["text"] for m in dormant.sms.messages(ACCOUNT["phone"])]
    assert any("休眠账户激活申请已审核通过" in t for t in texts)


def test_preconditions_come_from_the_eligibility_rules(services):
    services.accounts.create({**ACCOUNT, "state": "normal"})  # balance 100.50
    err = refused(services)
    assert err.code == "not_dormant" and "不是休眠账户" in str(err)
    err = refused(services, "close_account")
    assert err.code == "has_assets" and "100.50元" in str(err) and "银期转账" in str(err)


async def test_customer_cancel_leaves_the_waiting_list(client, services):
    services.accounts.create({**ACCOUNT, "state": "dormant"})
    from tests.unit.backoffice.test_applications_api import log_in

    log_in(services, "s1")

    async def cancel():
        resp = await client.post("/api/bot/witness/cancel", json={"sender": "s1", "business": "activate_dormant_account"},
                                 headers=client.bot)
        assert resp.status == 200
        return await resp.json()

    assert await cancel() == {"status": "none"}
    waiting, _ = services.witness.open("s1", "80010001", "activate_dormant_account")
    assert await cancel() == {"status": "cancelled", "witness_id": waiting["id"]}
    assert services.witness.get(waiting["id"])["status"] == "cancelled"
    assert services.witness.list("waiting") == []
    assert [e for e in services.audit.list() if e["event"] == "witness_withdrawn"]
    # a call in progress is the staff member's to end; a passed witness stays for the business started again
    in_call, _ = services.witness.open("s1", "80010001", "activate_dormant_account")
    services.witness.join(in_call["id"], "alice")
    assert await cancel() == {"status": "none"}
    services.witness.decide(in_call["id"], "alice", True)
    assert await cancel() == {"status": "none"}
    assert services.witness.passed("s1", "80010001", "activate_dormant_account") == in_call["id"]
