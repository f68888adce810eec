import pytest

from biometrics import liveness
from biometrics.testdata import make_liveness_video


@pytest.fixture(scope="module")
def person(faces):
    # Grace Hopper's photo gives a clean synthetic blink; fall back to the first person.
    return (faces.get("hopper") or faces.get("collins") or next(iter(faces.values())))[0]


def test_blink_passes_and_gives_best_frame(person):
    r = liveness.check(make_liveness_video(person, "blink", seed=1), "blink")
    assert r.ok and r.passed, r.to_dict()
    assert r.best_frame_jpeg[:2] == b"\xff\xd8"
    assert "best_frame_jpeg" not in r.to_dict()


def test_still_video_fails_both_challenges(person):
    v = make_liveness_video(person, "still", seed=2)
    for ch, code in (("blink", "no_blink"), ("turn", "no_turn")):
        r = liveness.check(v, ch)
        assert r.ok and not r.passed and r.error == code and r.message


def test_turn_passes(person):
    r = liveness.check(make_liveness_video(person, "turn", seed=3), "turn")
    assert r.passed, r.to_dict()


def test_bad_video():
    assert liveness.check(b"", "blink").error == "bad_video"
    assert liveness.check(b"not a video" * 100, "turn").error == "bad_video"
