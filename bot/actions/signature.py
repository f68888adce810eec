"""上传手写签名 asked for directly: replaces the signature on file (also a step of the gate)."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import requester
from bot.actions.steps import SIGNATURE_STEPS, StepsForm, step_reset


class ValidateUploadSignatureForm(StepsForm):
    BUSINESS = "上传手写签名"

    def name(self) -> str:
        return "validate_upload_signature_form"

    def gate_steps(self, gate, tracker):
        return [s for s in super().gate_steps(gate, tracker) if s not in SIGNATURE_STEPS]

    def business_steps(self, gate, tracker):
        return SIGNATURE_STEPS


class ActionAskSignatureImage(Action):
    """The guide's wording when none is on file; a plain request when the customer replaces one."""

    def name(self) -> str:
        return "action_ask_signature_image"

    async def run(self, dispatcher, tracker, domain):
        try:
            gate = await client.call("/api/bot/gate", requester(tracker))
        except BackofficeUnavailable:
            gate = {}
        lead = "系统内未检查到您上传的手写签名，请先上传手写签名。\n" if not gate.get("signature") else ""
        dispatcher.utter_message(text=f"{lead}请在白纸上用黑色笔签写本人姓名，签名时手机需横屏，拍摄签名照片后发送给我。"
                                      "（签名清晰、占满画面大部分、背景干净）")
        return []


class ActionUploadSignatureSubmit(Action):
    def name(self) -> str:
        return "action_upload_signature_submit"

    async def run(self, dispatcher, tracker, domain):
        if tracker.get_slot("signature_confirmed"):
            dispatcher.utter_message(text="您的手写签名已保存，将用于后续业务的协议签署。")
        return [SlotSet(slot, None) for slot in step_reset(domain, "upload_signature_form")]
