"""The kinds of answer a step takes, and the registry of every step by its slot.

A step fills one slot. `answer()` reads the latest message as this step's answer only when it has the right
kind (a text, a yes/no, an image or video, the witness nudge); anything else is not an answer and the form
handles it (help, resend, "not understood", cancel...). `validate()` asks the back-office and returns the
slot updates: the slot's marker, or None to ask again, sometimes other slots and a `step_outcome` that ends
the form. Texts are the domain's responses (bot/domain/steps.yml); messages the back-office writes for the
customer are passed on as they are.
"""
from __future__ import annotations

from bot.actions import normalise
from bot.actions.turn import Turn

# Intents that are never an answer to a step: the form (or, for the first four, the rules) handles them.
CONTROL = {"cancel", "request_human", "goodbye", "logout"}
NOT_ANSWERS = CONTROL | {"help", "greet", "thank", "resend_code", "upload_image", "upload_video", "witness_done"}
# Titles of the yes/no buttons the steps offer, plus the plainest answers (see bot/domain/steps.yml).
YES_WORDS = {"是", "是的", "好", "好的", "确认", "确定", "同意", "正确", "确认使用", "去绑定", "解除当前绑定", "1",
             "已阅读", "已阅读并同意", "已阅读同意", "阅读完了", "我已阅读并同意", "确认解锁", "确认提交"}
NO_WORDS = {"否", "不", "不是", "不同意", "不正确", "不正确重新上传", "重新上传", "暂不绑定", "暂不解绑", "2",
            "暂不签署", "暂不解锁", "暂不提交"}


def media_id_of(turn: Turn) -> str | None:
    for entity in (turn.tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "media_id" and entity.get("value"):
            return str(entity["value"])
    return None


class Step:
    """One step of a form. Subclasses set `slot` and implement validate(); `help` names the response that
    explains the step (utter_help_<slot> by default), `resend` the back-office path that sends a new code."""

    slot: str = ""
    resend: str | None = None

    @property
    def help(self) -> str:
        return f"utter_help_{self.slot}"

    def answer(self, turn: Turn):
        raise NotImplementedError

    def typed_button(self, turn: Turn) -> bool:
        """The message is the title of one of this step's buttons (「解除当前绑定」 names a business too)."""
        return False

    async def validate(self, turn: Turn, value) -> dict:
        raise NotImplementedError

    def asked(self, turn: Turn) -> bool:
        return turn.requested == self.slot


def carries_number(text: str) -> bool:
    """Six digits or more: an account number, phone, code or ID typed, whatever NLU made of it (「+86 139-…」 is
    no 886, 「88」 and 「886」 stay farewells)."""
    return sum(c.isdigit() for c in text or "") >= 6


class TextStep(Step):
    """Anything typed that is not a request of its own (cancel, help, 转人工, ...)."""

    def answer(self, turn: Turn):
        if not turn.text:
            return None
        return turn.text if turn.intent not in NOT_ANSWERS or carries_number(turn.text) else None


class YesNoStep(Step):
    yes_intents: tuple[str, ...] = ("affirm",)

    def typed_button(self, turn: Turn) -> bool:
        text = normalise.compact(turn.text)
        return text in YES_WORDS or text in NO_WORDS

    def answer(self, turn: Turn):
        text = normalise.compact(turn.text)
        # A typed button title means the button, whatever NLU makes of it.
        if text in YES_WORDS:
            return True
        if text in NO_WORDS:
            return False
        if turn.intent in self.yes_intents:
            return True
        if turn.intent == "deny":
            return False
        return None


class MediaStep(Step):
    kinds: tuple[str, ...] = ("upload_image",)

    def answer(self, turn: Turn):
        if turn.intent not in self.kinds:
            return None
        media_id = media_id_of(turn)
        return (turn.intent, media_id) if media_id else None


class CodeStep(TextStep):
    """A 6-digit SMS code: the format is checked here, the code by the back-office."""

    async def check(self, turn: Turn, code: str) -> dict:
        raise NotImplementedError

    async def validate(self, turn: Turn, value) -> dict:
        code = normalise.code(str(value))
        if code is None:
            turn.say("utter_code_format")
            return {self.slot: None}
        return await self.check(turn, code)


def code_problem(turn: Turn, result: dict) -> None:
    """What a wrong, used-up or expired code is told (every code step)."""
    status = result.get("status")
    if status == "wrong":
        turn.say("utter_code_wrong", remaining=result.get("remaining", 0))
    elif status == "exhausted":
        turn.say("utter_code_exhausted")
    else:
        turn.say("utter_code_expired")


def minutes(seconds) -> int:
    return max(1, (int(seconds or 0) + 59) // 60)


# slot → step, filled by the step modules (bot/actions/steps/__init__.py imports them all)
CATALOGUE: dict[str, Step] = {}


def register(*steps: Step) -> None:
    for step in steps:
        if step.slot in CATALOGUE:
            raise ValueError(f"two steps fill {step.slot}")
        CATALOGUE[step.slot] = step
