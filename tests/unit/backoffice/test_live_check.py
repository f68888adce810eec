"""The live face check, the consent to face data, the tries and the staff review (backoffice/identity/), through
the service API and the H5 page, with the real liveness and face engines (in-process) on rendered selfie clips,
on SQLite and PostgreSQL."""
import random

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from backoffice.identity.consent import FACE_CONSENT_VERSION
from backoffice.identity.live import PAGE_SECONDS
from backoffice.web.app import create_app
from tests.unit.backoffice.business_steps import (
    consented,
    inline_biometrics,
    live_check_over_http,
    live_clip,
    photos,
)
from tests.unit.backoffice.test_applications_api import log_in
from tests.unit.backoffice.test_witness_api import FakeRasa
from tests.unit.conftest import ACCOUNT

SENDER = "rest:s1"


@pytest.fixture
def rasa():
    return FakeRasa()


@pytest.fixture
async def client(services, rasa):
    services.accounts.create(ACCOUNT)
    services.accounts.set_portrait("80010001", services.media.put(photos()[0]).media_id)
    log_in(services, SENDER)
    inline_biometrics(services)
    async with TestClient(TestServer(create_app(services, rasa_client=rasa))) as c:
        c.staff = {"Authorization": f"Bearer {services.settings.admin_token}"}
        c.bot = {"Authorization": f"Bearer {services.settings.service_token}"}
        yield c


async def bot(client, path, sender=SENDER, **body):
    resp = await client.post(path, json={"sender": sender, **body}, headers=client.bot)
    return resp.status, await resp.json()


def account(services):
    return services.accounts.get("80010001")


async def test_consent_comes_first_and_is_recorded_with_its_version(client, services):
    status, answer = await bot(client, "/api/bot/face/consent/status")
    assert status == 200 and answer["needed"] is True and answer["version"] == FACE_CONSENT_VERSION
    assert answer["retention_days"] == services.settings.retain_face_days and answer["url"].endswith("/h5/face-consent")
    status, started = await bot(client, "/api/bot/live/start", purpose="bind")
    assert started["status"] == "consent_needed" and "人脸信息处理授权" in started["message"]
    assert (await bot(client, "/api/bot/face/consent", agreed=False))[1]["status"] == "declined"
    assert (await bot(client, "/api/bot/face/consent/status"))[1]["needed"] is True  # 不同意 is not consent
    assert (await bot(client, "/api/bot/face/consent", agreed=True))[1] == {"status": "agreed",
                                                                         "version": FACE_CONSENT_VERSION}
    # the person's consent: another conversation logged in to the same account does not ask again
    log_in(services, "rest:other")
    assert (await bot(client, "/api/bot/face/consent/status", sender="rest:other"))[1]["needed"] is False
    events = [e["event"] for e in services.audit.list()]
    assert "face_consent_declined" in events and "face_consent_given" in events
    page = await client.get("/h5/face-consent")
    assert page.status == 200 and "单独同意" in await page.text()


async def test_a_live_clip_binds_and_a_still_image_is_not_a_check(client, services):
    consented(services, SENDER, "80010001")
    status, started = await bot(client, "/api/bot/live/start", purpose="bind")
    assert status == 200 and started["status"] == "ok" and started["actions"] == ["blink"]
    assert started["instructions"] == "眨眨眼" and started["expires_in"] == PAGE_SECONDS
    # a photo sent where the clip is expected: the engine cannot read a video from it, nothing passes or counts
    photo = services.media.put(photos()[1], sender=SENDER).media_id
    status, answer = await bot(client, "/api/bot/live/video", purpose="bind", media_id=photo)
    assert answer["status"] == "failed" and answer["tries_left"] == 3
    assert (await bot(client, "/api/bot/device/bind"))[1]["status"] == "face_required"
    assert account(services).bound_device is None
    # a clip of the announced action
    await bot(client, "/api/bot/live/start", purpose="bind")
    clip = services.media.put(live_clip(), sender=SENDER).media_id
    status, answer = await bot(client, "/api/bot/live/video", purpose="bind", media_id=clip)
    assert answer["status"] == "passed", answer
    assert (await bot(client, "/api/bot/live/status", purpose="bind"))[1]["status"] == "passed"
    assert (await bot(client, "/api/bot/device/bind"))[1]["status"] == "ok"
    assert account(services).bound_device == SENDER
    # the clip is a face image now: it falls under the face retention
    from backoffice.media.store import MediaObject
    with services.db.session() as s:
        assert s.get(MediaObject, clip).kind == "face"


async def test_another_conversations_clip_is_not_accepted(client, services):
    consented(services, SENDER, "80010001")
    await bot(client, "/api/bot/live/start", purpose="business")
    foreign = services.media.put(live_clip(), sender="rest:someone-else").media_id
    status, answer = await bot(client, "/api/bot/live/video", purpose="business", media_id=foreign)
    assert answer["status"] == "failed" and answer["error"] == "not_found"


async def test_three_failures_a_day_per_person_then_a_human(client, services, clock):
    for n in (2, 1):
        answer = await live_check_over_http(client, services, SENDER, "business", other_person=True)
        assert answer["status"] == "failed" and answer["tries_left"] == n and "人脸比对未通过" in answer["message"]
    answer = await live_check_over_http(client, services, SENDER, "business", other_person=True)
    assert answer["status"] == "too_many" and "转人工" in answer["message"]
    # not per conversation: a new sender logged in to the same account is refused before any check
    log_in(services, "rest:fresh")
    status, started = await bot(client, "/api/bot/live/start", sender="rest:fresh", purpose="bind")
    assert started["status"] == "too_many"
    # not reset by time passing within the day, only when the 24 h window ends
    clock.advance(23 * 3600)
    log_in(services, "rest:later")  # the earlier logins have expired meanwhile
    assert (await bot(client, "/api/bot/live/start", sender="rest:later", purpose="business"))[1]["status"] == "too_many"
    clock.advance(3600 + 1)
    log_in(services, "rest:next-day")
    assert (await bot(client, "/api/bot/live/start", sender="rest:next-day", purpose="business"))[1]["status"] == "ok"


def test_tries_count_per_person_logged_in_or_not(services):
    services.accounts.create(ACCOUNT)
    tries = services.live.tries
    assert tries.subject("80010001", None) == tries.subject(None, ACCOUNT["id_number"]) is not None
    assert tries.subject(None, None) is None


async def test_review_band_waits_for_a_reviewer_then_binds(client, services, rasa, monkeypatch):
    monkeypatch.setenv("FACE_ACCEPT_MAX", "0.05")  # the same person now lands in the review band
    answer = await live_check_over_http(client, services, SENDER, "bind")
    assert answer["status"] == "review" and "人工复核" in answer["message"]
    assert (await bot(client, "/api/bot/device/bind"))[1]["status"] == "face_required"
    assert (await bot(client, "/api/bot/live/status", purpose="bind"))[1]["status"] == "review"
    assert (await bot(client, "/api/bot/live/start", purpose="bind"))[1]["status"] == "review"  # no second try meanwhile
    assert account(services).bound_device is None
    # the reviewer's view: both images, distance and band, the challenge, the attack score
    listed = await (await client.get("/api/face-reviews?status=pending", headers=client.staff)).json()
    review = listed[0]
    assert review["purpose"] == "bind" and review["best_frame_media_id"] and review["reference_media_ids"]
    assert review["accept_max"] == 0.05 and review["distance"] > 0.05 and review["review_max"] >= review["distance"]
    assert review["liveness"]["challenge"] == ["blink"] and "attack_score" in review["liveness"]
    assert "subject" not in review
    # only staff decide
    path = f"/api/face-reviews/{review['id']}/decision"
    assert (await client.post(path, json={"approved": True}, headers=client.bot)).status == 401
    resp = await client.post(path, json={"approved": True}, headers=client.staff)
    assert resp.status == 200 and (await resp.json())["nudge"] == "delivered"
    assert account(services).bound_device == SENDER  # bound at approval
    assert rasa.triggered == [(SENDER, "live_check_done")]
    sms = services.sms.messages(ACCOUNT["phone"])[-1]["text"]
    assert "通过人工复核" in sms and "已与您的设备绑定" in sms
    assert (await bot(client, "/api/bot/live/status", purpose="bind"))[1]["status"] == "passed"
    assert (await bot(client, "/api/bot/device/bind"))[1]["status"] == "already_bound"
    again = await client.post(path, json={"approved": False, "reason": "x"}, headers=client.staff)
    assert again.status == 409


async def test_rejected_review_counts_as_a_failure_and_is_told(client, services, rasa, monkeypatch):
    monkeypatch.setenv("FACE_ACCEPT_MAX", "0.05")
    rasa.fail = True  # the bot is unreachable: the back-office tells the customer itself
    answer = await live_check_over_http(client, services, SENDER, "business")
    path = f"/api/face-reviews/{answer['review_id']}/decision"
    resp = await client.post(path, json={"approved": False}, headers=client.staff)
    assert resp.status == 400 and (await resp.json())["error"] == "reason_required"
    resp = await client.post(path, json={"approved": False, "reason": "画面与证件照差异较大"}, headers=client.staff)
    assert resp.status == 200 and (await resp.json())["nudge"] == "failed"
    assert services.live.tries.failures(services.live.subject(SENDER, "80010001")) == 1
    told = services.conversations.outbox(SENDER)
    assert told and "未通过人工复核" in told[-1]["text"] and "画面与证件照差异较大" in told[-1]["text"]
    assert "未通过人工复核" in services.sms.messages(ACCOUNT["phone"])[-1]["text"]
    status, answer = await bot(client, "/api/bot/live/status", purpose="business")
    assert answer == {"status": "rejected_review", "reason": "画面与证件照差异较大"}
    assert (await bot(client, "/api/bot/live/status", purpose="business"))[1]["status"] == "none"  # told once


async def test_the_h5_page_checks_the_frames_once_and_nudges_the_bot(client, services, rasa, monkeypatch):
    from biometrics.testdata import ensure_faces, liveclips

    import functools
    import random

    from biometrics import liveness

    monkeypatch.delenv("HALL_LIVENESS_ACTIONS")  # the product's default: 2-3 of the five actions
    # drawn from a seeded generator: 3 of the 80 possible draws make a rendered clip fail (docs/biometrics.md's
    # set-B weakness), which made this test of the page's flow fail about once in 25 runs
    monkeypatch.setattr(liveness, "random_challenge",
                        functools.partial(liveness.random_challenge, rng=random.Random(0)))
    consented(services, SENDER, "80010001")
    status, started = await bot(client, "/api/bot/live/start", purpose="business")
    assert 2 <= len(started["actions"]) <= 3 and len(set(started["actions"])) == len(started["actions"])
    token = started["url"].rsplit("/", 1)[1]
    page = await client.get(f"/h5/live/{token}")
    html = await page.text()
    assert page.status == 200 and f'data-actions="{",".join(started["actions"])}"' in html
    assert "/h5/live-static/live_check.js" in html
    assert (await client.get("/h5/live-static/live_check.js")).status == 200

    clip = liveclips.make_clip("live", ensure_faces()["obama"][1], started["actions"], seed=2, fps=10.0)
    form = FormData()
    schedule = [{"action": a, "start": t0, "end": t1} for a, t0, t1 in clip.schedule]
    jpegs = liveclips.encode_jpegs(clip.frames)
    form.add_field("meta", __import__("json").dumps({"schedule": schedule, "times": [t for t, _ in jpegs]}))
    for i, (_t, data) in enumerate(jpegs):
        form.add_field("frame", data, filename=f"f{i}.jpg", content_type="image/jpeg")
    resp = await client.post(f"/h5/live/{token}/frames", data=form)
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "passed", body
    await __import__("asyncio").sleep(0.1)  # the nudge runs after the page's answer
    assert rasa.triggered == [(SENDER, "live_check_done")]
    assert (await bot(client, "/api/bot/live/status", purpose="business"))[1]["status"] == "passed"
    # single use: the link is gone
    assert (await client.get(f"/h5/live/{token}")).status == 404
    resp = await client.post(f"/h5/live/{token}/frames", data=FormData({"meta": "{}"}))
    assert resp.status == 404


async def test_a_page_link_expires_and_a_forged_one_is_refused(client, services, clock):
    consented(services, SENDER, "80010001")
    started = (await bot(client, "/api/bot/live/start", purpose="business"))[1]
    token = started["url"].rsplit("/", 1)[1]
    assert (await client.get(f"/h5/live/{token[:-3]}xyz")).status == 404
    clock.advance(PAGE_SECONDS + 31)
    page = await client.get(f"/h5/live/{token}")
    assert page.status == 404 and "已失效" in await page.text()
    assert (await bot(client, "/api/bot/live/status", purpose="business"))[1]["status"] == "pending"
    clock.advance(300)
    assert (await bot(client, "/api/bot/live/status", purpose="business"))[1]["status"] == "expired"


async def test_face_steps_need_the_login_except_recovery(client):
    status, answer = await bot(client, "/api/bot/live/start", sender="rest:stranger", purpose="bind")
    assert status == 403 and answer["error"] == "not_logged_in"
    status, answer = await bot(client, "/api/bot/live/start", sender="rest:stranger", purpose="recover")
    assert status == 200 and answer["status"] == "need_id"  # no ID card confirmed in this conversation
    status, answer = await bot(client, "/api/bot/live/start", purpose="selfie")
    assert status == 400


def test_face_images_follow_the_face_retention(services, clock):
    from backoffice.maintenance.retention import Retention

    services.settings.retain_face_days, services.settings.retain_media_days = 7, 30
    face = services.media.put(photos()[1], sender="s1", kind="face").media_id
    other = services.media.put(photos()[1], sender="s1").media_id
    clock.advance(8 * 86400)
    report = Retention(services).purge()
    assert report["media"] == 1 and services.media.info(face) is None and services.media.info(other) is not None


def test_random_challenges_are_distinct_and_follow_the_setting(monkeypatch):
    from biometrics.liveness import ACTIONS, random_challenge

    monkeypatch.delenv("HALL_LIVENESS_ACTIONS", raising=False)
    seen = {tuple(random_challenge(rng=random.Random(i))) for i in range(200)}
    assert all(2 <= len(c) <= 3 and len(set(c)) == len(c) and set(c) <= set(ACTIONS) for c in seen)
    assert len(seen) > 30  # order and choice vary
    monkeypatch.setenv("HALL_LIVENESS_ACTIONS", "blink,nod")
    assert {frozenset(random_challenge(rng=random.Random(i))) for i in range(20)} == {frozenset({"blink", "nod"})}
