"""What customers type at the steps, as they type it on phone keyboards."""
import pytest

from bot.actions import normalise


@pytest.mark.parametrize("typed, phone", [
    ("+86 139-1896-0488", "13918960488"), ("86 13918960488", "13918960488"), ("0086-139 1896 0488", "13918960488"),
    ("１３９１８９６０４８８", "13918960488"), ("手机号是139 1896 0488哦", "13918960488"),
    ("幺三九幺八九六零四八八", "13918960488"), ("139.1896.0488", "13918960488"),
    ("1391896048", None), ("23918960488", None), ("139189604889", None), ("没有手机", None), ("", None),
])
def test_phone(typed, phone):
    assert normalise.phone(typed) == phone


@pytest.mark.parametrize("typed, number", [
    ("80010001", "80010001"), ("我的账号是80010001哦", "80010001"), ("８００１ ０００１", "80010001"),
    ("6260662721", "6260662721"), ("八零零幺零零零幺", "80010001"),
    ("8001", None), ("80010001x", None), ("12345678901", None), ("1" * 2000, None), ("80010001 80010002", None),
])
def test_account_number(typed, number):
    assert normalise.account_number(typed) == number


@pytest.mark.parametrize("typed, code", [
    ("482913", "482913"), ("验证码是 482 913", "482913"), ("４８２９１３", "482913"), ("482-913", "482913"),
    ("是482913吗", "482913"), ("四八二九幺三", "482913"), ("48291", None), ("4829135", None), ("好的", None),
])
def test_code(typed, code):
    assert normalise.code(typed) == code


def test_compact_and_small_numbers_left_alone():
    assert normalise.compact("确认 使用") == "确认使用" and normalise.compact("１") == "1"
    assert normalise.digit_runs("下午三点收盘") == []  # a read-out number needs 4 digits
