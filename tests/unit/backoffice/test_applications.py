"""Applications: lifecycle, idempotency, exactly-once execution through the outbox (SQLite and PostgreSQL)."""
import re
import threading

import pytest
from sqlalchemy import select

from backoffice.accounts import credentials
from backoffice.accounts.service import Account
from backoffice.applications.service import ApplicationEffect, ApplicationError
from backoffice.handoff.conversations import OutboundMessage
from tests.unit.backoffice.business_steps import pass_business_steps_sync, pass_code, pass_face
from tests.unit.conftest import ACCOUNT

PHONE = ACCOUNT["phone"]


@pytest.fixture
def locked(services):
    services.accounts.create({**ACCOUNT, "state": "locked"})
    with services.db.session() as s:
        s.get(Account, "80010001").password_failures = 6
    return services


def sms_texts(services):
    """The decision texts (the verification codes of the customer's steps left out)."""
    return [m["text"] for m in services.sms.messages(PHONE) if "验证码" not in m["text"]]


def open_unlock(svc, sender="s1", steps=True):
    """Open as the bot does, after the customer passed the face check and the SMS code (real services)."""
    if steps:
        pass_business_steps_sync(svc, sender, "80010001", "unlock_account")
    view, created = svc.applications.open("unlock_account", "80010001", sender, "rest", {"face": {"decision": "accept"}})
    return view, created


def test_lifecycle_and_history(locked):
    apps = locked.applications
    view, created = open_unlock(locked)
    assert created and view["status"] == "in_progress" and view["status_label"] == "办理中"
    assert view["payload"]["face"]["decision"] == "accept"  # the server's result, with the selfie
    assert view["payload"]["face"]["media"] and view["payload"]["face"]["score"] < 0.45
    again, created_again = open_unlock(locked, steps=False)
    assert not created_again and again["id"] == view["id"]  # no second open application
    submitted = apps.submit(view["id"], "customer:s1")
    assert submitted["status"] == "pending" and submitted["status_label"] == "审批中"
    assert apps.submit(view["id"], "customer:s1")["status"] == "pending"  # repeat is harmless
    assert open_unlock(locked, steps=False)[0]["id"] == view["id"]  # still the same while pending
    assert [a["id"] for a in apps.list(status="审批中")] == [view["id"]]
    assert [a["id"] for a in apps.list(status="pending", business="unlock_account")] == [view["id"]]
    assert apps.list(status="approved") == []
    with pytest.raises(ApplicationError):
        apps.list(status="bogus")
    approved = apps.approve(view["id"], "alice", "人脸比对通过")
    assert approved["status"] == "approved" and approved["decided_by"] == "alice"
    history = apps.get(view["id"], events=True)
    assert [(e["from"], e["to"]) for e in history["events"]] == [
        (None, "in_progress"), ("in_progress", "pending"), ("pending", "approved")]
    assert history["events"][-1]["actor"] == "staff:alice" and history["events"][-1]["reason"] == "人脸比对通过"
    assert all(e["status"] == "done" for e in history["effects"])
    # final: a new application may be opened (the account is unlocked now, so the rule refuses it)
    with pytest.raises(ApplicationError) as err:
        open_unlock(locked, steps=False)
    assert err.value.code == "not_locked"


def test_approval_unlocks_and_announces(locked):
    apps = locked.applications
    view, _ = open_unlock(locked)
    apps.submit(view["id"], "customer:s1")
    apps.approve(view["id"], "alice")
    account = locked.accounts.get("80010001")
    assert account.state == "normal"
    with locked.db.session() as s:
        assert s.get(Account, "80010001").password_failures == 0
    texts = sms_texts(locked)
    assert len(texts) == 1
    assert texts[0].startswith("【金信期货】") and "账户解锁申请已审核通过" in texts[0] and "80**0001" in texts[0]
    chat = locked.conversations.outbox("s1")
    assert len(chat) == 1 and chat[0]["author"] == "system" and "已解锁" in chat[0]["text"]
    # repeated approve: same final state, nothing executed or sent again
    assert apps.approve(view["id"], "bob")["decided_by"] == "alice"
    apps.process_outbox()
    assert len(sms_texts(locked)) == 1 and len(locked.conversations.outbox("s1")) == 1


def test_rejection_with_reason_and_conflicts(locked):
    apps = locked.applications
    view, _ = open_unlock(locked)
    with pytest.raises(ApplicationError) as err:
        apps.approve(view["id"], "alice")  # not submitted yet
    assert err.value.status == 409
    apps.submit(view["id"], "customer:s1")
    with pytest.raises(ApplicationError) as err:
        apps.reject(view["id"], "alice", "  ")
    assert err.value.code == "reason_required"
    rejected = apps.reject(view["id"], "alice", "人脸照片与公安留存照片不一致")
    assert rejected["status"] == "rejected" and rejected["reason"] == "人脸照片与公安留存照片不一致"
    assert apps.reject(view["id"], "alice", "again")["reason"] == "人脸照片与公安留存照片不一致"
    with pytest.raises(ApplicationError) as err:
        apps.approve(view["id"], "alice")
    assert err.value.status == 409
    assert locked.accounts.get("80010001").state == "locked"  # nothing executed
    texts = sms_texts(locked)
    assert len(texts) == 1 and "未通过审核" in texts[0] and "人脸照片与公安留存照片不一致" in texts[0]
    assert "人脸照片与公安留存照片不一致" in locked.conversations.outbox("s1")[0]["text"]
    status = apps.status_for_customer("80010001")
    assert status[0]["status_label"] == "已驳回" and "驳回原因" in status[0]["text"]
    # after a final decision the customer may start again
    assert open_unlock(locked)[1] is True


def test_withdraw(locked):
    apps = locked.applications
    view, _ = open_unlock(locked)
    apps.submit(view["id"], "customer:s1")
    assert apps.withdraw(view["id"], "customer:s1")["status_label"] == "已撤销"
    assert apps.withdraw(view["id"], "customer:s1")["status"] == "withdrawn"
    with pytest.raises(ApplicationError):
        apps.approve(view["id"], "alice")
    assert sms_texts(locked) == []


def test_payload_refuses_personal_data_and_flags_review(locked):
    with pytest.raises(ApplicationError):
        locked.applications.open("unlock_account", "80010001", "s1", "rest", {"id_number": "1101"})
    with pytest.raises(ApplicationError):
        locked.applications.open("no_such_business", "80010001", "s1")
    pass_business_steps_sync(locked, "s1", "80010001", "unlock_account")
    # the bot's word about the face is ignored: the server's own result (accept) is recorded
    view, _ = locked.applications.open("unlock_account", "80010001", "s1", "rest",
                                       {"face": {"decision": "review", "score": 0.47}})
    assert view["needs_manual_review"] is False and view["payload"]["face"]["decision"] == "accept"


def test_review_band_waits_for_a_reviewer_then_opens_flagged(locked, monkeypatch):
    import asyncio

    monkeypatch.setenv("FACE_ACCEPT_MAX", "0.05")  # the same person now lands in the review band
    face = asyncio.run(pass_face(locked, "s1", "80010001"))
    assert face["status"] == "review" and face["review_id"]
    pass_code(locked, "s1", "80010001", "unlock_account")
    with pytest.raises(ApplicationError) as err:  # a doubtful match is not a pass by itself
        locked.applications.open("unlock_account", "80010001", "s1", "rest")
    assert err.value.code == "face_required"
    view, changed = locked.reviews.decide(face["review_id"], "rita", True)
    assert changed and locked.live.apply_review(view, locked.devices)["text"]
    app, created = locked.applications.open("unlock_account", "80010001", "s1", "rest")
    score = app["payload"]["face"]["score"]
    assert created and app["payload"]["face"]["reviewed_by"] == "rita" and 0.05 < score <= 0.58
    assert app["flags"] == [{"kind": "face_reviewed", "review_id": face["review_id"], "score": score}]


@pytest.mark.parametrize("business,payload", [("unlock_account", {}), ("reset_password", {"password_type": "交易密码"})])
def test_open_requires_the_servers_face_and_code(services, business, payload):
    import asyncio

    services.accounts.create({**ACCOUNT, "state": "locked"})
    apps = services.applications
    refused = lambda: apps.open(business, "80010001", "s1", "rest", dict(payload, face={"decision": "accept"}))  # noqa
    with pytest.raises(ApplicationError) as err:
        refused()  # nothing passed: the bot's payload claiming a face check is not enough
    assert err.value.code == "face_required" and err.value.status == 409 and "人脸认证" in str(err.value)
    # a face check of someone else is not a pass
    assert asyncio.run(pass_face(services, "s1", "80010001", other_person=True))["status"] == "failed"
    with pytest.raises(ApplicationError) as err:
        refused()
    assert err.value.code == "face_required"
    assert asyncio.run(pass_face(services, "s1", "80010001"))["status"] == "passed"
    with pytest.raises(ApplicationError) as err:
        refused()  # face passed, code not verified
    assert err.value.code == "code_required" and "短信验证码" in str(err.value)
    pass_code(services, "other-sender", "80010001", business)  # another conversation's code does not count
    with pytest.raises(ApplicationError) as err:
        refused()
    assert err.value.code == "code_required"
    pass_code(services, "s1", "80010001", "unlock_account" if business == "reset_password" else "reset_password")
    with pytest.raises(ApplicationError):
        refused()  # another business's code does not count either
    pass_code(services, "s1", "80010001", business)
    view, created = refused()
    assert created and view["payload"]["face"]["decision"] == "accept"
    # used up: the next application needs the steps again
    apps.withdraw(view["id"], "customer:s1")
    with pytest.raises(ApplicationError) as err:
        refused()
    assert err.value.code == "face_required"
    assert [e["details"].get("error") for e in services.audit.list(event="application_refused")][0] == "face_required"


def test_verified_code_expires(services, clock):
    services.accounts.create({**ACCOUNT, "state": "locked"})
    assert __import__("asyncio").run(pass_face(services, "s1", "80010001"))["status"] == "passed"
    pass_code(services, "s1", "80010001", "unlock_account")
    clock.advance(15 * 60 + 1)
    with pytest.raises(ApplicationError) as err:
        services.applications.open("unlock_account", "80010001", "s1")
    assert err.value.code == "code_required"


def test_concurrent_double_approve_executes_once(locked):
    apps = locked.applications
    view, _ = open_unlock(locked)
    apps.submit(view["id"], "customer:s1")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def approve(who):
        barrier.wait()
        try:
            results.append(apps.approve(view["id"], who))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r["status"] for r in results} == {"approved"}
    assert len({r["decided_by"] for r in results}) == 1  # both answers show the one decision
    history = apps.get(view["id"], events=True)
    assert [e["to"] for e in history["events"]].count("approved") == 1
    assert len(sms_texts(locked)) == 1
    assert len(locked.conversations.outbox("s1")) == 1
    audit = locked.audit.list(event="application_executed")
    assert len(audit) == 1


def test_crash_between_effect_and_sms_is_completed_exactly_once(locked):
    apps = locked.applications
    view, _ = open_unlock(locked)
    apps.submit(view["id"], "customer:s1")
    real_send = locked.sms.send
    calls = {"n": 0}

    def flaky(phone, text):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("gateway down")
        real_send(phone, text)

    locked.sms.send = flaky
    approved = apps.approve(view["id"], "alice")  # the decision stands although the SMS failed
    assert approved["status"] == "approved"
    assert locked.accounts.get("80010001").state == "normal"  # the account effect is committed
    assert sms_texts(locked) == []
    assert locked.conversations.outbox("s1") == []  # the chat waits for the SMS, in order
    effects = {e["kind"]: e for e in apps.get(view["id"], events=True)["effects"]}
    assert effects["execute"]["status"] == "done" and effects["sms"]["status"] == "pending"
    report = apps.process_outbox()
    assert report == {"done": 2, "failed": 0}
    assert len(sms_texts(locked)) == 1 and len(locked.conversations.outbox("s1")) == 1
    assert apps.process_outbox() == {"done": 0, "failed": 0}
    assert len(sms_texts(locked)) == 1
    with locked.db.session() as s:
        rows = s.execute(select(ApplicationEffect)).scalars().all()
        assert all(r.status == "done" for r in rows) and len(rows) == 3


def test_abandoned_sms_lease_is_retried(locked, clock):
    """A worker that died while sending leaves a lease; it is retried only after the lease runs out."""
    apps = locked.applications
    view, _ = open_unlock(locked)
    apps.submit(view["id"], "customer:s1")
    locked.sms.send = lambda *_: (_ for _ in ()).throw(ConnectionError("down"))
    apps.approve(view["id"], "alice")
    with locked.db.session() as s:  # simulate the dead worker's lease
        sms = s.execute(select(ApplicationEffect).where(ApplicationEffect.kind == "sms")).scalar_one()
        sms.status = "sending"
        from datetime import timedelta

        sms.claimed_until = clock.utcnow() + timedelta(seconds=120)
    del locked.sms.send
    assert apps.process_outbox()["done"] == 0 and sms_texts(locked) == []
    clock.advance(121)
    assert apps.process_outbox()["done"] == 2 and len(sms_texts(locked)) == 1


def test_reset_password_sends_temporary_password_only_by_sms(services):
    services.accounts.create(ACCOUNT)
    apps = services.applications
    pass_business_steps_sync(services, "s1", "80010001", "reset_password")
    view, _ = apps.open("reset_password", "80010001", "s1", "rest", {"password_type": "交易密码"})
    with pytest.raises(ApplicationError) as err:
        apps.submit(view["id"], "customer:s1")  # agreements not signed yet
    assert err.value.code == "missing_agreements" and "密码重置申请书" in str(err.value)
    services.agreements.requirements["reset_password"] = [{"codes": []}]
    apps.submit(view["id"], "customer:s1")
    apps.approve(view["id"], "alice")
    texts = sms_texts(services)
    assert len(texts) == 1 and "交易密码重置申请已审核通过" in texts[0]
    password = re.search(r"临时交易密码为(\d{6})", texts[0]).group(1)
    with services.db.session() as s:
        result = credentials.check(s, "80010001", "trade", password)
        assert result == {"ok": True, "must_change": True}
        assert credentials.check(s, "80010001", "fund", password) is None
        assert all(r.data_enc is None for r in s.execute(select(ApplicationEffect)).scalars())
        chat = [m.text for m in s.execute(select(OutboundMessage)).scalars()]
    assert len(chat) == 1 and password not in chat[0] and "短信" in chat[0]
    assert password not in str(services.audit.list()) and password not in str(apps.get(view["id"], events=True))


def test_reset_password_needs_a_password_type(services):
    services.accounts.create(ACCOUNT)
    with pytest.raises(ApplicationError) as err:
        services.applications.open("reset_password", "80010001", "s1", "rest", {"password_type": "登录密码"})
    assert err.value.code == "bad_payload"


def test_close_account_effect(services):
    services.accounts.create({**ACCOUNT, "balance": "0"})
    services.accounts.bind_device("80010001", "s1")
    services.agreements.requirements["close_account"] = [{"codes": []}]
    with services.db.session() as s:
        from backoffice.accounts.login import CustomerSession

        now = services.clock.utcnow()
        s.add(CustomerSession(sender="s1", account_number="80010001", started_at=now, last_seen=now))
    witness, _ = services.witness.open("s1", "80010001", "close_account")  # staff pass the video witness
    services.witness.decide(witness["id"], "alice", True, any_staff=True)
    view, _ = services.applications.open("close_account", "80010001", "s1", submit=True)
    assert view["status"] == "pending" and view["payload"]["witness_id"] == witness["id"]
    services.applications.approve(view["id"], "alice")
    account = services.accounts.get("80010001")
    assert account.state == "closed" and account.bound_device is None
    assert services.login.session("s1") is None  # the login session ended with the account
    assert "已销户" in sms_texts(services)[0]
    with services.db.session() as s:
        [chat] = [m.text for m in s.execute(select(OutboundMessage)).scalars()]
    assert "已销户" in chat and "设备绑定已解除" in chat and "退出掌厅登录" in chat


def test_close_account_refused_with_assets(services):
    services.accounts.create(ACCOUNT)  # balance 100.50
    with pytest.raises(ApplicationError) as err:
        services.applications.open("close_account", "80010001", "s1")
    assert err.value.code == "has_assets"


def test_migration_0002_matches_the_models_and_downgrades(database_url):
    """The migrated schema equals the models (no autogenerate diff) and 0002 can be rolled back and reapplied."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, inspect

    import backoffice.models  # noqa: F401
    from backoffice.core.db import Base
    from backoffice.core.migrate import downgrade, upgrade

    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        downgrade(database_url, "0001")
        assert "applications" not in inspect(engine).get_table_names()
        upgrade(database_url)
        names = set(inspect(engine).get_table_names())
        assert {"applications", "application_events", "application_effects", "agreement_readings",
                "signed_agreements", "password_credentials"} <= names
    finally:
        engine.dispose()


def _in_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        barrier.wait()
        try:
            results.append(target())
        except Exception as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_concurrent_opens_make_one_application(locked):
    pass_business_steps_sync(locked, "s1", "80010001", "unlock_account")
    results = _in_threads(3, lambda: open_unlock(locked, steps=False))
    assert len({view["id"] for view, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(locked.applications.list()) == 1


def test_concurrent_workers_send_one_sms(locked):
    apps = locked.applications
    view, _ = open_unlock(locked)
    apps.submit(view["id"], "customer:s1")
    real_send = locked.sms.send
    locked.sms.send = lambda *_: (_ for _ in ()).throw(ConnectionError("down"))
    apps.approve(view["id"], "alice")
    locked.sms.send = real_send
    _in_threads(3, apps.process_outbox)
    assert len(sms_texts(locked)) == 1 and len(locked.conversations.outbox("s1")) == 1
