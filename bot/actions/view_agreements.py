"""协议查看与补签: the signed agreements with their PDF links (shown first by the agreements step's question), then
the missing ones can be signed; this is what the form ends with."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY
from bot.actions.markers import Marker
from bot.actions.steps.agreements import signed_lines, titles
from bot.actions.submit import ending, resume_offer, step_reset
from bot.actions.turn import Turn
from businesses import get

FORM = "view_agreements_form"


class ActionViewAgreementsSubmit(Action):
    def name(self) -> str:
        return "action_view_agreements_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, FORM)]
        turn = Turn(dispatcher, tracker, domain, get("view_agreements"))
        switch = ending(turn, reset)
        if switch is not None:
            return switch
        if tracker.get_slot("step_outcome"):
            return reset
        try:
            overview = await turn.call("/api/bot/agreements/overview")
            gate = await turn.gate() if overview is not None else None
        except BackofficeUnavailable:
            turn.say(BUSY)
            return reset
        if overview is None or overview.get("error"):
            return reset
        if tracker.get_slot("sign_code") != Marker.SIGNED:  # after signing, the PDFs were just shown
            response, values = signed_lines(overview)
            turn.say(response, **values)
        missing = overview.get("missing") or []
        if missing and not gate.get("signature"):
            turn.say("utter_view_agreements_need_signature", titles=titles(missing))
        elif not missing:
            turn.say("utter_view_agreements_all_signed")
        return reset + resume_offer(turn)
