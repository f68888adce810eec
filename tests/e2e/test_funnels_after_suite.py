"""After the whole end-to-end suite: 运营分析 against the conversations the suite ran.

Runs last (marker `after_suite`, ordered by tests/e2e/conftest.py). The funnels are read from the event log
(Rasa's event broker → PostgreSQL); the check reads the same conversations from the other place they are kept,
Rasa's tracker store in Redis, and the applications from the back-office's table:

* every business of the registry was started at least once, and its runs were asked exactly the steps the
  trackers show its form asking (nothing missing, nothing extra);
* started lies between the conversations that opened the business's form and the times its form was opened
  (a run reopened after 帮助 or a handoff continues), completed equals the times its submit action ran;
* submitted / approved / rejected / withdrawn equal the applications the suite filed, by business.

Then the page is drawn in headless Chromium (var/results/analytics_after_suite.png)."""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
import redis
import sqlalchemy

from businesses import REGISTRY
from tests.e2e.test_analytics import analytics_page
from tests.support.stack import ROOT

RESULTS = ROOT / "var" / "results"
pytestmark = pytest.mark.after_suite


def _period() -> str:
    today = datetime.now(timezone(timedelta(hours=8))).date()  # a suite may cross midnight in Beijing
    return f"from={(today - timedelta(days=1)).isoformat()}&to={(today + timedelta(days=1)).isoformat()}"


def _funnels(stack) -> dict[str, dict]:
    status, body = stack.api("GET", f"/api/analytics/funnels?{_period()}")
    assert status == 200, body
    return {entry["business"]: entry for entry in body}


def _settled_funnels(stack, timeout: float = 60.0) -> dict[str, dict]:
    """The event broker writes from a thread in batches: read until two reads a second apart agree."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        now = _funnels(stack)
        if now == last or time.monotonic() > deadline:
            return now
        last = now
        time.sleep(1.0)


def _trackers(stack) -> list[dict]:
    """Every conversation of this stack as Rasa's tracker store keeps it (masked, all sessions)."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    out = []
    for key in client.scan_iter(match=stack.env["RASA_KEY_PREFIX"] + ":*", count=1000):
        raw = client.get(key)
        try:
            dialogue = json.loads(raw) if raw else None
        except ValueError:
            continue  # a lock, not a tracker
        if isinstance(dialogue, dict) and isinstance(dialogue.get("events"), list):
            out.append(dialogue)
    return out


def _from_trackers(trackers: list[dict]) -> dict[str, dict]:
    """Per business: conversations that opened its form, times opened, times submitted, steps asked."""
    forms = {f"{code}_form": code for code in REGISTRY}
    seen = defaultdict(lambda: {"conversations": set(), "opened": 0, "submits": 0, "steps": set()})
    for dialogue in trackers:
        active = None
        for event in dialogue["events"]:
            kind, name = event.get("event"), event.get("name")
            if kind == "active_loop":
                active = forms.get(name)
                if active:
                    seen[active]["conversations"].add(dialogue.get("name"))
                    seen[active]["opened"] += 1
            elif kind == "slot" and name == "requested_slot" and active and event.get("value"):
                seen[active]["steps"].add(event["value"])
            elif kind == "action" and name and name.startswith("action_") and name.endswith("_submit"):
                code = name[len("action_"):-len("_submit")]
                if code in REGISTRY:
                    seen[code]["submits"] += 1
            elif kind in ("restart", "session_started"):
                active = None
    return seen


def _applications(stack) -> dict[str, Counter]:
    engine = sqlalchemy.create_engine(stack.env["DATABASE_URL"], future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT business, status, submitted_at FROM applications")).all()
    finally:
        engine.dispose()
    out: dict[str, Counter] = defaultdict(Counter)
    for business, status, submitted_at in rows:
        if submitted_at is not None:
            out[business]["submitted"] += 1
        if status in ("approved", "rejected", "withdrawn"):
            out[business][status] += 1
    return out


def test_the_funnels_match_the_conversations_the_suite_ran(stack):
    funnels = _settled_funnels(stack)
    trackers = _from_trackers(_trackers(stack))
    applications = _applications(stack)
    report, problems = {}, []
    for code in REGISTRY:
        entry, truth, filed = funnels[code], trackers[code], applications[code]
        steps = {s["step"]: s["reached"] for s in entry["steps"]}
        report[code] = {"started": entry["started"], "completed": entry["completed"],
                        "submitted": entry["submitted"], "steps": steps}
        checks = {
            "started at least once": entry["started"] > 0,
            f"started within [{len(truth['conversations'])}, {truth['opened']}]":
                len(truth["conversations"]) <= entry["started"] <= truth["opened"],
            f"completed {entry['completed']} == submit actions {truth['submits']}": entry["completed"] == truth["submits"],
            f"steps {sorted(steps)} == asked {sorted(truth['steps'])}": set(steps) == truth["steps"],
            **{f"{field} {entry[field]} == filed {filed[field]}": entry[field] == filed[field]
               for field in ("submitted", "approved", "rejected", "withdrawn")},
        }
        problems += [f"{code}: {name}" for name, ok in checks.items() if not ok]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "funnels_after_suite.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    assert not problems, "\n".join(problems)


def test_the_page_draws_the_whole_suite(stack):
    with analytics_page(stack, "suite-analyst", height=1400) as (page, errors):
        for code in REGISTRY:
            assert int(page.locator(f"#funnels tr[data-business='{code}'] td.started").inner_text()) > 0, code
        page.screenshot(path=str(RESULTS / "analytics_after_suite.png"), full_page=True)
        assert not errors, errors
