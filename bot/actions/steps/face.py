"""The face steps: a live face check is the only way through (binding, 找回账户, every business's face step).

Before the first face check of a customer, their separate consent to face data (个人信息保护法 Art. 28-30)
is asked (face_consent); 不同意 ends the step with the alternative (a human, who can arrange a video witness).

Then the back-office issues a random sequence of actions (HALL_LIVENESS_ACTIONS; valid 2 minutes, single use)
with an H5 page that films them; the page's frames are checked by the back-office, which nudges the conversation
(live_check_done). Channels without the page: a short video of the announced actions sent as a message. A
still photo is never a pass. The back-office decides: passed, review (a human decides; the customer is told and
notified), or failed (3 failed checks per account or ID number in 24 h, then a human is offered).
"""
from __future__ import annotations

from bot.actions.markers import Marker, Outcome
from bot.actions.steps.base import NOT_ANSWERS, Step, YesNoStep, media_id_of, register
from bot.actions.turn import Turn

CONSENT = "face_consent"
DONE = "live_check_done"  # the back-office's nudge: an H5 check or a staff review finished


class FaceConsent(YesNoStep):
    """单独同意 to face data, asked once per customer (and again when the notice's version changes)."""
    slot = CONSENT

    async def validate(self, turn: Turn, value) -> dict:
        result = await turn.call("/api/bot/face/consent", agreed=value is True)
        if result is None:
            return {self.slot: None}
        if value is not True:
            turn.say("utter_face_consent_declined")
            return {self.slot: False, "step_outcome": Outcome.FACE_CONSENT_DECLINED}
        if result.get("status") != "agreed":  # e.g. no ID card confirmed yet: nobody to record it for
            turn.say_text(result.get("message") or "暂时无法记录您的授权，请稍后再试。")
            return {self.slot: None}
        turn.forget("consent")
        turn.say("utter_face_consent_recorded")
        return {self.slot: True}


def announce(turn: Turn, started: dict, lead: str = "utter_live_check_invitation") -> None:
    """The link of the H5 check and, for channels without it, the actions to film."""
    turn.say(lead, url=started.get("url") or "", actions=started.get("instructions") or "",
             seconds=int(started.get("expires_in") or 120))


async def consent_needed(turn: Turn) -> bool:
    """Has this customer (the logged-in account, or the ID card just confirmed) still to consent?"""
    return bool((await turn.once("consent", "/api/bot/face/consent/status")).get("needed", True))


async def start_check(turn: Turn, purpose: str, lead: str = "utter_live_check_invitation") -> dict | None:
    """A new challenge (the back-office keeps it with its deadline); None after saying why there is none."""
    business = turn.business.code if turn.business else None
    started = await turn.call("/api/bot/live/start", purpose=purpose, business=business)
    if started is None:
        return None
    status = started.get("status")
    if status == "ok":
        announce(turn, started, lead)
        return started
    if status == "too_many":
        turn.say_text(started.get("message") or "")
        turn.say("utter_face_too_many")
    elif status == "need_id":
        turn.say("utter_face_no_reference")
    else:
        turn.say_text(started.get("message") or "活体检测暂时无法发起，请稍后再试。")
    return started


class LiveFace(Step):
    """bind_face, business_face or recover_face: the same live check, its purpose named by the slot."""

    def __init__(self, slot: str, purpose: str):
        self.slot, self.purpose = slot, purpose

    @property
    def help(self) -> str:
        return "utter_help_face"

    def answer(self, turn: Turn):
        if turn.intent == DONE:
            return ("status", None)
        if turn.intent in ("upload_video", "upload_image"):
            media_id = media_id_of(turn)
            return (turn.intent.removeprefix("upload_"), media_id) if media_id else None
        if turn.intent not in NOT_ANSWERS and turn.text:
            return ("status", None)  # "好了", "做完了": look the result up
        return None

    async def validate(self, turn: Turn, value) -> dict:
        kind, media_id = value
        if kind == "image":  # a photo proves nothing about a live person: never a pass
            turn.say("utter_live_check_still_image")
            await start_check(turn, self.purpose, "utter_live_check_again")
            return {self.slot: None}
        if kind == "video":
            result = await turn.call("/api/bot/live/video", purpose=self.purpose, media_id=media_id)
        else:
            result = await turn.call("/api/bot/live/status", purpose=self.purpose)
        if result is None:
            return {self.slot: None}
        return await self.outcome(turn, result)

    async def outcome(self, turn: Turn, result: dict) -> dict:
        status = result.get("status")
        if status == "passed":
            return await self.passed(turn)
        if status == "review":  # a human decides; the customer is told the result by SMS and here
            turn.say("utter_live_check_review")
            return {self.slot: None}
        if status == "pending":
            turn.say("utter_live_check_pending")
            return {self.slot: None}
        if status == "too_many":
            turn.say_text(result.get("message") or "")
            turn.say("utter_face_too_many")
            return {self.slot: None, "step_outcome": Outcome.FACE_FAILED}
        if status == "need_id":
            turn.say("utter_face_no_reference")
            return {self.slot: None}
        if status == "failed":
            left = result.get("tries_left")
            turn.say_text(f"{result.get('message') or '活体检测未通过'}{f'（还可尝试{left}次）' if left else ''}")
            await start_check(turn, self.purpose, "utter_live_check_again")
        elif status == "rejected_review":
            turn.say("utter_live_check_review_rejected", reason=result.get("reason") or "")
            await start_check(turn, self.purpose, "utter_live_check_again")
        else:  # none or expired: a new challenge
            await start_check(turn, self.purpose, "utter_live_check_expired")
        return {self.slot: None}

    async def passed(self, turn: Turn) -> dict:
        turn.say("utter_face_passed")
        return {self.slot: Marker.PASSED}


class BindFace(LiveFace):
    """去绑定's face check: passed, the device is bound (a reviewed match is bound by the back-office itself)."""

    async def passed(self, turn: Turn) -> dict:
        result = await turn.call("/api/bot/device/bind")
        if result is None:
            return {self.slot: None}
        if result.get("status") in ("ok", "already_bound"):
            turn.forget("gate")
            turn.say("utter_bound")
            return {self.slot: Marker.PASSED}
        turn.say("utter_bind_failed")
        return {self.slot: None}


BIND_FACE = BindFace("bind_face", "bind")
BUSINESS_FACE = LiveFace("business_face", "business")
RECOVER_FACE = LiveFace("recover_face", "recover")
FACE_STEPS = {step.slot: step for step in (BIND_FACE, BUSINESS_FACE, RECOVER_FACE)}

register(FaceConsent(), BIND_FACE, BUSINESS_FACE, RECOVER_FACE)
