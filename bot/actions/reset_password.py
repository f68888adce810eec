"""重置密码: 交易密码/资金密码 → ID (skipped when on file) → SMS code → face → agreements → application.

The temporary password reaches the customer only by SMS after approval (the back-office does that).
"""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.applications import submit_application, tell_if_open
from bot.actions.common import latest_text, normalize
from bot.actions.steps import LOGIN_STEPS, NOT_ANSWERS, StepsForm, open_application, step_reset

FORM = "reset_password_form"
TYPES = ("交易密码", "资金密码")


def password_type_in(tracker) -> str | None:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "password_type" and entity.get("value") in TYPES:
            return entity["value"]
    text = normalize(latest_text(tracker))
    if "交易" in text or text == "1":
        return "交易密码"
    if "资金" in text or "银期" in text or "转账" in text or text == "2":
        return "资金密码"
    return None


class ValidateResetPasswordForm(StepsForm):
    BUSINESS = "重置密码"

    def name(self) -> str:
        return f"validate_{FORM}"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        steps = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        # Listed during the login too, so that "我要重置资金密码" fills it before the login starts.
        return steps + ["password_type"] if steps == LOGIN_STEPS else steps

    async def business_steps(self, gate, tracker):
        if not tracker.get_slot("business_code") and await open_application(tracker, "reset_password"):
            return []  # one is under way already: the submit action says so
        steps = ["password_type"]
        if not gate.get("id_on_file") or tracker.get_slot("id_confirmed"):
            steps += self.id_steps()
        steps += ["business_code", "business_face"]
        return steps + await self.agreement_steps(tracker)

    async def extract_password_type(self, dispatcher, tracker, domain):
        # Also from the request itself ("我要重置资金密码"), kept through the login steps.
        if tracker.get_slot("password_type"):
            return {}
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        if self._requested(tracker, "password_type") and intent not in NOT_ANSWERS:
            return {"password_type": password_type_in(tracker) or latest_text(tracker)}
        if intent == "reset_password":
            found = password_type_in(tracker)
            return {"password_type": found} if found else {}
        return {}

    async def validate_password_type(self, value, dispatcher, tracker, domain):
        if value in TYPES:
            return {"password_type": value}
        dispatcher.utter_message(text="请选择需要重置的密码类型：交易密码 或 资金密码。")
        return {"password_type": None}


class ActionResetPasswordSubmit(Action):
    def name(self) -> str:
        return "action_reset_password_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, FORM)]
        if tracker.get_slot("step_outcome"):
            return reset
        if tracker.get_slot("business_code") == "verified" and tracker.get_slot("business_face"):
            kind = tracker.get_slot("password_type")
            app = await submit_application(dispatcher, tracker, "reset_password", "重置密码",
                                           {"password_type": kind})
            if app:
                dispatcher.utter_message(text=f"审核通过后，临时{kind}将通过短信发送至您的开户预留手机号（不会在对话中显示），"
                                              "首次登录时须立即修改。")
        else:
            await tell_if_open(dispatcher, tracker, "reset_password", "重置密码")
        return reset
