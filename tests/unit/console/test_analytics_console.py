"""运营分析 in the console: the funnel table, its JSON for the charts and the CSV export, reviewers and admins
only, under the console's strict CSP; the application list in Beijing time."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from backoffice.applications.service import Application
from tests.unit.backoffice.test_funnels import STEPS, T0, _conversation, publish
from tests.unit.console.conftest import login

QUERY = "from=2027-01-15&to=2027-01-15"


def _record(services):
    publish(services, _conversation("rest:a", "unlock_account", [(s, 10 * i) for i, s in enumerate(STEPS, 1)],
                                    submit_at=50))
    at = datetime.fromtimestamp(T0, timezone.utc)
    with services.db.session() as s:
        s.add(Application(business="unlock_account", account_number="80010001", sender="rest:a", channel="rest",
                          status="pending", payload={}, flags=[], created_at=at + timedelta(seconds=49),
                          updated_at=at, submitted_at=at + timedelta(seconds=50)))


async def test_reviewer_sees_the_funnels(client, services):
    _record(services)
    assert (await login(client, "reviewer1")).status == 302
    page = await client.get(f"/console/analytics?{QUERY}")
    assert page.status == 200
    html = await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'id="nav-analytics"' in html and '<script src="/console/static/echarts.min.js"></script>' in html
    assert "<script>" not in html  # no inline script
    assert '<tr data-business="unlock_account"><td>账户解锁</td><td class="started">1</td>' in html
    assert "资金账号 1 / 10.0秒" in html

    data = await (await client.get(f"/console/analytics.json?{QUERY}")).json()
    unlock = next(f for f in data["funnels"] if f["business"] == "unlock_account")
    assert (unlock["started"], unlock["submitted"], len(unlock["steps"])) == (1, 1, 4)
    assert data["daily"] == [{"date": "2027-01-15", "started": 1, "completed": 1, "submitted": 1}]

    export = await client.get(f"/console/analytics.csv?{QUERY}")
    assert export.headers["Content-Disposition"] == 'attachment; filename="funnels-2027-01-15-2027-01-15.csv"'
    rows = list(csv.reader(io.StringIO((await export.read()).decode("utf-8-sig"))))
    assert rows[0][:3] == ["业务代码", "业务", "发起"]
    unlock_row = next(r for r in rows if r[0] == "unlock_account")
    assert unlock_row[1:5] == ["账户解锁", "1", "1", "1"] and unlock_row[-1] == "登录验证码:1:10.0"

    static = await client.get("/console/static/analytics.js")
    assert static.status == 200 and "echarts.init" in await static.text()
    assert (await client.get("/console/static/echarts.min.js")).status == 200

    # the application list reads Beijing time, not the stored UTC stamp
    listing = await (await client.get("/console/applications")).text()
    assert "2027-01-15 16:00:49" in listing and "+00:00" not in listing


async def test_bad_filters_and_roles(client, services):
    await login(client, "admin1")
    page = await client.get("/console/analytics?from=2027-01-16&to=2027-01-15")
    assert page.status == 200 and 'id="error"' in await page.text()
    assert (await client.get("/console/analytics.json?channel=fax")).status == 400
    await client.post("/console/logout", data={})  # no CSRF: ignored; log in as the agent in a new session
    client.session.cookie_jar.clear()
    await login(client, "agent1")
    assert (await client.get("/console/analytics")).status == 403
    assert (await client.get("/console/analytics.json")).status == 403


async def test_nlu_inbox_page_labels_and_exports(client, services):
    from tests.unit.backoffice.test_nlu_inbox import _user
    from tests.unit.console.conftest import form_csrf

    publish(services, [_user("rest:z", 0, "我的卡被吞了 13800000001", "nlu_fallback", 0.3)])
    await login(client, "reviewer1")
    html = await (await client.get("/console/nlu")).text()
    assert "我的卡被吞了 138****0001" in html and "13800000001" not in html
    (item,) = services.nlu_inbox.list()
    no_csrf = await client.post(f"/console/nlu/{item['id']}/label", data={"intent": "out_of_scope"},
                                allow_redirects=False)
    assert no_csrf.status == 403
    done = await client.post(f"/console/nlu/{item['id']}/label",
                             data={"intent": "out_of_scope", "csrf": form_csrf(html)}, allow_redirects=False)
    assert done.status == 302
    assert services.nlu_inbox.list() == []
    assert services.audit.list(event="nlu_labelled")[0]["actor"] == "staff:reviewer1"
    export = await (await client.get("/console/nlu/export.yml")).text()
    assert "- intent: out_of_scope\n  examples: |\n    - 我的卡被吞了 138****0001\n" in export


async def test_review_pages(client, services):
    from tests.unit.backoffice.test_nlu_inbox import _user
    from tests.unit.console.conftest import form_csrf

    publish(services, [_user("rest:r1", 0, "我的手机13800000001登不上", "login", 0.52)])
    await login(client, "reviewer1")
    html = await (await client.get("/console/review?from=2027-01-15&to=2027-01-15")).text()
    assert 'data-sender="rest:r1"' in html and "/console/review/rest%3Ar1" in html
    page = await client.get("/console/review/rest%3Ar1")
    text = await page.text()
    assert page.status == 200 and "我的手机138****0001登不上" in text and "0.52" in text and "13800000001" not in text
    done = await client.post("/console/review/rest%3Ar1/tag", data={"tag": "误解", "on": "1", "csrf": form_csrf(text)},
                             allow_redirects=False)
    assert done.status == 302
    assert "误解" in await (await client.get("/console/review/rest%3Ar1")).text()
    assert (await client.post("/console/review/rest%3Ar1/tag", data={"tag": "误解"}, allow_redirects=False)).status == 403
    client.session.cookie_jar.clear()
    await login(client, "agent1")
    assert (await client.get("/console/review")).status == 403
