"""Every business's form validation (`validate_<code>_form`), made from the business registry.

One call: read the latest message as the answer to the step being asked (or handle what is not an answer:
help, 重新发送, the witness nudge, small talk, "not understood"), take what the request itself says (a choice
such as 资金密码), then work out the next step from the registry and the back-office (steps/plan.py).
Cancel, 转人工, goodbye and logout are not handled here: the form rejects them and the rules end it.
"""
from __future__ import annotations

import abc

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions import backoffice
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY, CODE_LIMIT, requester
from bot.actions.markers import Outcome, slot_value
from bot.actions.steps import CATALOGUE, CONTROL
from bot.actions.steps.business import CHOICES
from bot.actions.steps.plan import required_slots
from bot.actions.turn import Turn
from businesses import REGISTRY, Business

SMALL_TALK = {"greet", "thank"}
BUSINESS_INTENTS = {b.intent for b in REGISTRY.values() if b.intent} | {"login"}


async def resend(turn: Turn, path: str | None) -> None:
    """重新发送 at a code step: a new code (the OTP rules — a minute between codes, daily caps — are the
    back-office's)."""
    if not path:
        turn.say("utter_no_code_step")
        return
    try:
        result = await backoffice.client.call(path, requester(turn.tracker))
    except BackofficeUnavailable:
        turn.say(BUSY)
        return
    status = result.get("status")
    if status == "sent":
        turn.say("utter_code_resent", phone_masked=result["phone_masked"])
    elif status == "wait":
        turn.say("utter_code_wait", wait_seconds=result["wait_seconds"])
    elif status == "too_many":
        turn.say(CODE_LIMIT)
    else:
        turn.say("utter_step_timed_out")


class BusinessForm(Action, abc.ABC):
    """The validation action of one business's form; subclasses are made per registry entry below."""

    @property
    @abc.abstractmethod
    def business(self) -> Business:
        """Abstract, so the action server registers only the per-business subclasses."""

    def name(self) -> str:
        return f"validate_{self.business.form}"

    async def take_answer(self, turn: Turn) -> bool:
        """Handle the latest message at the step being asked; False when it is for the rules (cancel, ...)."""
        step = CATALOGUE.get(turn.requested or "")
        if step is None:
            return True
        value = step.answer(turn)
        if value is not None:
            turn.set(await step.validate(turn, value))
            return True
        if turn.intent in CONTROL:
            return False
        if turn.intent == "help":
            turn.say(step.help if step.help in (turn.domain.get("responses") or {}) else "utter_help_general")
        elif turn.intent == "resend_code":
            await resend(turn, step.resend)
        elif turn.intent == "witness_done":
            pass  # a verdict no step waits for any more: the step being asked is asked again
        elif turn.intent in SMALL_TALK or turn.intent in BUSINESS_INTENTS:
            turn.say("utter_continue_step")
        else:
            turn.say("utter_not_understood_in_step")
        turn.set({step.slot: None})  # the step is asked again (and the form is not rejected)
        return True

    async def prefill(self, turn: Turn) -> None:
        """What the request itself says for a later step ("我要重置资金密码")."""
        for step in self.business.steps:
            choice = CHOICES.get(step.options.get("slot")) if step.kind == "choice" else None
            if choice and turn.slot(choice.slot) is None:
                value = choice.prefill(turn)
                if value:
                    turn.set(await choice.validate(turn, value))

    async def run(self, dispatcher, tracker, domain):
        turn = Turn(dispatcher, tracker, domain, self.business)
        if tracker.latest_action_name == "action_listen" and (tracker.active_loop or {}).get("name") == \
                self.business.form:
            if not await self.take_answer(turn):
                return []  # rejected: the rules take over
        await self.prefill(turn)
        try:
            required = await required_slots(turn)
        except BackofficeUnavailable:
            if turn.requested:
                required = [turn.requested]  # that step's own check says 系统繁忙 when answered
            else:  # nothing asked yet: say why the form stops
                turn.say(BUSY)
                turn.set({"step_outcome": Outcome.BUSY})
                required = []
        next_slot = next((slot for slot in required if turn.slot(slot) is None), None)
        return [SlotSet(k, slot_value(v)) for k, v in turn.updates.items()] + [SlotSet("requested_slot", next_slot)]


def form_actions(registry: dict = REGISTRY) -> list[type]:
    """One validation action class per business (rasa_sdk registers every Action subclass it finds)."""
    return [type(f"Validate_{code}_form", (BusinessForm,), {"business": business, "__module__": __name__})
            for code, business in registry.items()]


FORMS = form_actions()
