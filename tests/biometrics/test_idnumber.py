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


def test_generated_numbers_valid():
    for seed in range(50):
        f = random_front_fields(seed)
        assert idnumber.validate(f["id_number"]).ok
        assert idnumber.gender(f["id_number"]) == f["gender"]


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
    n = random_front_fields(3)["id_number"]
    wrong = n[:17] + next(c for c in "0123456789X" if c != n[17] and c not in idnumber.CONFUSABLE.get(n[17], ""))
    r = idnumber.correct_one(wrong)
    assert not r.ok or r.number != wrong
