"""Pass a business's verification steps the way a customer does, through the real services: a face check of
a real photo against the portrait on file (biometrics run in-process instead of the worker pool) and the
business's SMS code, issued and verified by the business code API's functions."""
from __future__ import annotations

import asyncio
import re
from functools import lru_cache

from backoffice.accounts.login import CustomerSession
from backoffice.identity.service import IdentityService


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
    """The identity service with the real biometrics run in a thread (unit tests start no process pool)."""
    if getattr(svc.identity, "_hall_inline", False):
        return
    svc.identity = IdentityService(svc.accounts, svc.media, svc.kv, svc.crypto, svc.audit, svc.clock, runner=_inline)
    svc.identity._hall_inline = True


def logged_in(svc, sender: str, account: str) -> None:
    if svc.login.session(sender) is None:
        now = svc.clock.utcnow()
        with svc.db.session() as s:
            s.add(CustomerSession(sender=sender, account_number=account, started_at=now, last_seen=now))


async def pass_face(svc, sender: str, account: str, *, other_person: bool = False) -> dict:
    inline_biometrics(svc)
    portrait, selfie, other = photos()
    if not svc.accounts.portrait_refs(account):
        svc.accounts.set_portrait(account, svc.media.put(portrait).media_id)
    media_id = svc.media.put(other if other_person else selfie, sender=sender).media_id
    return await svc.identity.check_face(sender, media_id, "business", account)


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
    assert face["status"] in ("accept", "review"), face
    pass_code(svc, sender, account, business)
    return face


def pass_business_steps_sync(svc, sender: str, account: str, business: str) -> dict:
    return asyncio.run(pass_business_steps(svc, sender, account, business))
