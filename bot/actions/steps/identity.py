"""Identity steps: the ID card (front, back, confirmation), for any business.

The ID card read is kept by the back-office per conversation; a logged-in customer's confirmed card must be the
account owner's and is then kept "on file" (later businesses skip the upload while it is valid). The face steps
that compare with it are in face.py.
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


register(IdFront(), IdBack(), IdConfirmed())
