"""掌厅登录 steps: 投资者 → 资金账号 → 开户预留手机号 → 验证码 → 《隐私政策》.

Every business runs them while the customer is logged out. The back-office keeps what the next step needs (the
typed account number, the pending code); the slots keep only masks and markers.
"""
from __future__ import annotations

from bot.actions import normalise
from bot.actions.common import CODE_LIMIT
from bot.actions.markers import Marker, Outcome
from bot.actions.steps.base import CodeStep, TextStep, YesNoStep, code_problem, minutes, register
from bot.actions.turn import Turn

LOGIN_STEPS = ["investor_type", "account_number", "phone_number", "otp_code", "privacy_agreed"]
OTHER_TYPES = ("其他", "机构", "法人", "资管", "产品", "特殊", "企业", "公司")


class InvestorType(TextStep):
    slot = "investor_type"

    async def validate(self, turn: Turn, value) -> dict:
        text = normalise.compact(str(value))
        if text == "1" or "投资者" in text or "个人" in text:
            return {self.slot: "投资者"}
        if text == "2" or any(word in text for word in OTHER_TYPES):
            turn.say("utter_login_other_type")
            return {self.slot: "other", "step_outcome": Outcome.OTHER_TYPE}
        turn.say("utter_investor_type_again")
        return {self.slot: None}


class AccountNumber(TextStep):
    slot = "account_number"

    async def validate(self, turn: Turn, value) -> dict:
        number = normalise.account_number(str(value))
        if number is None:
            turn.say("utter_account_number_invalid")
            return {self.slot: None}
        # the back-office keeps the number for the next step; the conversation keeps only its mask
        noted = await turn.call("/api/bot/login/account", account_number=number)
        return {self.slot: (noted or {}).get("account_masked") or None}


class PhoneNumber(TextStep):
    slot = "phone_number"

    async def validate(self, turn: Turn, value) -> dict:
        phone = normalise.phone(str(value))
        if phone is None:
            turn.say("utter_phone_number_invalid")
            return {self.slot: None}
        result = await turn.call("/api/bot/login/start", phone=phone)
        if result is None:
            return {self.slot: None}
        status = result.get("status")
        if status == "sent":
            turn.say("utter_code_sent", phone_masked=result["phone_masked"])
            return {self.slot: result["phone_masked"]}  # the slot keeps only the mask
        if status == "wait":
            turn.say("utter_code_sent_recently", phone_masked=result["phone_masked"],
                     wait_seconds=result["wait_seconds"])
            return {self.slot: result["phone_masked"]}
        if status in ("mismatch", "no_account"):
            turn.say("utter_login_mismatch" if status == "mismatch" else "utter_login_timeout")
            return {self.slot: None, "account_number": None}
        if status == "too_many":
            turn.say(CODE_LIMIT)
            return {self.slot: None, "step_outcome": Outcome.TOO_MANY}
        if status == "locked_out":
            turn.say("utter_login_locked_out", minutes=minutes(result.get("wait_seconds")))
            return {self.slot: None, "step_outcome": Outcome.LOCKED_OUT}
        if status == "closed":
            turn.say("utter_login_closed")
            return {self.slot: None, "step_outcome": Outcome.CLOSED}
        turn.say("utter_phone_number_invalid")
        return {self.slot: None}


class OtpCode(CodeStep):
    slot = "otp_code"
    resend = "/api/bot/login/resend"

    async def check(self, turn: Turn, code: str) -> dict:
        result = await turn.call("/api/bot/login/verify", code=code)
        if result is None:
            return {self.slot: None}
        status = result.get("status")
        if status == "ok":
            return {self.slot: Marker.VERIFIED}  # never keep the code itself
        if status == "locked_out":
            turn.say("utter_login_locked_out", minutes=minutes(result.get("wait_seconds")))
            return {self.slot: None, "step_outcome": Outcome.LOCKED_OUT}
        if status == "no_pending":
            turn.say("utter_login_timeout")
            return {self.slot: None, "phone_number": None, "account_number": None}
        code_problem(turn, result)
        return {self.slot: None}


class PrivacyAgreed(YesNoStep):
    slot = "privacy_agreed"

    async def validate(self, turn: Turn, value) -> dict:
        result = await turn.call("/api/bot/login/complete", privacy_agreed=value is True)
        if result is None:
            return {self.slot: None}
        status = result.get("status")
        if status == "privacy_refused":
            turn.say("utter_privacy_refused")
            return {self.slot: False, "step_outcome": Outcome.PRIVACY_REFUSED}
        if status != "ok":
            turn.say("utter_login_timeout")
            return {self.slot: None, "otp_code": None, "phone_number": None, "account_number": None}
        turn.forget()
        turn.say("utter_login_success")
        for notice in result.get("notices") or []:  # e.g. a temporary password still to be changed
            turn.say_text(notice)
        return {self.slot: True, "logged_in": True}


register(InvestorType(), AccountNumber(), PhoneNumber(), OtpCode(), PrivacyAgreed())
