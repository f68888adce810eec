"""Conversation-wide behaviour: help, fallback, cancel, resend."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, SlotSet

from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import BUSY, CODE_LIMIT, intent_of, requester
from bot.actions.handoff import queue_for_human
from bot.actions.steps import FORM_BUSINESS, LOGIN_STEPS, WITNESS_STEPS, step_reset

# What to say when a customer asks for help in the middle of a step.
STEP_HELP = {
    "investor_type": "个人客户请选择“投资者”；机构或资管产品客户请选择“其他类型”。",
    "account_number": "资金账号是您开户时分配的8至10位数字账号，可在开户短信或交易软件中查看。"
                      "如忘记资金账号，可先回复“取消”，再回复“找回账户”。",
    "phone_number": "请输入您开户时预留的11位手机号码，验证码将发送到该号码。如号码已停用，请回复“转人工”。",
    "otp_code": "验证码是短信中的6位数字，5分钟内有效。没收到可回复“重新发送”（60秒后可重发）。",
    "privacy_agreed": "请点开链接阅读《隐私政策》，回复“同意”继续登录，回复“不同意”将取消本次登录。",
    "id_front": "请拍摄身份证原件有照片的一面：平放在深色背景上，四角完整入镜，避免反光和手指遮挡，对焦清晰后发送。",
    "id_back": "请拍摄身份证原件有国徽、有效期限的一面，要求同人像面。",
    "id_confirmed": "请核对识别出的姓名和证件号码，无误请回复“正确”，有误请回复“不正确”重新上传。",
    "unbind_go": "一个资金账号只能绑定一台设备。解除原有绑定需要短信验证码，解除后本设备可重新绑定。",
    "unbind_code": "请输入发送到开户预留手机号的6位验证码。没收到可回复“重新发送”。",
    "bind_go": "绑定设备后才能办理掌厅业务，绑定时需进行人脸认证。",
    "bind_face": "请在光线充足处正对镜头自拍，露出完整面部，不戴帽子、墨镜、口罩，画面中只有您一人。",
    "recover_face": "请在光线充足处正对镜头自拍，露出完整面部，不戴帽子、墨镜、口罩，画面中只有您一人。",
    "recover_phone": "请输入开户时预留的11位手机号码。",
    "recover_code": "请输入短信中的6位验证码。没收到可回复“重新发送”。",
    "signature_image": "请在白纸上用黑色笔签写本人姓名，手机横屏拍摄，签名占满画面大部分，背景干净无其他文字。",
    "signature_confirmed": "确认预览中的签名清晰完整请回复“确认使用”，否则回复“重新上传”。",
    "business_face": "请在光线充足处正对镜头自拍，露出完整面部，不戴帽子、墨镜、口罩，画面中只有您一人。",
    "business_code": "请输入发送到开户预留手机号的6位验证码，5分钟内有效。没收到可回复“重新发送”（60秒后可重发）。",
    "agreements_read": "请点击链接打开协议阅读页面，每份协议需阅读至少10秒（以服务器记录为准），阅读完毕后回复“已阅读并同意”。"
                       "不同意请回复“暂不签署”，本次办理将无法继续。",
    "sign_code": "请输入签署协议短信中的6位验证码，验证通过后即生成带您手写签名的签署文件。没收到可回复“重新发送”。",
    "password_type": "交易密码用于登录交易软件下单；资金密码用于银期转账等资金操作。请回复“交易密码”或“资金密码”。",
    "unlock_confirmed": "确认后将提交账户解锁申请，经审核通过后账户解锁、密码错误次数清零。回复“是”确认，回复“否”取消。",
    "witness": "视频见证由工作人员与您视频通话，核实是您本人自愿办理。请点击链接打开见证页面，允许使用摄像头和麦克风；"
               "工作人员接通后点击「开始视频见证」或等待7秒自动接入。见证结束后我会自动通知您，也可回复“好了”查询进度。",
}

GENERAL_HELP = ("我是金信期货掌厅助手，可以在对话中为您办理：\n"
                "· 掌厅登录、退出登录\n· 找回账户（忘记资金账号）\n· 绑定设备 / 解除绑定\n· 上传手写签名\n"
                "· 账户解锁、重置密码\n· 休眠账户激活、在线销户\n· 协议查看与补签、业务办理进度\n"
                "直接告诉我您要办理的业务即可；任何时候回复“取消”可退出当前业务，回复“转人工”联系人工客服。")

FALLBACK_INTENTS = {"nlu_fallback", "out_of_scope"}
FALLBACKS_BEFORE_HUMAN = 3


class ActionHelp(Action):
    def name(self) -> str:
        return "action_help"

    async def run(self, dispatcher, tracker, domain):
        requested = tracker.get_slot("requested_slot") if tracker.active_loop_name else None
        dispatcher.utter_message(text=STEP_HELP.get(requested, GENERAL_HELP))
        return []


class ActionCancel(Action):
    def name(self) -> str:
        return "action_cancel"

    async def run(self, dispatcher, tracker, domain):
        form = tracker.active_loop_name
        if not form:
            dispatcher.utter_message(response="utter_nothing_to_cancel")
            return []
        if tracker.get_slot("requested_slot") in LOGIN_STEPS:
            try:
                await client.call("/api/bot/login/cancel", requester(tracker))
            except BackofficeUnavailable:
                pass  # the pending login expires by itself within minutes
        if tracker.get_slot("requested_slot") in WITNESS_STEPS:
            try:  # leave the staff's waiting list: nobody should call a customer who has gone
                await client.call("/api/bot/witness/cancel", {**requester(tracker),
                                                              "business": FORM_BUSINESS.get(form, "")})
            except BackofficeUnavailable:
                pass  # an untaken session expires by itself
        dispatcher.utter_message(response="utter_cancelled")
        return [ActiveLoop(None)] + [SlotSet(slot, None) for slot in step_reset(domain, form)]


class ActionFallback(Action):
    """Polite re-prompt; after repeated misunderstandings the conversation goes to a human."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher, tracker, domain):
        intent = intent_of(tracker)
        if intent == "upload_image":
            dispatcher.utter_message(text="收到您的图片。当前没有需要上传图片的步骤，请先告诉我您要办理的业务。")
            return []
        if intent == "upload_video":
            dispatcher.utter_message(text="收到您的视频。当前没有需要上传视频的步骤，请先告诉我您要办理的业务。")
            return []
        if intent in ("affirm", "deny", "inform"):
            if sum(1 for e in tracker.events if e.get("event") == "user") <= 1:
                # An answer (a code, "是") with no conversation before it: the conversation store lost it
                # (restart without persistence, expiry). Say so instead of pretending nothing was asked.
                dispatcher.utter_message(text="抱歉，我这边没有找到您之前的对话记录，请重新告诉我您要办理的业务，"
                                              "例如“账户解锁”“重置密码”。已提交的申请和登录状态不受影响。")
                return []
            dispatcher.utter_message(text="请先告诉我您要办理的业务，例如“登录”“找回账户”“重置密码”。回复“帮助”查看全部业务。")
            return []
        streak = 0
        for event in reversed(tracker.events):
            if event.get("event") != "user":
                continue
            if ((event.get("parse_data") or {}).get("intent") or {}).get("name") in FALLBACK_INTENTS:
                streak += 1
            else:
                break
        if streak >= FALLBACKS_BEFORE_HUMAN:
            dispatcher.utter_message(text="抱歉，我多次没能理解您的问题，正在为您转接人工客服。")
            return await queue_for_human(dispatcher, tracker, "repeated_fallback")
        dispatcher.utter_message(response="utter_default")
        return []


# Which back-office call sends a new code for the step being asked.
RESEND = {"otp_code": "/api/bot/login/resend", "unbind_code": "/api/bot/device/unbind/start",
          "recover_code": "/api/bot/recover/resend", "business_code": "/api/bot/business/otp/resend",
          "sign_code": "/api/bot/agreements/sign/resend"}


class ActionResendCode(Action):
    def name(self) -> str:
        return "action_resend_code"

    async def run(self, dispatcher, tracker, domain):
        path = RESEND.get(tracker.get_slot("requested_slot")) if tracker.active_loop_name else None
        if not path:
            dispatcher.utter_message(text="当前没有需要验证码的步骤。")
            return []
        try:
            result = await client.call(path, requester(tracker))
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return []
        status = result.get("status")
        if status == "sent":
            dispatcher.utter_message(text=f"新的验证码已发送至 {result['phone_masked']}，原验证码作废。")
        elif status == "wait":
            dispatcher.utter_message(text=f"验证码发送过于频繁，请{result['wait_seconds']}秒后再试。")
        elif status == "too_many":
            dispatcher.utter_message(response=CODE_LIMIT)
        else:
            dispatcher.utter_message(text="本次办理已超时，请回复“取消”后重新开始。")
        return []
