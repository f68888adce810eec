"""Reading what customers type (bot/actions/normalise.py) and the tracker masking, with arbitrary Unicode text."""
from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.actions import normalise
from connectors.tracker_masking import mask_text

# Text as customers type it: CJK, full-width and other digits, separators, emoji, control characters.
ALPHABET = st.one_of(st.characters(), st.sampled_from(list("0123456789０１２３４５６７８９-— 　,，.。:：Xx٣৩")))
TEXTS = st.one_of(st.text(ALPHABET, max_size=80),
                  st.builds(lambda a, d, b: a + d + b, st.text(max_size=8), st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
                            st.text(max_size=8)))


@given(text=TEXTS)
def test_what_customers_type_reads_as_well_formed_values(fuzzed, text):
    """Whatever is typed, a phone, account number or code read from it is well-formed ASCII, found again in the
    compacted text, and reading is stable (the compacted text reads the same)."""
    with fuzzed:
        phone, account, code = normalise.phone(text), normalise.account_number(text), normalise.code(text)
        compact = normalise.compact(text)
    assert phone is None or re.fullmatch(r"1[3-9][0-9]{9}", phone)
    assert account is None or re.fullmatch(r"[0-9]{8,10}", account)
    assert code is None or re.fullmatch(r"[0-9]{6}", code)
    for value in (phone, account, code):
        assert value is None or value in "".join(normalise.digit_runs(compact)) or value in _ascii(
            normalise.spoken_digits(compact))


@given(text=TEXTS)
def test_mask_text_never_grows_pii(fuzzed, text):
    with fuzzed:
        masked = mask_text(text)
    assert mask_text(masked) == masked  # idempotent: a stored tracker re-masked is unchanged
    # whatever number the bot would read from the stored text has fewer than 11 digits
    read_back = normalise.compact(masked)
    assert not re.search(r"\d{11}", _ascii(read_back)), (text, masked)
    phone = normalise.phone(text)
    if phone and phone in _ascii(normalise.compact(text)):
        assert phone not in _ascii(read_back)


def _ascii(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


@given(text=TEXTS)
def test_the_account_step_keeps_only_a_well_formed_number(fuzzed, text):
    """What the account step would send the back-office (it answers without it for anything else)."""
    with fuzzed:
        number = normalise.account_number(text)
    assert number is None or (re.fullmatch(r"[0-9]{8,10}", number) and number in _ascii(normalise.width(text))
                              or number in normalise.spoken_digits(normalise.width(text)).replace(" ", ""))
