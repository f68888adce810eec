"""WitnessService on SQLite and PostgreSQL: lifecycle, queue, idempotent open, expiry, verdicts, consume."""
import pytest

from backoffice.witness.service import CALL_TTL, PASSED_TTL, WAIT_TTL, WitnessError, checklist_for
from tests.unit.conftest import ACCOUNT

BIZ = "close_account"


@pytest.fixture
def svc(services):
    services.accounts.create({**ACCOUNT, "balance": "0"})
    services.accounts.create({**ACCOUNT, "account_number": "80010009", "phone": "13800000009"})
    return services


def test_open_is_idempotent_and_returns_a_signed_link(svc):
    view, created = svc.witness.open("s1", "80010001", BIZ, "wechat")
    assert created and view["status"] == "waiting" and view["position"] == 1
    assert view["url"].startswith("http://127.0.0.1:8000/h5/witness/")
    token = view["url"].rsplit("/", 1)[1]
    assert svc.witness.id_from_token(token) == view["id"]
    assert svc.witness.id_from_token(token[:-2] + "xx") is None  # forged
    again, created = svc.witness.open("s1", "80010001", BIZ, "wechat")
    assert not created and again["id"] == view["id"]
    other, created = svc.witness.open("s1", "80010001", "activate_dormant_account")
    assert created and other["id"] != view["id"]
    with pytest.raises(WitnessError):
        svc.witness.open("s1", "80010001", "fly_to_the_moon")
    # the customer never sees who handles it or the sender id
    assert "sender" not in view and "staff" not in view
    events = [e["event"] for e in svc.audit.list()]
    assert events.count("witness_opened") == 2


def test_queue_positions_follow_arrival(svc, clock):
    a, _ = svc.witness.open("s1", "80010001", BIZ)
    clock.advance(1)
    b, _ = svc.witness.open("s2", "80010009", BIZ)
    assert svc.witness.status("s2", BIZ) == {"status": "waiting", "witness_id": b["id"], "position": 2, "reason": None}
    svc.witness.join(a["id"], "agent1")
    assert svc.witness.status("s1", BIZ)["position"] == 0
    assert svc.witness.status("s2", BIZ)["position"] == 1
    # a staff member leaving without a verdict puts the customer back at their original place
    svc.witness.release(a["id"], "agent1")
    assert svc.witness.status("s1", BIZ)["position"] == 1 and svc.witness.status("s2", BIZ)["position"] == 2


def test_join_rules(svc):
    view, _ = svc.witness.open("s1", "80010001", BIZ)
    joined = svc.witness.join(view["id"], "agent1")
    assert joined["status"] == "in_call" and joined["staff"] == "agent1"
    assert svc.witness.join(view["id"], "agent1")["status"] == "in_call"  # re-join after a page reload
    with pytest.raises(WitnessError) as exc:
        svc.witness.join(view["id"], "agent2")
    assert exc.value.code == "taken"
    with pytest.raises(WitnessError):
        svc.witness.release(view["id"], "agent2")
    with pytest.raises(WitnessError):
        svc.witness.join("0" * 32, "agent1")


def test_pass_then_consume_once(svc):
    view, _ = svc.witness.open("s1", "80010001", BIZ)
    assert svc.witness.passed("s1", "80010001", BIZ) is None
    with pytest.raises(WitnessError) as exc:  # the console must join first
        svc.witness.decide(view["id"], "agent1", True)
    assert exc.value.code == "not_yours"
    svc.witness.join(view["id"], "agent1")
    with pytest.raises(WitnessError):
        svc.witness.decide(view["id"], "agent2", True)
    done = svc.witness.decide(view["id"], "agent1", True, notes="客户张伟本人，意愿清楚",
                              checklist={"identity": True, "voluntary": True})
    assert done["status"] == "passed" and done["notes"] == "客户张伟本人，意愿清楚"
    assert done["checklist"] == {"identity": True, "voluntary": True}
    assert svc.witness.status("s1", BIZ)["status"] == "passed"
    # notes are encrypted at rest and never in the audit log
    with svc.db.session() as s:
        from backoffice.witness.service import WitnessSession

        assert "张伟" not in s.get(WitnessSession, view["id"]).notes_enc
    assert "张伟" not in repr(svc.audit.list())
    with pytest.raises(WitnessError):  # decided once
        svc.witness.decide(view["id"], "agent1", False)
    # only the right sender, account and business
    assert svc.witness.passed("s1", "80010001", BIZ) == view["id"]
    assert svc.witness.passed("s2", "80010001", BIZ) is None
    assert svc.witness.passed("s1", "80010009", BIZ) is None
    assert svc.witness.passed("s1", "80010001", "activate_dormant_account") is None
    # open() hands back the passed-unused session instead of a new one
    assert svc.witness.open("s1", "80010001", BIZ)[0]["id"] == view["id"]
    svc.witness.consume(view["id"], 7)
    svc.witness.consume(view["id"], 7)  # idempotent for the same application
    with pytest.raises(WitnessError):
        svc.witness.consume(view["id"], 8)
    assert svc.witness.passed("s1", "80010001", BIZ) is None
    assert svc.witness.for_application(7)["id"] == view["id"]
    # used: a new business attempt needs a new witness
    fresh, created = svc.witness.open("s1", "80010001", BIZ)
    assert created and fresh["id"] != view["id"]


def test_failed_reason_is_customer_safe_and_a_retry_opens_a_new_session(svc):
    view, _ = svc.witness.open("s1", "80010001", BIZ)
    svc.witness.join(view["id"], "agent1")
    svc.witness.decide(view["id"], "agent1", False, notes="背景有人提示回答", reason="not_voluntary")
    status = svc.witness.status("s1", BIZ)
    assert status["status"] == "failed" and "自愿" in status["reason"] and "提示" not in status["reason"]
    again, created = svc.witness.open("s1", "80010001", BIZ)
    assert created and again["id"] != view["id"]
    assert svc.witness.status("s1", BIZ)["status"] == "waiting"
    # an unknown reason code falls back to a neutral sentence
    svc.witness.join(again["id"], "agent1")
    assert "未能完成" in svc.witness.decide(again["id"], "agent1", False, reason="<b>x</b>")["reason"]


def test_expiry(svc, clock):
    waiting, _ = svc.witness.open("s1", "80010001", BIZ)
    clock.advance(WAIT_TTL + 1)
    assert svc.witness.get(waiting["id"])["status"] == "expired"
    assert svc.witness.status("s1", BIZ)["status"] == "none"
    call, _ = svc.witness.open("s1", "80010001", BIZ)
    svc.witness.join(call["id"], "agent1")
    clock.advance(CALL_TTL + 1)
    assert svc.witness.list("expired")[-1]["id"] == call["id"]
    ok, _ = svc.witness.open("s1", "80010001", BIZ)
    svc.witness.join(ok["id"], "agent1")
    svc.witness.decide(ok["id"], "agent1", True)
    clock.advance(PASSED_TTL + 1)
    assert svc.witness.passed("s1", "80010001", BIZ) is None  # too old to allow an application


def test_an_other_account_does_not_inherit_the_session(svc):
    view, _ = svc.witness.open("s1", "80010001", BIZ)
    other, created = svc.witness.open("s1", "80010009", BIZ)
    assert created and other["id"] != view["id"]
    assert svc.witness.get(view["id"])["status"] == "cancelled"


def test_evidence_and_cancel(svc):
    view, _ = svc.witness.open("s1", "80010001", BIZ)
    with pytest.raises(WitnessError):  # nothing to record before the call
        svc.witness.attach_recording(view["id"], "customer", "a" * 32, 10, "customer:s1")
    svc.witness.join(view["id"], "agent1")
    svc.witness.attach_recording(view["id"], "customer", "a" * 32, 1000, "customer:s1")
    svc.witness.attach_recording(view["id"], "staff", "b" * 32, 2000, "staff:agent1")
    with pytest.raises(WitnessError):
        svc.witness.attach_recording(view["id"], "nobody", "c" * 32, 1, "x")
    shot = svc.witness.set_snapshot(view["id"], "agent1", "d" * 32, {"decision": "accept", "distance": 0.31})
    assert shot["face_decision"] == "accept" and shot["face_distance"] == 0.31
    assert [r["side"] for r in shot["recordings"]] == ["customer", "staff"]
    failed = svc.witness.set_snapshot(view["id"], "agent1", "e" * 32, {"ok": False, "error": "no_face"})
    assert failed["face_decision"] == "error" and failed["face_error"] == "no_face"
    svc.witness.cancel(view["id"], "agent1")
    assert svc.witness.get(view["id"])["status"] == "cancelled"
    with pytest.raises(WitnessError):
        svc.witness.cancel(view["id"], "agent1")
    events = {e["event"] for e in svc.audit.list()}
    assert {"witness_joined", "witness_recording_stored", "witness_snapshot", "witness_cancelled"} <= events


def test_checklists_per_business():
    dormant = [i["title"] for i in checklist_for("activate_dormant_account")]
    closing = [i["title"] for i in checklist_for("close_account")]
    assert "本人确认" in dormant and "风险知悉" in dormant and "自愿办理" in dormant
    assert "本人确认" in closing and "后果知悉" in closing and "自愿办理" in closing
    assert checklist_for("unlock_account")  # any future business gets a generic script


def test_a_malformed_fail_reason_falls_back(svc):
    view, _ = svc.witness.open("s1", "80010001", BIZ)
    svc.witness.join(view["id"], "agent1")
    done = svc.witness.decide(view["id"], "agent1", False, reason=["not", "hashable"])
    assert done["reason_code"] == "other"
