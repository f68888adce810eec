"""掌厅登录: the login form (its steps are the shared login steps) and session actions."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from backoffice.core.crypto import mask_account
from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import BUSY, requester
from bot.actions.steps import LOGIN_STEPS, StepsForm


class ValidateLoginForm(StepsForm):
    NEEDS_GATE = False

    def name(self) -> str:
        return "validate_login_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        if tracker.get_slot("step_outcome") or tracker.get_slot("logged_in"):
            return []
        return LOGIN_STEPS


class ActionAskPrivacyAgreed(Action):
    def name(self) -> str:
        return "action_ask_privacy_agreed"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(
            text=f"验证码正确。请阅读《隐私政策》：{client.public_url}/h5/privacy\n"
                 "阅读后请确认：是否阅读并同意《隐私政策》？",
            buttons=[{"title": "同意", "payload": "/affirm"}, {"title": "不同意", "payload": "/deny"}])
        return []


class ActionLoginSubmit(Action):
    def name(self) -> str:
        return "action_login_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in LOGIN_STEPS + ["step_outcome"]]
        if tracker.get_slot("logged_in") and not tracker.get_slot("step_outcome"):
            masked = tracker.get_slot("account_number") or ""  # the slot only ever holds the mask
            dispatcher.utter_message(text=f"欢迎您，资金账号 {masked}。")
            dispatcher.utter_message(response="utter_menu")
        return reset


class ActionCheckSession(Action):
    """Asks the back-office (the source of truth: sessions expire there) whether the sender is logged in."""

    def name(self) -> str:
        return "action_check_session"

    async def run(self, dispatcher, tracker, domain):
        try:
            result = await client.call("/api/bot/session", requester(tracker))
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            # Ends the turn: the "logged in" branch of the rules runs no further action.
            return [SlotSet("logged_in", True)]
        if result.get("logged_in"):
            dispatcher.utter_message(text=f"您已登录资金账号 {mask_account(result['account_number'])}，可以直接办理业务。"
                                          "如需切换账号，请先回复“退出登录”。")
            return [SlotSet("logged_in", True)]
        return [SlotSet("logged_in", False)]


class ActionLogout(Action):
    def name(self) -> str:
        return "action_logout"

    async def run(self, dispatcher, tracker, domain):
        try:
            result = await client.call("/api/bot/logout", requester(tracker))
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return []
        if result.get("logged_out"):
            dispatcher.utter_message(text="您已安全退出登录。如需办理业务，请回复“登录”。")
        else:
            dispatcher.utter_message(text="您当前未登录。如需办理业务，请回复“登录”。")
        return [SlotSet("logged_in", False)]
