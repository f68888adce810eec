"""Applications from chat: submitting a business's application, and 办理进度 (check_status)."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import BUSY, channel_of, requester
from bot.actions.steps import StepsForm, open_application, step_reset


def already_open(dispatcher, app: dict, name: str) -> None:
    dispatcher.utter_message(text=f"您已有一笔{name}申请（编号{app['id']}）正在{app['status_label']}，无需重复提交。"
                                  "可回复“办理进度”查看。")


async def tell_if_open(dispatcher, tracker, business: str, name: str) -> bool:
    """When the business ended without steps because an application is already under way, say so."""
    try:
        app = await open_application(tracker, business)
    except BackofficeUnavailable:
        return False
    if app:
        already_open(dispatcher, app, name)
    return bool(app)


async def submit_application(dispatcher, tracker, business: str, name: str, payload: dict) -> dict | None:
    """Open and submit; a second submit is answered with the application already under way."""
    try:
        result = await client.call("/api/bot/applications/open", {
            **requester(tracker), "business": business, "channel": channel_of(tracker),
            "payload": payload, "submit": True})
    except BackofficeUnavailable:
        dispatcher.utter_message(response=BUSY)
        return None
    app = result.get("application")
    if not app:
        dispatcher.utter_message(text=f"{result.get('message') or '申请未能提交。'}如有疑问请回复“转人工”。")
        return None
    if not result.get("created"):
        already_open(dispatcher, app, name)
        return app
    dispatcher.utter_message(text=f"您的{name}申请已提交（编号{app['id']}），当前状态：{app['status_label']}。"
                                  "审核结果将通过短信和本对话通知您，可回复“办理进度”查看。")
    return app


async def finish_witnessed_business(dispatcher, tracker, business: str, name: str, after: str) -> None:
    """End of 休眠账户激活 / 在线销户: explain why not (eligibility, an application under way) or submit.

    The back-office checks the passed witness and the signed agreements again when the application opens
    and refuses with a message the customer can act on; nothing is assumed here.
    """
    try:
        answer = await client.call("/api/bot/applications/eligibility", {**requester(tracker),
                                                                          "business": business})
    except BackofficeUnavailable:
        dispatcher.utter_message(response=BUSY)
        return
    if answer.get("error") == "not_logged_in":
        return  # the login steps ended without a login and said why
    if not answer.get("eligible"):
        dispatcher.utter_message(text=answer.get("message") or f"您的账户暂不满足{name}条件。")
        return
    if await tell_if_open(dispatcher, tracker, business, name):
        return
    if await submit_application(dispatcher, tracker, business, name, {}) and after:
        dispatcher.utter_message(text=after)


class ValidateCheckStatusForm(StepsForm):
    """办理进度 needs only the login: it shows the customer's own applications."""
    BUSINESS = "业务办理进度查询"
    NEEDS_GATE = False

    def name(self) -> str:
        return "validate_check_status_form"


class ActionCheckStatusSubmit(Action):
    def name(self) -> str:
        return "action_check_status_submit"

    async def run(self, dispatcher, tracker, domain):
        reset = [SlotSet(slot, None) for slot in step_reset(domain, "check_status_form")]
        if tracker.get_slot("step_outcome"):
            return reset
        try:
            result = await client.call("/api/bot/applications/status", requester(tracker))
        except BackofficeUnavailable:
            dispatcher.utter_message(response=BUSY)
            return reset
        items = result.get("applications")
        if items is None:
            dispatcher.utter_message(text="请先登录掌厅后查询办理进度。")
        elif not items:
            dispatcher.utter_message(text="您目前没有在掌厅办理的业务申请。")
        else:
            lines = [item.get("text") or f"{item['business_name']}：{item['status_label']}" for item in items[:10]]
            dispatcher.utter_message(text="您的业务办理进度：\n" + "\n".join(lines))
        return reset
