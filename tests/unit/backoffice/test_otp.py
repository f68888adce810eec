import json

import pytest

from backoffice.core.crypto import Crypto
from backoffice.otp.service import DAILY_LIMIT, OtpService

PHONE = "13800000001"


@pytest.fixture
def otp(kv, clock):
    return OtpService(kv, Crypto(["k"]), clock, secret=b"s" * 32)


def test_code_is_six_digits_and_works_once(otp):
    issued = otp.issue(PHONE, "login")
    assert issued.status == "sent" and len(issued.code) == 6 and issued.code.isdigit()
    assert otp.verify(PHONE, "login", issued.code).status == "ok"
    assert otp.verify(PHONE, "login", issued.code).status == "expired"  # single use


def test_code_is_bound_to_phone_and_purpose(otp):
    code = otp.issue(PHONE, "login").code
    assert otp.verify("13900000000", "login", code).status == "expired"
    assert otp.verify(PHONE, "unlock", code).status == "expired"
    assert otp.verify(PHONE, "login", code).status == "ok"


def test_expires_after_five_minutes(otp, clock):
    code = otp.issue(PHONE, "login").code
    clock.advance(299)
    fresh = otp.verify(PHONE, "login", "000000" if code != "000000" else "111111")
    assert fresh.status == "wrong"
    clock.advance(2)
    assert otp.verify(PHONE, "login", code).status == "expired"


def test_five_wrong_tries_void_the_code(otp):
    code = otp.issue(PHONE, "login").code
    wrong = "123456" if code != "123456" else "654321"
    remaining = [otp.verify(PHONE, "login", wrong).remaining for _ in range(4)]
    assert remaining == [4, 3, 2, 1]
    assert otp.verify(PHONE, "login", wrong).status == "exhausted"
    assert otp.verify(PHONE, "login", code).status == "expired"


def test_resend_waits_sixty_seconds_and_replaces_the_code(otp, clock):
    first = otp.issue(PHONE, "login").code
    clock.advance(30)
    waiting = otp.issue(PHONE, "login")
    assert waiting.status == "wait" and waiting.wait_seconds == 30 and waiting.code is None
    clock.advance(30)
    second = otp.issue(PHONE, "login")
    assert second.status == "sent"
    if first != second.code:
        assert otp.verify(PHONE, "login", first).status == "wrong"
    assert otp.verify(PHONE, "login", second.code).status == "ok"


def test_resend_minute_ends_with_a_successful_verify(otp):
    first = otp.issue(PHONE, "login").code
    assert otp.verify(PHONE, "login", first).status == "ok"
    second = otp.issue(PHONE, "login")
    assert second.status == "sent" and otp.verify(PHONE, "login", second.code).status == "ok"


def test_daily_limit_per_phone(otp, clock):
    for _ in range(DAILY_LIMIT):
        assert otp.issue(PHONE, "login").status == "sent"
        clock.advance(61)
    assert otp.issue(PHONE, "login").status == "too_many"


def test_store_holds_neither_code_nor_phone(otp, kv):
    code = otp.issue(PHONE, "login").code
    key = otp._keys(PHONE, "login", None)[0]
    assert PHONE not in key
    raw = kv.get(key)
    assert raw and code not in raw and PHONE not in raw
    assert set(json.loads(raw)) == {"h", "exp"}


def test_kv_counter_and_set_nx(kv, clock):
    assert kv.set_nx("a", "1", 10) is True
    assert kv.set_nx("a", "2", 10) is False
    assert kv.get("a") == "1"
    assert [kv.incr("c", 10) for _ in range(3)] == [1, 2, 3]
    assert kv.delete("a") is True and kv.delete("a") is False


def test_a_code_belongs_to_the_conversation_that_asked_for_it(otp, clock):
    """A stranger who knows the phone asks for a code first: the owner still gets one at once, the stranger's
    wrong guesses do not void it, and the stranger alone cannot use up the phone's codes of the day."""
    stranger = otp.issue(PHONE, "login", sender="stranger").code
    owner = otp.issue(PHONE, "login", sender="owner")
    assert owner.status == "sent"
    wrong = next(c for c in ("000000", "111111", "222222") if c not in (stranger, owner.code))
    assert [otp.verify(PHONE, "login", wrong, sender="stranger").status for _ in range(5)][-1] == "exhausted"
    assert otp.verify(PHONE, "login", owner.code, sender="stranger").status == "expired"  # not the stranger's
    assert otp.verify(PHONE, "login", owner.code, sender="owner").status == "ok"
    for _ in range(4):
        clock.advance(61)
        otp.issue(PHONE, "login", sender="stranger")
    clock.advance(61)
    assert otp.issue(PHONE, "login", sender="stranger").status == "too_many"
    assert otp.issue(PHONE, "login", sender="owner").status == "sent"
