"""掌厅登录: the end of the login form and the session actions (the login steps: bot/actions/steps/login.py)."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from backoffice.core.crypto import mask_account
from bot.actions import backoffice
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY, requester
from bot.actions.submit import ending, step_reset
from bot.actions.turn import Turn
from businesses import get


class ActionLoginSubmit(Action):
    def name(self) -> str:
        return "action_login_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, "login_form")]
        turn = Turn(dispatcher, tracker, domain, get("login"))
        switch = ending(turn, reset)
        if switch is not None:
            return switch
        if tracker.get_slot("logged_in") and not tracker.get_slot("step_outcome"):
            # the slot only ever holds the mask (the back-office keeps the number)
            turn.say("utter_welcome", account_masked=tracker.get_slot("account_number") or "")
            turn.say("utter_menu")
        return reset


class ActionCheckSession(Action):
    """Asks the back-office (the source of truth: sessions expire there) whether the conversation is logged in."""

    def name(self) -> str:
        return "action_check_session"

    async def run(self, dispatcher, tracker, domain):
        try:
            result = await backoffice.client.call("/api/bot/session", requester(tracker))
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            # Ends the turn: the "logged in" branch of the rules runs no further action.
            return [SlotSet("logged_in", True)]
        if result.get("logged_in"):
            dispatcher.utter_message(response="utter_already_logged_in",
                                     account_masked=mask_account(result["account_number"]))
            return [SlotSet("logged_in", True)]
        return [SlotSet("logged_in", False)]


class ActionLogout(Action):
    def name(self) -> str:
        return "action_logout"

    async def run(self, dispatcher, tracker, domain):
        try:
            result = await backoffice.client.call("/api/bot/logout", requester(tracker))
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return []
        dispatcher.utter_message(response="utter_logged_out" if result.get("logged_out") else "utter_not_logged_in")
        return [SlotSet("logged_in", False)]
