"""Conversation review on real rows: search by account, dates, business, outcome and channel; the transcript
with intents, confidences and actions; tags; all audited."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backoffice.analytics.review import ReviewError
from backoffice.applications.service import Application
from tests.unit.backoffice.test_funnels import STEPS, T0, _conversation, publish
from tests.unit.backoffice.test_nlu_inbox import _user


@pytest.fixture
def conversations(services, clock):
    events = (_conversation("rest:a", "unlock_account", [(s, 10 * i) for i, s in enumerate(STEPS, 1)], submit_at=50)
              + _conversation("rest:b", "unlock_account", [(STEPS[0], 10)])
              + [_user("oWeChatOpenid0000000000000002", 3, "你好", "greet", 0.99),
                 _user("rest:c", 0, "转人工", "request_human", 0.97),
                 {"sender_id": "rest:c", "timestamp": T0 + 1, "event": "action", "name": "action_request_human",
                  "policy": "RulePolicy", "confidence": 1.0},
                 {"sender_id": "rest:c", "timestamp": T0 + 1.5, "event": "bot", "text": "已为您转接人工客服，手机13800000001"}])
    publish(services, events)
    at = datetime.fromtimestamp(T0, timezone.utc)
    with services.db.session() as s:
        s.add(Application(business="unlock_account", account_number="80010001", sender="rest:a", channel="rest",
                          status="pending", payload={}, flags=[], created_at=at + timedelta(seconds=49),
                          updated_at=at, submitted_at=at + timedelta(seconds=50)))
    services.audit.record("login_succeeded", actor="customer:rest:b", account_number="80010002")
    return services


def _senders(rows):
    return {r["sender"]: r for r in rows}


def test_search(conversations):
    review = conversations.review
    rows = _senders(review.search(start="2027-01-15", end="2027-01-15"))
    assert {s: r["outcome"] for s, r in rows.items()} == {
        "rest:a": "completed", "rest:b": "abandoned", "rest:c": "handoff", "oWeChatOpenid0000000000000002": "chat"}
    assert rows["rest:a"]["account"] == "80**0001" and rows["rest:a"]["business_names"] == ["账户解锁"]
    assert rows["oWeChatOpenid0000000000000002"]["channel"] == "wechat"
    assert list(_senders(review.search(account="80010002", start="2027-01-15", end="2027-01-15"))) == ["rest:b"]
    assert review.search(account="89999999", start="2027-01-15", end="2027-01-15") == []
    assert set(_senders(review.search(start="2027-01-15", end="2027-01-15", business="unlock_account"))) == {
        "rest:a", "rest:b"}
    assert list(_senders(review.search(start="2027-01-15", end="2027-01-15", outcome="handoff"))) == ["rest:c"]
    assert list(_senders(review.search(start="2027-01-15", end="2027-01-15", channel="wechat"))) == [
        "oWeChatOpenid0000000000000002"]
    assert review.search(start="2027-01-16", end="2027-01-16") == []
    with pytest.raises(ReviewError):
        review.search(outcome="great")


def test_transcript_and_tags(conversations):
    review = conversations.review
    view = review.transcript("rest:c", "reviewer1")
    kinds = [(e["event"], e["name"]) for e in view["events"]]
    assert kinds == [("user", "request_human"), ("action", "action_request_human"), ("bot", None)]
    assert view["events"][0]["confidence"] == 0.97 and view["events"][1]["policy"] == "RulePolicy"
    assert view["events"][2]["text"] == "已为您转接人工客服，手机138****0001"
    assert conversations.audit.list(event="conversation_viewed")[0]["actor"] == "staff:reviewer1"
    assert review.tag("rest:c", "流程问题", "reviewer1") == ["流程问题"]
    assert review.tag("rest:c", "好评", "reviewer1") == ["流程问题", "好评"]
    assert review.tag("rest:c", "流程问题", "reviewer1", on=False) == ["好评"]
    assert [e["details"]["tag"] for e in conversations.audit.list(event="conversation_tagged")] == [
        "流程问题", "好评", "流程问题"]
    assert _senders(review.search(start="2027-01-15", end="2027-01-15"))["rest:c"]["tags"] == ["好评"]
    with pytest.raises(ReviewError):
        review.tag("rest:c", "随便", "reviewer1")
    with pytest.raises(ReviewError) as missing:
        review.transcript("rest:nobody", "reviewer1")
    assert missing.value.status == 404
