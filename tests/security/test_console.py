"""CSRF and XSS in the staff console."""
from __future__ import annotations

import re

from tests.security.conftest import ACCOUNT, open_application
from tests.unit.console.conftest import login, session_csrf

XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)><svg onload=alert(3)>'


def _console_posts(app):
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "POST" and path.startswith("/console") and path != "/console/login":
            yield path, route.resource.get_info().get("pattern")


def _fill(path: str, pattern) -> str:
    """A concrete URL the route matches: the first alternative of each constrained part, 1 or c1 otherwise."""
    for name in re.findall(r"\{(\w+)\}", path):
        choices = re.search(rf"\(\?P<{name}>([^)]*)\)", pattern.pattern if pattern else "")
        alt = choices.group(1).split("|")[0] if choices else ""
        if re.fullmatch(r"\w+", alt or ""):
            value = alt
        elif "{32}" in alt:
            value = "0" * 32
        else:
            value = "1" if "id" in name or "d+" in alt else "c1"
        path = path.replace("{%s}" % name, value)
    return path


async def test_every_console_post_needs_the_csrf_token(client, services):
    services.conversations.request_human("c1", channel="rest", reason="customer_request", account_number=None)
    await login(client, "admin1")
    good = await session_csrf(client)
    paths = list(_console_posts(client.server.app))
    assert len(paths) >= 3
    for path, pattern in paths:
        url = _fill(path, pattern)
        assert pattern is None or pattern.fullmatch(url), url
        for headers, data in (({}, {}), ({}, {"csrf": "wrong"}), ({"X-CSRF-Token": good + "x"}, {}),
                              ({}, {"csrf": ""})):
            resp = await client.post(url, data=data, headers=headers, allow_redirects=False)
            assert resp.status == 403, (url, headers, data)
    # a JSON or text body cannot smuggle the token past the check either
    resp = await client.post(_fill(*paths[0]), data=f'{{"csrf": "{good}"}}',
                             headers={"Content-Type": "application/json"}, allow_redirects=False)
    assert resp.status == 403
    # and the real token works (the check is not simply refusing everything)
    resp = await client.post("/console/conversations/c1/claim", data={"csrf": good}, allow_redirects=False)
    assert resp.status in (302, 303)


async def test_login_form_needs_its_double_submit_token(client):
    resp = await client.post("/console/login", data={"username": "admin1", "password": "x", "csrf": "forged"},
                             allow_redirects=False)
    assert resp.status == 403


async def test_session_cookie_is_not_sent_cross_site(client):
    resp = await login(client, "agent1")
    cookie = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("console_session=")][0]
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie


async def test_customer_controlled_text_is_inert_everywhere(client, services, rasa):
    sender = "wx-" + XSS[:60]
    services.conversations.request_human(sender, channel="wechat", reason="customer_request",
                                         account_number=ACCOUNT["account_number"])
    rasa.trackers[sender] = {"events": [
        {"event": "user", "timestamp": 1, "text": XSS, "parse_data": {"intent": {"name": "out_of_scope"}}},
        {"event": "bot", "timestamp": 2, "text": XSS},
    ], "slots": {"recover_phone": XSS}}
    view = open_application(services, ACCOUNT["account_number"], sender, payload={"note": XSS})
    await login(client, "admin1")
    from urllib.parse import quote

    pages = ["/console/queue", f"/console/conversations/{quote(sender, safe='')}", "/console/applications",
             f"/console/applications/{view['id']}"]
    for path in pages:
        resp = await client.get(path)
        html = await resp.text()
        assert resp.status == 200, path
        assert "<script>alert" not in html and "<img src=x" not in html and "<svg onload" not in html, path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    # a rejection reason typed by staff is data too
    csrf = await session_csrf(client)
    await client.post(f"/console/applications/{view['id']}/reject", data={"csrf": csrf, "reason": XSS})
    html = await (await client.get(f"/console/applications/{view['id']}")).text()
    assert "<script>alert" not in html
