"""Business funnels from real rows: events written by the event broker, applications and audit events, on
SQLite and PostgreSQL, through GET /api/analytics/funnels."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backoffice.applications.service import Application
from connectors.event_log import MaskingSQLEventBroker

T0 = 1_800_000_000.0  # the services' ManualClock: 2027-01-15 16:00 Beijing time
STEPS = ["investor_type", "account_number", "phone_number", "otp_code"]


def _conversation(sender: str, business: str, steps: list[tuple[str, float]], *, submit_at: float | None = None,
                  fallback_at: float | None = None, channel: str = "rest") -> list[dict]:
    """The events Rasa publishes for a customer who starts `business` and is asked `steps` at those times."""
    def ev(t, **e):
        return {"sender_id": sender, "timestamp": T0 + t, **e}

    events = [ev(0, event="user", text="我要办理", input_channel=channel,
                 parse_data={"intent": {"name": business, "confidence": 0.95}}),
              ev(0.1, event="active_loop", name=f"{business}_form")]
    for step, t in steps:
        events += [ev(t, event="slot", name="requested_slot", value=step),
                   ev(t + 1, event="user", text="13800000001", input_channel=channel,
                      parse_data={"intent": {"name": "inform", "confidence": 0.9}})]
    if fallback_at is not None:
        events.append(ev(fallback_at, event="user", text="啥意思", input_channel=channel,
                         parse_data={"intent": {"name": "nlu_fallback", "confidence": 0.3}}))
    if submit_at is not None:
        events += [ev(submit_at, event="action", name=f"action_{business}_submit"),
                   ev(submit_at + 0.1, event="active_loop", name=None)]
    return events


def publish(services, events) -> None:
    """Events through the real broker (masked, batched) into the services' database, written when this returns."""
    broker = MaskingSQLEventBroker(url=services.settings.database_url)
    for event in events:
        broker.publish(event)
    assert broker.flush()
    broker.engine.dispose()


@pytest.fixture
def recorded(services, clock):
    conversations = [
        # completes: 4 steps 10 s apart, submitted 10 s after the last
        _conversation("rest:a", "unlock_account", [(s, 10 * i) for i, s in enumerate(STEPS, 1)], submit_at=50),
        # gives up at the phone step after a misunderstanding, asks for a person
        _conversation("rest:b", "unlock_account", [(s, 20 * i) for i, s in enumerate(STEPS[:3], 1)],
                      fallback_at=70),
        # another business on WeChat
        _conversation("oWeChatOpenid0000000000000001", "reset_password", [("investor_type", 5)], channel="wechat"),
        # a week before the period: not counted
        [{**e, "timestamp": e["timestamp"] - 8 * 86400}
         for e in _conversation("rest:old", "unlock_account", [("investor_type", 5)])],
    ]
    publish(services, [event for events in conversations for event in events])
    at = datetime.fromtimestamp(T0, timezone.utc)
    with services.db.session() as s:
        s.add(Application(business="unlock_account", account_number="80010001", sender="rest:a", channel="rest",
                          status="approved", payload={}, flags=[], created_at=at + timedelta(seconds=49),
                          updated_at=at, submitted_at=at + timedelta(seconds=50),
                          decided_at=at + timedelta(seconds=650)))
    clock.advance(75)  # after rest:b's misunderstanding
    services.audit.record("handoff_requested", actor="customer:rest:b", reason="customer_request")
    services.audit.record("live_check_finished", actor="customer:rest:b", purpose="business", outcome="reject",
                          error="not_live")
    services.audit.record("id_rejected", actor="customer:rest:b", side="front", error="no_card")
    services.audit.record("handoff_requested", actor="customer:rest:nobody", reason="customer_request")
    return services


def _by_code(report):
    return {entry["business"]: entry for entry in report}


def test_funnel_per_business(recorded):
    report = _by_code(recorded.funnels.report("2027-01-15", "2027-01-15"))
    unlock = report["unlock_account"]
    assert (unlock["name"], unlock["started"], unlock["completed"]) == ("账户解锁", 2, 1)
    assert [(s["step"], s["reached"], s["median_s"], s["dropped"]) for s in unlock["steps"]] == [
        ("investor_type", 2, 15.0, 0), ("account_number", 2, 15.0, 0), ("phone_number", 2, 10.0, 1),
        ("otp_code", 1, 10.0, 0)]
    assert (unlock["submitted"], unlock["approved"], unlock["rejected"], unlock["withdrawn"]) == (1, 1, 0, 0)
    assert unlock["median_decision_s"] == 600.0
    assert (unlock["handoffs"], unlock["handoff_rate"]) == (1, 0.5)
    assert unlock["fallbacks"] == 1 and unlock["fallback_rate"] == 1 / 8  # messages during the runs
    assert unlock["face_failures"] == {"not_live": 1} and unlock["ocr_failures"] == {"no_card": 1}
    assert report["reset_password"]["started"] == 1 and report["login"]["started"] == 0


def test_filters(recorded):
    wechat = _by_code(recorded.funnels.report("2027-01-15", "2027-01-15", channel="wechat"))
    assert wechat["unlock_account"]["started"] == 0 and wechat["unlock_account"]["submitted"] == 0
    assert wechat["reset_password"]["started"] == 1
    assert [e["business"] for e in recorded.funnels.report("2027-01-08", "2027-01-15", business="unlock_account")] \
        == ["unlock_account"]
    week = _by_code(recorded.funnels.report("2027-01-07", "2027-01-15"))
    assert week["unlock_account"]["started"] == 3
    assert _by_code(recorded.funnels.report("2027-01-16", "2027-01-16"))["unlock_account"]["started"] == 0


async def test_the_json_api(client, recorded):
    resp = await client.get("/api/analytics/funnels?from=2027-01-15&to=2027-01-15&channel=", headers=client.staff)
    assert resp.status == 200
    body = await resp.json()
    unlock = next(e for e in body if e["business"] == "unlock_account")
    assert {"business", "name", "started", "steps", "submitted", "approved", "rejected", "handoffs"} <= set(unlock)
    assert set(unlock["steps"][0]) >= {"step", "reached", "median_s"}
    assert (unlock["started"], unlock["submitted"], unlock["approved"]) == (2, 1, 1)
    assert (await client.get("/api/analytics/funnels")).status == 401
    for bad in ("from=2027-13-01", "channel=fax", "from=2027-01-16&to=2027-01-15", "business=nope"):
        assert (await client.get(f"/api/analytics/funnels?{bad}", headers=client.staff)).status == 400


def test_daily_series(recorded):
    days = recorded.funnels.daily("2027-01-07", "2027-01-15")
    assert [d["date"] for d in days][0] == "2027-01-07" and len(days) == 9
    by_day = {d["date"]: d for d in days}
    assert by_day["2027-01-15"] == {"date": "2027-01-15", "started": 3, "completed": 1, "submitted": 1}
    assert by_day["2027-01-07"]["started"] == 1
    assert recorded.funnels.daily("2027-01-15", "2027-01-15", business="reset_password")[0]["started"] == 1


def test_the_overview_is_the_report_and_the_daily_series_from_one_read(recorded):
    for args in (("2027-01-07", "2027-01-15"), ("2027-01-15", "2027-01-15", "rest", "unlock_account")):
        assert recorded.funnels.overview(*args) == (recorded.funnels.report(*args), recorded.funnels.daily(*args))
