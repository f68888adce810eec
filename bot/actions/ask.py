"""Questions of the steps that need the back-office to be asked: they send a code, a link or look something up the
first time the step is asked; asked again (after help, a wrong answer...), they only remind."""
from __future__ import annotations

import abc

from rasa_sdk import Action

from bot.actions import backoffice
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY, CODE_LIMIT
from bot.actions.steps.agreements import signed_lines
from bot.actions.steps.face import FACE_STEPS, start_check
from bot.actions.steps.switch import SWITCH_TO
from bot.actions.steps.witness import answers_witness, invitation
from bot.actions.turn import Turn
from businesses import by_form, get

AGREE_BUTTONS = [{"title": "已阅读并同意", "payload": "/affirm"}, {"title": "暂不签署", "payload": "/deny"}]


def asked_before(tracker, slot: str) -> bool:
    """Was this step already the one asked when the customer last wrote? (Then only remind, don't resend.)"""
    requested, at_last_message = None, None
    for event in tracker.events or []:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind == "user":
            at_last_message = requested
        elif kind in ("restart", "session_started"):
            requested = None
    return at_last_message == slot


def turn_of(dispatcher, tracker, domain) -> Turn:
    return Turn(dispatcher, tracker, domain, by_form(tracker.active_loop_name))


async def gate_or_nothing(turn: Turn) -> dict:
    """The gate for choosing a question's wording: without the back-office, the plain wording."""
    try:
        return await turn.gate()
    except BackofficeUnavailable:
        return {}


class ActionAskBusinessCode(Action):
    """Sends the business's confirmation code the first time the step is asked, then only asks for it."""

    def name(self) -> str:
        return "action_ask_business_code"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        if asked_before(tracker, "business_code"):  # asked again: the code was sent already
            turn.say("utter_business_code_again")
            return []
        result = await turn.call("/api/bot/business/otp/start", business=turn.code)
        status = (result or {}).get("status")
        if status == "sent":
            turn.say("utter_business_code_sent", phone_masked=result["phone_masked"])
        elif status == "wait":
            turn.say("utter_business_code_sent_recently", phone_masked=result["phone_masked"],
                     wait_seconds=result["wait_seconds"])
        elif status == "too_many":
            turn.say(CODE_LIMIT)
        elif result is not None:
            turn.say("utter_login_expired_in_business")
        return []


class ActionAskAgreementsRead(Action):
    """The reading links of every agreement still to sign (first ask); a short reminder when asked again."""

    def name(self) -> str:
        return "action_ask_agreements_read"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        if asked_before(tracker, "agreements_read"):
            turn.dispatcher.utter_message(response="utter_agreements_read_again", buttons=AGREE_BUTTONS)
            return []
        try:
            if turn.business and not turn.business.application:  # 协议查看: what is signed comes first
                overview = await turn.call("/api/bot/agreements/overview")
                if overview is None:
                    return []
                response, values = signed_lines(overview)
                turn.say(response, **values)
            missing = await turn.missing_agreements()
            links = [await turn.call("/api/bot/agreements/link", code=m["code"]) for m in missing]
        except BackofficeUnavailable:
            turn.say(BUSY)
            return []
        links = [link for link in links if link and link.get("url")]
        lines = "\n".join(f"{i}.《{link['title']}》（{link['version']}）：{link['url']}" for i, link in enumerate(links, 1))
        seconds = max([int(link.get("min_reading_seconds") or 10) for link in links] or [10])
        turn.say("utter_agreements_links", links=lines, seconds=seconds)
        return []


class ActionAskWitness(Action):
    """The witness link the first time the step is asked; afterwards only a reminder (or nothing when the
    step's validation has just told the customer where the witness stands)."""

    def name(self) -> str:
        return "action_ask_witness"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        if asked_before(tracker, "witness"):
            if not answers_witness(turn):
                turn.say("utter_witness_reminder")
            return []
        opened = await turn.call("/api/bot/witness/open", business=turn.code)
        if opened is None:
            return []
        if not opened.get("url"):
            turn.say("utter_witness_unavailable", message=opened.get("message") or "视频见证暂时无法发起。")
            return []
        turn.say("utter_witness_invitation", **invitation(opened))
        return []


class ActionAskPrivacyAgreed(Action):
    def name(self) -> str:
        return "action_ask_privacy_agreed"

    async def run(self, dispatcher, tracker, domain):
        Turn(dispatcher, tracker, domain).say("utter_privacy_link", url=f"{backoffice.client.public_url}/h5/privacy")
        return []


class ActionAskSignatureImage(Action):
    """The guide's wording when none is on file; a plain request when the customer replaces one."""

    def name(self) -> str:
        return "action_ask_signature_image"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        gate = await gate_or_nothing(turn)
        turn.say("utter_signature_request", lead="" if gate.get("signature") else
                 "系统内未检查到您上传的手写签名，请先上传手写签名。\n")
        return []


class ActionAskUnbindGo(Action):
    """The guide's wording for another device; a plain confirmation when unbinding this one."""

    def name(self) -> str:
        return "action_ask_unbind_go"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        gate = await gate_or_nothing(turn)
        turn.say("utter_unbind_this_device" if gate.get("device") == "bound_here" else "utter_unbind_other_device")
        return []


class ActionAskSwitchConfirmed(Action):
    """改办？ — steps of this business are done; naming another one asks before leaving them."""

    def name(self) -> str:
        return "action_ask_switch_confirmed"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        target = get(tracker.get_slot(SWITCH_TO) or "")
        current = turn.business.name if turn.business else ""
        turn.dispatcher.utter_message(
            response="utter_switch_confirm", business=current, target=target.name if target else "",
            buttons=[{"title": f"改办{target.name if target else ''}", "payload": "/affirm"},
                     {"title": f"继续办理{current}", "payload": "/deny"}])
        return []


class ActionAskFaceConsent(Action):
    """The separate consent to face data (个人信息保护法 Art. 29): what, why, what happens to the images, how long."""

    def name(self) -> str:
        return "action_ask_face_consent"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        status = await turn.once("consent", "/api/bot/face/consent/status")
        if not status:
            return []
        turn.say("utter_face_consent_notice", url=status.get("url") or "",
                 retention_days=status.get("retention_days") or "", version=status.get("version") or "")
        return []


class AskLiveFace(Action, abc.ABC):
    """The live check's link and actions the first time a face step is asked; a reminder afterwards."""

    @property
    @abc.abstractmethod
    def step(self):
        """Abstract: one subclass per face step below."""

    def name(self) -> str:
        return f"action_ask_{self.step.slot}"

    async def run(self, dispatcher, tracker, domain):
        turn = turn_of(dispatcher, tracker, domain)
        if asked_before(tracker, self.step.slot):
            if turn.intent not in ("live_check_done", "upload_video", "upload_image"):
                turn.say("utter_live_check_reminder")
            return []
        await start_check(turn, self.step.purpose)
        return []


FACE_ASKS = [type(f"AskLive_{slot}", (AskLiveFace,), {"step": step, "__module__": __name__})
             for slot, step in FACE_STEPS.items()]
