"""Human handoff: put the conversation in the agents' waiting queue."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, SlotSet

from bot.actions import backoffice
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import requester


async def queue_for_human(dispatcher, tracker, reason: str) -> list:
    try:
        # The business form in progress, so the agent can hand back to it (release with resume_bot).
        form = (tracker.active_loop or {}).get("name")
        result = await backoffice.client.call("/api/bot/handoff", {**requester(tracker), "reason": reason, "form": form})
    except BackofficeUnavailable:
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return []
    if "position" in result:
        ahead = result["position"] - 1
        queue = f"您前面还有{ahead}位客户在等待，请稍候" if ahead > 0 else "您是下一位，请稍候"
        dispatcher.utter_message(response="utter_handoff_queued", queue=queue)
    else:
        dispatcher.utter_message(response="utter_handoff_with_agent")
    # A business in progress is paused, not lost: its slots stay for the agent and for resuming.
    return [ActiveLoop(None), SlotSet("requested_slot", None)]


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher, tracker, domain):
        return await queue_for_human(dispatcher, tracker, "customer_request")
