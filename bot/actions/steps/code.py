"""Code steps outside the login: the business's own confirmation code, and 找回账户's reserved phone + code."""
from __future__ import annotations

from bot.actions import normalise
from bot.actions.common import CODE_LIMIT
from bot.actions.markers import Marker, Outcome
from bot.actions.steps.base import CodeStep, TextStep, code_problem, register
from bot.actions.turn import Turn


class BusinessCode(CodeStep):
    """为确认是您本人操作: a code sent to the reserved phone (action_ask_business_code sends it once)."""
    slot = "business_code"
    resend = "/api/bot/business/otp/resend"

    async def check(self, turn: Turn, code: str) -> dict:
        result = await turn.call("/api/bot/business/otp/verify", business=turn.code, code=code)
        if result is None:
            return {self.slot: None}
        if result.get("status") == "ok":
            turn.say("utter_business_code_ok")
            return {self.slot: Marker.VERIFIED}
        code_problem(turn, result)
        return {self.slot: None}


class RecoverPhone(TextStep):
    slot = "recover_phone"

    async def validate(self, turn: Turn, value) -> dict:
        phone = normalise.phone(str(value))
        if phone is None:
            turn.say("utter_phone_number_invalid")
            return {self.slot: None}
        result = await turn.call("/api/bot/recover/start", phone=phone)
        if result is None:
            return {self.slot: None}
        status = result.get("status")
        if status in ("sent", "wait"):
            # Said the same way whether or not the phone belongs to an account of this ID.
            turn.say("utter_recover_code_sent", phone_masked=result["phone_masked"])
            return {self.slot: result["phone_masked"]}
        if status == "too_many":
            turn.say(CODE_LIMIT)
            return {self.slot: None, "step_outcome": Outcome.TOO_MANY}
        turn.say("utter_recover_expired")
        return {self.slot: None, "step_outcome": Outcome.EXPIRED}


class RecoverCode(CodeStep):
    slot = "recover_code"
    resend = "/api/bot/recover/resend"

    async def check(self, turn: Turn, code: str) -> dict:
        result = await turn.call("/api/bot/recover/verify", code=code)
        if result is None:
            return {self.slot: None}
        if result.get("status") == "ok":
            turn.say("utter_recovered", accounts="、".join(result.get("accounts_masked") or []))
            return {self.slot: Marker.VERIFIED}
        code_problem(turn, result)
        if result.get("status") == "no_pending":
            return {self.slot: None, "step_outcome": Outcome.EXPIRED}
        return {self.slot: None}


register(BusinessCode(), RecoverPhone(), RecoverCode())
