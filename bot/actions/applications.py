"""办理进度 (check_status): the customer's own applications with 办理中/审批中/已通过/已驳回/已撤销."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.submit import ending, resume_offer, step_reset
from bot.actions.turn import Turn
from businesses import get


class ActionCheckStatusSubmit(Action):
    def name(self) -> str:
        return "action_check_status_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, "check_status_form")]
        turn = Turn(dispatcher, tracker, domain, get("check_status"))
        switch = ending(turn, reset)
        if switch is not None:
            return switch
        if tracker.get_slot("step_outcome"):
            return reset
        result = await turn.call("/api/bot/applications/status")
        if result is None:
            return reset
        items = result.get("applications")
        if items is None:
            turn.say("utter_check_status_login_first")
        elif not items:
            turn.say("utter_check_status_none")
        else:
            lines = [item.get("text") or f"{item['business_name']}：{item['status_label']}" for item in items[:10]]
            turn.say("utter_check_status_list", lines="\n".join(lines))
        return reset + resume_offer(turn)
