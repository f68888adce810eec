"""A new Rasa session (after session_expiration_time) while an agent holds the conversation stays silent.

Rasa's own action_session_start resets the tracker, the pause included (cf. RasaHQ/rasa#4107), so the
customer's first message of the new session would get a bot answer while the agent is talking to them. This
replacement does what the default does (SessionStarted, slots carried over, action_listen) and then, when the
back-office says an agent holds the conversation, pauses it again before the message is handled: Rasa logs
the message for the agent's history and predicts nothing.
"""
from __future__ import annotations

import logging

from rasa_sdk import Action
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet

from bot.actions import backoffice
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import requester

log = logging.getLogger(__name__)


async def held_by_agent(tracker) -> bool:
    try:
        result = await backoffice.client.call("/api/bot/session", requester(tracker))
    except BackofficeUnavailable:
        # Unknown: keep it as it was. A paused tracker was paused for an agent; stay silent rather than talk over them.
        return tracker.is_paused()
    return result.get("conversation") == "agent"


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher, tracker, domain):
        events = [SessionStarted()]
        if ((domain or {}).get("session_config") or {}).get("carry_over_slots_to_new_session", True):
            events += [SlotSet(name, value) for name, value in (tracker.slots or {}).items() if value is not None]
        events.append(ActionExecuted("action_listen"))
        if await held_by_agent(tracker):
            events.append(ConversationPaused())
        return events
