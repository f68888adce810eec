"""掌厅登录: validation of the login form and its submission. The rules live in the back-office."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import BUSY, digits_in, normalize, sender_of

LOGIN_SLOTS = ("investor_type", "account_number", "phone_number", "otp_code", "privacy_agreed", "login_outcome")
OTHER_TYPES = ("其他", "机构", "法人", "资管", "产品", "特殊", "企业", "公司")


def _minutes(seconds: int) -> int:
    return max(1, (int(seconds) + 59) // 60)


def account_mask(number: str) -> str:
    return f"{number[:2]}{'*' * (len(number) - 6)}{number[-4:]}" if len(number) >= 6 else "***"


class ValidateLoginForm(FormValidationAction):
    def name(self) -> str:
        return "validate_login_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        # An outcome (other investor type, lock-out, ...) ends the form; the submit action explains.
        return [] if tracker.get_slot("login_outcome") else domain_slots

    async def validate_investor_type(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        text = normalize(str(value))
        if text == "1" or "投资者" in text or "个人" in text:
            return {"investor_type": "投资者"}
        if text == "2" or any(word in text for word in OTHER_TYPES):
            return {"investor_type": "other", "login_outcome": "other_type"}
        dispatcher.utter_message(text="请选择登录类型：回复“投资者”，或“其他类型”（机构、资管产品等）。")
        return {"investor_type": None}

    async def validate_account_number(self, value, dispatcher, tracker, domain):
        number = digits_in(str(value))
        if not re.fullmatch(r"\d{8,10}", number) or re.search(r"[A-Za-z]", normalize(str(value))):
            dispatcher.utter_message(text="资金账号为8至10位数字，请检查后重新输入。")
            return {"account_number": None}
        return {"account_number": number}

    async def validate_phone_number(self, value, dispatcher, tracker, domain):
        phone = digits_in(str(value))
        if not re.fullmatch(r"1[3-9]\d{9}", phone):
            dispatcher.utter_message(text="手机号码应为以1开头的11位数字，请重新输入开户预留手机号。")
            return {"phone_number": None}
        try:
            result = await client.call("/api/bot/login/start", {
                "sender": sender_of(tracker), "account_number": tracker.get_slot("account_number"), "phone": phone})
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
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
        if status == "locked_out":
            dispatcher.utter_message(text=f"登录失败次数过多，为保护您的账户安全，请{_minutes(result['wait_seconds'])}"
                                          "分钟后再试。如需帮助请回复“转人工”。")
            return {"phone_number": None, "login_outcome": "locked_out"}
        if status == "closed":
            dispatcher.utter_message(text="该资金账号已销户，无法登录掌厅。如有疑问请回复“转人工”。")
            return {"phone_number": None, "login_outcome": "closed"}
        if status == "too_many":
            dispatcher.utter_message(text="今日验证码发送次数已达上限，请明天再试，或回复“转人工”联系人工客服。")
            return {"phone_number": None, "login_outcome": "too_many"}
        dispatcher.utter_message(text="手机号码格式不正确，请重新输入开户预留手机号。")
        return {"phone_number": None}

    async def validate_otp_code(self, value, dispatcher, tracker, domain):
        code = digits_in(str(value))
        if not re.fullmatch(r"\d{6}", code):
            dispatcher.utter_message(text="验证码为6位数字，请查看短信后重新输入。")
            return {"otp_code": None}
        try:
            result = await client.call("/api/bot/login/verify", {"sender": sender_of(tracker), "code": code})
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return {"otp_code": None}
        status = result.get("status")
        if status == "ok":
            return {"otp_code": "verified"}  # never keep the code itself
        if status == "wrong":
            dispatcher.utter_message(text=f"验证码不正确，请重新输入（还可尝试{result.get('remaining', 0)}次）。")
        elif status == "expired":
            dispatcher.utter_message(text="验证码已失效，请回复“重新发送”获取新的验证码。")
        elif status == "exhausted":
            dispatcher.utter_message(text="验证码输错次数过多，该验证码已作废。请回复“重新发送”获取新的验证码。")
        elif status == "locked_out":
            dispatcher.utter_message(text=f"登录失败次数过多，为保护您的账户安全，请{_minutes(result['wait_seconds'])}"
                                          "分钟后再试。")
            return {"otp_code": None, "login_outcome": "locked_out"}
        else:  # the pending login expired
            dispatcher.utter_message(text="登录已超时，请重新输入资金账号。")
            return {"otp_code": None, "phone_number": None, "account_number": None}
        return {"otp_code": None}


class ActionAskPrivacyAgreed(Action):
    def name(self) -> str:
        return "action_ask_privacy_agreed"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(
            text=f"验证码正确。请阅读《隐私政策》：{client.public_url}/h5/privacy\n"
                 "阅读后请确认：是否阅读并同意《隐私政策》？",
            buttons=[{"title": "同意", "payload": "/affirm"}, {"title": "不同意", "payload": "/deny"}])
        return []


class ActionLoginSubmit(Action):
    def name(self) -> str:
        return "action_login_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in LOGIN_SLOTS]
        outcome = tracker.get_slot("login_outcome")
        if outcome == "other_type":
            dispatcher.utter_message(response="utter_login_other_type")
        if outcome:
            return reset
        agreed = tracker.get_slot("privacy_agreed") is True
        try:
            result = await client.call("/api/bot/login/complete", {"sender": sender_of(tracker),
                                                                   "privacy_agreed": agreed})
        except BackofficeUnavailable:
            dispatcher.utter_message(text="系统繁忙，登录未能完成，请稍后回复“登录”重试。")
            return reset
        if result.get("status") == "privacy_refused":
            dispatcher.utter_message(response="utter_privacy_refused")
            return reset
        if result.get("status") != "ok":
            dispatcher.utter_message(text="登录已超时，请回复“登录”重新开始。")
            return reset
        dispatcher.utter_message(text=f"登录成功！欢迎您，资金账号 {account_mask(tracker.get_slot('account_number') or '')}。")
        dispatcher.utter_message(response="utter_menu")
        return reset + [SlotSet("logged_in", True)]


class ActionCheckSession(Action):
    """Asks the back-office (the source of truth: sessions expire there) whether the sender is logged in."""

    def name(self) -> str:
        return "action_check_session"

    async def run(self, dispatcher, tracker, domain):
        try:
            result = await client.call("/api/bot/session", {"sender": sender_of(tracker)})
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            # Ends the turn: the "logged in" branch of the rules runs no further action.
            return [SlotSet("logged_in", True)]
        if result.get("logged_in"):
            dispatcher.utter_message(text=f"您已登录资金账号 {account_mask(result['account_number'])}，可以直接办理业务。"
                                          "如需切换账号，请先回复“退出登录”。")
            return [SlotSet("logged_in", True)]
        return [SlotSet("logged_in", False)]


class ActionLogout(Action):
    def name(self) -> str:
        return "action_logout"

    async def run(self, dispatcher, tracker, domain):
        try:
            result = await client.call("/api/bot/logout", {"sender": sender_of(tracker)})
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return []
        if result.get("logged_out"):
            dispatcher.utter_message(text="您已安全退出登录。如需办理业务，请回复“登录”。")
        else:
            dispatcher.utter_message(text="您当前未登录。如需办理业务，请回复“登录”。")
        return [SlotSet("logged_in", False)]
