"""Every business's submit action (`action_<code>_submit`), made from the business registry.

When the form ends: a step that ended it early has already explained (step_outcome); a business with an
application files it (the back-office checks every proof and agreement again and refuses with a message the
customer can act on) or says why nothing was asked (not eligible, one already under way); other businesses say
their result. The submit actions of 掌厅登录, 办理进度 and 协议查看与补签 show more than a result and live in their
own modules.
"""
from __future__ import annotations

import abc

from rasa_sdk import Action
from rasa_sdk.events import FollowupAction, SlotSet

from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY
from bot.actions.markers import Outcome
from bot.actions.steps.plan import gate_slots, own_slots, started
from bot.actions.steps.switch import SWITCH_TO
from bot.actions.turn import Turn
from businesses import REGISTRY, Business, get

OWN_SUBMIT = {"login", "check_status", "view_agreements"}
RESUME = "resume_business"  # the business the customer left for another one, offered again at its end


def step_reset(domain: dict, form: str) -> list[str]:
    """Every slot a form may have filled, to clear after it ends."""
    spec = (domain.get("forms") or {}).get(form) or {}
    return sorted(set(spec.get("required_slots") or []) | {"step_outcome", "requested_slot", SWITCH_TO})


def switched(turn: Turn) -> list:
    """The customer named another business: start it now; the one left is offered again when it ends."""
    target = get(turn.slot(SWITCH_TO) or "")
    if target is None:
        return []
    turn.say("utter_switching", target=target.name)
    if f"utter_{target.code}_intro" in (turn.domain.get("responses") or {}):
        turn.say(f"utter_{target.code}_intro")
    left = turn.business
    resume = [SlotSet(RESUME, left.code)] if left and left.start_rule and left.code != target.code else []
    return resume + [FollowupAction(target.form)]


def resume_offer(turn: Turn) -> list:
    """At the end of a business: the one the customer left for it, if any, offered again."""
    left = get(turn.slot(RESUME) or "")
    if left is None or (turn.business and left.code == turn.business.code):
        return [SlotSet(RESUME, None)] if turn.slot(RESUME) else []
    turn.dispatcher.utter_message(response="utter_resume_offer", business=left.name,
                                  buttons=[{"title": f"继续办理{left.name}", "payload": f"/{left.intent}"}])
    return [SlotSet(RESUME, None)]


def ending(turn: Turn, reset: list) -> list | None:
    """The events of a form that ended by a switch, or None when it ended otherwise."""
    if turn.slot("step_outcome") == Outcome.SWITCHED:
        return reset + switched(turn)
    return None


async def tell_if_open(turn: Turn) -> bool:
    """When the business ended without steps because an application is already under way, say so."""
    try:
        app = await turn.open_application()
    except BackofficeUnavailable:
        return False
    if app:
        turn.say("utter_application_open", business=turn.business.name, app_id=app["id"], app_status=app["status_label"])
    return bool(app)


async def submit_application(turn: Turn, payload: dict) -> dict | None:
    """Open and submit; a second submit is answered with the application already under way."""
    result = await turn.call("/api/bot/applications/open", business=turn.code, payload=payload, submit=True)
    if result is None:
        return None
    app = result.get("application")
    if not app:
        turn.say("utter_application_refused", message=result.get("message") or "申请未能提交。")
        return None
    if not result.get("created"):
        turn.say("utter_application_open", business=turn.business.name, app_id=app["id"], app_status=app["status_label"])
        return app
    turn.say("utter_application_submitted", business=turn.business.name, app_id=app["id"], app_status=app["status_label"])
    return app


class BusinessSubmit(Action, abc.ABC):
    @property
    @abc.abstractmethod
    def business(self) -> Business:
        """Abstract, so the action server registers only the per-business subclasses."""

    def name(self) -> str:
        return f"action_{self.business.code}_submit"

    async def run(self, dispatcher, tracker, domain):
        turn = Turn(dispatcher, tracker, domain, self.business)
        reset = [SlotSet(slot, None) for slot in step_reset(domain, self.business.form)]
        switch = ending(turn, reset)
        if switch is not None:
            return switch
        outcome = tracker.get_slot("step_outcome")
        if outcome:
            if outcome not in (Outcome.FACE_FAILED, Outcome.LATER) and "unfinished" in self.business.texts:
                turn.say(f"utter_{self.business.code}_unfinished")
            return reset  # the step already explained
        if self.business.application:
            await self.application(turn)
        else:
            self.result(turn)
        return reset + resume_offer(turn)

    async def application(self, turn: Turn) -> None:
        business = turn.business
        if not started(turn):  # nothing was asked: say why, unless every step was done before (a resumed one)
            try:
                answer = await turn.eligibility() if business.eligibility else {"eligible": True}
            except BackofficeUnavailable:
                turn.say(BUSY)
                return
            if answer.get("error") == "not_logged_in":
                return  # the login steps ended without a login and said why
            if not answer.get("eligible", True):
                turn.say("utter_not_eligible", message=answer.get("message") or f"您的账户暂不满足{business.name}条件。")
                return
            if await tell_if_open(turn):
                return
        payload = {slot: turn.slot(slot) for slot in business.payload}
        if await submit_application(turn, payload) and "submitted" in business.texts:
            turn.say(f"utter_{business.code}_submitted", **payload)

    def result(self, turn: Turn) -> None:
        business = turn.business
        slots = own_slots(business) or gate_slots(business, None)  # a gate business: its last gate step
        final = slots[-1] if slots else None
        if final and turn.slot(final):
            if "done" in business.texts:
                turn.say(f"utter_{business.code}_done")
            if business.texts.get("after_done"):
                turn.say(business.texts["after_done"])
        elif "not_needed" in business.texts:
            turn.say(f"utter_{business.code}_not_needed")


def submit_actions(registry: dict = REGISTRY) -> list[type]:
    return [type(f"Submit_{code}", (BusinessSubmit,), {"business": business, "__module__": __name__})
            for code, business in registry.items() if code not in OWN_SUBMIT]


SUBMITS = submit_actions()
