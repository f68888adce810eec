import datetime as dt

from biometrics import idnumber
from biometrics.testdata import random_front_fields


def test_checksum_and_fields():
    n = "11010519491231002X"
    assert idnumber.check_char(n[:17]) == "X"
    assert idnumber.checksum_ok(n)
    assert idnumber.birth_date(n) == dt.date(1949, 12, 31)
    assert idnumber.gender(n) == "女"
    assert idnumber.region_plausible(n)
    assert idnumber.validate(n).ok


def test_rejections():
    assert idnumber.validate("11010519491231002").error == "bad_format"
    assert idnumber.validate("110105194912310021").error == "bad_checksum"
    bad_date = "11010519491331" + "002"
    assert idnumber.validate(bad_date + idnumber.check_char(bad_date)).error == "bad_birth_date"
    bad_region = "99010519491231002"
    assert idnumber.validate(bad_region + idnumber.check_char(bad_region)).error == "bad_region"
    future = "110105" + (dt.date.today() + dt.timedelta(days=400)).strftime("%Y%m%d") + "002"
    assert idnumber.validate(future + idnumber.check_char(future)).error == "bad_birth_date"


def _with_check(first17: str) -> str:
    return first17 + idnumber.check_char(first17)


def test_region_code_counts_whatever_the_birth_date():
    """One rule for the product: a region code that existed at any time, independent of the birth date."""
    from stdnum.cn import ric

    xiamen = "350203196511126367"  # 厦门市思明区 (code since 1983), born 1965: a real card's combination
    assert idnumber.validate(xiamen).ok and not ric.is_valid(xiamen)  # stdnum ties the code to the birth year
    assert idnumber.validate(_with_check("11010319920315001")).ok  # 崇文区, abolished in 2010
    assert idnumber.validate(_with_check("11011519600101001")).ok  # 大兴区 (2001-), born 1960
    for region in ("119999", "990105", "110000", "350000", "710000", "810100"):  # unknown, province-level, ...
        check = idnumber.validate(_with_check(region + "19900101001"))
        assert check.error == "bad_region", region


def test_residence_permits_are_accepted_and_told_apart():
    for region in ("810000", "820000", "830000"):  # 港澳台居民居住证
        check = idnumber.validate(_with_check(region + "19900101001"))
        assert check.ok and check.kind == "residence_permit", region
    assert idnumber.validate("350203196511126367").kind == "resident"


def test_birth_date_is_real_past_and_not_absurdly_old():
    today = dt.date(2026, 3, 1)
    for birth, ok in (("20260301", True), ("20260302", False), ("19010302", True), ("19010228", False),
                      ("19000101", False), ("20250229", False), ("20240229", True)):
        check = idnumber.validate(_with_check("350203" + birth + "001"), today=today)
        assert check.ok is ok and (ok or check.error == "bad_birth_date"), birth
    leap_day = dt.date(2024, 2, 29)  # 125 years before a 29 February
    assert idnumber.validate(_with_check("35020318990228001"), today=leap_day).ok
    assert not idnumber.validate(_with_check("35020318990227001"), today=leap_day).ok


def test_every_single_character_error_is_caught():
    """GB 11643's MOD 11-2 catches any one wrong character: each is refused, none slips through as valid."""
    for seed in range(20):
        n = random_front_fields(seed)["id_number"]
        for i in range(18):
            for c in "0123456789X" if i == 17 else "0123456789":
                if c != n[i]:
                    assert idnumber.validate(n[:i] + c + n[i + 1:]).error == "bad_checksum", (seed, i, c)


# Published / hand-checked numbers (GB 11643 examples and numbers whose check character was
# computed by hand): the checksum must accept them and reject every single-character change.
KNOWN_VALID = ("11010519491231002X", "440524188001010014", "350203196511126367")


def test_checksum_detects_every_single_character_change():
    for n in KNOWN_VALID:
        assert idnumber.checksum_ok(n), n
        for i in range(18):
            for c in "0123456789X" if i == 17 else "0123456789":
                if c != n[i]:
                    assert not idnumber.checksum_ok(n[:i] + c + n[i + 1:]), (n, i, c)


def test_gender_and_birth_date_come_from_the_number():
    assert idnumber.gender("440524188001010014") == "男"  # 17th digit 1: odd
    assert idnumber.gender("11010519491231002X") == "女"  # 17th digit 2: even
    assert idnumber.birth_date("440524188001010014") == dt.date(1880, 1, 1)
    assert idnumber.birth_date("110105194902300029") is None  # 30 February


def test_one_character_correction_is_mostly_right():
    fixed = wrong = 0
    for seed in range(40):
        n = random_front_fields(seed)["id_number"]
        for i in range(17):
            for alt in idnumber.CONFUSABLE.get(n[i], ""):
                garbled = n[:i] + alt + n[i + 1:]
                if idnumber.validate(garbled).ok:
                    continue  # another valid number, nothing to correct
                r = idnumber.correct_one(garbled)
                if r.ok:
                    assert r.corrected and idnumber.validate(r.number).ok
                    fixed += 1
                    wrong += r.number != n
    # A unique one-character repair can still land on another valid number; it is rare,
    # and birth date / gender digits are cross-checked against the printed fields anyway.
    assert fixed > 50 and wrong / fixed < 0.1, (fixed, wrong)
    # OCR glyph confusions are normalised.
    n = random_front_fields(1)["id_number"]
    assert idnumber.correct_one(n.replace("0", "O")).number == n


def test_wrong_check_digit_not_repaired():
    """A number printed with a wrong check character is never put back to the number it was made from (unless
    the wrong character is one OCR confuses with the right one), and any repair is one look-alike character."""
    n = "350203196511126367"
    assert idnumber.correct_one(n[:17] + "0") == idnumber.Check(False, n[:17] + "0", "bad_checksum")
    refused = 0
    for seed in range(30):
        n = random_front_fields(seed)["id_number"]
        for c in "0123456789X":
            alternatives = idnumber.CONFUSABLE.get(c, "") + ("X" if c in "14" else "")
            if c == n[17] or n[17] in alternatives:
                continue
            wrong = n[:17] + c
            r = idnumber.correct_one(wrong)
            assert r.number != n, wrong
            if r.ok:
                (i, was, now), = [(i, a, b) for i, (a, b) in enumerate(zip(wrong, r.number)) if a != b]
                assert r.corrected and i < 17 and now in idnumber.CONFUSABLE[was], (wrong, r.number)
            else:
                refused += 1
                assert r.error == "bad_checksum" and r.number == wrong
    assert refused > 100
