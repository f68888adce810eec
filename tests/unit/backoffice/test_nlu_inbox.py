"""NLU inbox round trip on real rows (SQLite and PostgreSQL): misunderstood messages appear (fallback, low
confidence, corrected, handed off), a reviewer labels one (audited), the export is Rasa NLU YAML holding it."""
from __future__ import annotations

import yaml
from rasa.shared.nlu.training_data.loading import load_data

from tests.unit.backoffice.test_funnels import publish

T0 = 1_800_000_000.0


def _user(sender, t, text, intent, confidence):
    return {"sender_id": sender, "timestamp": T0 + t, "event": "user", "text": text, "input_channel": "rest",
            "parse_data": {"intent": {"name": intent, "confidence": confidence}}}


def test_round_trip(services, tmp_path):
    publish(services, [
        _user("rest:a", 0, "我的号被冻住了咋整 13800000001", "nlu_fallback", 0.4),
        _user("rest:a", 5, "我要解锁账户", "unlock_account", 0.97),            # understood
        _user("rest:b", 0, "怎么改交易的那个密", "login", 0.45),                # low confidence
        _user("rest:c", 0, "我要销户", "reset_password", 0.88),                 # corrected at once
        _user("rest:c", 10, "不是，我说的是销户", "close_account", 0.9),
        _user("rest:d", 0, "换绑手机", "bind_device", 0.81),                    # handed off right after
        {"sender_id": "rest:d", "timestamp": T0 + 1, "event": "action", "name": "action_request_human"},
        _user("rest:e", 0, '/upload_image{"media_id":"abc"}', "upload_image", 0.3),  # a payload: never
    ])
    inbox = services.nlu_inbox.list()
    assert {(i["text"], i["predicted"], i["reason"]) for i in inbox} == {
        ("我的号被冻住了咋整 138****0001", "nlu_fallback", "fallback"),
        ("怎么改交易的那个密", "login", "low_confidence"),
        ("我要销户", "reset_password", "corrected"),
        ("换绑手机", "bind_device", "handoff")}
    assert all(set(i) >= {"text", "predicted", "confidence", "at"} for i in inbox)

    frozen = next(i for i in inbox if i["predicted"] == "nlu_fallback")
    services.nlu_inbox.label(frozen["id"], "unlock_account", "reviewer1")
    oos = next(i for i in inbox if i["reason"] == "low_confidence")
    services.nlu_inbox.label(oos["id"], "out_of_scope", "reviewer1")
    assert len(services.nlu_inbox.list()) == 2  # labelled ones leave the inbox
    assert [e["details"]["intent"] for e in services.audit.list(event="nlu_labelled")] == ["out_of_scope",
                                                                                          "unlock_account"]
    exported = services.nlu_inbox.export_yaml()
    doc = yaml.safe_load(exported)
    assert doc["version"] == "3.1"
    blocks = {b["intent"]: b["examples"] for b in doc["nlu"]}
    assert blocks["unlock_account"] == "- 我的号被冻住了咋整 138****0001\n"
    assert "13800000001" not in exported
    path = tmp_path / "reviewed.yml"
    path.write_text(exported, encoding="utf-8")
    data = load_data(str(path))  # Rasa itself reads it as training data
    assert {(m.get("text"), m.get("intent")) for m in data.intent_examples} == {
        ("我的号被冻住了咋整 138****0001", "unlock_account"), ("怎么改交易的那个密", "out_of_scope")}


def test_labels_are_checked(services):
    import pytest

    from backoffice.analytics.nlu_inbox import InboxError

    publish(services, [_user("rest:a", 0, "随便说点啥", "nlu_fallback", 0.3)])
    (item,) = services.nlu_inbox.list()
    with pytest.raises(InboxError):
        services.nlu_inbox.label(item["id"], "no_such_intent", "reviewer1")
    with pytest.raises(InboxError):
        services.nlu_inbox.label(item["id"], "upload_image", "reviewer1")
    with pytest.raises(InboxError) as missing:
        services.nlu_inbox.label(item["id"] + 999, "greet", "reviewer1")
    assert missing.value.status == 404


async def test_api(client, services):
    publish(services, [_user("rest:a", 0, "这个咋弄", "nlu_fallback", 0.3)])
    resp = await client.get("/api/nlu/inbox", headers=client.staff)
    assert resp.status == 200
    (item,) = await resp.json()
    assert (item["text"], item["predicted"], item["confidence"]) == ("这个咋弄", "nlu_fallback", 0.3)
    assert (await client.get("/api/nlu/inbox")).status == 401
    resp = await client.post(f"/api/nlu/inbox/{item['id']}/label", json={"intent": "help"}, headers=client.staff)
    assert resp.status == 200
    assert await (await client.get("/api/nlu/inbox", headers=client.staff)).json() == []
    export = await client.get("/api/nlu/export", headers=client.staff)
    assert "- intent: help\n  examples: |\n    - 这个咋弄\n" in await export.text()
    bad = await client.post(f"/api/nlu/inbox/{item['id']}/label", json={"intent": "x"}, headers=client.staff)
    assert bad.status == 400
