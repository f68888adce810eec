"""Conversation-wide behaviour outside the steps: help, cancel, misunderstandings, 重新发送 with nothing pending.

Inside a business the form handles help, 重新发送 and what it does not understand itself (bot/actions/forms.py);
cancel, 转人工, goodbye and logout end the form through the rules.
"""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, SlotSet

from bot.actions import backoffice
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import intent_of, requester
from bot.actions.handoff import queue_for_human
from bot.actions.steps.login import LOGIN_STEPS
from bot.actions.steps.witness import WITNESS
from bot.actions.submit import step_reset
from businesses import by_form

FALLBACK_INTENTS = {"nlu_fallback", "out_of_scope"}
FALLBACKS_BEFORE_HUMAN = 3


class ActionHelp(Action):
    def name(self) -> str:
        return "action_help"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_help_general")
        return []


class ActionCancel(Action):
    def name(self) -> str:
        return "action_cancel"

    async def run(self, dispatcher, tracker, domain):
        form = tracker.active_loop_name
        if not form:
            dispatcher.utter_message(response="utter_nothing_to_cancel")
            return []
        requested = tracker.get_slot("requested_slot")
        try:
            if requested in LOGIN_STEPS:
                await backoffice.client.call("/api/bot/login/cancel", requester(tracker))
            if requested == WITNESS:  # leave the staff's waiting list: nobody should call a customer who has gone
                business = by_form(form)
                await backoffice.client.call("/api/bot/witness/cancel", {**requester(tracker),
                                                              "business": business.code if business else ""})
        except BackofficeUnavailable:
            pass  # a pending login or an untaken witness session expires by itself
        dispatcher.utter_message(response="utter_cancelled")
        return [ActiveLoop(None)] + [SlotSet(slot, None) for slot in step_reset(domain, form)]


class ActionFallback(Action):
    """Polite re-prompt; after repeated misunderstandings the conversation goes to a human."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher, tracker, domain):
        intent = intent_of(tracker)
        if intent in ("upload_image", "upload_video"):
            dispatcher.utter_message(response=f"utter_unexpected_{intent.removeprefix('upload_')}")
            return []
        if intent in ("affirm", "deny", "inform"):
            if sum(1 for e in tracker.events if e.get("event") == "user") <= 1:
                # An answer (a code, "是") with no conversation before it: the conversation store lost it
                # (restart without persistence, expiry). Say so instead of pretending nothing was asked.
                dispatcher.utter_message(response="utter_no_conversation_found")
            else:
                dispatcher.utter_message(response="utter_which_business")
            return []
        streak = 0
        for event in reversed(tracker.events):
            if event.get("event") != "user":
                continue
            if ((event.get("parse_data") or {}).get("intent") or {}).get("name") in FALLBACK_INTENTS:
                streak += 1
            else:
                break
        if streak >= FALLBACKS_BEFORE_HUMAN:
            dispatcher.utter_message(response="utter_fallback_to_human")
            return await queue_for_human(dispatcher, tracker, "repeated_fallback")
        dispatcher.utter_message(response="utter_default")
        return []


class ActionResendCode(Action):
    """重新发送 outside a code step (inside one, the form sends the new code)."""

    def name(self) -> str:
        return "action_resend_code"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_no_code_step")
        return []
