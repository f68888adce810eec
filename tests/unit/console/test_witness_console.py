"""Video witness in-process: the customer H5 page, signalling between the two sockets, console pages and actions
(join, verdict with CSRF, snapshot compared by the real face module, recordings), on SQLite and PostgreSQL."""
import asyncio
import json

import pytest
from aiohttp import WSMsgType

from backoffice.witness import calls as witness_calls
from tests.unit.backoffice.test_applications_api import log_in
from tests.unit.conftest import ACCOUNT
from tests.unit.console.conftest import login, session_csrf

BIZ = "close_account"
WEBM = b"\x1aE\xdf\xa3" + bytes(range(256)) * 40


@pytest.fixture
def witness(services):
    services.accounts.create({**ACCOUNT, "balance": "0"})
    log_in(services)
    view, _ = services.witness.open("s1", "80010001", BIZ)
    view["token"] = view["url"].rsplit("/", 1)[1]
    return view


async def next_of(ws, kind, timeout=5.0):
    """The next message of a type (state pushes may interleave)."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        assert msg.type == WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == kind:
            return data


async def state_until(ws, **expected):
    """The first state push matching the expected fields (a join and a socket each push one)."""
    while True:
        state = await next_of(ws, "state")
        if all(state.get(k) == v for k, v in expected.items()):
            return state


async def staff_session(client, name="agent1"):
    await login(client, name)
    return await session_csrf(client, "/console/witness")


async def test_customer_page_and_expired_link(client, witness):
    resp = await client.get(f"/h5/witness/{witness['token']}")
    assert resp.status == 200 and "default-src 'self'" in resp.headers["Content-Security-Policy"]
    html = await resp.text()
    assert "在线销户" in html and "开始视频见证" in html and "/h5/static/witness.js" in html
    assert "7</span> 秒后将自动接入视频" in html
    resp = await client.get("/h5/witness/forged.token")
    assert resp.status == 404 and "链接已失效" in await resp.text()
    assert (await client.get("/h5/static/witness.js")).status == 200
    assert (await client.get("/h5/static/..%2Froutes.py")).status == 404


async def test_console_pages_need_staff_of_the_right_role(client, witness):
    resp = await client.get("/console/witness", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/console/login")
    assert (await client.get(f"/console/witness/{witness['id']}/ws")).status == 401
    await login(client, "reviewer1")
    assert (await client.get("/console/witness")).status == 403
    client.session.cookie_jar.clear()
    csrf = await staff_session(client)
    page = await (await client.get("/console/witness")).text()
    assert witness["id"] in page and 'id="nav-witness"' in page
    items = (await (await client.get("/console/witness/list.json")).json())["items"]
    assert items[0]["id"] == witness["id"] and items[0]["position"] == 1 and items[0]["online"] is False
    # POSTs need the CSRF token
    resp = await client.post(f"/console/witness/{witness['id']}/join", data={}, allow_redirects=False)
    assert resp.status == 403
    resp = await client.post(f"/console/witness/{witness['id']}/join", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == f"/console/witness/{witness['id']}"
    page = await (await client.get(f"/console/witness/{witness['id']}")).text()
    assert 'id="snapshot"' in page and "本人确认" in page and "后果知悉" in page and 'data-page="call"' in page


async def test_signalling_relay_reconnect_and_verdict(client, services, witness):
    wid = witness["id"]
    customer = await client.ws_connect(f"/h5/witness/{witness['token']}/ws")
    config = await next_of(customer, "config")
    assert config["iceServers"] == []
    state = await next_of(customer, "state")
    assert state["status"] == "waiting" and state["position"] == 1 and state["staff_online"] is False

    csrf = await staff_session(client)
    # a staff socket before joining is refused, as is another site's page
    bad = await client.get(f"/console/witness/{wid}/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                                  "Sec-WebSocket-Version": "13",
                                                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert bad.status == 409
    await client.post(f"/console/witness/{wid}/join", data={"csrf": csrf})
    with pytest.raises(Exception):
        await client.ws_connect(f"/console/witness/{wid}/ws", headers={"Origin": "http://evil.example"})
    staff = await client.ws_connect(f"/console/witness/{wid}/ws")
    assert (await next_of(staff, "peer"))["customer"] == "connected"
    state = await state_until(customer, staff_online=True)
    assert state["status"] == "in_call" and state["position"] == 0

    # the customer joins (button or countdown); the staff side is asked to offer
    await customer.send_json({"type": "ready"})
    await next_of(staff, "customer-ready")
    await staff.send_json({"type": "signal", "data": {"sdp": {"type": "offer", "sdp": "v=0 offer"}, "x": "dropped"}})
    got = await next_of(customer, "signal")
    assert got["data"] == {"sdp": {"type": "offer", "sdp": "v=0 offer"}}
    await customer.send_json({"type": "signal", "data": {"sdp": {"type": "answer", "sdp": "v=0 answer"}}})
    assert (await next_of(staff, "signal"))["data"]["sdp"]["type"] == "answer"
    await customer.send_json({"type": "signal", "data": {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 5 typ host",
                                                                        "sdpMid": "0", "sdpMLineIndex": 0}}})
    assert (await next_of(staff, "signal"))["data"]["candidate"]["sdpMid"] == "0"
    await customer.send_json({"type": "signal", "data": {"sdp": {"type": "rollback", "sdp": 1}}})  # not relayed
    await customer.send_str("not json")

    # the customer's network drops: the page opens a new socket, which replaces the old one and negotiates again
    customer2 = await client.ws_connect(f"/h5/witness/{witness['token']}/ws")
    await next_of(customer, "replaced")  # the old page stops reconnecting
    closed = await asyncio.wait_for(customer.receive(), 5)
    assert closed.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert (await next_of(staff, "peer"))["customer"] == "connected"
    await state_until(customer2, staff_online=True)
    await customer2.send_json({"type": "ready"})
    msg = await next_of(staff, "customer-ready")
    assert msg == {"type": "customer-ready"}

    # verdict from the console (JSON + CSRF header); both pages hear about it
    resp = await client.post(f"/console/witness/{wid}/verdict", json={"passed": True})
    assert resp.status == 403  # no CSRF header
    resp = await client.post(f"/console/witness/{wid}/verdict", headers={"X-CSRF-Token": csrf},
                             json={"passed": True, "notes": "客户本人，意愿真实", "checklist": {"identity": True}})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "passed" and body["nudge"] == "failed"  # no Rasa here
    await next_of(staff, "decided")
    final = await state_until(customer2, status="passed")
    assert "已通过" in final["message"]
    assert services.witness.passed("s1", "80010001", BIZ) == wid
    for ws in (customer2, staff):
        await ws.close()
    audit = services.audit.list()
    assert {"witness_joined", "witness_decided", "witness_viewed"} <= {e["event"] for e in audit}
    assert "意愿真实" not in json.dumps(audit, ensure_ascii=False)


async def test_recordings_are_stored_encrypted_and_attached(client, services, witness, monkeypatch):
    wid, token = witness["id"], witness["token"]
    resp = await client.post(f"/h5/witness/{token}/recording", data=WEBM)
    assert resp.status == 409  # nothing to record before a staff member took the call
    csrf = await staff_session(client)
    await client.post(f"/console/witness/{wid}/join", data={"csrf": csrf})
    resp = await client.post(f"/h5/witness/{token}/recording", data=WEBM, headers={"Content-Type": "video/webm"})
    customer = await resp.json()
    assert resp.status == 201 and customer["size"] == len(WEBM)
    resp = await client.post(f"/console/witness/{wid}/recording", data=WEBM[::-1][:-4] + b"", headers={
        "X-CSRF-Token": csrf, "Content-Type": "video/webm"})
    assert resp.status == 400  # not a video
    resp = await client.post(f"/console/witness/{wid}/recording", data=WEBM, headers={
        "X-CSRF-Token": csrf, "Content-Type": "video/webm"})
    assert resp.status == 201
    monkeypatch.setattr(witness_calls, "MAX_RECORDING_BYTES", 1000)
    resp = await client.post(f"/h5/witness/{token}/recording", data=WEBM)
    assert resp.status == 413
    view = services.witness.get(wid)
    assert [r["side"] for r in view["recordings"]] == ["customer", "staff"]
    data, ctype = services.media.get(customer["media_id"])
    assert data == WEBM and ctype == "video/webm"
    raw = (services.settings.media_dir / customer["media_id"][:2] / f"{customer['media_id']}.bin").read_bytes()
    assert WEBM[4:100] not in raw  # encrypted at rest
    page = await (await client.get(f"/console/witness/{wid}")).text()
    assert "客户端录像" not in page  # the call page; the record shows once decided
    await client.post(f"/console/witness/{wid}/verdict", headers={"X-CSRF-Token": csrf}, json={"passed": False,
                                                                                               "reason": "poor_quality"})
    page = await (await client.get(f"/console/witness/{wid}")).text()
    assert "客户端录像" in page and "坐席端录像" in page and "/h5/media/" in page and "不清晰" in page


async def test_snapshot_is_compared_with_the_portrait_on_file(client, services, witness):
    from biometrics.testdata.faces import ensure_faces

    faces = ensure_faces()
    person = next(p for p, photos in faces.items() if len(photos) >= 2)
    other = next(p for p in faces if p != person)
    services.accounts.set_portrait("80010001", services.media.put(faces[person][0].read_bytes()).media_id)

    async def in_process(func, *args):  # the real face module, without the worker pool
        return func(*args)

    services.identity._runner = in_process
    csrf = await staff_session(client)
    wid = witness["id"]
    resp = await client.post(f"/console/witness/{wid}/snapshot", data=faces[person][1].read_bytes(),
                             headers={"X-CSRF-Token": csrf, "Content-Type": "image/jpeg"})
    assert resp.status == 409  # join first
    await client.post(f"/console/witness/{wid}/join", data={"csrf": csrf})
    resp = await client.post(f"/console/witness/{wid}/snapshot", data=faces[person][1].read_bytes(),
                             headers={"X-CSRF-Token": csrf, "Content-Type": "image/jpeg"})
    same = await resp.json()
    assert resp.status == 200 and same["decision"] == "accept" and same["distance"] < same["accept_max"]
    resp = await client.post(f"/console/witness/{wid}/snapshot", data=faces[other][0].read_bytes(),
                             headers={"X-CSRF-Token": csrf, "Content-Type": "image/jpeg"})
    diff = await resp.json()
    assert diff["decision"] in ("reject", "review") and diff["distance"] > same["distance"]
    view = services.witness.get(wid)
    assert view["snapshot_media_id"] == diff["media_id"] and view["face_decision"] == diff["decision"]
    resp = await client.post(f"/console/witness/{wid}/snapshot", data=b"not an image",
                             headers={"X-CSRF-Token": csrf, "Content-Type": "image/jpeg"})
    assert resp.status == 400


async def test_reviewers_see_the_record_but_cannot_act(client, services, witness):
    csrf = await staff_session(client, "reviewer1")
    page = await client.get(f"/console/witness/{witness['id']}")
    assert page.status == 200 and 'id="join"' not in await page.text()
    resp = await client.post(f"/console/witness/{witness['id']}/join", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 403 and services.witness.get(witness["id"])["status"] == "waiting"


def test_ice_servers_come_from_the_environment(monkeypatch, caplog):
    from backoffice.witness.signalling import ice_servers

    monkeypatch.delenv("WITNESS_ICE_SERVERS", raising=False)
    assert ice_servers() == []  # loopback / LAN need none
    servers = [{"urls": "stun:turn.example.com:3478"},
               {"urls": ["turns:turn.example.com:443?transport=tcp"], "username": "w", "credential": "c"}]
    monkeypatch.setenv("WITNESS_ICE_SERVERS", json.dumps(servers))
    assert ice_servers() == servers
    for bad in ("{not json", '{"urls": "stun:x"}', '[{"username": "no urls", "credential": "s3cret-value"}]'):
        monkeypatch.setenv("WITNESS_ICE_SERVERS", bad)
        assert ice_servers() == []
    assert "WITNESS_ICE_SERVERS" in caplog.text and "s3cret-value" not in caplog.text  # never the secret
