import datetime as dt

import pytest

from biometrics import idcard, idnumber
from biometrics.testdata import (make_bank_card, make_blank, make_id_back, make_id_front, make_screenshot,
                                 random_back_fields, random_front_fields)

SIZE = (1600, 1200)


def _photo(faces):
    return sorted(p for v in faces.values() for p in v)[0]


def test_clean_front_read_exactly(faces):
    f = random_front_fields(11, rare_name=False)
    r = idcard.read_front(make_id_front(**f, face_path=_photo(faces), tier="clean", seed=11, size=SIZE))
    assert r.ok, r.to_dict()
    for k in ("name", "gender", "ethnicity", "birth_date", "address", "id_number"):
        assert getattr(r, k) == f[k], k
    assert r.portrait_png and r.portrait_png[:8] == b"\x89PNG\r\n\x1a\n"
    d = r.to_dict()
    assert "portrait_png" not in d and d["has_portrait"] and 0 < d["confidences"]["id_number"] <= 1


@pytest.mark.parametrize("tier,turns,seed", [("medium", 2, 21), ("hard", 1, 22), ("hard", 3, 23)])
def test_rotated_degraded_number_exact(faces, tier, turns, seed):
    f = random_front_fields(seed)
    img = make_id_front(**f, face_path=_photo(faces), tier=tier, seed=seed, size=SIZE, quarter_turns=turns)
    r = idcard.read_front(img)
    assert r.id_number == f["id_number"], r.to_dict()
    assert r.ok and r.birth_date == f["birth_date"] and r.gender == f["gender"]


def test_not_a_front():
    assert idcard.read_front(make_blank()).error == "no_text"
    assert idcard.read_front(make_bank_card(seed=1, size=SIZE)).error == "not_id_card"
    assert idcard.read_front(make_screenshot(seed=1)).error == "not_id_card"
    assert idcard.read_front(make_id_back(seed=2, size=SIZE)).error == "back_side"
    assert idcard.read_front(b"\x00" * 100).error == "bad_image"


def test_checksum_failure_refused(faces):
    f = random_front_fields(31)
    n = f["id_number"]
    # A wrong check character that no look-alike substitution can repair.
    for c in "0123456789X":
        wrong = n[:17] + c
        if c != n[17] and not idnumber.correct_one(wrong).ok:
            break
    f["id_number"] = wrong
    r = idcard.read_front(make_id_front(**f, face_path=_photo(faces), tier="clean", seed=31, size=SIZE))
    assert not r.ok and r.error == "bad_checksum" and r.message


def test_birth_date_mismatch_refused(faces):
    f = random_front_fields(32)
    d = dt.date.fromisoformat(f["birth_date"]) + dt.timedelta(days=40)
    f["birth_date"] = d.isoformat()
    r = idcard.read_front(make_id_front(**f, face_path=_photo(faces), tier="clean", seed=32, size=SIZE))
    assert not r.ok and r.error == "birth_date_mismatch"


def test_back_side_and_expiry():
    b = random_back_fields(41)
    r = idcard.read_back(make_id_back(**b, tier="medium", seed=41, size=SIZE, quarter_turns=2))
    assert r.ok, r.to_dict()
    assert (r.authority, r.valid_from, r.valid_until) == (b["authority"], b["valid_from"], b["valid_until"])
    old = random_back_fields(42, expired=True)
    r = idcard.read_back(make_id_back(**old, seed=42, size=SIZE))
    assert not r.ok and r.error == "expired" and r.expired and "过期" in r.message
    lt = random_back_fields(43, long_term=True)
    r = idcard.read_back(make_id_back(**lt, seed=43, size=SIZE))
    assert r.ok and r.valid_until == "长期" and not r.expired


def test_tesseract_engine(monkeypatch, faces):
    from biometrics import ocr

    assert ocr.tesseract_available(), "tesseract is not installed (make sysdeps installs it)"
    monkeypatch.setenv("OCR_ENGINE", "tesseract")
    f = random_front_fields(0)
    r = idcard.read_front(make_id_front(**f, face_path=_photo(faces), tier="clean", seed=0, size=SIZE))
    assert r.engine == "tesseract"
    assert r.id_number == f["id_number"]
    assert ocr.get_engine().name == "tesseract"
    monkeypatch.setenv("OCR_ENGINE", "nonsense")
    with pytest.raises(ValueError):
        ocr.get_engine()


# --------------------------------------------------------------------- rare names, forms, targeted requests


def test_rare_name_character_read(faces):
    """燊 and 旻 are outside PP-OCRv4's dictionary; they must come out, never be dropped."""
    for seed, name in ((51, "龚燊子"), (52, "金铭旻")):
        f = random_front_fields(seed, rare_name=False)
        f["name"] = name
        r = idcard.read_front(make_id_front(**f, face_path=_photo(faces), tier="clean", seed=seed, size=SIZE))
        assert r.ok and r.name == name, r.to_dict()
        assert r.engine.endswith("ppocrv5")
        # Marked characters are exactly the doubtful ones, in the display form.
        for k in r.name_uncertain:
            assert f"[{name[k]}]" in r.name_marked and "name" in r.needs_review


def test_card_on_a_printed_form(faces):
    """The form's text around the card is not read into the name or the address."""
    from biometrics.testdata.altcards import make_alt_front

    img, f, meta = make_alt_front(907, "clean", _photo(faces), scene="form", rare=False, size=(2000, 1500))
    assert meta["scene"] == "form"
    r = idcard.read_front(img)
    assert r.ok and r.id_number == f["id_number"], r.to_dict()
    assert r.name == f["name"] and r.address == f["address"], (r.name, r.address)


def test_glare_over_the_name_is_a_targeted_request(faces):
    """Number valid, name lost under glare: ok, name missing, a request naming the field."""
    from PIL import ImageDraw

    from biometrics.testdata import photograph, render_front
    from biometrics.testdata.generator import MM

    f = random_front_fields(61, rare_name=False)
    card = render_front(f, _photo(faces), seed=61)
    ImageDraw.Draw(card).rounded_rectangle((int(5 * MM), int(5 * MM), int(45 * MM), int(11.5 * MM)),
                                           radius=MM, fill=(255, 255, 255, 255))
    r = idcard.read_front(photograph(card, tier="clean", seed=61, size=SIZE))
    assert r.ok and r.id_number == f["id_number"], r.to_dict()
    assert r.name is None and r.missing_fields == ["name"] and "name" in r.needs_review
    assert "姓名" in r.message and "反光" in r.message


def test_name_marking_keeps_every_character():
    import numpy as np

    from biometrics.ocr import TextLine

    # 姓名陈?雨 read as 姓名陈雨: the CTC columns leave a hole of two pitches between 陈 and 雨.
    line = TextLine(np.zeros((4, 2), np.float32), "姓名陈雨", 0.9, [1.0, 1.0, 0.99, 0.98], char_cols=[2, 6, 14, 22],
                    n_cols=26)
    item = idcard._L(line, line.text, 0, 10, 0, 1)
    n = idcard._read_name(item, None)
    assert n.text == "陈□雨" and n.uncertain == [1] and n.marked == "陈□雨"
    # A doubtful character (no second opinion available) is kept and bracketed.
    line = TextLine(np.zeros((4, 2), np.float32), "姓名陈甦雨", 0.9, [1.0, 1.0, 0.99, 0.5, 0.98],
                    char_cols=[2, 6, 14, 18, 22], n_cols=26)
    n = idcard._read_name(idcard._L(line, line.text, 0, 10, 0, 1), None)
    assert n.text == "陈甦雨" and n.uncertain == [1] and n.marked == "陈[甦]雨"


def test_traditional_forms_become_simplified_but_name_variants_stay():
    assert idcard._simplified("李志強") == "李志强"
    assert idcard._simplified("崔艳媽") == "崔艳妈"
    assert idcard._simplified("陈甦雨") == "陈甦雨"  # 甦 is a standard name character, not 苏


def test_back_with_glare_over_the_authority_names_it():
    from PIL import ImageDraw

    from biometrics.testdata import photograph, render_back
    from biometrics.testdata.generator import MM

    b = random_back_fields(44)
    card = render_back(b, seed=44)
    ImageDraw.Draw(card).rectangle((int(14 * MM), int(37 * MM), int(84 * MM), int(42.5 * MM)), fill=(255, 255, 255, 255))
    r = idcard.read_back(photograph(card, tier="clean", seed=44, size=SIZE))
    assert not r.ok and r.error == "fields_unreadable" and r.missing_fields == ["authority"], r.to_dict()
    assert r.valid_from == b["valid_from"] and "签发机关" in r.message and "反光" in r.message
