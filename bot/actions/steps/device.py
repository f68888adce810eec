"""Device steps: 解除当前绑定 (with an SMS code) and 去绑定 (ID card when no portrait is on file, then the face).

The gate runs them before any business; 绑定设备 / 解除绑定 asked for directly run the same steps.
"""
from __future__ import annotations

from bot.actions.common import CODE_LIMIT
from bot.actions.markers import Marker, Outcome
from bot.actions.steps.base import CodeStep, YesNoStep, code_problem, register
from bot.actions.steps.identity import id_slots
from bot.actions.turn import Turn

UNBIND_STEPS = ["unbind_go", "unbind_code"]


def bind_slots(gate: dict) -> list[str]:
    """去绑定, then the ID card when there is no portrait to compare with, then the face check."""
    return ["bind_go"] + ([] if gate.get("face_reference") else id_slots()) + ["bind_face"]


class UnbindGo(YesNoStep):
    slot = "unbind_go"
    yes_intents = ("affirm", "unbind_device")

    async def validate(self, turn: Turn, value) -> dict:
        if value is not True:
            turn.say("utter_unbind_declined")
            return {self.slot: False, "step_outcome": Outcome.UNBIND_DECLINED}
        result = await turn.call("/api/bot/device/unbind/start")
        if result is None:
            return {self.slot: None}
        if result.get("status") in ("sent", "wait"):
            turn.say("utter_code_sent", phone_masked=result["phone_masked"])
            return {self.slot: True}
        if result.get("status") == "too_many":
            turn.say(CODE_LIMIT)
            return {self.slot: None, "step_outcome": Outcome.TOO_MANY}
        return {self.slot: True}  # nothing bound any more: the gate moves on


class UnbindCode(CodeStep):
    slot = "unbind_code"
    resend = "/api/bot/device/unbind/start"

    async def check(self, turn: Turn, code: str) -> dict:
        result = await turn.call("/api/bot/device/unbind/verify", code=code)
        if result is None:
            return {self.slot: None}
        if result.get("status") == "ok":
            turn.forget("gate")
            turn.say("utter_unbound")
            return {self.slot: Marker.VERIFIED}
        code_problem(turn, result)
        return {self.slot: None}


class BindGo(YesNoStep):
    slot = "bind_go"
    yes_intents = ("affirm", "bind_device")

    async def validate(self, turn: Turn, value) -> dict:
        if value is not True:
            turn.say("utter_bind_declined")
            return {self.slot: False, "step_outcome": Outcome.BIND_DECLINED}
        return {self.slot: True}


register(UnbindGo(), UnbindCode(), BindGo())
