"""Liveness: actions in order and in time, presentation attacks, bad input, challenges.

Clips come from biometrics.testdata.liveclips (set A renderers), generated once per session (conftest.py).
"""
import pickle
import random

import pytest

from biometrics import liveness
from biometrics.testdata import liveclips, make_liveness_video


PAD_MESSAGE = "请勿使用照片或屏幕翻拍"
FPS = 10.0


def _attack(kind, person, challenge, seed):
    return liveclips.make_clip(kind, person, challenge, seed=seed, fps=FPS)


def test_every_action_is_seen_in_order_on_live_clips(clip_a, frames_a, clip_b, video_b):
    r = liveness.check_frames(frames_a, "turn_left,blink,open_mouth", clip_a.schedule)
    assert r.ok and r.passed, r.to_dict()
    seen = [a["action"] for a in r.actions]
    assert {"turn_left", "blink", "open_mouth"} <= set(seen)
    assert r.challenge == ["turn_left", "blink", "open_mouth"] and r.attack is None and r.attack_score < 0.5
    assert r.best_frame_jpeg[:2] == b"\xff\xd8" and "best_frame_jpeg" not in r.to_dict()

    r = liveness.check(video_b, ["turn_right", "nod"])
    assert r.ok and r.passed, r.to_dict()
    assert [a["action"] for a in r.actions if a["action"] != "blink"][:2] == ["turn_right", "nod"]
    times = [a["t"] for a in r.actions]
    assert times == sorted(times)


def test_order_is_enforced(frames_a, video_b):
    r = liveness.check_frames(frames_a, ["open_mouth", "blink", "turn_left"])
    assert r.ok and not r.passed and r.error in ("wrong_order", "no_blink", "no_turn_left"), r.to_dict()
    assert r.message
    r = liveness.check(video_b, "nod,turn_right")
    assert not r.passed and r.error in ("wrong_order", "no_turn_right"), r.to_dict()


def test_an_action_not_asked_for_fails(video_b):
    r = liveness.check(video_b, "nod")  # the clip also turns right, clearly, before nodding
    assert not r.passed and r.error == "wrong_action" and "向右转头" in r.message, r.to_dict()


def test_schedule_windows_are_enforced(clip_a, frames_a):
    late = [(a, t0 + 4.0, t1 + 4.0) for a, t0, t1 in clip_a.schedule]  # prompts came after the actions
    r = liveness.check_frames(frames_a, clip_a.challenge, late)
    assert r.ok and not r.passed and r.error in ("no_turn_left", "wrong_action", "wrong_order"), r.to_dict()
    early = [(a, t0 - 3.0, t1 - 3.0) for a, t0, t1 in clip_a.schedule]  # actions came too late
    r = liveness.check_frames(frames_a, clip_a.challenge, early)
    assert not r.passed and r.error == "out_of_time" and "提示的时间" in r.message, r.to_dict()
    with pytest.raises(ValueError):
        liveness.check_frames(frames_a, clip_a.challenge, clip_a.schedule[:1])


def test_legacy_turn_challenge_and_generator(person):
    r = liveness.check(make_liveness_video(person, "turn", seed=3), "turn")
    assert r.passed, r.to_dict()
    still = make_liveness_video(person, "still", seed=2)
    for ch, code in (("blink", "no_blink"), ("turn", "no_turn")):
        r = liveness.check(still, ch)
        assert r.ok and not r.passed and r.error == code and r.message, r.to_dict()


@pytest.mark.parametrize("kind,challenge,seed", [
    ("print_sway", ["turn_left"], 5),
    ("print_bent", ["nod"], 6),
    ("screen_replay", ["blink"], 17),
    ("static_video", ["blink"], 8),
], ids=["print_sway", "print_bent", "screen_replay", "static_video"])
def test_attacks_are_rejected(person, kind, challenge, seed):
    clip = _attack(kind, person, challenge, seed)
    r = liveness.check(liveclips.encode_video(clip.frames, clip.fps), challenge)
    assert not r.passed, r.to_dict()
    assert r.message
    if kind in ("static_video", "screen_replay", "print_sway"):
        # these clips carry a medium's cues strongly enough for PAD alone
        assert r.error == "presentation_attack" and PAD_MESSAGE in r.message and r.attack_score >= 0.5, r.to_dict()
        assert r.attack == {"static_video": "static", "screen_replay": "screen", "print_sway": "print"}[kind] \
            or kind == "print_sway"


def test_static_video_with_any_challenge(person):
    clip = _attack("static_video", person, ["turn_left", "open_mouth"], 9)
    r = liveness.check_frames(liveclips.encode_jpegs(clip.frames), clip.challenge, clip.schedule)
    assert not r.passed and r.attack == "static" and PAD_MESSAGE in r.message


@pytest.mark.parametrize("data,code", [
    (b"", "bad_video"),
    (b"not a video" * 100, "bad_video"),
    (b"\x00" * (liveness.MAX_BYTES + 1), "too_large"),
], ids=["empty", "not_video", "huge"])
def test_bad_video_input(data, code):
    r = liveness.check(data, "blink")
    assert not r.ok and not r.passed and r.error == code and r.message


def test_a_still_image_is_not_a_video(person):
    jpeg = liveclips.encode_jpegs([(0.0, liveclips._portrait(str(person), 0))])[0][1]
    r = liveness.check(jpeg, "blink")
    assert not r.passed and r.error in ("bad_video", "too_short") and r.message


@pytest.mark.parametrize("frames", [
    [],
    "not frames",
    [(0.0, b"garbage")] * 20,
    [("x", b"\xff\xd8")],
    [(-1.0, b"\xff\xd8")],
    [(0.0, 123)],
], ids=["empty", "string", "garbage_jpegs", "bad_time", "negative_time", "not_bytes"])
def test_bad_frames_input(frames):
    r = liveness.check_frames(frames, "blink")
    assert not r.ok and r.error == "bad_frames" and r.message


def test_too_short_and_no_face(person):
    frames = [(i / 10, f) for i, (_t, f) in enumerate(liveclips.static_frames(person, ["blink"], seed=1)[0][:5])]
    r = liveness.check_frames(liveclips.encode_jpegs(frames), "blink")
    assert r.error == "too_short" and r.message
    blank = liveclips.room(random.Random(1))
    r = liveness.check_frames(liveclips.encode_jpegs([(i / 10, blank) for i in range(30)]), "blink")
    assert not r.ok and r.error == "no_face" and r.message


def test_challenges(monkeypatch):
    monkeypatch.delenv("HALL_LIVENESS_ACTIONS", raising=False)  # tests/unit/conftest narrows it for the stacks
    assert set(liveness.ACTIONS) == set(liveness.ACTION_TEXT) == {"blink", "turn_left", "turn_right", "open_mouth", "nod"}
    rng = random.Random(4)
    for _ in range(50):
        c = liveness.random_challenge(rng=rng)
        assert 2 <= len(c) <= 3 and len(set(c)) == len(c) and set(c) <= set(liveness.ACTIONS)
    monkeypatch.setenv("HALL_LIVENESS_ACTIONS", "blink")
    assert liveness.random_challenge() == ["blink"]
    monkeypatch.setenv("HALL_LIVENESS_ACTIONS", "blink, nod,bogus")
    assert sorted(liveness.random_challenge(rng=rng)) == ["blink", "nod"]
    assert liveness.parse_challenge("blink，turn_left") == ["blink", "turn_left"]
    assert liveness.parse_challenge(("nod",)) == ["nod"]
    for bad in ("", "wink", "blink,nod,turn_left,turn_right", []):
        with pytest.raises(ValueError):
            liveness.parse_challenge(bad)
    assert liveness.instructions("blink,turn_left") == "请依次完成：眨眨眼、向左转头"


def test_checks_are_picklable_for_the_pool():
    for fn in (liveness.check, liveness.check_frames):
        assert pickle.loads(pickle.dumps(fn)) is fn
    r = liveness.LivenessResult(True, True, None, "ok", ["blink"], b"\xff\xd8", 3, {}, [{"action": "blink", "t": 1.0}])
    assert pickle.loads(pickle.dumps(r)) == r


@pytest.mark.parametrize("fourcc,suffix", [("VP80", ".webm"), ("mp4v", ".mov"), ("MJPG", ".avi")],
                         ids=["webm", "mov", "mjpeg_avi"])
def test_containers_phones_and_browsers_send(person, fourcc, suffix):
    clip = _attack("static_video", person, ["blink"], 10)
    r = liveness.check(liveclips.encode_video(clip.frames, clip.fps, fourcc, suffix), "blink")
    assert r.ok and r.frames >= 15 and r.attack == "static", r.to_dict()


def test_several_faces_and_a_face_swap(faces):
    from biometrics.testdata import make_group_photo
    from biometrics.imaging import load_image

    names = sorted(faces)
    a, b = faces[names[0]][0], faces[names[1]][0]
    group = load_image(make_group_photo(a, b), max_side=640)
    r = liveness.check_frames(liveclips.encode_jpegs([(i / 10, group) for i in range(20)]), "blink")
    assert not r.ok and r.error == "multiple_faces" and "多张人脸" in r.message
    pa, pb = liveclips._portrait(str(a), 0), liveclips._portrait(str(b), 0)
    swap = [(i / 10, pa if i < 12 else pb) for i in range(24)]
    r = liveness.check_frames(liveclips.encode_jpegs(swap), "blink")
    assert not r.ok and r.error == "face_changed" and "前后不一致" in r.message, r.to_dict()
