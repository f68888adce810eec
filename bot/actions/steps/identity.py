"""Identity steps: the ID card (front, back, confirmation) and the face check, for any business.

The ID card read is kept by the back-office per conversation; a logged-in customer's confirmed card must be the
account owner's and is then kept "on file" (later businesses skip the upload while it is valid). The face is
compared by the back-office with the card's portrait and the portrait on file; 3 failed tries offer a human.
"""
from __future__ import annotations

from bot.actions.markers import Marker, Outcome
from bot.actions.steps.base import MediaStep, YesNoStep, register
from bot.actions.turn import Turn

ID_FRONT, ID_BACK, ID_CONFIRMED = "id_front", "id_back", "id_confirmed"


def id_slots(with_back: bool = True) -> list[str]:
    """The ID card steps; without the back when the validity date does not matter (找回账户)."""
    return [ID_FRONT, ID_BACK, ID_CONFIRMED] if with_back else [ID_FRONT, ID_CONFIRMED]


def confirm_prompt(turn: Turn, result: dict, valid_until: str | None = None) -> None:
    """What was read; utter_ask_id_confirmed then asks for the confirmation."""
    turn.say("utter_id_read", name=result["name"], id_masked=result["id_masked"],
             validity=f"\n有效期至：{valid_until}" if valid_until else "")


class IdFront(MediaStep):
    slot = ID_FRONT

    async def validate(self, turn: Turn, value) -> dict:
        result = await turn.call("/api/bot/id/front", media_id=value[1])
        if result is None:
            return {self.slot: None}
        if result.get("status") != "read":
            turn.say_text(result.get("message") or "未能识别身份证人像面，请重新拍摄。")
            return {self.slot: None}
        if turn.id_with_back:
            turn.say("utter_id_front_read")
        else:
            confirm_prompt(turn, result)
        return {self.slot: Marker.READ}


class IdBack(MediaStep):
    slot = ID_BACK

    async def validate(self, turn: Turn, value) -> dict:
        result = await turn.call("/api/bot/id/back", media_id=value[1])
        if result is None:
            return {self.slot: None}
        if result.get("status") == "no_pending":
            turn.say("utter_id_front_first")
            return {self.slot: None, ID_FRONT: None, ID_CONFIRMED: None}
        if result.get("status") != "ok":
            turn.say_text(result.get("message") or "未能识别身份证国徽面，请重新拍摄。")
            if result.get("error") == "expired":
                return {self.slot: None, "step_outcome": Outcome.ID_EXPIRED}
            return {self.slot: None}
        confirm_prompt(turn, result, result.get("valid_until"))
        return {self.slot: Marker.READ}


class IdConfirmed(YesNoStep):
    slot = ID_CONFIRMED

    async def validate(self, turn: Turn, value) -> dict:
        again = {ID_FRONT: None, ID_BACK: None, self.slot: None}
        if value is not True:
            await turn.call("/api/bot/id/confirm", confirmed=False)
            turn.say("utter_id_upload_again")
            return again
        result = await turn.call("/api/bot/id/confirm", for_account=bool(turn.business and turn.business.login))
        if result is None:
            return {self.slot: None}
        if result.get("status") == "mismatch":
            turn.say("utter_id_not_the_owners")
            return again
        if result.get("status") != "ok":
            turn.say("utter_id_read_expired")
            return again
        turn.forget("gate")
        return {self.slot: True}


async def face_check(turn: Turn, value, purpose: str) -> tuple[str | None, dict]:
    """The back-office's face check: (decision, {}) when passed, else (None, slot updates) after telling why."""
    kind, media_id = value
    result = await turn.call("/api/bot/face", media_id=media_id, purpose=purpose, video=kind == "upload_video")
    if result is None:
        return None, {}
    status = result.get("status")
    if status in ("accept", "review"):
        return status, {}
    if status == "need_id":
        turn.say("utter_face_no_reference")
        return None, {}
    if status == "too_many":
        turn.say_text(result.get("message") or "")
        turn.say("utter_face_too_many")
        return None, {"step_outcome": Outcome.FACE_FAILED}
    left = result.get("tries_left")
    turn.say_text(f"{result.get('message') or '人脸认证未通过'}{f'（还可尝试{left}次）' if left else ''}")
    return None, {}


class FaceStep(MediaStep):
    """The face check of a business (purpose "business") or of 找回账户 ("recover")."""
    kinds = ("upload_image", "upload_video")

    def __init__(self, slot: str, purpose: str):
        self.slot, self.purpose = slot, purpose

    @property
    def help(self) -> str:
        return "utter_help_face"

    async def validate(self, turn: Turn, value) -> dict:
        decision, updates = await face_check(turn, value, self.purpose)
        if decision is None:
            return {self.slot: None, **updates}
        turn.say("utter_face_passed")
        return {self.slot: Marker.PASSED}


BUSINESS_FACE = FaceStep("business_face", "business")
RECOVER_FACE = FaceStep("recover_face", "recover")

register(IdFront(), IdBack(), IdConfirmed(), BUSINESS_FACE, RECOVER_FACE)
