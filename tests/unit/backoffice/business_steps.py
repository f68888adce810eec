"""Pass a business's verification steps the way a customer does, through the real services: the consent to face
data, a live face check (a rendered selfie clip of the announced actions, checked by the real liveness and face
engines, in-process instead of the worker pool, against the portrait on file) and the business's SMS code,
issued and verified by the business code API's functions. Tests run with HALL_LIVENESS_ACTIONS=blink
(tests/unit/conftest.py), so one clip per person serves every check."""
from __future__ import annotations

import asyncio
import re
from functools import lru_cache

from backoffice.accounts.login import CustomerSession


@lru_cache(maxsize=None)
def photos() -> tuple[bytes, bytes, bytes]:
    """(portrait on file, selfie of the same person, selfie of someone else)."""
    from biometrics.testdata import ensure_faces

    people = ensure_faces()
    read = lambda p: p.read_bytes()  # noqa: E731
    return read(people["obama"][0]), read(people["obama"][1]), read(people["biden"][0])


async def _inline(func, *args):
    return await asyncio.to_thread(func, *args)


def inline_biometrics(svc) -> None:
    """The real biometrics run in a thread (unit tests start no process pool)."""
    svc.identity._runner = _inline


@lru_cache(maxsize=None)
def live_clip(other_person: bool = False, challenge: tuple[str, ...] = ("blink",), seed: int = 1) -> bytes:
    """An MP4 selfie clip of the challenge's actions (obama's second photo, or biden's)."""
    from biometrics.testdata import ensure_faces, liveclips

    people = ensure_faces()
    photo = people["biden"][0] if other_person else people["obama"][1]
    clip = liveclips.make_clip("live", photo, list(challenge), seed=seed, fps=10.0)
    return liveclips.encode_video(clip.frames, clip.fps)


def consented(svc, sender: str, account: str | None) -> None:
    if svc.live.consent_status(sender, account)["needed"]:
        assert svc.live.record_consent(sender, account, True)["status"] == "agreed"


def logged_in(svc, sender: str, account: str) -> None:
    if svc.login.session(sender) is None:
        now = svc.clock.utcnow()
        with svc.db.session() as s:
            s.add(CustomerSession(sender=sender, account_number=account, started_at=now, last_seen=now))


async def live_check(svc, sender: str, account: str | None, purpose: str, *, other_person: bool = False) -> dict:
    """Consent, a new challenge, the clip of it sent as a video: the live check's answer."""
    inline_biometrics(svc)
    consented(svc, sender, account)
    started = svc.live.start(sender, purpose, account)
    assert started["status"] == "ok", started
    clip = live_clip(other_person, tuple(started["actions"]))
    media_id = svc.media.put(clip, sender=sender).media_id
    return await svc.live.video(sender, purpose, account, media_id)


async def live_check_over_http(client, svc, sender: str, purpose: str = "business", *, other_person: bool = False,
                               consent: bool = True) -> dict:
    """The same through the bot's service API: consent, /api/bot/live/start, the clip to /api/bot/live/video."""
    inline_biometrics(svc)

    async def bot(path, **body):
        resp = await client.post(path, json={"sender": sender, **body}, headers=client.bot)
        assert resp.status == 200, (path, resp.status, await resp.text())
        return await resp.json()

    if consent and (await bot("/api/bot/face/consent/status"))["needed"]:
        assert (await bot("/api/bot/face/consent", agreed=True))["status"] == "agreed"
    started = await bot("/api/bot/live/start", purpose=purpose)
    if started["status"] != "ok":
        return started
    media_id = svc.media.put(live_clip(other_person, tuple(started["actions"])), sender=sender).media_id
    return await bot("/api/bot/live/video", purpose=purpose, media_id=media_id)


async def pass_face(svc, sender: str, account: str, *, other_person: bool = False, purpose: str = "business") -> dict:
    portrait, _selfie, _other = photos()
    if not svc.accounts.portrait_refs(account):
        svc.accounts.set_portrait(account, svc.media.put(portrait).media_id)
    return await live_check(svc, sender, account, purpose, other_person=other_person)


def pass_code(svc, sender: str, account: str, business: str) -> None:
    logged_in(svc, sender, account)
    issued = svc.business_codes.issue(sender, business)
    if issued["status"] == "wait" and hasattr(svc.clock, "advance"):  # the 60 s between codes
        svc.clock.advance(issued["wait_seconds"] + 1)
        issued = svc.business_codes.issue(sender, business)
    assert issued["status"] == "sent", issued
    phone = svc.accounts.phone_of(account)
    code = re.search(r"验证码(\d{6})", svc.sms.messages(phone)[-1]["text"]).group(1)
    assert svc.business_codes.verify(sender, business, code) == {"status": "ok"}


async def pass_business_steps(svc, sender: str, account: str, business: str) -> dict:
    face = await pass_face(svc, sender, account)
    assert face["status"] == "passed", face
    pass_code(svc, sender, account, business)
    return face


def pass_business_steps_sync(svc, sender: str, account: str, business: str) -> dict:
    return asyncio.run(pass_business_steps(svc, sender, account, business))
