"""The witness verdict's nudge (witness_done) when no witness step waits for it (the customer cancelled)."""
from __future__ import annotations

from rasa_sdk import Action


class ActionWitnessUpdate(Action):
    def name(self) -> str:
        return "action_witness_update"

    async def run(self, dispatcher, tracker, domain):
        if not tracker.active_loop_name:
            dispatcher.utter_message(response="utter_witness_result_updated")
        return []
