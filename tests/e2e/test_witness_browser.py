"""Video witness (视频见证) in headless Chromium with real WebRTC on loopback.

Only the back-office runs (PostgreSQL + Redis), as two processes like two replicas: the customer's page comes
from the second, the staff console from the first, so the call's signalling crosses processes through Redis.
A small fake Rasa answers trigger_intent so the post-verdict nudge is checked too. Chromium's fake camera
plays a face photo (a y4m file made from the test face photos); the account's portrait on file is another
photo of the same person, so the staff snapshot is compared by the real face module. Flow: a logged-in
customer gets the witness link from the bot API and opens the H5 page (queue position 1) → an agent logs into
the console, opens the waiting list and joins → the customer page counts down 7 s and joins by itself (no
click) → video flows both ways (frames counted on the staff side) → the customer's, then the staff's
signalling socket drops and the call is renegotiated → snapshot + face comparison → checklist, pass → both
recordings stored encrypted and attached, the bot is nudged and its answer lands in the customer's outbox.
"""
from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import latest_code
from tests.e2e.test_console_browser import browser_login, create_staff, shot
from tests.support.databases import REDIS_URL, temporary_postgres
from tests.support.stack import Stack, free_port, http

STEP = 20_000
CALL = 60_000  # ICE + DTLS + first frames on a busy 2-core box
ACCOUNT, PHONE = "80010009", "13800000009"  # seeded: normal, may close the account


class FakeRasa:
    """Answers POST /conversations/{sender}/trigger_intent like Rasa's CollectingOutputChannel."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = self.path.split("?")[0].split("/")
                outer.calls.append((parts[2], body))
                answer = {"tracker": {}, "messages": [{"recipient_id": parts[2],
                                                       "text": "视频见证已通过。接下来请阅读并签署协议。"}]}
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def face_video(path: Path, photo: Path, frames: int = 30) -> Path:
    """A y4m clip of a face photo for Chromium's fake camera; a small moving bar makes every frame new."""
    import face_recognition
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = 640, 480
    img = Image.open(photo).convert("RGB")
    scale = max(w / img.width, h / img.height)
    img = img.resize((round(img.width * scale), round(img.height * scale)))
    # crop around the face (portrait photos would otherwise lose the eyes to a centre crop)
    top_, right, bottom, left_ = face_recognition.face_locations(np.asarray(img))[0]
    cx, cy = (left_ + right) // 2, (top_ + bottom) // 2
    left = min(max(cx - w // 2, 0), img.width - w)
    top = min(max(cy - h // 2, 0), img.height - h)
    base = img.crop((left, top, left + w, top + h))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            frame = base.copy()
            x = (i * 20) % (w - 40)
            ImageDraw.Draw(frame).rectangle((x, h - 14, x + 40, h - 4), fill=(255, 200, 0))
            y, u, v = (np.asarray(c) for c in frame.convert("YCbCr").split())
            out.write(b"FRAME\n")
            out.write(y.astype(np.uint8).tobytes())
            for c in (u, v):  # 4:2:0: average each 2x2 block
                c = c.astype(np.uint16)
                out.write(((c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2] + 2) // 4)
                          .astype(np.uint8).tobytes())
    return path


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    rasa = FakeRasa()
    workdir = tmp_path_factory.mktemp("witness")
    with temporary_postgres("hall_witness") as url:
        stack = Stack(workdir, database_url=url, redis_url=REDIS_URL, model=None,
                      extra_env={"RASA_URL": f"http://127.0.0.1:{rasa.port}", "BIOMETRICS_PREWARM": "1"})
        try:
            stack.start_backoffice()  # no Rasa, no action server: the fake Rasa above stands in
            # the customer's page is served by a second back-office process, the staff console by the first:
            # the call's signalling crosses processes through Redis (RedisWitnessHub)
            stack.replica_url = stack.start_backoffice_replica()
            _wait_backoffice(stack)
            _wait_backoffice(stack, stack.replica_url, "backoffice2")
            stack.fake_rasa = rasa
            yield stack
        finally:
            stack.stop()
            rasa.close()


def _wait_backoffice(stack: Stack, url: str | None = None, name: str = "backoffice") -> None:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        proc = stack.procs[name]
        if proc.poll() is not None:
            raise RuntimeError(stack.log_tail(name))
        try:
            if http("GET", (url or stack.backoffice_url) + "/api/health", timeout=3)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("back-office not ready\n" + stack.log_tail(name))


def bot(stack: Stack, path: str, body: dict):
    return stack.bot(path, body)


def log_in(stack: Stack, sender: str) -> None:
    status, body = bot(stack, "/api/bot/login/start", {"sender": sender, "account_number": ACCOUNT, "phone": PHONE})
    assert status == 200 and body["status"] == "sent", body
    status, body = bot(stack, "/api/bot/login/verify", {"sender": sender, "code": latest_code(stack, PHONE)})
    assert status == 200 and body["status"] in ("ok", "verified", "privacy"), body
    status, body = bot(stack, "/api/bot/login/complete", {"sender": sender, "privacy_agreed": True})
    assert status == 200 and body["status"] in ("ok", "logged_in"), body


def decrypt_media(stack: Stack, media_id: str) -> bytes:
    from backoffice.core.crypto import Crypto

    path = Path(stack.env["MEDIA_DIR"]) / media_id[:2] / f"{media_id}.bin"
    return Crypto([stack.env["HALL_DATA_KEY"]]).decrypt(path.read_bytes())


def media_row(stack: Stack, media_id: str):
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.database_url, future=True)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT content_type, size FROM media_objects WHERE id = :i"),
                                {"i": media_id}).one_or_none()
    finally:
        engine.dispose()


def test_customer_and_staff_witness_over_webrtc(office, sender, tmp_path):
    from biometrics.testdata.faces import ensure_faces

    stack = office
    faces = ensure_faces()
    person = next(p for p, photos in faces.items() if len(photos) >= 2)
    camera = face_video(tmp_path / "face.y4m", faces[person][1])
    import requests

    resp = requests.put(stack.backoffice_url + f"/api/accounts/{ACCOUNT}/portrait", data=faces[person][0].read_bytes(),
                        headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=30)
    assert resp.status_code == 200, resp.text

    log_in(stack, sender)
    status, opened = bot(stack, "/api/bot/witness/open", {"sender": sender, "business": "close_account",
                                                          "channel": "rest"})
    assert status == 201 and opened["status"] == "waiting", opened
    wid, url = opened["witness_id"], opened["url"]
    assert url.startswith(stack.backoffice_url + "/h5/witness/")
    username = "witness-" + os.urandom(3).hex()
    password = create_staff(stack, username, "agent")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}", "--autoplay-policy=no-user-gesture-required"])
        try:
            customer = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # a phone
            staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

            # the customer opens the link first: device check passes, queue position 1
            customer.goto(url.replace(stack.backoffice_url, stack.replica_url))  # the other replica
            expect(customer.locator("#device-status")).to_have_text("摄像头、麦克风检测正常。", timeout=STEP)
            expect(customer.locator("#position")).to_have_text("1", timeout=STEP)
            # the microphone check shows a level from the fake microphone's beeps
            customer.wait_for_function("() => parseInt(document.getElementById('mic-level').style.width || '0') > 0",
                                       timeout=STEP)
            expect(customer.locator("#ready")).to_be_hidden()

            # the agent finds it in the console's waiting list and joins
            browser_login(staff, stack, username, password)
            staff.click("#nav-witness")
            row = staff.locator(f"#witness-queue tbody tr[data-id='{wid}']")
            expect(row).to_contain_text("在线销户", timeout=STEP)
            expect(row).to_contain_text("在线", timeout=STEP)  # the customer page is open
            shot(staff, "witness-1-list")
            row.get_by_role("link").click()
            staff.click("#join")
            expect(staff.locator("#w-status")).to_have_text("见证中", timeout=STEP)

            # the customer page shows the button and a visible countdown, then joins by itself
            expect(customer.locator("#ready")).to_be_visible(timeout=STEP)
            expect(customer.locator("#start")).to_have_text("开始视频见证")
            seconds = int(customer.locator("#countdown").text_content())
            assert 1 <= seconds <= 7
            shot(customer, "witness-2-countdown")
            customer.wait_for_function("() => window.witnessState.joinedBy !== null", timeout=CALL)
            state = customer.evaluate("window.witnessState")
            assert state["joinedBy"] == "countdown" and state["startClicks"] == 0 and state["countdownShown"]

            # video flows: decoded frames on the staff side keep coming; the customer sees the staff too
            staff.wait_for_function(
                "() => window.witnessStaff.connected && document.getElementById('remote').videoWidth > 0", timeout=CALL)
            first = staff.evaluate("window.witnessStaff.frames")
            staff.wait_for_function(f"() => window.witnessStaff.frames > {first} + 15", timeout=CALL)
            customer.wait_for_function("() => document.getElementById('remote').videoWidth > 0", timeout=CALL)
            width = staff.evaluate("document.getElementById('remote').videoWidth")
            first_frame_ms = staff.evaluate("window.witnessStaff.firstFrameMs")
            shot(staff, "witness-3-call")
            shot(customer, "witness-3-customer")

            # the customer's signalling socket drops: it reconnects and the call is negotiated again
            customer.evaluate("window.witnessState.dropSignalling()")
            staff.wait_for_function("() => window.witnessStaff.offers >= 2", timeout=CALL)
            customer.wait_for_function("() => window.witnessState.reconnects >= 1 && window.witnessState.offers >= 2",
                                       timeout=CALL)
            staff.wait_for_function("() => window.witnessStaff.connected", timeout=CALL)
            after = staff.evaluate("window.witnessStaff.frames")
            staff.wait_for_function(f"() => window.witnessStaff.frames > {after} + 15", timeout=CALL)
            # and the staff side's socket drops: it reconnects, is told the customer is ready, offers again
            staff.evaluate("window.witnessStaff.dropSignalling()")
            staff.wait_for_function("() => window.witnessStaff.offers >= 3", timeout=CALL)
            customer.wait_for_function("() => window.witnessState.offers >= 3", timeout=CALL)
            staff.wait_for_function("() => window.witnessStaff.connected", timeout=CALL)
            after = staff.evaluate("window.witnessStaff.frames")
            staff.wait_for_function(f"() => window.witnessStaff.frames > {after} + 15", timeout=CALL)

            # snapshot of the customer's video, compared with the portrait on file
            staff.click("#snapshot")
            staff.wait_for_function("() => window.witnessStaff.snapshot !== null", timeout=CALL)
            snap = staff.evaluate("window.witnessStaff.snapshot")
            assert snap["httpStatus"] == 200 and snap["decision"] == "accept", snap
            expect(staff.locator("#face-decision")).to_have_text("一致（通过）")
            shot(staff, "witness-4-snapshot")

            # checklist, notes, pass: the staff recording is uploaded before the verdict
            for box in staff.locator("#checklist input[name=check]").all():
                box.check()
            staff.fill("#verdict-notes", "客户本人，意愿真实，风险已知悉")
            staff.click("#pass")
            staff.wait_for_function("() => window.witnessStaff.verdict !== null", timeout=CALL)
            verdict = staff.evaluate("window.witnessStaff")
            assert verdict["verdict"]["status"] == "passed" and verdict["upload"]["httpStatus"] == 201, verdict

            expect(customer.locator("#result-text")).to_contain_text("视频见证已通过", timeout=STEP)
            customer.wait_for_function("() => window.witnessState.upload !== null", timeout=CALL)
            upload = customer.evaluate("window.witnessState.upload")
            assert upload["status"] == 201, upload
            expect(customer.locator("#upload-status")).to_have_text("见证录像已上传。")
            shot(customer, "witness-5-done")
            staff.wait_for_load_state()
            expect(staff.locator("#w-status")).to_have_text("已通过", timeout=STEP)
            expect(staff.locator(".media video")).to_have_count(2, timeout=STEP)
            shot(staff, "witness-5-record")
        finally:
            browser.close()

    # the verdict reached the session and the bot; both recordings are stored encrypted and decrypt to webm
    status, view = stack.api("GET", f"/api/witness/{wid}")
    assert status == 200 and view["status"] == "passed" and view["staff"] == username
    assert view["face_decision"] == "accept" and view["snapshot_media_id"]
    assert all(view["checklist"].values()) and view["notes"].startswith("客户本人")
    sizes = {}
    for rec in view["recordings"]:
        row = media_row(stack, rec["media_id"])
        assert row is not None and row[0] == "video/webm" and row[1] == rec["size"] > 10_000
        data = decrypt_media(stack, rec["media_id"])
        assert data[:4] == b"\x1aE\xdf\xa3" and b"webm" in data[:64] and len(data) == rec["size"]
        sizes[rec["side"]] = rec["size"]
    assert set(sizes) == {"customer", "staff"}
    status, body = bot(stack, "/api/bot/witness/status", {"sender": sender, "business": "close_account"})
    assert body["status"] == "passed" and body["witness_id"] == wid
    assert [c for c in stack.fake_rasa.calls if c[0] == sender] == [(sender, {"name": "witness_done", "entities": {}})]
    status, outbox = stack.api("GET", f"/api/conversations/{sender}/outbox")
    assert [m["text"] for m in outbox] == ["视频见证已通过。接下来请阅读并签署协议。"]
    status, audit = stack.api("GET", f"/api/audit?account_number={ACCOUNT}")
    events = {e["event"] for e in audit}
    assert {"witness_opened", "witness_joined", "witness_snapshot", "witness_decided",
            "witness_recording_stored"} <= events
    assert "意愿真实" not in json.dumps(audit, ensure_ascii=False)
    print(f"\nwitness figures: first decoded frame {first_frame_ms} ms after the offer, remote width {width}px, "
          f"recordings customer {sizes['customer']} B / staff {sizes['staff']} B, face distance {snap['distance']}")
