from pathlib import Path

import pytest

from biometrics import face
from biometrics.testdata import make_blank, make_group_photo, make_id_front, make_selfie
from biometrics.testdata.degrade import degrade


@pytest.fixture(scope="module")
def card_portrait(same_other):
    _selfie_photo, ref_photo, _other = same_other
    card = make_id_front(face_path=ref_photo, tier="medium", seed=5, size=(2000, 1500), quarter_turns=0)
    png = face.portrait_from_idcard(card)
    assert png is not None
    return png


def test_same_person_accepted_other_rejected(same_other, card_portrait):
    selfie_photo, _ref, other = same_other
    same = face.compare(make_selfie(selfie_photo, "jitter", seed=1), [card_portrait])
    assert same.ok and same.decision in ("accept", "review"), same.to_dict()
    diff = face.compare(make_selfie(other, "clean", seed=2), [card_portrait])
    assert diff.ok and diff.decision == "reject", diff.to_dict()
    assert diff.distance > same.distance
    # Distance is the minimum over the references.
    both = face.compare(make_selfie(selfie_photo, "jitter", seed=1), [make_selfie(other), card_portrait])
    assert both.distance == pytest.approx(same.distance, abs=1e-6)


def test_exif_rotated_selfie(same_other, card_portrait):
    r = face.compare(make_selfie(same_other[0], "exif_rotated", seed=3), [card_portrait])
    assert r.ok and r.decision in ("accept", "review")


@pytest.mark.parametrize("variant,code", [("blurry", "too_blurry"), ("small", "face_too_small")])
def test_quality_refusals(same_other, card_portrait, variant, code):
    r = face.compare(make_selfie(same_other[0], variant, seed=4), [card_portrait])
    assert not r.ok and r.error == code and r.message and r.decision is None


@pytest.mark.parametrize("make", [
    lambda photo: make_selfie(photo, "dark", seed=4),  # light x0.12: refused as too dark before the correction
    lambda photo: degrade(Path(photo).read_bytes(), "very_dark", seed=4),  # x0.10 of another photo, noise, JPEG
])
def test_dark_genuine_pair_is_corrected_not_refused(same_other, card_portrait, make):
    selfie = make(same_other[0])
    before = face.compare(selfie, [card_portrait], correction=None)
    assert not before.ok and before.error == "too_dark"
    after = face.compare(selfie, [card_portrait])
    assert after.ok and after.decision in ("accept", "review"), after.to_dict()
    assert after.to_dict()["diagnostics"] == {"corrected": "gamma+clahe", "reference_corrected": [None]}
    other = face.compare(make_selfie(same_other[2], "dark", seed=4), [card_portrait])
    assert other.ok and other.decision == "reject" and other.diagnostics["corrected"] == "gamma+clahe"


def test_overexposed_genuine_pair_is_corrected(same_other, card_portrait):
    selfie = degrade(Path(same_other[0]).read_bytes(), "bright", seed=1)
    before = face.compare(selfie, [card_portrait], correction=None)
    after = face.compare(selfie, [card_portrait])
    assert not before.ok and before.error == "overexposed"
    assert after.ok and after.decision in ("accept", "review") and after.diagnostics["corrected"] == "gamma"


@pytest.mark.parametrize("kind,code", [("black", "too_dark"), ("blown_out", "overexposed")])
def test_photo_beyond_repair_still_refused_with_reason(same_other, card_portrait, kind, code):
    r = face.compare(degrade(Path(same_other[0]).read_bytes(), kind, seed=2), [card_portrait])
    assert not r.ok and r.error == code and r.decision is None
    assert r.message == face.MESSAGES[code] and ("光线" in r.message or "曝光" in r.message)
    ref = face.compare(make_selfie(same_other[0]), [degrade(Path(same_other[1]).read_bytes(), kind, seed=3)])
    assert not ref.ok and ref.error == "reference_" + code and ref.message == face.REFERENCE_MESSAGES[code]


def test_no_face_multiple_faces_bad_image(same_other, card_portrait):
    assert face.compare(make_blank(), [card_portrait]).error == "no_face"
    group = make_group_photo(same_other[0], same_other[2])
    assert face.compare(group, [card_portrait]).error == "multiple_faces"
    assert face.compare(b"not an image", [card_portrait]).error == "bad_image"
    r = face.compare(make_selfie(same_other[0]), [make_blank()])
    assert not r.ok and r.error == "reference_no_face"


def test_bands_from_environment(monkeypatch, same_other, card_portrait):
    selfie = make_selfie(same_other[0], "clean", seed=6)
    monkeypatch.delenv("FACE_ACCEPT_MAX", raising=False)
    monkeypatch.delenv("FACE_REVIEW_MAX", raising=False)
    assert face.bands() == (face.DEFAULT_ACCEPT_MAX, face.DEFAULT_REVIEW_MAX)
    assert face.DEFAULT_ACCEPT_MAX < face.DEFAULT_REVIEW_MAX
    monkeypatch.setenv("FACE_ACCEPT_MAX", "0.01")
    monkeypatch.setenv("FACE_REVIEW_MAX", "0.02")
    r = face.compare(selfie, [card_portrait])
    assert r.decision == "reject" and r.to_dict()["bands"] == {"accept_max": 0.01, "review_max": 0.02}
    assert face.compare(selfie, [card_portrait], bands=(0.99, 1.0)).decision == "accept"
