"""在线销户: preconditions first (no positions, no withdrawals under way, zero balance; each unmet one explained)
→ ID (skipped when on file) → 视频见证 → agreements → sign with an SMS code → application → approval, after
which the back-office closes the account, unbinds the device and ends the login session."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.applications import finish_witnessed_business
from bot.actions.steps import StepsForm, step_reset

FORM = "close_account_form"


class ValidateCloseAccountForm(StepsForm):
    BUSINESS = "在线销户"
    CHECK_ELIGIBILITY = True  # positions, withdrawals, balance: explained before any other step

    def name(self) -> str:
        return f"validate_{FORM}"

    async def business_steps(self, gate, tracker):
        return await self.witnessed_business_steps(gate, tracker)


class ActionCloseAccountSubmit(Action):
    def name(self) -> str:
        return "action_close_account_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, FORM)]
        if not tracker.get_slot("step_outcome"):
            await finish_witnessed_business(
                dispatcher, tracker, "close_account", "在线销户",
                "审核通过后资金账号将销户，本设备的绑定随之解除并自动退出登录，结果将通过短信通知您。")
        return reset
