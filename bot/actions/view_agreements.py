"""协议查看与补签: the signed agreements with their PDF links, then the signing step for missing ones."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import BUSY, requester
from bot.actions.steps import StepsForm, signed_lines, step_reset

FORM = "view_agreements_form"


class ValidateViewAgreementsForm(StepsForm):
    BUSINESS = "协议补签"

    def name(self) -> str:
        return f"validate_{FORM}"

    async def business_steps(self, gate, tracker):
        return await self.agreement_steps(tracker)


class ActionViewAgreementsSubmit(Action):
    def name(self) -> str:
        return "action_view_agreements_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, FORM)]
        if tracker.get_slot("step_outcome"):
            return reset
        try:
            overview = await client.call("/api/bot/agreements/overview", requester(tracker))
            gate = await client.call("/api/bot/gate", requester(tracker))
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return reset
        if overview.get("error"):
            return reset
        if tracker.get_slot("sign_code") != "signed":  # after signing, the PDFs were just shown
            dispatcher.utter_message(text=signed_lines(overview))
        missing = overview.get("missing") or []
        if missing and not gate.get("signature"):
            titles = "".join(f"《{m['title']}》" for m in missing)
            dispatcher.utter_message(text=f"您还需补签{titles}。签署协议需先上传手写签名，请回复“上传手写签名”，"
                                          "完成后再回复“协议查看”补签。")
        elif not missing:
            dispatcher.utter_message(text="您的协议均已签署，无需补签。")
        return reset
