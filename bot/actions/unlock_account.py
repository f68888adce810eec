"""账户解锁: only for a locked account → face → SMS code → 确认解锁？ → application (staff approve, SMS)."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.applications import submit_application, tell_if_open
from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import requester
from bot.actions.steps import StepsForm, open_application, step_reset

FORM = "unlock_account_form"
STEPS = ["business_face", "business_code", "unlock_confirmed"]


class ValidateUnlockAccountForm(StepsForm):
    BUSINESS = "账户解锁"

    def name(self) -> str:
        return f"validate_{FORM}"

    async def business_steps(self, gate, tracker):
        started = tracker.get_slot("business_face")
        if gate.get("state") != "locked" and not started:
            return []  # not locked: the submit action says so
        if not started and await open_application(tracker, "unlock_account"):
            return []  # one is under way already: the submit action says so
        # The face is compared with the portrait on file, or with the ID card uploaded now.
        return ([] if gate.get("face_reference") else self.id_steps()) + STEPS

    async def extract_unlock_confirmed(self, dispatcher, tracker, domain):
        return self._yes_no(tracker, "unlock_confirmed", ("affirm", "unlock_account"))

    async def validate_unlock_confirmed(self, value, dispatcher, tracker, domain):
        if value is not True:
            dispatcher.utter_message(text="好的，已取消本次账户解锁。")
            return {"unlock_confirmed": False, "step_outcome": "declined"}
        return {"unlock_confirmed": True}


class ActionUnlockAccountSubmit(Action):
    def name(self) -> str:
        return "action_unlock_account_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, FORM)]
        if tracker.get_slot("step_outcome"):
            return reset  # the step already explained
        if tracker.get_slot("unlock_confirmed") is True and tracker.get_slot("business_code") == "verified":
            # The face result and the code are the back-office's own records (backoffice/verification.py).
            await submit_application(dispatcher, tracker, "unlock_account", "账户解锁", {})
            return reset
        try:
            gate = await client.call("/api/bot/gate", requester(tracker))
        except BackofficeUnavailable:
            gate = {}
        if gate.get("logged_in") and gate.get("state") == "locked":
            await tell_if_open(dispatcher, tracker, "unlock_account", "账户解锁")
        elif gate.get("logged_in"):
            dispatcher.utter_message(text="您的账户未被锁定，无需解锁。")
        return reset
