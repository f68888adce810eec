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
    """A check character that is not a look-alike of the right one is never "repaired" back."""
    tried = 0
    for seed in range(30):
        n = random_front_fields(seed)["id_number"]
        for c in "0123456789X":
            # Skip c when n[17] is one of c's look-alikes: then the repair is allowed.
            if c == n[17] or n[17] in idnumber.CONFUSABLE.get(c, "") or (n[17] == "X" and c in "14"):
                continue
            wrong = n[:17] + c
            r = idnumber.correct_one(wrong)
            tried += 1
            assert r.number != n, (n, wrong)
            if r.ok:  # only ever a single look-alike substitution somewhere else
                diff = [i for i in range(18) if r.number[i] != wrong[i]]
                assert r.corrected and len(diff) == 1
                i = diff[0]
                assert r.number[i] in idnumber.CONFUSABLE.get(wrong[i], "") + ("X" if i == 17 else "")
    assert tried > 200
