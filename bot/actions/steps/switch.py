"""Switching business mid-way: when steps of this business were already done, the customer confirms first."""
from __future__ import annotations

from bot.actions.markers import Outcome
from bot.actions.steps.base import YesNoStep, register
from bot.actions.turn import Turn
from businesses import get

SWITCH_TO = "switch_to"
SWITCH_CONFIRMED = "switch_confirmed"


class SwitchConfirmed(YesNoStep):
    slot = SWITCH_CONFIRMED

    async def validate(self, turn: Turn, value) -> dict:
        if value is True:
            return {self.slot: True, "step_outcome": Outcome.SWITCHED}
        target = get(turn.slot(SWITCH_TO) or "")
        turn.say("utter_switch_kept", business=turn.business.name if turn.business else "",
                 target=target.name if target else "")
        return {self.slot: None, SWITCH_TO: None}


register(SwitchConfirmed())
