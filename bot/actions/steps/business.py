"""Steps whose words are the business's own (its registry entry): a choice among a few options and the final
yes/no confirmation."""
from __future__ import annotations

from bot.actions import normalise
from bot.actions.markers import Outcome
from bot.actions.steps.base import NOT_ANSWERS, Step, YesNoStep, register
from bot.actions.turn import Turn
from businesses import REGISTRY

CONFIRMED = "business_confirmed"


class Choice(Step):
    """One of `options` (交易密码/资金密码): typed, by number, by keyword, or already in the request itself
    ("我要重置资金密码" fills it before any step is asked, kept through the login)."""

    def __init__(self, slot: str, options: list[str], keywords: dict, entity: str | None):
        self.slot, self.options, self.keywords, self.entity = slot, list(options), dict(keywords or {}), entity

    @property
    def help(self) -> str:
        return f"utter_help_{self.slot}"

    def pick(self, turn: Turn) -> str | None:
        for entity in (turn.tracker.latest_message or {}).get("entities") or []:
            if entity.get("entity") == self.entity and entity.get("value") in self.options:
                return entity["value"]
        text = normalise.compact(turn.text)
        for i, option in enumerate(self.options, 1):
            if text == str(i) or option in text or any(k in text for k in self.keywords.get(option, ())):
                return option
        return None

    def answer(self, turn: Turn):
        if turn.intent in NOT_ANSWERS or not turn.text:
            return None
        return self.pick(turn) or turn.text

    def prefill(self, turn: Turn):
        """From the message that started the business."""
        return self.pick(turn) if turn.business and turn.intent == turn.business.intent else None

    async def validate(self, turn: Turn, value) -> dict:
        if value in self.options:
            return {self.slot: value}
        turn.say(f"utter_{turn.business.code}_choice_again" if turn.business else "utter_not_understood_in_step")
        return {self.slot: None}


class Confirm(YesNoStep):
    """确认解锁？ — the business's confirmation before the application is filed."""
    slot = CONFIRMED

    @property
    def help(self) -> str:
        return "utter_help_business_confirmed"

    def answer(self, turn: Turn):
        found = super().answer(turn)
        if found is None and turn.business and turn.intent == turn.business.intent:
            return True  # naming the business again at its confirmation means yes
        return found

    async def validate(self, turn: Turn, value) -> dict:
        if value is not True:
            turn.say(f"utter_{turn.business.code}_declined")
            return {self.slot: False, "step_outcome": Outcome.DECLINED}
        return {self.slot: True}


def choice_steps() -> dict[str, Choice]:
    """The choice steps the registry declares, by slot (one slot, one set of options)."""
    found: dict[str, Choice] = {}
    for business in REGISTRY.values():
        for step in business.steps:
            if step.kind == "choice":
                o = step.options
                found[o["slot"]] = Choice(o["slot"], o["options"], o.get("keywords"), o.get("entity"))
    return found


CHOICES = choice_steps()
register(Confirm(), *CHOICES.values())
