"""The back-office's nudges when no step waits for them (the customer cancelled or left the business): a witness
verdict (witness_done) is announced; a live check's result (live_check_done) is told by the back-office itself
(backoffice/channels/nudge.py posts its own text when the bot says nothing)."""
from __future__ import annotations

from rasa_sdk import Action


class ActionWitnessUpdate(Action):
    def name(self) -> str:
        return "action_witness_update"

    async def run(self, dispatcher, tracker, domain):
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        if not tracker.active_loop_name and intent != "live_check_done":
            dispatcher.utter_message(response="utter_witness_result_updated")
        return []
