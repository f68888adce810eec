"""绑定设备 / 解除绑定 asked for directly (the same steps also run as the gate of every business)."""
from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.actions.backoffice import BackofficeUnavailable, client
from bot.actions.common import requester
from bot.actions.steps import UNBIND_STEPS, StepsForm, step_reset


class ValidateBindDeviceForm(StepsForm):
    BUSINESS = "绑定设备"

    def name(self) -> str:
        return "validate_bind_device_form"

    def gate_steps(self, gate, tracker):
        # Binding is the business itself: no signature needed for it.
        steps = UNBIND_STEPS if gate.get("device") == "bound_elsewhere" else []
        if gate.get("device") != "bound_here":
            steps = steps + self.bind_steps(gate)
        return steps


class ValidateUnbindDeviceForm(StepsForm):
    BUSINESS = "解除绑定"
    NEEDS_GATE = False

    def name(self) -> str:
        return "validate_unbind_device_form"

    def business_steps(self, gate, tracker):
        if gate.get("device") == "unbound" and not tracker.get_slot("unbind_go"):
            return []
        return UNBIND_STEPS


class ActionBindDeviceSubmit(Action):
    def name(self) -> str:
        return "action_bind_device_submit"

    async def run(self, dispatcher, tracker, domain):
        if not tracker.get_slot("step_outcome") and not tracker.get_slot("bind_face"):
            dispatcher.utter_message(text="您当前登录的资金账号已与本设备绑定，无需重复绑定。")
        elif tracker.get_slot("bind_face"):
            dispatcher.utter_message(text="设备绑定完成，现在可以办理掌厅业务了。")
            dispatcher.utter_message(response="utter_menu")
        return [SlotSet(slot, None) for slot in step_reset(domain, "bind_device_form")]


class ActionUnbindDeviceSubmit(Action):
    def name(self) -> str:
        return "action_unbind_device_submit"

    async def run(self, dispatcher, tracker, domain):
        if tracker.get_slot("unbind_code") == "verified":
            dispatcher.utter_message(text="解除绑定成功。办理任一业务时，将按流程重新绑定当前设备。")
        elif not tracker.get_slot("step_outcome"):
            dispatcher.utter_message(text="您当前登录的资金账号未绑定任何设备，无需解绑。")
        return [SlotSet(slot, None) for slot in step_reset(domain, "unbind_device_form")]


class ActionAskUnbindGo(Action):
    """The guide's wording for another device; a plain confirmation when unbinding this one."""

    def name(self) -> str:
        return "action_ask_unbind_go"

    async def run(self, dispatcher, tracker, domain):
        try:
            gate = await client.call("/api/bot/gate", requester(tracker))
        except BackofficeUnavailable:
            gate = {}
        if gate.get("device") == "bound_here":
            text = "确认解除当前设备与资金账号的绑定吗？解除后需验证短信验证码。"
        else:
            text = "您当前登录的资金账号已与其他设备绑定，需解绑原有设备后重新绑定当前设备进行登录。"
        dispatcher.utter_message(text=text, buttons=[{"title": "解除当前绑定", "payload": "/affirm"},
                                                     {"title": "暂不解绑", "payload": "/deny"}])
        return []
