"""上传手写签名: a landscape photo of the signature, checked by the back-office, shown as a preview to confirm."""
from __future__ import annotations

from bot.actions.markers import Marker
from bot.actions.steps.base import MediaStep, YesNoStep, register
from bot.actions.turn import Turn

SIGNATURE_STEPS = ["signature_image", "signature_confirmed"]


class SignatureImage(MediaStep):
    slot = "signature_image"

    async def validate(self, turn: Turn, value) -> dict:
        result = await turn.call("/api/bot/signature/check", media_id=value[1])
        if result is None:
            return {self.slot: None}
        if result.get("status") != "ok":
            turn.say_text(result.get("message") or "签名照片未通过检查，请重新拍摄。")
            return {self.slot: None}
        turn.say("utter_signature_preview", preview_url=result["preview_url"])  # the picture, then the link
        return {self.slot: Marker.CHECKED}


class SignatureConfirmed(YesNoStep):
    slot = "signature_confirmed"

    async def validate(self, turn: Turn, value) -> dict:
        again = {"signature_image": None, self.slot: None}
        if value is not True:
            turn.say("utter_signature_again")
            return again
        result = await turn.call("/api/bot/signature/confirm")
        if result is None:
            return {self.slot: None}
        if result.get("status") != "ok":
            turn.say("utter_signature_preview_expired")
            return again
        turn.forget("gate")
        turn.say("utter_signature_saved")
        return {self.slot: True}


register(SignatureImage(), SignatureConfirmed())
