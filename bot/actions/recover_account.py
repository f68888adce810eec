"""找回账户 (no login): ID card → face → 开户预留手机号 + code → account numbers by SMS, masked in chat."""
from __future__ import annotations

import re

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.common import CODE_LIMIT, digits_in, requester
from bot.actions.steps import StepsForm, step_reset

FORM = "recover_account_form"


class ValidateRecoverAccountForm(StepsForm):
    BUSINESS = "找回账户"
    NEEDS_LOGIN = False
    NEEDS_GATE = False
    ID_NEEDS_BACK = False  # validity does not matter to tell someone their own account numbers

    def name(self) -> str:
        return f"validate_{FORM}"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        if tracker.get_slot("step_outcome"):
            return []
        return self.id_steps() + ["recover_face", "recover_phone", "recover_code"]

    async def extract_recover_face(self, dispatcher, tracker, domain):
        return self._media(tracker, "recover_face", ("upload_image", "upload_video"))

    async def extract_recover_phone(self, dispatcher, tracker, domain):
        return self._text(tracker, "recover_phone")

    async def extract_recover_code(self, dispatcher, tracker, domain):
        return self._text(tracker, "recover_code")

    async def validate_recover_face(self, value, dispatcher, tracker, domain):
        kind, media_id = str(value).split(":", 1)
        face = await self.face_check(dispatcher, tracker, media_id, kind == "upload_video", "recover")
        if face is None:
            return {"recover_face": None, **self.face_outcome(tracker)}
        dispatcher.utter_message(text="人脸认证通过。")
        return {"recover_face": face}

    async def validate_recover_phone(self, value, dispatcher, tracker, domain):
        phone = digits_in(str(value))
        if not re.fullmatch(r"1[3-9]\d{9}", phone):
            dispatcher.utter_message(text="手机号码应为以1开头的11位数字，请重新输入开户预留手机号。")
            return {"recover_phone": None}
        result = await self._call(dispatcher, "/api/bot/recover/start", {**requester(tracker), "phone": phone})
        if result is None:
            return {"recover_phone": None}
        status = result.get("status")
        if status in ("sent", "wait"):
            # Said the same way whether or not the phone belongs to an account of this ID.
            dispatcher.utter_message(text=f"如 {result['phone_masked']} 为您的开户预留手机号，验证码已发送至该号码。")
            return {"recover_phone": result["phone_masked"]}
        if status == "too_many":
            dispatcher.utter_message(response=CODE_LIMIT)
            return {"recover_phone": None, "step_outcome": "too_many"}
        dispatcher.utter_message(text="身份核验已过期，请重新开始找回账户。")
        return {"recover_phone": None, "step_outcome": "expired"}

    async def validate_recover_code(self, value, dispatcher, tracker, domain):
        code = digits_in(str(value))
        if not re.fullmatch(r"\d{6}", code):
            dispatcher.utter_message(text="验证码为6位数字，请查看短信后重新输入。")
            return {"recover_code": None}
        result = await self._call(dispatcher, "/api/bot/recover/verify", {**requester(tracker), "code": code})
        if result is None:
            return {"recover_code": None}
        if result.get("status") == "ok":
            accounts = "、".join(result.get("accounts_masked") or [])
            dispatcher.utter_message(text=f"提交成功！您名下的资金账号已通过短信发送至开户预留手机号：{accounts}。")
            return {"recover_code": "verified"}
        self.code_problem(dispatcher, result)
        if result.get("status") == "no_pending":
            return {"recover_code": None, "step_outcome": "expired"}
        return {"recover_code": None}


class ActionRecoverAccountSubmit(Action):
    def name(self) -> str:
        return "action_recover_account_submit"

    async def run(self, dispatcher, tracker, domain):
        if tracker.get_slot("recover_code") == "verified":
            dispatcher.utter_message(text="如需登录掌厅办理业务，请回复“登录”。")
        elif tracker.get_slot("step_outcome") == "face_failed":
            pass  # the step already explained and offered a human
        elif tracker.get_slot("step_outcome"):
            dispatcher.utter_message(text="本次找回账户未完成，如需继续请回复“找回账户”。")
        return [SlotSet(slot, None) for slot in step_reset(domain, FORM)]
