"""休眠账户激活: only for a dormant account → ID (skipped when on file) → 视频见证 → agreements (the set depends
on the account's opening date, decided by the back-office) → sign with an SMS code → application → approval."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.applications import finish_witnessed_business
from bot.actions.steps import StepsForm, step_reset

FORM = "activate_dormant_account_form"


class ValidateActivateDormantAccountForm(StepsForm):
    BUSINESS = "休眠账户激活"
    CHECK_ELIGIBILITY = True  # not dormant: said right after the login, before any other step

    def name(self) -> str:
        return f"validate_{FORM}"

    async def business_steps(self, gate, tracker):
        return await self.witnessed_business_steps(gate, tracker)


class ActionActivateDormantAccountSubmit(Action):
    def name(self) -> str:
        return "action_activate_dormant_account_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, FORM)]
        if not tracker.get_slot("step_outcome"):
            await finish_witnessed_business(
                dispatcher, tracker, "activate_dormant_account", "休眠账户激活",
                "审核通过后您的账户将恢复正常状态，结果将通过短信通知您。")
        return reset
