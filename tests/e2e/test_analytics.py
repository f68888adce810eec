"""Analytics on the real stack: conversations through the REST webhook reach the event log (Rasa's event broker
→ PostgreSQL, masked) and the funnels count them at the right steps; 运营分析 draws its charts in headless
Chromium (screenshot: var/results/analytics.png)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import latest_code
from tests.e2e.test_console_browser import browser_login, create_staff
from tests.support.stack import ROOT, texts

RESULTS = ROOT / "var" / "results"


def _today() -> str:
    return datetime.now(timezone(timedelta(hours=8))).date().isoformat()


def _login_funnel(stack) -> dict:
    status, body = stack.api("GET", f"/api/analytics/funnels?from={_today()}&to={_today()}&channel=rest"
                                    "&business=login")
    assert status == 200, body
    (entry,) = body
    return {"started": entry["started"], "completed": entry["completed"],
            **{s["step"]: s["reached"] for s in entry["steps"]},
            **{"dropped:" + s["step"]: s["dropped"] for s in entry["steps"]}}


def _delta(after: dict, before: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def _wait_for(stack, before: dict, expected: dict, timeout: float = 20.0) -> dict:
    """The broker writes from a thread in batches: poll until the events are in."""
    deadline = time.monotonic() + timeout
    while True:
        delta = _delta(_login_funnel(stack), before)
        if delta == expected or time.monotonic() > deadline:
            return delta
        time.sleep(0.3)


def test_funnel_counts_started_and_abandoned_runs(stack, sender):
    """Two customers are asked the first login step; one cancels, the other walks away."""
    before = _login_funnel(stack)
    assert "登录类型" in texts(stack.say(sender, "我要登录"))
    assert "取消" in texts(stack.say(sender, "取消"))
    assert "登录类型" in texts(stack.say(sender + "-b", "登录"))
    expected = {"started": 2, "investor_type": 2, "dropped:investor_type": 2}
    assert _wait_for(stack, before, expected) == expected


def test_funnel_counts_the_conversations_it_ran(stack, sender, new_account):
    before = _login_funnel(stack)
    done = new_account()
    # one customer logs in all the way
    assert "登录类型" in texts(stack.say(sender, "我要登录"))
    assert "资金账号" in texts(stack.say(sender, "投资者"))
    assert "手机号" in texts(stack.say(sender, done["account_number"]))
    stack.say(sender, done["phone"])
    assert "隐私政策" in texts(stack.say(sender, latest_code(stack, done["phone"])))
    assert "登录成功" in texts(stack.say(sender, "同意"))
    # another gives up when asked for the phone number
    other = sender + "-b"
    stack.say(other, "我要登录")
    stack.say(other, "投资者")
    assert "手机号" in texts(stack.say(other, new_account()["account_number"]))
    assert "取消" in texts(stack.say(other, "取消"))

    delta = _wait_for(stack, before, {
        "started": 2, "completed": 1, "investor_type": 2, "account_number": 2, "phone_number": 2, "otp_code": 1,
        "privacy_agreed": 1, "dropped:phone_number": 1})
    assert delta == {"started": 2, "completed": 1, "investor_type": 2, "account_number": 2, "phone_number": 2,
                     "otp_code": 1, "privacy_agreed": 1, "dropped:phone_number": 1}


def test_the_event_log_is_masked(stack, sender, new_account):
    import sqlalchemy

    account = new_account()
    stack.say(sender, "我要登录")
    stack.say(sender, "投资者")
    stack.say(sender, account["account_number"])
    stack.say(sender, f"我的手机是{account['phone']}，身份证{account['id_number']}")
    engine = sqlalchemy.create_engine(stack.env["DATABASE_URL"], future=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with engine.connect() as conn:
                rows = conn.execute(sqlalchemy.text("SELECT event, text, data::text FROM conversation_events "
                                                    "WHERE sender = :s"), {"s": sender}).all()
            # wait for the customer's own message: the bot's earlier prompt (…手机号…) is written a batch before it
            if any(e == "user" and t and "我的手机是" in t for e, t, _ in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        engine.dispose()
    dump = " ".join(f"{t} {d}" for _, t, d in rows)
    assert "我的手机是" in dump
    for secret in (account["phone"], account["id_number"], account["account_number"]):
        assert secret not in dump


@contextmanager
def analytics_page(stack, username: str, height: int = 1100):
    """A reviewer on 运营分析 in headless Chromium once its three charts are drawn; yields (page, errors): console
    errors, failed responses (CSP violations show up here) and script errors."""
    password = create_staff(stack, username, "reviewer")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            browser_login(page, stack, username, password)
            page.click("#nav-analytics")
            expect(page.locator("body")).to_have_attribute("data-charts", "ready", timeout=15_000)
            for chart in ("#chart-funnel", "#chart-bar", "#chart-line"):
                expect(page.locator(f"{chart} canvas")).to_have_count(1)
            yield page, errors
        finally:
            browser.close()


def test_analytics_page_draws_its_charts(stack, sender):
    before = _login_funnel(stack)
    assert "登录类型" in texts(stack.say(sender, "我要登录"))
    assert _wait_for(stack, before, {"started": 1, "investor_type": 1, "dropped:investor_type": 1})["started"] == 1
    with analytics_page(stack, "analyst") as (page, errors):
        login_row = page.locator("#funnels tr[data-business='login'] td.started")
        assert int(login_row.inner_text()) >= 1
        assert page.locator("#funnel-business").input_value() != ""
        page.screenshot(path=str(RESULTS / "analytics.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#export")
        assert Path(download.value.path()).read_text(encoding="utf-8-sig").startswith("业务代码,业务,发起")
        assert not errors, errors  # CSP violations and script errors show up here


def test_metrics_endpoints(stack, sender):
    from prometheus_client.parser import text_string_to_metric_families

    from tests.support.stack import http

    assert "登录类型" in texts(stack.say(sender, "我要登录"))
    stack.say(sender, "投资者")  # the form's validation answers the investor_type step: a step outcome
    status, _ = http("GET", f"http://127.0.0.1:{stack.ports['actions']}/webhook")
    assert status in (401, 405)  # the token still guards the actions
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{stack.ports['actions']}/metrics", timeout=10) as resp:
        samples = [s for f in text_string_to_metric_families(resp.read().decode()) for s in f.samples]
    actions = {s.name: s for s in samples}
    assert actions["hall_turns_total"].value >= 1
    assert "hall_actions_total" in actions
    assert any(s.name == "hall_step_outcomes_total" and s.value >= 1 and s.labels == {
        "form": "login_form", "step": "investor_type", "outcome": "accepted"} for s in samples)
    with urllib.request.urlopen(stack.backoffice_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert "hall_handoff_queue_length" in text and "hall_http_requests_total" in text
    with urllib.request.urlopen(stack.rasa_url() + "/metrics", timeout=10) as resp:  # the channels, on Rasa
        rasa = {(s.name, s.labels.get("channel")): s.value
                for f in text_string_to_metric_families(resp.read().decode()) for s in f.samples}
    assert rasa[("hall_channel_messages_total", "rest")] >= 1
