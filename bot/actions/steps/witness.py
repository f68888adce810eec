"""视频见证: the customer opens the H5 page, staff hold the call and give the verdict; the back-office then nudges
the conversation (intent witness_done) and the step continues by itself. Anything the customer types at this
step ("好了") looks the verdict up too."""
from __future__ import annotations

from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY
from bot.actions.markers import Marker, Outcome
from bot.actions.steps.base import NOT_ANSWERS, Step, register
from bot.actions.turn import Turn

WITNESS = "witness"


def answers_witness(turn: Turn) -> bool:
    """Does the latest message answer the witness step (the nudge, or any text such as "好了")?"""
    return turn.intent == "witness_done" or turn.intent not in NOT_ANSWERS


async def witness_slots(turn: Turn, before: list[str]) -> list[str]:
    """The witness step; skipped only when a passed witness already waits for this business's application
    (a business resumed after a cancel), and only looked up once the steps before it are done."""
    if turn.slot(WITNESS) or turn.requested == WITNESS or any(turn.slot(s) is None for s in before):
        return [WITNESS]
    return [] if (await turn.witness_state()).get("status") == "passed" else [WITNESS]


def invitation(opened: dict) -> dict:
    """The values of utter_witness_invitation."""
    position = int(opened.get("position") or 0)
    return {"url": opened["url"], "queue": f"当前排队第{position}位，请耐心等待。\n" if position else ""}


class Witness(Step):
    slot = WITNESS

    def answer(self, turn: Turn):
        return Marker.ASKED if answers_witness(turn) else None

    async def validate(self, turn: Turn, value) -> dict:
        turn.forget("witness")
        try:
            state = await turn.witness_state()
        except BackofficeUnavailable:
            turn.say(BUSY)
            return {self.slot: None}
        status = state.get("status")
        if status == "passed":
            turn.say("utter_witness_passed")
            return {self.slot: Marker.PASSED}
        if status == "failed":
            turn.say("utter_witness_failed", reason=state.get("reason") or "视频见证未通过。",
                     business=turn.business.name if turn.business else "业务办理")
            return {self.slot: None, "step_outcome": Outcome.WITNESS_FAILED}
        if status == "in_call":
            turn.say("utter_witness_in_call")
            return {self.slot: None}
        if status == "waiting":
            position = int(state.get("position") or 0)
            turn.say("utter_witness_waiting", queue=f"您当前排在第{position}位，" if position else "")
            return {self.slot: None}
        # No live session (it expired or was cancelled): queue again with a new link.
        opened = await turn.call("/api/bot/witness/open", business=turn.code)
        if opened and opened.get("url"):
            turn.say("utter_witness_requeued", **invitation(opened))
        return {self.slot: None}


register(Witness())
