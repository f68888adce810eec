"""The liveness evaluation sets and their scoring (used by bench/biometrics_bench.py and the tests).

* Set A (tuning): :mod:`liveclips` renderers on the people of :mod:`faces` (Obama x3 photos, Biden, Collins,
  Hopper).  Every threshold in :mod:`biometrics.liveness` and :mod:`biometrics.pad` was set looking at it.
* Set B (independent, never tuned on): :mod:`liveclips_b` renderers (other code paths and parameters) on other
  people (:func:`faces.fetch_other_faces`), other rooms and light, WebM/MJPEG containers and H5-style frames.

A clip is scored through the public API: half of them as a video (``check``), half as timestamped JPEG frames
with the prompt schedule (``check_frames``), so both paths are measured.
"""
from __future__ import annotations

import random
import time
from collections import defaultdict

from .. import liveness
from . import liveclips


def plan(people: dict, *, seed: int, live_per_photo: int = 2, attacks=liveclips.ATTACK_KINDS, photos_per_person=3):
    """[(kind, photo path, challenge, seed)] - reproducible by seed."""
    rng = random.Random(seed)
    out = []
    for person in sorted(people):
        for photo in sorted(people[person])[:photos_per_person]:
            for _ in range(live_per_photo):
                out.append(("live", photo, liveness.random_challenge(rng=rng), rng.randrange(1 << 20)))
            for kind in attacks:
                out.append((kind, photo, liveness.random_challenge(rng=rng), rng.randrange(1 << 20)))
    return out


def run_clip(clip, via: str, encode=None) -> dict:
    """Check one clip through the public API and return a row for the report."""
    t0, c0 = time.perf_counter(), time.process_time()
    if via == "video":
        data = (encode or (lambda c: liveclips.encode_video(c.frames, c.fps)))(clip)
        r = liveness.check(data, clip.challenge)
    else:
        r = liveness.check_frames(liveclips.encode_jpegs(clip.frames), clip.challenge, clip.schedule)
    d = r.to_dict()
    return {"kind": clip.kind, "person": clip.person, "challenge": ",".join(clip.challenge), "via": via,
            "seed": clip.seed, "passed": r.passed, "error": r.error, "attack": r.attack,
            "attack_score": r.attack_score, "actions": [a["action"] for a in r.actions],
            "pad": d["measures"].get("pad"), "frames": r.frames,
            "wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3)}


def summarise(rows: list[dict]) -> dict:
    """Per kind: clips, accepted (live) / rejected (attacks), flagged by PAD, errors seen."""
    by = defaultdict(list)
    for r in rows:
        by[r["kind"]].append(r)
    out = {}
    for kind, rs in sorted(by.items()):
        n = len(rs)
        if kind == "live":
            out[kind] = {"clips": n, "accepted": round(sum(r["passed"] for r in rs) / n, 3),
                         "flagged_as_attack": sum(r["attack"] is not None for r in rs)}
        else:
            out[kind] = {"clips": n, "rejected": round(sum(not r["passed"] for r in rs) / n, 3),
                         "flagged_by_pad": round(sum(r["attack"] is not None for r in rs) / n, 3)}
        errs = defaultdict(int)
        for r in rs:
            errs[r["error"] or "passed"] += 1
        out[kind]["outcomes"] = dict(errs)
        out[kind]["cpu_s_median"] = sorted(r["cpu_s"] for r in rs)[n // 2]
    return out


def evaluate_set_a(people: dict, *, seed: int = 11, live_per_photo: int = 2, photos_per_person: int = 3,
                   progress=None) -> list[dict]:
    rows = []
    for j, (kind, photo, challenge, s) in enumerate(plan(people, seed=seed, live_per_photo=live_per_photo,
                                                        photos_per_person=photos_per_person)):
        clip = liveclips.make_clip(kind, photo, challenge, seed=s)
        rows.append(run_clip(clip, "video" if j % 2 == 0 else "frames"))
        if progress:
            progress(rows[-1])
    return rows


def evaluate_set_b(people: dict, *, seed: int = 29, live_per_photo: int = 2, progress=None) -> list[dict]:
    from . import liveclips_b

    rows = []
    for j, (kind, photo, challenge, s) in enumerate(plan(people, seed=seed, live_per_photo=live_per_photo,
                                                        attacks=liveclips_b.ATTACK_KINDS, photos_per_person=1)):
        clip = liveclips_b.make_clip(kind, photo, challenge, seed=s)
        rows.append(run_clip(clip, "video" if j % 2 == 0 else "frames", encode=liveclips_b.encode))
        if progress:
            progress(rows[-1])
    return rows
