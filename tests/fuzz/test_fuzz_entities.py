"""Entity parsing and normalisation in the actions (digits_in, normalize, the step validators that need no
back-office) and the tracker masking, with arbitrary Unicode text."""
from __future__ import annotations

import asyncio
import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import digits_in, normalize
from connectors.tracker_masking import mask_text

# Text as customers type it: CJK, full-width and other digits, separators, emoji, control characters.
ALPHABET = st.one_of(st.characters(), st.sampled_from(list("0123456789０１２３４５６７８９-— 　,，.。:：Xx٣৩")))
TEXTS = st.one_of(st.text(ALPHABET, max_size=80),
                  st.builds(lambda a, d, b: a + d + b, st.text(max_size=8), st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
                            st.text(max_size=8)))


@given(text=TEXTS)
def test_normalize_and_digits_in(fuzzed, text):
    with fuzzed:
        norm = normalize(text)
        digits = digits_in(text)
    assert digits_in(norm) == digits  # reading the normalised text again gives the same number
    assert re.fullmatch(r"[0-9]*", digits), digits  # only ASCII digits ever reach the back-office
    ascii_norm = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in norm)
    runs = re.sub(r"[^0-9]", " ", ascii_norm).split()
    assert (digits in runs and len(digits) == max(map(len, runs))) if runs else digits == ""


@given(text=TEXTS)
def test_mask_text_never_grows_pii(fuzzed, text):
    with fuzzed:
        masked = mask_text(text)
    assert mask_text(masked) == masked  # idempotent: a stored tracker re-masked is unchanged
    # whatever number the bot would read from the stored text has fewer than 11 digits
    read_back = normalize(masked)
    assert not re.search(r"\d{11}", read_back), (text, masked)
    if re.fullmatch(r"1[3-9][0-9]{9}", digits_in(text)):
        assert digits_in(text) not in _ascii(read_back)


def _ascii(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _tracker(slot: str, text: str) -> Tracker:
    return Tracker("fuzz", {"requested_slot": slot}, {"text": text, "intent": {"name": "inform"}, "entities": []},
                   [], False, None, {"name": "login_form"}, "action_listen")


def _form():
    from bot.actions import login as login_actions

    for value in vars(login_actions).values():
        if isinstance(value, type) and getattr(value, "name", None) and value.__module__ == login_actions.__name__:
            try:
                form = value()
            except TypeError:
                continue
            if hasattr(form, "validate_account_number"):
                return form
    raise AssertionError("no login form validator found")


FORM = None
LOOP = asyncio.new_event_loop()


@given(text=TEXTS)
def test_account_number_and_code_validators(fuzzed, text):
    """The validators that answer without the back-office: a value they keep is always well-formed."""
    global FORM
    FORM = FORM or _form()
    dispatcher = CollectingDispatcher()
    with fuzzed:
        slots = LOOP.run_until_complete(FORM.validate_account_number(text, dispatcher, _tracker("account_number", text),
                                                                     {}))
    value = slots.get("account_number")
    assert value is None or re.fullmatch(r"[0-9]{8,10}", value)
    if value is None:
        assert dispatcher.messages and "资金账号" in dispatcher.messages[0]["text"]
