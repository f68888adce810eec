import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from biometrics import errors, pool
from biometrics.testdata import make_blank, make_selfie, make_signature

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "biometrics", *args, "--json"], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    return p.returncode, json.loads(p.stdout)


def test_cli_contract(tmp_path, same_other):
    sig = tmp_path / "sig.jpg"
    sig.write_bytes(make_signature(seed=1))
    rc, d = _cli("signature", str(sig))
    assert rc == 0 and d["ok"] is True and d["problems"] == []
    blank = tmp_path / "blank.jpg"
    blank.write_bytes(make_blank())
    rc, d = _cli("idcard", str(blank))
    assert rc == 1 and d["ok"] is False and d["error"] == "no_text"
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(make_selfie(same_other[0], seed=1))
    b.write_bytes(make_selfie(same_other[2], seed=2))
    rc, d = _cli("face-match", str(a), str(b))
    assert rc == 0 and d["ok"] is True and d["match"] is False and d["decision"] == "reject"
    assert isinstance(d["distance"], float)
    rc, d = _cli("face-match", str(blank), str(b))
    assert rc == 1 and d["ok"] is False and d["error"] == "no_face"


def test_liveness_cli_contract(tmp_path, clip_b, video_b, person):
    from biometrics.testdata import liveclips

    live = tmp_path / "live.mp4"
    live.write_bytes(video_b)
    rc, d = _cli("liveness", str(live), "--challenge", "turn_right,nod")
    assert rc == 0 and d["ok"] is True and d["passed"] is True and d["error"] is None and d["message"]
    assert d["challenge"] == ["turn_right", "nod"] and d["attack"] is None and 0 <= d["attack_score"] < 0.5
    assert "best_frame_jpeg" not in d and d["has_best_frame"] is True
    still = liveclips.make_clip("static_video", person, ["blink"], seed=3, fps=10.0)
    static = tmp_path / "static.mp4"
    static.write_bytes(liveclips.encode_video(still.frames, still.fps))
    rc, d = _cli("liveness", str(static), "--challenge", "blink")  # the old single-action form
    assert rc == 1 and d["ok"] is True and d["passed"] is False and d["attack"] == "static"
    assert d["error"] == "presentation_attack" and "请勿使用照片或屏幕翻拍" in d["message"]
    p = subprocess.run([sys.executable, "-m", "biometrics", "liveness", str(live), "--challenge", "wink", "--json"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "challenge" in p.stderr


def test_liveness_runs_in_the_pool_with_the_mesh_warmed_up(monkeypatch, person):
    from biometrics import liveness
    from biometrics.testdata import liveclips

    monkeypatch.setenv("BIOMETRICS_WARM_OCR", "0")
    monkeypatch.setenv("BIOMETRICS_WARM_FACE", "0")
    monkeypatch.setenv("BIOMETRICS_WORKERS", "1")
    clip = liveclips.make_clip("static_video", person, ["blink"], seed=4, fps=10.0)
    frames = liveclips.encode_jpegs(clip.frames)

    async def main():
        loaded = await pool.run(eval, "'mediapipe.python.solutions.face_mesh' in __import__('sys').modules", timeout=120)
        assert loaded, "the worker did not load the face mesh at start"
        r = await pool.run(liveness.check_frames, frames, ["blink"], clip.schedule, timeout=120)
        assert not r.passed and r.attack == "static"

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()


@pytest.fixture
def light_pool(monkeypatch):
    monkeypatch.setenv("BIOMETRICS_WARM_OCR", "0")
    monkeypatch.setenv("BIOMETRICS_WARM_FACE", "0")
    monkeypatch.setenv("BIOMETRICS_WARM_LANDMARKS", "0")
    monkeypatch.setenv("BIOMETRICS_WORKERS", "1")
    yield
    pool.shutdown()


def test_pool_runs_times_out_and_refuses_when_full(light_pool, monkeypatch):
    async def main():
        assert await pool.run(sum, [1, 2, 3], timeout=60) == 6
        t = time.monotonic()
        with pytest.raises(errors.Timeout):
            await pool.run(time.sleep, 30, timeout=1)
        assert time.monotonic() - t < 10
        # The pool is replaced after a timeout and keeps working.
        assert await pool.run(max, [4, 9], timeout=60) == 9
        monkeypatch.setenv("BIOMETRICS_MAX_QUEUE", "1")
        slow = asyncio.ensure_future(pool.run(time.sleep, 0.5, timeout=30))
        await asyncio.sleep(0.05)
        with pytest.raises(errors.Busy):
            await pool.run(sum, [1], timeout=30)
        await slow

    asyncio.run(main())
