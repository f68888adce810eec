"""Shared flow steps, written once and used by every business form.

A business form's required slots are: the login steps while the customer is not logged in, then the
gate (解除绑定 of another device, 绑定设备 with a face check, 上传手写签名), then the business's own steps.
The gate is re-read from the back-office on every turn, so a step disappears as soon as the back-office
says it is done, and the business the customer asked for simply continues afterwards.

Every step slot has a custom mapping: the `extract_*` methods below fill a slot only when it is the
requested one and the message has the right kind (text, yes/no, image, video). Anything else leaves the
form "rejected" so the rules for cancel, help, 转人工 and misunderstandings take over.
"""
from __future__ import annotations

import abc
import inspect
import re

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import BUSY, CODE_LIMIT, channel_of, digits_in, intent_of, latest_text, normalize, requester

LOGIN_STEPS = ["investor_type", "account_number", "phone_number", "otp_code", "privacy_agreed"]
ID_STEPS = ["id_front", "id_back", "id_confirmed"]
UNBIND_STEPS = ["unbind_go", "unbind_code"]
SIGNATURE_STEPS = ["signature_image", "signature_confirmed"]
AGREEMENT_STEPS = ["agreements_read", "sign_code"]
WITNESS_STEPS = ["witness"]

# The business code of each business form: its confirmation code (business_code), its required agreements
# (the signing step) and its application. "" = no business of its own (协议查看与补签 signs every missing one).
FORM_BUSINESS = {
    "unlock_account_form": "unlock_account",
    "reset_password_form": "reset_password",
    "view_agreements_form": "",
    "activate_dormant_account_form": "activate_dormant_account",
    "close_account_form": "close_account",
}

# Intents that are never an answer to a step: they go to the rules (cancel, help, human, ...).
NOT_ANSWERS = {"cancel", "request_human", "help", "goodbye", "greet", "thank", "resend_code",
               "upload_image", "upload_video", "logout", "witness_done"}
# Titles of the yes/no buttons the steps offer, plus the plainest answers (see bot/domain/steps.yml).
YES_WORDS = {"是", "是的", "好", "好的", "确认", "确定", "同意", "正确", "确认使用", "去绑定", "解除当前绑定", "1",
             "已阅读", "已阅读并同意", "已阅读同意", "阅读完了", "我已阅读并同意", "确认解锁", "确认提交"}
NO_WORDS = {"否", "不", "不是", "不同意", "不正确", "不正确重新上传", "重新上传", "暂不绑定", "暂不解绑", "2",
            "暂不签署", "暂不解锁", "暂不提交"}
OTHER_TYPES = ("其他", "机构", "法人", "资管", "产品", "特殊", "企业", "公司")


def minutes(seconds) -> int:
    return max(1, (int(seconds or 0) + 59) // 60)


def media_id_of(tracker: Tracker) -> str | None:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "media_id" and entity.get("value"):
            return str(entity["value"])
    return None


class StepsForm(FormValidationAction):
    """Base of every form: extraction and validation of the shared steps."""

    BUSINESS = ""          # Chinese name shown to the customer
    NEEDS_LOGIN = True     # 找回账户 does not
    NEEDS_GATE = True      # binding and signature before the business
    ID_NEEDS_BACK = True   # the back gives the validity date that keeps the ID "on file"
    CHECK_ELIGIBILITY = False  # ask the back-office first whether the account may do this business at all

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so the action server does not register this base class as an action."""

    # --- which steps ------------------------------------------------------------------------
    async def gate(self, tracker: Tracker) -> dict:
        cached = getattr(tracker, "_hall_gate", None)
        if cached is None:
            cached = await client.call("/api/bot/gate", requester(tracker))
            tracker._hall_gate = cached
        return cached

    @staticmethod
    def forget_gate(tracker: Tracker) -> None:
        tracker._hall_gate = None

    def business_steps(self, gate: dict, tracker: Tracker) -> list[str]:
        return []

    def bind_steps(self, gate: dict) -> list[str]:
        """去绑定, then the ID card when there is no portrait to compare with, then the face check."""
        return ["bind_go"] + ([] if gate.get("face_reference") else self.id_steps()) + ["bind_face"]

    def id_steps(self) -> list[str]:
        return ID_STEPS if self.ID_NEEDS_BACK else ["id_front", "id_confirmed"]

    def gate_steps(self, gate: dict, tracker: Tracker) -> list[str]:
        steps: list[str] = []
        if gate.get("device") == "bound_elsewhere":
            steps += UNBIND_STEPS
        if gate.get("device") in ("bound_elsewhere", "unbound"):
            steps += self.bind_steps(gate)
        if not gate.get("signature"):
            steps += SIGNATURE_STEPS
        return steps

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        if tracker.get_slot("step_outcome"):
            return []  # an outcome (refusal, lock-out, too many tries) ends the form; submit explains
        try:
            gate = await self.gate(tracker)
            if self.NEEDS_LOGIN and not gate.get("logged_in"):
                return LOGIN_STEPS
            if self.CHECK_ELIGIBILITY and not (await self.eligibility(tracker)).get("eligible", True):
                return []  # not eligible: the submit action explains, before the gate asks for anything
            steps = self.gate_steps(gate, tracker) if self.NEEDS_GATE else []
            business = self.business_steps(gate, tracker)
            if inspect.isawaitable(business):
                business = await business
        except BackofficeUnavailable:
            if tracker.get_slot("requested_slot"):
                return [tracker.get_slot("requested_slot")]  # that step's own check says 系统繁忙
            if not getattr(tracker, "_hall_busy", False):  # nothing asked yet: say why the form stops
                dispatcher.utter_message(response=BUSY)
                tracker._hall_busy = True
            return []
        return steps + business

    async def run(self, dispatcher, tracker, domain):
        events = await super().run(dispatcher, tracker, domain)
        if getattr(tracker, "_hall_busy", False):
            events.append(SlotSet("step_outcome", "busy"))  # the submit action then adds nothing
        return events

    async def eligibility(self, tracker: Tracker) -> dict:
        """The back-office's answer whether this account may do the form's business (cached for the turn)."""
        cached = getattr(tracker, "_hall_eligibility", None)
        if cached is None:
            cached = await client.call("/api/bot/applications/eligibility", {
                **requester(tracker), "business": FORM_BUSINESS.get(self.form_name(), "")})
            tracker._hall_eligibility = cached
        return cached

    # --- 视频见证 (shared witness step) ---------------------------------------------------------
    async def witness_state(self, tracker: Tracker) -> dict:
        cached = getattr(tracker, "_hall_witness", None)
        if cached is None:
            cached = await client.call("/api/bot/witness/status", {
                **requester(tracker), "business": FORM_BUSINESS.get(self.form_name(), "")})
            tracker._hall_witness = cached
        return cached

    async def witness_steps(self, tracker: Tracker, before: list[str]) -> list[str]:
        """The witness step; skipped only when a passed witness already waits for this business's application
        (a business resumed after a cancel), and only looked up once the steps before it are done."""
        if (tracker.get_slot("witness") or self._requested(tracker, "witness")
                or any(tracker.get_slot(slot) is None for slot in before)):
            return WITNESS_STEPS
        return [] if (await self.witness_state(tracker)).get("status") == "passed" else WITNESS_STEPS

    async def witnessed_business_steps(self, gate: dict, tracker: Tracker) -> list[str]:
        """ID (skipped when on file) → 视频见证 → agreements: businesses that need a video witness."""
        business = FORM_BUSINESS.get(self.form_name(), "")
        started = any(tracker.get_slot(slot) for slot in ("id_front", "witness", "agreements_read", "sign_code"))
        if not started and await open_application(tracker, business):
            return []  # one is under way already: the submit action says so
        steps = list(self.id_steps()) if not gate.get("id_on_file") or tracker.get_slot("id_confirmed") else []
        steps += await self.witness_steps(tracker, before=steps)
        return steps + await self.agreement_steps(tracker)

    # --- agreements (shared signing step) -------------------------------------------------------
    async def missing_agreements(self, tracker: Tracker) -> list[dict]:
        """Required agreements of this form's business not yet signed (cached for the turn)."""
        cached = getattr(tracker, "_hall_missing", None)
        if cached is None:
            cached = await missing_agreements(tracker, FORM_BUSINESS.get(self.form_name(), ""))
            tracker._hall_missing = cached
        return cached

    async def agreement_steps(self, tracker: Tracker) -> list[str]:
        """阅读并同意 then the signing code, while something is missing (kept once signed in this form)."""
        if tracker.get_slot("sign_code") or tracker.get_slot("agreements_read"):
            return AGREEMENT_STEPS
        return AGREEMENT_STEPS if await self.missing_agreements(tracker) else []

    # --- extraction by kind -------------------------------------------------------------------
    @staticmethod
    def _requested(tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot("requested_slot") == slot

    def _text(self, tracker: Tracker, slot: str) -> dict:
        if not self._requested(tracker, slot) or intent_of(tracker) in NOT_ANSWERS:
            return {}
        return {slot: latest_text(tracker)}

    def _yes_no(self, tracker: Tracker, slot: str, yes_intents=("affirm",)) -> dict:
        if not self._requested(tracker, slot):
            return {}
        # A typed button title means the button, whatever NLU makes of it.
        text = normalize(latest_text(tracker))
        if text in YES_WORDS:
            return {slot: True}
        if text in NO_WORDS:
            return {slot: False}
        intent = intent_of(tracker)
        if intent in yes_intents:
            return {slot: True}
        if intent == "deny":
            return {slot: False}
        return {}

    def _media(self, tracker: Tracker, slot: str, kinds=("upload_image",)) -> dict:
        if not self._requested(tracker, slot) or intent_of(tracker) not in kinds:
            return {}
        media_id = media_id_of(tracker)
        return {slot: f"{intent_of(tracker)}:{media_id}"} if media_id else {}

    async def extract_investor_type(self, dispatcher, tracker, domain):
        return self._text(tracker, "investor_type")

    async def extract_account_number(self, dispatcher, tracker, domain):
        return self._text(tracker, "account_number")

    async def extract_phone_number(self, dispatcher, tracker, domain):
        return self._text(tracker, "phone_number")

    async def extract_otp_code(self, dispatcher, tracker, domain):
        return self._text(tracker, "otp_code")

    async def extract_privacy_agreed(self, dispatcher, tracker, domain):
        return self._yes_no(tracker, "privacy_agreed")

    async def extract_id_front(self, dispatcher, tracker, domain):
        return self._media(tracker, "id_front")

    async def extract_id_back(self, dispatcher, tracker, domain):
        return self._media(tracker, "id_back")

    async def extract_id_confirmed(self, dispatcher, tracker, domain):
        return self._yes_no(tracker, "id_confirmed")

    async def extract_unbind_go(self, dispatcher, tracker, domain):
        return self._yes_no(tracker, "unbind_go", ("affirm", "unbind_device"))

    async def extract_unbind_code(self, dispatcher, tracker, domain):
        return self._text(tracker, "unbind_code")

    async def extract_bind_go(self, dispatcher, tracker, domain):
        return self._yes_no(tracker, "bind_go", ("affirm", "bind_device"))

    async def extract_bind_face(self, dispatcher, tracker, domain):
        return self._media(tracker, "bind_face", ("upload_image", "upload_video"))

    async def extract_signature_image(self, dispatcher, tracker, domain):
        return self._media(tracker, "signature_image")

    async def extract_signature_confirmed(self, dispatcher, tracker, domain):
        return self._yes_no(tracker, "signature_confirmed")

    async def extract_business_face(self, dispatcher, tracker, domain):
        return self._media(tracker, "business_face", ("upload_image", "upload_video"))

    async def extract_business_code(self, dispatcher, tracker, domain):
        return self._text(tracker, "business_code")

    async def extract_agreements_read(self, dispatcher, tracker, domain):
        return self._yes_no(tracker, "agreements_read")

    async def extract_sign_code(self, dispatcher, tracker, domain):
        return self._text(tracker, "sign_code")

    async def extract_witness(self, dispatcher, tracker, domain):
        # The back-office's nudge after the verdict (witness_done), or anything the customer types ("好了").
        if self._requested(tracker, "witness") and witness_answer(tracker):
            return {"witness": "check"}
        return {}

    # --- calling the back-office ----------------------------------------------------------------
    async def _call(self, dispatcher, path: str, payload: dict) -> dict | None:
        try:
            return await client.call(path, payload)
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return None

    # --- login steps ------------------------------------------------------------------------------
    async def validate_investor_type(self, value, dispatcher, tracker, domain):
        text = normalize(str(value))
        if text == "1" or "投资者" in text or "个人" in text:
            return {"investor_type": "投资者"}
        if text == "2" or any(word in text for word in OTHER_TYPES):
            dispatcher.utter_message(response="utter_login_other_type")
            return {"investor_type": "other", "step_outcome": "other_type"}
        dispatcher.utter_message(text="请选择登录类型：回复“投资者”，或“其他类型”（机构、资管产品等）。")
        return {"investor_type": None}

    async def validate_account_number(self, value, dispatcher, tracker, domain):
        number = digits_in(str(value))
        if not re.fullmatch(r"\d{8,10}", number) or re.search(r"[A-Za-z]", normalize(str(value))):
            dispatcher.utter_message(text="资金账号为8至10位数字，请检查后重新输入。")
            return {"account_number": None}
        # the back-office keeps the number for the next step; the conversation keeps only its mask
        noted = await self._call(dispatcher, "/api/bot/login/account", {**requester(tracker), "account_number": number})
        if noted is None:
            return {"account_number": None}
        return {"account_number": noted.get("account_masked") or None}

    async def validate_phone_number(self, value, dispatcher, tracker, domain):
        phone = digits_in(str(value))
        if not re.fullmatch(r"1[3-9]\d{9}", phone):
            dispatcher.utter_message(text="手机号码应为以1开头的11位数字，请重新输入开户预留手机号。")
            return {"phone_number": None}
        result = await self._call(dispatcher, "/api/bot/login/start", {**requester(tracker), "phone": phone})
        if result is None:
            return {"phone_number": None}
        status = result.get("status")
        if status == "sent":
            dispatcher.utter_message(text=f"验证码已发送至 {result['phone_masked']}。")
            return {"phone_number": result["phone_masked"]}  # the slot keeps only the mask
        if status == "wait":
            dispatcher.utter_message(text=f"验证码刚刚已发送至 {result['phone_masked']}，"
                                          f"如未收到请{result['wait_seconds']}秒后回复“重新发送”。")
            return {"phone_number": result["phone_masked"]}
        if status == "mismatch":
            dispatcher.utter_message(text="您输入的资金账号与开户预留手机号不匹配，请核对后重新输入资金账号。")
            return {"phone_number": None, "account_number": None}
        if status == "no_account":
            dispatcher.utter_message(text="登录已超时，请重新输入资金账号。")
            return {"phone_number": None, "account_number": None}
        outcomes = {
            "locked_out": f"登录失败次数过多，为保护您的账户安全，请{minutes(result.get('wait_seconds'))}分钟后再试。"
                          "如需帮助请回复“转人工”。",
            "closed": "该资金账号已销户，无法登录掌厅。如有疑问请回复“转人工”。",
        }
        if status == "too_many":
            dispatcher.utter_message(response=CODE_LIMIT)
            return {"phone_number": None, "step_outcome": status}
        if status in outcomes:
            dispatcher.utter_message(text=outcomes[status])
            return {"phone_number": None, "step_outcome": status}
        dispatcher.utter_message(text="手机号码格式不正确，请重新输入开户预留手机号。")
        return {"phone_number": None}

    async def validate_otp_code(self, value, dispatcher, tracker, domain):
        code = digits_in(str(value))
        if not re.fullmatch(r"\d{6}", code):
            dispatcher.utter_message(text="验证码为6位数字，请查看短信后重新输入。")
            return {"otp_code": None}
        result = await self._call(dispatcher, "/api/bot/login/verify", {**requester(tracker), "code": code})
        if result is None:
            return {"otp_code": None}
        status = result.get("status")
        if status == "ok":
            return {"otp_code": "verified"}  # never keep the code itself
        if status == "locked_out":
            dispatcher.utter_message(text=f"登录失败次数过多，为保护您的账户安全，请{minutes(result.get('wait_seconds'))}"
                                          "分钟后再试。")
            return {"otp_code": None, "step_outcome": "locked_out"}
        if status == "no_pending":
            dispatcher.utter_message(text="登录已超时，请重新输入资金账号。")
            return {"otp_code": None, "phone_number": None, "account_number": None}
        self.code_problem(dispatcher, result)
        return {"otp_code": None}

    @staticmethod
    def code_problem(dispatcher, result: dict) -> None:
        status = result.get("status")
        if status == "wrong":
            dispatcher.utter_message(text=f"验证码不正确，请重新输入（还可尝试{result.get('remaining', 0)}次）。")
        elif status == "exhausted":
            dispatcher.utter_message(text="验证码输错次数过多，该验证码已作废。请回复“重新发送”获取新的验证码。")
        else:
            dispatcher.utter_message(text="验证码已失效，请回复“重新发送”获取新的验证码。")

    async def validate_privacy_agreed(self, value, dispatcher, tracker, domain):
        result = await self._call(dispatcher, "/api/bot/login/complete",
                                  {**requester(tracker), "privacy_agreed": value is True})
        if result is None:
            return {"privacy_agreed": None}
        status = result.get("status")
        if status == "privacy_refused":
            dispatcher.utter_message(response="utter_privacy_refused")
            return {"privacy_agreed": False, "step_outcome": "privacy_refused"}
        if status != "ok":
            dispatcher.utter_message(text="登录已超时，请重新输入资金账号。")
            return {"privacy_agreed": None, "otp_code": None, "phone_number": None, "account_number": None}
        self.forget_gate(tracker)
        dispatcher.utter_message(text="登录成功！")
        for notice in result.get("notices") or []:  # e.g. a temporary password still to be changed
            dispatcher.utter_message(text=notice)
        return {"privacy_agreed": True, "logged_in": True}

    # --- ID card ------------------------------------------------------------------------------------
    async def validate_id_front(self, value, dispatcher, tracker, domain):
        result = await self._call(dispatcher, "/api/bot/id/front",
                                  {**requester(tracker), "media_id": str(value).split(":", 1)[1]})
        if result is None:
            return {"id_front": None}
        if result.get("status") != "read":
            dispatcher.utter_message(text=result.get("message") or "未能识别身份证人像面，请重新拍摄。")
            return {"id_front": None}
        if self.ID_NEEDS_BACK:
            dispatcher.utter_message(text="身份证人像面已识别。")
        else:
            self.confirm_id_prompt(dispatcher, result)
        return {"id_front": "read"}

    @staticmethod
    def confirm_id_prompt(dispatcher, result: dict, valid_until: str | None = None) -> None:
        """Show what was read; utter_ask_id_confirmed then asks for the confirmation."""
        validity = f"\n有效期至：{valid_until}" if valid_until else ""
        dispatcher.utter_message(
            text=f"已识别身份证信息：\n姓名：{result['name']}\n证件号码：{result['id_masked']}{validity}")

    async def validate_id_confirmed(self, value, dispatcher, tracker, domain):
        if value is not True:
            await self._call(dispatcher, "/api/bot/id/confirm", {**requester(tracker), "confirmed": False})
            dispatcher.utter_message(text="好的，请重新上传身份证。")
            return {"id_front": None, "id_back": None, "id_confirmed": None}
        result = await self._call(dispatcher, "/api/bot/id/confirm",
                                  {**requester(tracker), "for_account": self.NEEDS_LOGIN})
        if result is None:
            return {"id_confirmed": None}
        if result.get("status") == "mismatch":
            dispatcher.utter_message(text="该身份证与当前登录资金账号的开户证件不一致，请上传开户时使用的本人身份证。")
            return {"id_front": None, "id_back": None, "id_confirmed": None}
        if result.get("status") != "ok":
            dispatcher.utter_message(text="身份证识别结果已过期，请重新上传身份证人像面。")
            return {"id_front": None, "id_back": None, "id_confirmed": None}
        self.forget_gate(tracker)
        return {"id_confirmed": True}

    async def validate_id_back(self, value, dispatcher, tracker, domain):
        result = await self._call(dispatcher, "/api/bot/id/back",
                                  {**requester(tracker), "media_id": str(value).split(":", 1)[1]})
        if result is None:
            return {"id_back": None}
        if result.get("status") == "no_pending":
            dispatcher.utter_message(text="请先上传身份证人像面。")
            return {"id_back": None, "id_front": None, "id_confirmed": None}
        if result.get("status") != "ok":
            dispatcher.utter_message(text=result.get("message") or "未能识别身份证国徽面，请重新拍摄。")
            if result.get("error") == "expired":
                return {"id_back": None, "step_outcome": "id_expired"}
            return {"id_back": None}
        self.confirm_id_prompt(dispatcher, result, result.get("valid_until"))
        return {"id_back": "read"}

    # --- device binding -------------------------------------------------------------------------------
    async def validate_unbind_go(self, value, dispatcher, tracker, domain):
        if value is not True:
            dispatcher.utter_message(text="好的。当前设备未解除原有绑定，暂时无法办理掌厅业务。")
            return {"unbind_go": False, "step_outcome": "unbind_declined"}
        result = await self._call(dispatcher, "/api/bot/device/unbind/start", requester(tracker))
        if result is None:
            return {"unbind_go": None}
        if result.get("status") in ("sent", "wait"):
            dispatcher.utter_message(text=f"验证码已发送至 {result['phone_masked']}。")
            return {"unbind_go": True}
        if result.get("status") == "too_many":
            dispatcher.utter_message(response=CODE_LIMIT)
            return {"unbind_go": None, "step_outcome": "too_many"}
        return {"unbind_go": True}  # nothing bound any more: the gate moves on

    async def validate_unbind_code(self, value, dispatcher, tracker, domain):
        code = digits_in(str(value))
        if not re.fullmatch(r"\d{6}", code):
            dispatcher.utter_message(text="验证码为6位数字，请查看短信后重新输入。")
            return {"unbind_code": None}
        result = await self._call(dispatcher, "/api/bot/device/unbind/verify",
                                  {**requester(tracker), "code": code})
        if result is None:
            return {"unbind_code": None}
        if result.get("status") == "ok":
            self.forget_gate(tracker)
            dispatcher.utter_message(text="已解除原有设备的绑定。")
            return {"unbind_code": "verified"}
        self.code_problem(dispatcher, result)
        return {"unbind_code": None}

    async def validate_bind_go(self, value, dispatcher, tracker, domain):
        if value is not True:
            dispatcher.utter_message(text="好的。设备未绑定前暂时无法办理掌厅业务，需要时回复“绑定设备”即可。")
            return {"bind_go": False, "step_outcome": "bind_declined"}
        return {"bind_go": True}

    async def validate_bind_face(self, value, dispatcher, tracker, domain):
        kind, media_id = str(value).split(":", 1)
        face = await self.face_check(dispatcher, tracker, media_id, kind == "upload_video", "bind")
        if face is None:
            return {"bind_face": None, **self.face_outcome(tracker)}
        result = await self._call(dispatcher, "/api/bot/device/bind", requester(tracker))
        if result is None:
            return {"bind_face": None}
        if result.get("status") in ("ok", "already_bound"):
            self.forget_gate(tracker)
            dispatcher.utter_message(text="您的身份信息已校验成功并与本机绑定")
            return {"bind_face": face}
        dispatcher.utter_message(text="绑定未成功，请重新发送自拍照。")
        return {"bind_face": None}

    # --- face (shared by binding and businesses) -----------------------------------------------------
    async def face_check(self, dispatcher, tracker, media_id: str, video: bool, purpose: str) -> str | None:
        """accept / review, or None with the reason told to the customer (and the retry count)."""
        tracker._hall_face_outcome = None
        result = await self._call(dispatcher, "/api/bot/face", {**requester(tracker), "media_id": media_id,
                                                                 "purpose": purpose, "video": video})
        if result is None:
            return None
        status = result.get("status")
        if status in ("accept", "review"):
            tracker._hall_face_distance = result.get("distance")
            return status
        if status == "need_id":
            dispatcher.utter_message(text="系统中没有可比对的证件照片，请先上传身份证。")
            tracker._hall_face_outcome = None
            return None
        if status == "too_many":
            dispatcher.utter_message(text=f"{result.get('message', '')}\n人脸认证已连续3次未通过，为保护您的账户安全，"
                                          "本次办理已暂停。回复“转人工”可由人工客服协助您。")
            tracker._hall_face_outcome = {"step_outcome": "face_failed"}
            return None
        left = result.get("tries_left")
        suffix = f"（还可尝试{left}次）" if left else ""
        dispatcher.utter_message(text=f"{result.get('message') or '人脸认证未通过'}{suffix}")
        return None

    @staticmethod
    def face_outcome(tracker) -> dict:
        return getattr(tracker, "_hall_face_outcome", None) or {}

    # --- signature ------------------------------------------------------------------------------------
    async def validate_signature_image(self, value, dispatcher, tracker, domain):
        result = await self._call(dispatcher, "/api/bot/signature/check",
                                  {**requester(tracker), "media_id": str(value).split(":", 1)[1]})
        if result is None:
            return {"signature_image": None}
        if result.get("status") != "ok":
            dispatcher.utter_message(text=result.get("message") or "签名照片未通过检查，请重新拍摄。")
            return {"signature_image": None}
        dispatcher.utter_message(text="签名已处理，请确认预览效果：", image=result["preview_url"])
        dispatcher.utter_message(text=f"预览链接：{result['preview_url']}\n是否使用这张签名？",
                                 buttons=[{"title": "确认使用", "payload": "/affirm"},
                                          {"title": "重新上传", "payload": "/deny"}])
        return {"signature_image": "checked"}

    async def validate_signature_confirmed(self, value, dispatcher, tracker, domain):
        if value is not True:
            dispatcher.utter_message(text="好的，请重新拍摄签名照片。")
            return {"signature_image": None, "signature_confirmed": None}
        result = await self._call(dispatcher, "/api/bot/signature/confirm", requester(tracker))
        if result is None:
            return {"signature_confirmed": None}
        if result.get("status") != "ok":
            dispatcher.utter_message(text="签名预览已过期，请重新上传签名照片。")
            return {"signature_image": None, "signature_confirmed": None}
        self.forget_gate(tracker)
        dispatcher.utter_message(text="手写签名已上传成功。")
        return {"signature_confirmed": True}


    # --- business face, business confirmation code ------------------------------------------------
    async def validate_business_face(self, value, dispatcher, tracker, domain):
        kind, media_id = str(value).split(":", 1)
        face = await self.face_check(dispatcher, tracker, media_id, kind == "upload_video", "business")
        if face is None:
            return {"business_face": None, **self.face_outcome(tracker)}
        dispatcher.utter_message(text="人脸认证通过。")
        distance = getattr(tracker, "_hall_face_distance", None)
        return {"business_face": f"{face}:{distance}" if distance is not None else face}

    async def validate_business_code(self, value, dispatcher, tracker, domain):
        code = digits_in(str(value))
        if not re.fullmatch(r"\d{6}", code):
            dispatcher.utter_message(text="验证码为6位数字，请查看短信后重新输入。")
            return {"business_code": None}
        result = await self._call(dispatcher, "/api/bot/business/otp/verify", {
            **requester(tracker), "business": FORM_BUSINESS.get(self.form_name(), ""), "code": code})
        if result is None:
            return {"business_code": None}
        if result.get("status") == "ok":
            dispatcher.utter_message(text="短信验证通过。")
            return {"business_code": "verified"}
        self.code_problem(dispatcher, result)
        return {"business_code": None}

    # --- agreements: read (≥10 s, server-checked), agree, sign with one SMS code --------------------
    async def validate_agreements_read(self, value, dispatcher, tracker, domain):
        if value is not True:
            dispatcher.utter_message(text=f"好的，未签署相关协议，本次{self.BUSINESS or '办理'}无法继续。"
                                          "如需继续，可随时重新办理。")
            return {"agreements_read": False, "step_outcome": "agreements_declined"}
        try:
            missing = await self.missing_agreements(tracker)
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return {"agreements_read": None}
        codes = [m["code"] for m in missing]
        if not codes:
            return {"agreements_read": True, "sign_code": "signed"}
        agreed = await self._call(dispatcher, "/api/bot/agreements/agree", {**requester(tracker), "codes": codes})
        if agreed is None:
            return {"agreements_read": None}
        if agreed.get("status") != "ok":
            dispatcher.utter_message(text=agreed.get("message") or "请先点击链接阅读协议，阅读完毕后再回复“同意”。")
            return {"agreements_read": None}
        started = await self._call(dispatcher, "/api/bot/agreements/sign/start", {**requester(tracker), "codes": codes})
        if started is None:
            return {"agreements_read": None}
        status = started.get("status")
        if status in ("sent", "wait"):
            titles = "".join(f"《{m['title']}》" for m in missing)
            dispatcher.utter_message(text=f"您已阅读并同意{titles}。签署验证码已发送至 {started['phone_masked']}。")
            return {"agreements_read": True}
        if status == "too_many":
            dispatcher.utter_message(response=CODE_LIMIT)
            return {"agreements_read": None, "step_outcome": "too_many"}
        dispatcher.utter_message(text=started.get("message") or "请先阅读协议并回复“同意”。")
        return {"agreements_read": None}

    async def validate_sign_code(self, value, dispatcher, tracker, domain):
        code = digits_in(str(value))
        if not re.fullmatch(r"\d{6}", code):
            dispatcher.utter_message(text="验证码为6位数字，请查看短信后重新输入。")
            return {"sign_code": None}
        result = await self._call(dispatcher, "/api/bot/agreements/sign/confirm",
                                  {**requester(tracker), "otp_code": code})
        if result is None:
            return {"sign_code": None}
        status = result.get("status")
        if status == "ok":
            lines = [f"《{s['title']}》（{s['version']}）：{s['pdf_url']}" for s in result.get("signed") or []]
            dispatcher.utter_message(text="协议签署成功，已生成签署文件（链接30分钟内有效）：\n" + "\n".join(lines))
            tracker._hall_missing = None
            return {"sign_code": "signed"}
        if status == "no_pending":
            dispatcher.utter_message(text="签署已超时，请重新确认已阅读协议。")
            return {"sign_code": None, "agreements_read": None}
        self.code_problem(dispatcher, result)
        return {"sign_code": None}


    # --- 视频见证: the verdict comes from staff; the back-office nudges the conversation with witness_done ----
    async def validate_witness(self, value, dispatcher, tracker, domain):
        tracker._hall_witness = None
        try:
            state = await self.witness_state(tracker)
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return {"witness": None}
        status = state.get("status")
        if status == "passed":
            dispatcher.utter_message(text="视频见证已通过。")
            return {"witness": "passed"}
        if status == "failed":
            reason = state.get("reason") or "视频见证未通过。"
            dispatcher.utter_message(text=f"{reason}\n很抱歉，本次{self.BUSINESS or '业务办理'}无法继续。"
                                          "如需帮助，请回复“转人工”由人工客服协助您。",
                                     buttons=[{"title": "转人工", "payload": "/request_human"}])
            return {"witness": None, "step_outcome": "witness_failed"}
        if status == "in_call":
            dispatcher.utter_message(text="见证尚未完成：工作人员正在与您视频通话，请在见证页面按工作人员的提示完成见证。"
                                          "见证结束后我会自动通知您。")
            return {"witness": None}
        if status == "waiting":
            position = int(state.get("position") or 0)
            queue = f"您当前排在第{position}位，" if position else ""
            dispatcher.utter_message(text=f"见证尚未完成：{queue}工作人员接通后即开始视频见证，请保持见证页面打开。"
                                          "见证结束后我会自动通知您。")
            return {"witness": None}
        # No live session (it expired or was cancelled): queue again with a new link.
        opened = await self._call(dispatcher, "/api/bot/witness/open", {
            **requester(tracker), "business": FORM_BUSINESS.get(self.form_name(), ""),
            "channel": channel_of(tracker)})
        if opened and opened.get("url"):
            dispatcher.utter_message(text="之前的视频见证已失效，已为您重新排队。\n" + witness_invitation(opened))
        return {"witness": None}


def witness_answer(tracker: Tracker) -> bool:
    """Does the latest message answer the witness step (the nudge, or any text such as "好了")?"""
    intent = intent_of(tracker)
    return intent == "witness_done" or intent not in NOT_ANSWERS


def witness_invitation(opened: dict) -> str:
    position = int(opened.get("position") or 0)
    queue = f"当前排队第{position}位，请耐心等待。\n" if position else ""
    return (f"请点击链接进入视频见证：{opened['url']}\n"
            "工作人员接通后，点击「开始视频见证」或等待 7 秒后将直接接入视频。\n"
            "请准备好身份证原件，在光线充足、安静的环境中进行，并允许页面使用摄像头和麦克风。\n"
            f"{queue}见证结束后我会自动通知您，您也可以回复“好了”查询见证进度。")


async def open_application(tracker: Tracker, business: str) -> dict | None:
    """The customer's application of this business still 办理中/审批中, if any (cached for the turn)."""
    cache = getattr(tracker, "_hall_open_apps", None)
    if cache is None:
        result = await client.call("/api/bot/applications/status", requester(tracker))
        cache = [a for a in result.get("applications") or [] if a.get("status") in ("in_progress", "pending")]
        tracker._hall_open_apps = cache
    return next((a for a in cache if a.get("business") == business), None)


def asked_before(tracker: Tracker, slot: str) -> bool:
    """Was this step already the one asked when the customer last wrote? (Then only remind, don't resend.)"""
    requested, at_last_message = None, None
    for event in tracker.events or []:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind == "user":
            at_last_message = requested
        elif kind == "restart" or (kind == "session_started"):
            requested = None
    return at_last_message == slot


def signed_lines(overview: dict) -> str:
    signed = overview.get("signed") or []
    if not signed:
        return "您目前没有在掌厅签署的协议。"
    lines = [f"{i}.《{s['title']}》（{s['version']}，签署于{str(s.get('signed_at') or '')[:16].replace('T', ' ')}）："
             f"{s['pdf_url']}" for i, s in enumerate(signed, 1)]
    return "您已签署的协议（点击链接查看签署文件，30分钟内有效）：\n" + "\n".join(lines)


async def missing_agreements(tracker: Tracker, business: str) -> list[dict]:
    result = await client.call("/api/bot/agreements/required", {**requester(tracker), "business": business})
    if result.get("error"):
        raise BackofficeUnavailable(result["error"])
    return list(result.get("missing") or [])


def step_reset(domain: dict, form: str) -> list[str]:
    """Every slot a form may have filled, to clear after it ends."""
    spec = (domain.get("forms") or {}).get(form) or {}
    return sorted(set(spec.get("required_slots") or []) | {"step_outcome", "requested_slot"})


def dispatcher_texts(dispatcher: CollectingDispatcher) -> str:  # used by tests
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


class ActionAskBusinessCode(Action):
    """Sends the business's confirmation code the first time the step is asked, then only asks for it."""

    def name(self) -> str:
        return "action_ask_business_code"

    async def run(self, dispatcher, tracker, domain):
        if asked_before(tracker, "business_code"):  # asked again: the code was sent already
            dispatcher.utter_message(text="请输入短信中的6位验证码。没收到可回复“重新发送”。")
            return []
        business = FORM_BUSINESS.get(tracker.active_loop_name or "", "")
        try:
            result = await client.call("/api/bot/business/otp/start", {**requester(tracker),
                                                                        "business": business})
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return []
        status = result.get("status")
        if status == "sent":
            dispatcher.utter_message(text=f"为确认是您本人操作，验证码已发送至 {result['phone_masked']}，"
                                          "请输入短信中的6位验证码（5分钟内有效）。")
        elif status == "wait":
            dispatcher.utter_message(text=f"验证码已发送至 {result['phone_masked']}，请输入短信中的6位验证码。"
                                          f"如未收到，请{result['wait_seconds']}秒后回复“重新发送”。")
        elif status == "too_many":
            dispatcher.utter_message(response=CODE_LIMIT)
        else:
            dispatcher.utter_message(text="登录已超时，请回复“取消”后重新登录办理。")
        return []


class ActionAskAgreementsRead(Action):
    """The reading links of every agreement still to sign (first ask); a short reminder when asked again."""

    def name(self) -> str:
        return "action_ask_agreements_read"

    async def run(self, dispatcher, tracker, domain):
        buttons = [{"title": "已阅读并同意", "payload": "/affirm"}, {"title": "暂不签署", "payload": "/deny"}]
        if asked_before(tracker, "agreements_read"):
            dispatcher.utter_message(text="请点击上面的链接阅读协议（每份至少阅读10秒），阅读完毕后回复“已阅读并同意”。",
                                     buttons=buttons)
            return []
        try:
            if tracker.active_loop_name == "view_agreements_form":  # 协议查看: what is signed comes first
                dispatcher.utter_message(text=signed_lines(await client.call("/api/bot/agreements/overview",
                                                                             requester(tracker))))
            missing = await missing_agreements(tracker, FORM_BUSINESS.get(tracker.active_loop_name or "", ""))
            links = [await client.call("/api/bot/agreements/link", {**requester(tracker), "code": m["code"]})
                     for m in missing]
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return []
        lines = [f"{i}.《{link['title']}》（{link['version']}）：{link['url']}" for i, link in enumerate(links, 1)
                 if link.get("url")]
        seconds = max([int(link.get("min_reading_seconds") or 10) for link in links] or [10])
        dispatcher.utter_message(text=f"请阅读并签署以下协议（点击链接阅读，每份至少阅读{seconds}秒，链接30分钟内有效）：\n"
                                      + "\n".join(lines) + "\n阅读完毕后请回复“已阅读并同意”。", buttons=buttons)
        return []


class ActionAskWitness(Action):
    """The witness link the first time the step is asked; afterwards only a reminder (or nothing when the
    step's validation has just told the customer where the witness stands)."""

    def name(self) -> str:
        return "action_ask_witness"

    async def run(self, dispatcher, tracker, domain):
        if asked_before(tracker, "witness"):
            if not witness_answer(tracker):
                dispatcher.utter_message(text="请点击上面的链接完成视频见证。见证结束后我会自动通知您，"
                                              "也可回复“好了”查询见证进度。")
            return []
        try:
            opened = await client.call("/api/bot/witness/open", {
                **requester(tracker), "business": FORM_BUSINESS.get(tracker.active_loop_name or "", ""),
                "channel": channel_of(tracker)})
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return []
        if not opened.get("url"):
            dispatcher.utter_message(text=f"{opened.get('message') or '视频见证暂时无法发起。'}请稍后回复“好了”重试，"
                                          "或回复“转人工”。")
            return []
        dispatcher.utter_message(text=witness_invitation(opened),
                                 buttons=[{"title": "我已完成见证", "payload": "好了"}])
        return []


class ActionWitnessUpdate(Action):
    """witness_done when no step is waiting for it (the customer moved on or cancelled): nothing to continue."""

    def name(self) -> str:
        return "action_witness_update"

    async def run(self, dispatcher, tracker, domain):
        if tracker.active_loop_name:
            return []  # a later step is being asked already; the customer's next answer continues it
        dispatcher.utter_message(text="视频见证结果已更新。如需继续办理，请回复要办理的业务，例如“休眠账户激活”或“在线销户”。")
        return []
