"""Agreement signing, shared by every business that signs: read each required agreement on its H5 page (≥ 10 s,
server-checked), reply 已阅读并同意, then confirm with an SMS code; the back-office makes the signed PDFs.

Which agreements a business needs is the registry's (businesses/definitions, by account-opening date); the step
runs while something is missing and is kept once started in the form.
"""
from __future__ import annotations

from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY, CODE_LIMIT
from bot.actions.markers import Marker, Outcome
from bot.actions.steps.base import CodeStep, YesNoStep, code_problem, register
from bot.actions.turn import Turn

AGREEMENT_STEPS = ["agreements_read", "sign_code"]


async def agreement_slots(turn: Turn) -> list[str]:
    """阅读并同意 then the signing code, while something is missing (kept once signed in this form)."""
    if turn.slot("sign_code") or turn.slot("agreements_read"):
        return AGREEMENT_STEPS
    return AGREEMENT_STEPS if await turn.missing_agreements() else []


def titles(agreements: list[dict]) -> str:
    return "".join(f"《{a['title']}》" for a in agreements)


class AgreementsRead(YesNoStep):
    slot = "agreements_read"

    async def validate(self, turn: Turn, value) -> dict:
        if value is not True:
            turn.say("utter_agreements_declined", business=turn.business.name if turn.business else "办理")
            return {self.slot: False, "step_outcome": Outcome.AGREEMENTS_DECLINED}
        try:
            missing = await turn.missing_agreements()
        except BackofficeUnavailable:
            turn.say(BUSY)
            return {self.slot: None}
        codes = [m["code"] for m in missing]
        if not codes:
            return {self.slot: True, "sign_code": Marker.SIGNED}
        agreed = await turn.call("/api/bot/agreements/agree", codes=codes)
        if agreed is None:
            return {self.slot: None}
        if agreed.get("status") != "ok":
            turn.say_text(agreed.get("message") or "请先点击链接阅读协议，阅读完毕后再回复“同意”。")
            return {self.slot: None}
        started = await turn.call("/api/bot/agreements/sign/start", codes=codes)
        if started is None:
            return {self.slot: None}
        status = started.get("status")
        if status in ("sent", "wait"):
            turn.say("utter_agreements_code_sent", titles=titles(missing), phone_masked=started["phone_masked"])
            return {self.slot: True}
        if status == "too_many":
            turn.say(CODE_LIMIT)
            return {self.slot: None, "step_outcome": Outcome.TOO_MANY}
        turn.say_text(started.get("message") or "请先阅读协议并回复“同意”。")
        return {self.slot: None}


class SignCode(CodeStep):
    slot = "sign_code"
    resend = "/api/bot/agreements/sign/resend"

    async def check(self, turn: Turn, code: str) -> dict:
        result = await turn.call("/api/bot/agreements/sign/confirm", otp_code=code)
        if result is None:
            return {self.slot: None}
        status = result.get("status")
        if status == "ok":
            lines = "\n".join(f"《{s['title']}》（{s['version']}）：{s['pdf_url']}" for s in result.get("signed") or [])
            turn.say("utter_agreements_signed", links=lines)
            turn.forget("missing")
            return {self.slot: Marker.SIGNED}
        if status == "no_pending":
            turn.say("utter_agreements_sign_expired")
            return {self.slot: None, "agreements_read": None}
        code_problem(turn, result)
        return {self.slot: None}


def signed_lines(overview: dict) -> tuple[str, dict]:
    """The response that lists what the customer signed, and its values."""
    signed = overview.get("signed") or []
    if not signed:
        return "utter_agreements_none_signed", {}
    lines = [f"{i}.《{s['title']}》（{s['version']}，签署于{str(s.get('signed_at') or '')[:16].replace('T', ' ')}）："
             f"{s['pdf_url']}" for i, s in enumerate(signed, 1)]
    return "utter_agreements_signed_list", {"links": "\n".join(lines)}


register(AgreementsRead(), SignCode())
