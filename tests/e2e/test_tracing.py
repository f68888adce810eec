"""Tracing on the real stack (the session's `stack` exports to a fake OTLP collector, tests/e2e/conftest.py): a
customer's login through the REST webhook is one trace per message, rooted at the channel's span in Rasa, through
the action server to the back-office and its SQL and Redis calls, parent links intact; its trace id is in a log
line of each process; no span attribute holds the customer's data."""
from __future__ import annotations

import json
import time

from tests.e2e.conftest import latest_code
from tests.support.otlp_collector import descendants
from tests.support.stack import texts

CHANNEL_SPAN = "POST /webhooks/rest/webhook"


def _roots(spans, since: int) -> list[dict]:
    return sorted((s for s in spans if s["service"] == "hall-rasa" and s["name"] == CHANNEL_SPAN
                   and s["start"] >= since), key=lambda s: s["start"])


def test_a_login_is_traced_across_the_three_processes(stack, sender, new_account):
    customer = new_account()
    since = time.time_ns()
    assert "登录类型" in texts(stack.say(sender, "我要登录"))
    assert "资金账号" in texts(stack.say(sender, "投资者"))
    assert "手机号" in texts(stack.say(sender, customer["account_number"]))
    stack.say(sender, customer["phone"])
    code = latest_code(stack, customer["phone"])
    assert "隐私政策" in texts(stack.say(sender, code))
    assert "登录成功" in texts(stack.say(sender, "同意"))

    def phone_turn_complete(spans):
        roots = _roots(spans, since)
        if len(roots) < 6:
            return False
        trace = [s for s in spans if s["trace_id"] == roots[3]["trace_id"]]
        return {"hall-rasa", "hall-actions", "hall-backoffice"} <= {s["service"] for s in trace} and any(
            s["name"] == "POST /api/bot/login/start" for s in trace)

    spans = stack.collector.wait_for(phone_turn_complete, timeout=20)
    time.sleep(1.0)  # the last batches of the other turns
    spans = stack.collector.snapshot()
    roots = _roots(spans, since)
    assert len(roots) == 6, [s["name"] for s in spans if s["start"] >= since][:50]

    for root in roots:  # one trace per message, the channel's span its only root, every parent present
        trace = [s for s in spans if s["trace_id"] == root["trace_id"]]
        assert root["parent_span_id"] is None and root["kind"] == "server"
        assert root["attributes"]["hall.channel"] == "rest" and root["attributes"]["http.status_code"] == 200
        ids = {s["span_id"] for s in trace}
        assert [s for s in trace if s["parent_span_id"] is None] == [root]
        assert all(s["parent_span_id"] in ids for s in trace if s is not root)
        for action in (s for s in trace if s["service"] == "hall-actions" and s["kind"] == "server"):
            (parent,) = [s for s in trace if s["span_id"] == action["parent_span_id"]]
            assert parent["service"] == "hall-rasa" and parent["kind"] == "client"
        for call in (s for s in trace if s["service"] == "hall-backoffice" and s["kind"] == "server"):
            (parent,) = [s for s in trace if s["span_id"] == call["parent_span_id"]]
            assert parent["service"] == "hall-actions" and parent["kind"] == "client"

    phone_turn = roots[3]
    trace = [s for s in spans if s["trace_id"] == phone_turn["trace_id"]]
    assert {s["service"] for s in trace} == {"hall-rasa", "hall-actions", "hall-backoffice"}
    (start,) = [s for s in trace if s["name"] == "POST /api/bot/login/start"]
    below = descendants(trace, start)
    assert any(s["attributes"].get("db.system") == "postgresql" for s in below), [s["name"] for s in below]
    assert any(s["attributes"].get("db.system") == "redis" for s in below), [s["name"] for s in below]
    assert any(s["name"].startswith("action ") for s in trace)
    # inside Rasa (connectors/rasa_spans.py): the tracker loaded, NLU, the predictions, the actions, the save
    rasa = [s for s in trace if s["service"] == "hall-rasa"]
    names = [s["name"] for s in rasa]
    assert {"rasa tracker load", "rasa nlu", "rasa predict", "rasa action", "rasa tracker save"} <= set(names), names
    (nlu,) = [s for s in rasa if s["name"] == "rasa nlu"]
    assert nlu["parent_span_id"] == phone_turn["span_id"] and nlu["attributes"]["rasa.intent"]
    form = [s for s in rasa if s["name"] == "rasa action" and s["attributes"]["rasa.action"] == "login_form"]
    assert form and any(s["parent_span_id"] == form[0]["span_id"] and s["kind"] == "client" for s in rasa)

    # the trace id in a log line of each process
    trace_id = phone_turn["trace_id"]
    for name in ("rasa0", "actions", "backoffice"):
        log = (stack.workdir / f"{name}.log").read_text(errors="replace")
        assert f"trace_id={trace_id}" in log, f"{name}.log has no line of trace {trace_id}"

    # no customer data in any exported attribute (every span of the session so far, not only this login)
    secrets = [customer["phone"], customer["account_number"], customer["id_number"], code, customer["name"]]
    for s in stack.collector.snapshot():
        text = json.dumps([s["name"], s["attributes"], s["events"], s["links"]], ensure_ascii=False)
        assert not [x for x in secrets if x in text], (s["service"], s["name"], s["attributes"])
