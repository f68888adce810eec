"""Every business's form validation (`validate_<code>_form`), made from the business registry.

One call: read the latest message as the answer to the step being asked, or handle what is not an answer —
help, 重新发送, the witness nudge, a question of the FAQ (answered, then the step is asked again), small talk,
another business named (a switch, confirmed when steps already done would be dropped), "I don't have it"
(「资金账号我忘了」 → 找回账户, 「手机号换了」 → a human, 「身份证没带」 / 「稍后再办」 → stop, keeping what was done) and
"not understood"; take every further answer the message carries (「我要登录，资金账号…，手机号…」: each later step
it answers is taken in order, still validated); then work out the next step from the registry and the
back-office (steps/plan.py). Cancel, 转人工, goodbye and logout are not handled here: the form rejects them and
the rules end it.
"""
from __future__ import annotations

import abc

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions import backoffice, unable
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY, CODE_LIMIT, requester
from bot.actions.markers import Outcome, slot_value
from bot.actions.steps import CATALOGUE, CONTROL
from bot.actions.steps.base import carries_number
from bot.actions.steps.business import CHOICES
from bot.actions.steps.login import OTHER_TYPES
from bot.actions.steps.plan import required_slots, started
from bot.actions.steps.switch import SWITCH_CONFIRMED, SWITCH_TO
from bot.actions.turn import Turn
from businesses import REGISTRY, Business

SMALL_TALK = {"greet", "thank"}
# the businesses a customer can switch to by naming them (the login is a step of every business, not one)
SWITCHABLE = {b.intent: b for b in REGISTRY.values() if b.intent and b.start_rule}
FAQ = "faq"
# which entity answers which step, when a message carries answers for later steps
ENTITY_OF = {"account_number": "account_number", "phone_number": "phone_number", "recover_phone": "phone_number"}
MAX_PREFILLED = 4


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


def faq_answer(turn: Turn) -> str | None:
    """The FAQ response the response selector chose for the latest message."""
    selector = ((turn.tracker.latest_message or {}).get("response_selector") or {}).get(FAQ) or {}
    return (selector.get("response") or {}).get("utter_action")


def before_validation(tracker, form: str) -> tuple[bool, bool]:
    """(was this form running, had the customer just written) as they were when Rasa called this validation.

    Rasa validates a form on a temporary tracker that ends with the form's own ActionExecuted followed by the events
    the form made so far, so `latest_action_name` and `active_loop` there describe the form itself (at activation
    the loop is already set); the events before that marker tell what happened: the form was already running when
    an action (its own, action_listen...) ran after its loop was set. A tracker without the marker (built by hand)
    is read as it is."""
    events = list(tracker.events or [])
    marker = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "action"), None)
    if marker is None or events[marker].get("name") != form:
        return (tracker.active_loop or {}).get("name") == form, tracker.latest_action_name == "action_listen"
    previous = next((e.get("name") for e in reversed(events[:marker]) if e.get("event") == "action"), None)
    loop, ran = None, False  # the loop set, and whether anything ran since (nothing at its activation)
    for event in events[:marker]:
        if event.get("event") == "active_loop":
            loop, ran = event.get("name"), False
        elif event.get("event") == "action":
            ran = True
    return loop == form and ran, previous == "action_listen"


def holds_digits(turn: Turn) -> bool:
    return any(c.isdigit() for c in turn.text)


class BusinessForm(Action, abc.ABC):
    """The validation action of one business's form; subclasses are made per registry entry below."""

    @property
    @abc.abstractmethod
    def business(self) -> Business:
        """Abstract, so the action server registers only the per-business subclasses."""

    def name(self) -> str:
        return f"validate_{self.business.form}"

    # --- the step being asked ---------------------------------------------------------------------------
    async def take_answer(self, turn: Turn) -> bool:
        """Handle the latest message at the step being asked; False when it is for the rules (cancel, ...)."""
        step = CATALOGUE.get(turn.requested or "")
        if step is None:
            return True
        button = step.typed_button(turn)
        if turn.intent in CONTROL and not button and not carries_number(turn.text):
            # 「暂不解绑」 is that step's 否, six digits are an answer: neither is a cancel
            return False
        situation = unable.situation(step.slot, turn.text) if turn.intent not in ("upload_image", "upload_video") \
            else None
        if situation:
            return self.cannot_answer(turn, step.slot, situation)
        target = SWITCHABLE.get(turn.intent)
        if button:  # the step's own button, whatever NLU or the business its words name
            value = step.answer(turn)
        elif turn.intent == FAQ or (target and target.code != self.business.code and not holds_digits(turn)):
            value = None  # a question or another business, never an answer to this step
        else:
            value = step.answer(turn)
        if value is not None:
            turn.set(await step.validate(turn, value))
            return True
        if turn.intent == "help":
            turn.say(step.help if step.help in (turn.domain.get("responses") or {}) else "utter_help_general")
        elif turn.intent == "resend_code":
            await resend(turn, step.resend)
        elif turn.intent in ("witness_done", "live_check_done"):
            pass  # a verdict no step waits for any more: the step being asked is asked again
        elif turn.intent == FAQ and faq_answer(turn):
            turn.say(faq_answer(turn))  # then the step is asked again
        elif target and target.code != self.business.code:
            self.switch(turn, target)
            return True
        elif turn.intent in SMALL_TALK or target:
            turn.say("utter_continue_step")
        else:
            turn.say("utter_not_understood_in_step")
        turn.set({step.slot: None})  # the step is asked again (and the form is not rejected)
        return True

    def switch(self, turn: Turn, target: Business, confirmed: bool = False) -> None:
        """To another business: at once when nothing was done yet, else after the customer confirms that the
        steps done (kept by the back-office for a while) are left."""
        if confirmed or not started(turn):
            turn.set({"step_outcome": Outcome.SWITCHED, SWITCH_TO: target.code, SWITCH_CONFIRMED: None})
        else:
            turn.set({SWITCH_TO: target.code, SWITCH_CONFIRMED: None})  # plan.py asks switch_confirmed first

    def cannot_answer(self, turn: Turn, slot: str, situation: str) -> bool:
        if situation == "forgot_account":
            turn.say("utter_unable_account")
            self.switch(turn, REGISTRY["recover_account"], confirmed=True)
        elif situation == "phone_changed":
            turn.say("utter_unable_phone")
            turn.set({slot: None})
        else:  # no ID card at hand, or later: stop here, what was done stays with the back-office
            turn.say("utter_unable_id_card" if situation == "no_id_card" else "utter_later_kept",
                     business=self.business.name)
            turn.set({"step_outcome": Outcome.LATER})
        return True

    # --- what else the message says -------------------------------------------------------------------
    async def prefill(self, turn: Turn) -> None:
        """What the request itself says for a later step ("我要重置资金密码")."""
        for step in self.business.steps:
            choice = CHOICES.get(step.options.get("slot")) if step.kind == "choice" else None
            if choice and turn.slot(choice.slot) is None:
                value = choice.prefill(turn)
                if value:
                    turn.set(await choice.validate(turn, value))

    async def further_answers(self, turn: Turn, answered: str | None) -> list[str]:
        """The message's answers to the steps after the one it answered, taken in order while the next step is
        one of them (each still validated); the required steps after that."""
        entities: dict[str, str] = {}
        for entity in (turn.tracker.latest_message or {}).get("entities") or []:
            entities.setdefault(entity.get("entity"), str(entity.get("value") or ""))
        taken = {answered}
        for _ in range(MAX_PREFILLED):
            required = await required_slots(turn)
            slot = next((s for s in required if turn.slot(s) is None), None)
            if slot == "investor_type" and (entities.get("account_number") or "投资者" in turn.text
                                             and not any(word in turn.text for word in OTHER_TYPES)):
                # an account number and its phone, or 「投资者」 said with the request: an investor's login
                turn.set({"investor_type": "投资者"})
                continue
            value = entities.get(ENTITY_OF.get(slot, ""))
            if not value or slot in taken or turn.slot("step_outcome"):
                return required
            taken.add(slot)
            turn.set(await CATALOGUE[slot].validate(turn, value))
        return await required_slots(turn)

    async def run(self, dispatcher, tracker, domain):
        turn = Turn(dispatcher, tracker, domain, self.business)
        active, listened = before_validation(tracker, self.business.form)
        answered = None
        if active and listened:  # the customer wrote to this form
            answered = turn.requested
            if not await self.take_answer(turn):
                return []  # rejected: the rules take over
        await self.prefill(turn)
        # the customer's own message: an answer, or the request that starts the form
        customers = not active or listened
        try:
            if customers and not turn.slot("step_outcome"):
                required = await self.further_answers(turn, answered)
            else:
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
