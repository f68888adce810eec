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
