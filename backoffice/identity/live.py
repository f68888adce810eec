"""The live face check: the only way through a face step (绑定设备, 找回账户, every business's face step).

`start` chooses a random sequence of 2-3 actions (biometrics.liveness.random_challenge, HALL_LIVENESS_ACTIONS)
and keeps it server-side for this conversation and purpose, with an H5 page link (signed, valid 2 minutes,
single use). The customer either films the actions on the page (`frames`: timed JPEG frames and the prompt
schedule) or, on channels without the page, sends a short video of the announced actions (`video`, accepted
for 5 minutes: recording and sending a clip in chat takes longer than the page). Either way the back-office
runs the same check in the biometrics pool: the actions in order (and in their prompt windows), presentation
attacks (photo, screen, static clip), one person throughout; then the best frame against the ID portrait /
portrait on file (face.compare bands):

  accept  -> the face step passed (identity.record_pass), used by binding, 找回账户 and applications
  review  -> a reviewer decides (reviews.py); nothing passes until they approve
  reject, an attack, wrong actions -> a failed check (tries.py: 3 per person in 24 h, then a human)

A clip that cannot be analysed (too short, no face, unreadable) is asked for again and not counted. A still
image is never a check (the bot answers it with the link). Before any of this the person must have given the
separate consent to face data (consent.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets

from backoffice.channels.senders import channel_of
from backoffice.core.crypto import mask_account
from backoffice.identity.reviews import PURPOSE_NAMES

log = logging.getLogger(__name__)

PAGE_SECONDS = 120  # the H5 link: 2 minutes, single use
FRAMES_GRACE = 30  # a recording started just before the link expires may still arrive (≤ 10 s of actions + upload)
VIDEO_SECONDS = 300  # a video message of the announced actions
SESSION_TTL = 20 * 60  # how long a check's outcome can still be asked for
PURPOSES = ("bind", "recover", "business")
REVIEW_MESSAGE = "您的人脸比对结果正在由工作人员人工复核，复核完成后将通过短信和本对话通知您。"


class LiveCheckService:
    def __init__(self, identity, tries, consent, reviews, media, kv, links, audit, clock, public_url: str):
        self.identity, self.tries, self.consent, self.reviews = identity, tries, consent, reviews
        self.media, self.kv, self.links, self.audit, self.clock = media, kv, links, audit, clock
        self.public_url = public_url.rstrip("/")

    # --- who and where ----------------------------------------------------------------------
    def subject(self, sender: str, account_number: str | None) -> str | None:
        """The person: the logged-in account's ID, else the ID card this conversation confirmed (找回账户)."""
        id_number = None if account_number else self.identity.confirmed_id_number(sender)
        return self.tries.subject(account_number, id_number)

    def _key(self, sender: str, purpose: str) -> str:
        return f"live:{sender}:{purpose}"

    def _load(self, sender: str, purpose: str) -> dict | None:
        raw = self.kv.get(self._key(sender, purpose))
        return json.loads(raw) if raw else None

    def _save(self, session: dict) -> None:
        self.kv.set(self._key(session["sender"], session["purpose"]), json.dumps(session), SESSION_TTL)

    # --- consent ----------------------------------------------------------------------------
    def consent_status(self, sender: str, account_number: str | None) -> dict:
        return self.consent.status(self.subject(sender, account_number))

    def record_consent(self, sender: str, account_number: str | None, agreed: bool) -> dict:
        subject = self.subject(sender, account_number)
        if subject is None:
            return {"status": "need_id", "message": "请先上传并确认身份证。"}
        return self.consent.record(subject, sender, account_number, agreed)

    # --- a new check --------------------------------------------------------------------------
    def start(self, sender: str, purpose: str, account_number: str | None, business: str | None = None) -> dict:
        from biometrics.liveness import ACTION_TEXT, random_challenge  # cv2 only when a check starts

        subject = self.subject(sender, account_number)
        if subject is None or not self.identity.has_face_reference(sender, account_number):
            return {"status": "need_id", "message": "系统中没有可比对的证件照片，请先上传身份证。"}
        if self.consent.given(subject) is None:
            return {"status": "consent_needed", "message": "进行人脸识别前，需要您先同意《人脸信息处理授权》。"}
        if self.tries.blocked(subject):
            return {"status": "too_many", "message": self.tries.message()}
        current = self._load(sender, purpose)
        if current and current.get("account") == account_number and self._review_pending(current):
            return {"status": "review", "message": REVIEW_MESSAGE}
        challenge = random_challenge()
        now = self.clock.now()
        session = {"id": secrets.token_urlsafe(12), "sender": sender, "purpose": purpose, "account": account_number,
                   "subject": subject, "business": business, "challenge": challenge, "created": now,
                   "state": "open", "result": None}
        self._save(session)
        token = self.links.sign({"t": "live", "i": session["id"], "s": sender, "p": purpose}, PAGE_SECONDS)
        self.audit.record("live_check_started", actor=f"customer:{sender}", account_number=account_number,
                          purpose=purpose, actions=",".join(challenge))
        return {"status": "ok", "url": f"{self.public_url}/h5/live/{token}", "actions": challenge,
                "instructions": "、".join(ACTION_TEXT[a] for a in challenge), "expires_in": PAGE_SECONDS,
                "video_expires_in": VIDEO_SECONDS, "tries_left": self.tries.left(subject)}

    # --- the page -----------------------------------------------------------------------------
    def page_session(self, token: str) -> dict | None:
        """The open check a page token names, while it may still be filmed."""
        payload = self.links.verify(token, "live")
        if payload is None:
            return None
        session = self._load(payload["s"], payload["p"])
        if not session or session["id"] != payload["i"] or session["state"] != "open":
            return None
        if self.clock.now() > session["created"] + PAGE_SECONDS + FRAMES_GRACE:
            return None
        return session

    def page_view(self, session: dict) -> dict:
        from biometrics.liveness import ACTION_TEXT  # cv2 only when a page is shown

        return {"actions": session["challenge"], "instructions": "、".join(ACTION_TEXT[a] for a in session["challenge"]),
                "purpose_name": PURPOSE_NAMES.get(session["purpose"], "身份核验"), "seconds_per_action": 3,
                "expires_in": max(0, int(session["created"] + PAGE_SECONDS - self.clock.now()))}

    # --- submitting a clip --------------------------------------------------------------------------
    def _claim(self, session: dict) -> bool:
        """Single use: the first clip for a challenge is the one checked."""
        return self.kv.set_nx(f"live:used:{session['id']}", "1", SESSION_TTL)

    async def frames(self, token: str, frames: list[tuple[float, bytes]], schedule) -> dict:
        from biometrics import liveness  # heavy: the liveness engine, loaded on first use

        session = await asyncio.to_thread(self.page_session, token)
        if session is None:
            return {"status": "expired", "message": "该检测链接已失效或已使用，请返回对话重新获取。"}
        try:
            schedule = [(str(w["action"]), float(w["start"]), float(w["end"])) for w in schedule or []]
        except (TypeError, KeyError, ValueError):
            return {"status": "bad_request", "message": "检测数据不完整，请刷新页面后重试。"}
        if [w[0] for w in schedule] != list(session["challenge"]):
            return {"status": "bad_request", "message": "检测数据与本次动作不一致，请刷新页面后重试。"}
        if not await asyncio.to_thread(self._claim, session):
            return {"status": "expired", "message": "该检测链接已使用，请返回对话查看结果。"}
        return await self._check(session, "h5", liveness.check_frames, frames, session["challenge"], schedule)

    async def video(self, sender: str, purpose: str, account_number: str | None, media_id: str) -> dict:
        from biometrics import liveness  # heavy: the liveness engine, loaded on first use

        session = await asyncio.to_thread(self._load, sender, purpose)
        if not session or session.get("account") != account_number:
            return {"status": "none"}
        if session["state"] != "open":  # a clip of this challenge was sent already: its outcome
            return await asyncio.to_thread(self.status, sender, purpose, account_number)
        if self.clock.now() > session["created"] + VIDEO_SECONDS:
            return {"status": "expired"}
        data = await self.identity.load_own(media_id, sender)
        if data is None:
            return {"status": "failed", "error": "not_found", "message": "视频已失效，请重新录制发送。",
                    "tries_left": await asyncio.to_thread(self.tries.left, session["subject"])}
        if not await asyncio.to_thread(self._claim, session):
            return await asyncio.to_thread(self.status, sender, purpose, account_number)
        await asyncio.to_thread(self.media.mark, media_id, "face")  # a face clip now: the face retention applies
        return await self._check(session, "video", liveness.check, data, session["challenge"])

    def _reopen(self, session: dict) -> None:
        """Nothing was decided: the same challenge may be sent again."""
        self.kv.delete(f"live:used:{session['id']}")
        self._save({**session, "state": "open"})

    async def _check(self, session: dict, source: str, func, *args) -> dict:
        """The engines in the pool, then the decision and its records in a thread (they write to SQL and the KV
        store): once the decision has started it completes, whatever happens to the caller."""
        from biometrics import errors  # with the engines: loaded on first use

        await asyncio.to_thread(self._save, {**session, "state": "checking"})
        try:
            live = await self.identity.run_biometrics(func, *args)
            best = compared = None
            if live.ok and live.passed:
                best = await self.identity.store_face(live.best_frame_jpeg, session["sender"])
                compared = await self.identity.compare_with_references(session["sender"], session["account"],
                                                                       live.best_frame_jpeg)
        except (errors.Busy, errors.Timeout):
            await asyncio.to_thread(self._reopen, session)
            return {"status": "busy", "message": "人脸识别服务繁忙，请稍后重新提交。"}
        except asyncio.CancelledError:  # the caller went away before any decision: the challenge stays usable
            self._reopen(session)
            raise
        return await asyncio.to_thread(self._settle, session, source, live, best, compared)

    def _settle(self, session: dict, source: str, live, best: str | None, compared: dict | None) -> dict:
        result = self._decide(session, source, live, best, compared)
        session.update(state="done", result=result)
        self._save(session)
        return result

    def _decide(self, session: dict, source: str, live, best: str | None, compared: dict | None) -> dict:
        sender, purpose, account, subject = session["sender"], session["purpose"], session["account"], session["subject"]
        evidence = {"source": source, "challenge": session["challenge"], "actions": live.actions,
                    "attack_score": live.attack_score, "attack": live.attack, "error": live.error}
        if not live.ok:  # the clip could not be analysed: not a failed check
            self._audit(session, "unreadable", evidence)
            return {"status": "failed", "error": live.error, "message": live.message,
                    "tries_left": self.tries.left(subject)}
        if not live.passed:
            return self._failed(session, live.error or "liveness", live.message, evidence)
        evidence.update(distance=compared.get("distance"), decision=compared.get("decision"))
        if not compared.get("ok"):
            self._audit(session, compared.get("error") or "no_compare", evidence)
            return {"status": "failed", "error": compared.get("error"), "message": compared.get("message") or
                    "人脸比对暂时无法完成，请重新检测。", "tries_left": self.tries.left(subject)}
        if compared["decision"] == "accept":
            self.identity.record_pass(sender, purpose, account, {
                "decision": "accept", "distance": compared["distance"], "media": best, "liveness": source})
            self._audit(session, "accept", evidence)
            return {"status": "passed", "distance": compared["distance"]}
        if compared["decision"] == "review":
            review_id = self.reviews.open(
                sender=sender, channel=channel_of(sender), purpose=purpose, account_number=account, subject=subject,
                business=session.get("business"), best_frame=best, references=self.identity.references(sender, account),
                compared=compared, liveness=evidence)
            session["review_id"] = review_id
            self._audit(session, "review", evidence)
            return {"status": "review", "message": REVIEW_MESSAGE, "review_id": review_id}
        return self._failed(session, "face_mismatch", "人脸比对未通过，请确认是本人，在光线充足处正对镜头重新检测。",
                            evidence)

    def _failed(self, session: dict, error: str, message: str, evidence: dict) -> dict:
        left = self.tries.fail(session["subject"])
        self._audit(session, "reject", evidence)
        if left <= 0:
            return {"status": "too_many", "error": error, "message": self.tries.message()}
        return {"status": "failed", "error": error, "message": message, "tries_left": left}

    def _audit(self, session: dict, outcome: str, evidence: dict) -> None:
        self.audit.record("live_check_finished", actor=f"customer:{session['sender']}",
                          account_number=session["account"], purpose=session["purpose"], outcome=outcome,
                          source=evidence["source"], error=evidence.get("error"),
                          attack=evidence.get("attack"), attack_score=evidence.get("attack_score"),
                          distance=evidence.get("distance"))

    # --- what happened -------------------------------------------------------------------------
    def _review_pending(self, session: dict) -> bool:
        review = self.reviews.get(session["review_id"]) if session.get("review_id") else None
        return bool(review and review["status"] == "pending")

    def status(self, sender: str, purpose: str, account_number: str | None) -> dict:
        session = self._load(sender, purpose)
        if not session or session.get("account") != account_number:
            return {"status": "none"}
        if session.get("review_id"):
            review = self.reviews.get(session["review_id"])
            if review and review["status"] == "pending":
                return {"status": "review", "message": REVIEW_MESSAGE}
            if review and review["status"] == "approved":
                # binding happened at approval (the pass is used up then); other purposes use the pass now
                passed = purpose == "bind" or self.identity.face_passed(sender, purpose, account_number)
                return {"status": "passed", "reviewed": True} if passed else {"status": "none"}
            if review and review["status"] == "rejected":
                self.kv.delete(self._key(sender, purpose))  # told once; the next ask starts a new check
                if self.tries.blocked(session["subject"]):
                    return {"status": "too_many", "message": self.tries.message(), "reason": review["reason"]}
                return {"status": "rejected_review", "reason": review["reason"] or ""}
        if session["state"] == "done":
            result = dict(session["result"] or {})
            if result.get("status") == "passed" and not self.identity.face_passed(sender, purpose, account_number):
                return {"status": "none"}  # used up (bound, recovered, application opened)
            return result
        if session["state"] == "checking":
            return {"status": "pending", "checking": True}
        if self.clock.now() > session["created"] + VIDEO_SECONDS:
            return {"status": "expired"}
        return {"status": "pending"}

    # --- a reviewer's decision ------------------------------------------------------------------
    def apply_review(self, view: dict, devices) -> dict:
        """After reviews.decide: approval passes the face step (binds the device for 绑定设备); rejection counts
        as a failed check. Then the SMS. Returns what the customer should read in chat."""
        sender, purpose, account = view["sender"], view["purpose"], view["account_number"]
        if view["status"] == "approved":
            self.identity.record_pass(sender, purpose, account, {
                "decision": "accept", "distance": view["distance"], "media": view["best_frame_media_id"],
                "liveness": view["liveness"].get("source"), "review_id": view["id"], "reviewed_by": view["decided_by"]},
                ttl=REVIEWED_PASS_TTL)
            bound = purpose == "bind" and devices.bind_reviewed(sender, account)
            kind = "face_review_bound" if bound else "face_review_approved"
            self.reviews.notify_by_sms(view, kind)
            return {"text": CHAT_TEXTS[kind].format(masked=mask_account(account), purpose=view["purpose_name"])}
        subject = self.reviews.subject_of(view["id"])
        left = self.tries.fail(subject)
        self.reviews.notify_by_sms(view, "face_review_rejected", reason=view["reason"] or "")
        text = CHAT_TEXTS["face_review_rejected"].format(reason=view["reason"] or "", purpose=view["purpose_name"])
        return {"text": text + ("" if left else "\n" + self.tries.message())}


REVIEWED_PASS_TTL = 24 * 3600  # the customer may come back hours after the review to continue
CHAT_TEXTS = {
    "face_review_bound": "您的人脸核验已通过人工复核，资金账号{masked}已与当前设备绑定，可继续办理业务。",
    "face_review_approved": "您的人脸核验已通过人工复核，请回复“继续”完成{purpose}。",
    "face_review_rejected": "很抱歉，您的人脸核验未通过人工复核（{purpose}），原因：{reason}。"
                            "您可以重新进行活体检测，或回复“转人工”咨询。",
}
