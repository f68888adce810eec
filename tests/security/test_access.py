"""IDOR, tokens, session binding and fixation, account enumeration, signed media links and path traversal."""
from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from backoffice.media.store import MediaError
from tests.security.conftest import ACCOUNT, OTHER, bot, last_code, log_in, open_application, wrong
from tests.security.test_otp_abuse import _recover_ready
from tests.unit.console.conftest import login as console_login

PUBLIC_API = {("GET", "/api/health"), ("POST", "/api/media"), ("GET", "/api/openapi.json")}


def _api_routes(app):
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api") and route.method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            yield route.method, path


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_staff_endpoint_needs_the_admin_token(client):
    checked = 0
    for method, path in _api_routes(client.server.app):
        if (method, path) in PUBLIC_API or path.startswith("/api/bot/"):
            continue
        url = _concrete(path)
        for headers in ({}, {"Authorization": "Bearer nope"}, client.bot):
            resp = await client.request(method, url, headers=headers)
            assert resp.status == 401, (method, path, headers)
        checked += 1
    assert checked >= 15


async def test_every_bot_endpoint_needs_the_service_token(client):
    checked = 0
    for method, path in _api_routes(client.server.app):
        if not path.startswith("/api/bot/"):
            continue
        for headers in ({}, {"Authorization": "Bearer nope"}, client.staff):
            resp = await client.request(method, _concrete(path), json={"sender": "x"}, headers=headers)
            assert resp.status == 401, (method, path, headers)
        checked += 1
    assert checked >= 30


async def test_media_cannot_be_read_back_through_the_api(client, services):
    info = services.media.put(_jpeg())
    for method in ("GET", "DELETE", "PUT"):
        resp = await client.request(method, f"/api/media/{info.media_id}", headers=client.staff)
        assert resp.status in (404, 405)


async def test_a_customer_cannot_touch_another_customers_application(client, services):
    await log_in(client, services, "wx-alice", ACCOUNT)
    await log_in(client, services, "wx-bob", OTHER)
    services.accounts._update(OTHER["account_number"], state="dormant")
    view = open_application(services, ACCOUNT["account_number"], "wx-alice")
    for action in ("submit", "withdraw"):
        resp = await client.post(f"/api/bot/applications/{view['id']}/{action}", json={"sender": "wx-bob"},
                                 headers=client.bot)
        assert resp.status == 404, action
    bob = await bot(client, "/api/bot/applications/status", sender="wx-bob")
    assert all(item.get("id") != view["id"] for item in bob["applications"])
    assert ACCOUNT["account_number"] not in json.dumps(bob)
    # the account always comes from the sender's session, never from the body
    resp = await client.post("/api/bot/applications/open", headers=client.bot, json={
        "sender": "wx-bob", "business": "activate_dormant_account", "account_number": ACCOUNT["account_number"]})
    if resp.status < 300:
        assert (await resp.json())["application"]["account_number"] == OTHER["account_number"]
    alice = services.applications.get(view["id"])
    assert alice["status"] == view["status"] and alice["account_number"] == ACCOUNT["account_number"]


async def test_a_customer_cannot_read_another_customers_agreements(client, services):
    await log_in(client, services, "wx-bob", OTHER)
    overview = await bot(client, "/api/bot/agreements/overview", sender="wx-bob", account_number=ACCOUNT["account_number"])
    assert ACCOUNT["account_number"] not in json.dumps(overview)
    # a signing resend for a pending record of someone else's account answers nothing
    services.kv.set("sign:pending:wx-bob", json.dumps({"a": ACCOUNT["account_number"], "c": ["x"]}), 60)
    assert (await bot(client, "/api/bot/agreements/sign/resend", sender="wx-bob"))["status"] == "no_pending"


async def test_not_logged_in_senders_get_nothing(client):
    for path in ("/api/bot/applications/status", "/api/bot/agreements/overview", "/api/bot/applications/1/submit"):
        resp = await client.post(path, json={"sender": "wx-nobody"}, headers=client.bot)
        assert resp.status in (403, 404)


# --- session binding and fixation ----------------------------------------------------------------

async def test_the_bot_session_is_bound_to_its_sender(client, services):
    await bot(client, "/api/bot/login/start", sender="wx-alice", account_number=ACCOUNT["account_number"],
              phone=ACCOUNT["phone"])
    code = last_code(services, ACCOUNT["phone"])
    # another sender cannot finish alice's login with her code, nor ride on her pending step
    assert (await bot(client, "/api/bot/login/verify", sender="wx-mallory", code=code))["status"] == "no_pending"
    assert (await bot(client, "/api/bot/login/complete", sender="wx-mallory",
                      privacy_agreed=True))["status"] == "no_pending"
    assert (await bot(client, "/api/bot/login/verify", sender="wx-alice", code=code))["status"] == "ok"
    assert (await bot(client, "/api/bot/login/complete", sender="wx-alice", privacy_agreed=True))["status"] == "ok"
    assert (await bot(client, "/api/bot/session", sender="wx-alice"))["logged_in"] is True
    assert (await bot(client, "/api/bot/session", sender="wx-mallory"))["logged_in"] is False
    assert (await bot(client, "/api/bot/session", sender="WX-ALICE"))["logged_in"] is False
    # a sender that differs only in whitespace is no second name for alice's session: it is refused
    for near in ("wx-alice ", " wx-alice", "wx-alice\t", "rest:wx-alice "):
        resp = await client.post("/api/bot/session", json={"sender": near}, headers=client.bot)
        assert resp.status == 400 and (await resp.json())["error"] == "bad_request"


async def test_console_session_id_rotates_on_login(client, staff):
    planted = "attacker-chosen-session-id"
    client.session.cookie_jar.update_cookies({"console_session": planted})
    resp = await console_login(client, "agent1")
    assert resp.status == 302
    issued = resp.cookies["console_session"].value
    assert issued != planted and len(issued) >= 40
    assert staff.session(planted) is None and staff.session(issued) is not None
    # logging in again replaces the session: the previous id stops working
    again = await console_login(client, "agent1")
    assert staff.session(again.cookies["console_session"].value) is not None
    assert staff.session(issued) is None


# --- account enumeration -------------------------------------------------------------------------

async def test_login_answers_do_not_tell_unknown_accounts_from_wrong_phones(client, services):
    unknown = await client.post("/api/bot/login/start", headers=client.bot, json={
        "sender": "wx-e1", "account_number": "80019999", "phone": ACCOUNT["phone"]})
    wrong_phone = await client.post("/api/bot/login/start", headers=client.bot, json={
        "sender": "wx-e2", "account_number": ACCOUNT["account_number"], "phone": "13700000000"})
    assert unknown.status == wrong_phone.status == 200
    assert (await unknown.read()) == (await wrong_phone.read())
    # and the lock-out comes after the same number of tries for both
    a = [(await bot(client, "/api/bot/login/start", sender="wx-e3", account_number="80019998",
                    phone=ACCOUNT["phone"]))["status"] for _ in range(5)]
    b = [(await bot(client, "/api/bot/login/start", sender="wx-e4", account_number=OTHER["account_number"],
                    phone="13700000000"))["status"] for _ in range(5)]
    assert a == b == ["mismatch"] * 4 + ["locked_out"]
    assert services.sms.messages("13700000000") == []


async def test_recovery_answers_are_the_same_for_customers_and_strangers(client, services):
    cases = {"owner": (ACCOUNT["id_number"], ACCOUNT["phone"]),
             "wrong_phone": (ACCOUNT["id_number"], "13700000001"),
             "stranger": ("11010519900307803X", "13700000002")}
    starts, verifies = {}, {}
    for name, (id_number, phone) in cases.items():
        _recover_ready(services, f"wx-r-{name}", id_number)
        resp = await client.post("/api/bot/recover/start", json={"sender": f"wx-r-{name}", "phone": phone},
                                 headers=client.bot)
        starts[name] = (resp.status, (await resp.json())["status"])
    assert len(set(starts.values())) == 1 and starts["owner"] == (200, "sent")
    owner_code = last_code(services, ACCOUNT["phone"])
    guess = wrong(owner_code)  # the same wrong guess for everyone, never the owner's real code
    for name in cases:
        resp = await client.post("/api/bot/recover/verify", json={"sender": f"wx-r-{name}", "code": guess},
                                 headers=client.bot)
        body = await resp.json()
        verifies[name] = (resp.status, body["status"], body.get("remaining"))
    assert len(set(verifies.values())) == 1 and verifies["owner"][1] == "wrong"
    # only the owner's reserved phone ever receives an SMS
    assert services.sms.messages("13700000001") == services.sms.messages("13700000002") == []
    assert wrong(owner_code) != owner_code


# --- media: signed expiring links, path traversal ------------------------------------------------

def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(out, "JPEG")
    return out.getvalue()


async def test_media_only_through_signed_expiring_links(client, services):
    info = services.media.put(_jpeg())
    token = services.links.sign({"m": info.media_id, "s": "wx-alice"}, 600)
    ok = await client.get(f"/h5/media/{token}")
    assert ok.status == 200 and ok.content_type == "image/jpeg" and "private" in ok.headers["Cache-Control"]
    body, mac = token.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (f"{flipped}.{mac}", f"{body}.{mac[:-1]}x", body, "", "a.b.c", info.media_id, f"{body}.", "." + mac):
        resp = await client.get(f"/h5/media/{bad}")
        assert resp.status == 404, bad
    # a token for another media id cannot be made without the key
    other = services.media.put(_jpeg())
    from backoffice.core.links import _b64, _unb64

    payload = json.loads(_unb64(body))
    forged = _b64(json.dumps({**payload, "m": other.media_id}, separators=(",", ":")).encode()) + "." + mac
    assert (await client.get(f"/h5/media/{forged}")).status == 404
    services.clock.advance(601)
    assert (await client.get(f"/h5/media/{token}")).status == 404


TRAVERSALS = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "/etc/passwd",
              "..\\..\\windows\\win.ini", "....//....//etc/passwd", "%252e%252e%252f", "0" * 31 + "/",
              "ab/../" + "0" * 32, "\x00" + "0" * 31, "0" * 32 + "\n", "０" * 32, "A" * 32, "0" * 33]


@pytest.mark.parametrize("media_id", TRAVERSALS)
def test_media_ids_cannot_leave_the_store(services, media_id):
    with pytest.raises(MediaError) as err:
        services.media.get(media_id)
    assert err.value.code == "bad_id"


@pytest.mark.parametrize("media_id", TRAVERSALS)
async def test_traversal_in_links_and_bot_calls(client, services, media_id):
    token = services.links.sign({"m": media_id, "s": "wx-alice"}, 600)  # even a validly signed bad id
    assert (await client.get(f"/h5/media/{token}")).status == 404
    resp = await client.post("/api/bot/id/front", json={"sender": "wx-alice", "media_id": media_id},
                             headers=client.bot)
    assert resp.status < 500
    for url in (f"/h5/media/{media_id}", "/h5/media/../../../etc/passwd", f"/h5/agreements/pdf/{media_id}"):
        resp = await client.get(url)
        assert resp.status in (400, 404) and b"root:" not in await resp.read()
