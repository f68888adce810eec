"""Before/after for the liveness landmarks: dlib's 68-point predictor vs MediaPipe Face Mesh.

    .venv/bin/python bench/landmarks_compare.py [--clips N]

On generated set-A live clips whose true head pose and eyelid state are known per frame: how well each
landmark model's measures follow the truth (yaw correlation, eye aspect ratio with the eyes shut vs open,
frames without a face) and the CPU time per frame.  dlib-68 is loaded here only for the comparison; no
product path uses it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _dlib_measures(rgb):
    import face_recognition as fr

    from biometrics.imaging import resize_max
    small, s = resize_max(rgb, 320)
    locs = fr.face_locations(small, 0) or fr.face_locations(small, 1)
    if not locs:
        return None
    box = tuple(int(round(v / s)) for v in max(locs, key=lambda L: (L[2] - L[0]) * (L[1] - L[3])))
    lm = fr.face_landmarks(rgb, [box], model="large")[0]

    def ear(e):
        p = np.asarray(e, np.float32)
        return (np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3]))
    chin = np.asarray(lm["chin"], np.float32)
    nose = np.asarray(lm["nose_bridge"], np.float32)[-1, 0]
    yaw = (nose - chin[0, 0]) / max(1.0, chin[16, 0] - chin[0, 0]) - 0.5
    return (ear(lm["left_eye"]) + ear(lm["right_eye"])) / 2, yaw


def _mesh_measures(rgb):
    from biometrics import landmarks
    f = landmarks.detect(rgb)
    if not f:
        return None
    return f[0].ear(), f[0].yaw()


def compare(people: dict, clips: int = 6, seed: int = 5) -> dict:
    import random

    from biometrics.testdata import liveclips

    rng = random.Random(seed)
    photos = sorted(p for v in people.values() for p in v)
    res = {name: {"yaw_r": [], "ear_closed_over_open": [], "no_face": 0, "frames": 0, "cpu": 0.0}
           for name in ("dlib68", "mediapipe")}
    for k in range(clips):
        photo = photos[k % len(photos)]
        challenge = [rng.choice(["turn_left", "turn_right"]), "blink"]
        poses = []
        frames, _ = liveclips.live_frames(photo, challenge, seed=rng.randrange(1 << 20), poses_out=poses)
        truth_yaw = np.array([p["yaw"] for p in poses])
        shut = np.array([p["blink"] >= 0.8 for p in poses])
        still = (np.abs(truth_yaw) < 5) & np.array([p["blink"] == 0 for p in poses])
        for name, fn in (("dlib68", _dlib_measures), ("mediapipe", _mesh_measures)):
            vals = []
            c0 = time.process_time()
            for _t, rgb in frames:
                vals.append(fn(rgb))
            res[name]["cpu"] += time.process_time() - c0
            res[name]["frames"] += len(frames)
            res[name]["no_face"] += sum(v is None for v in vals)
            ok = np.array([v is not None for v in vals])
            ear = np.array([v[0] if v else np.nan for v in vals])
            yaw = np.array([v[1] if v else np.nan for v in vals])
            if ok.sum() > 3:
                res[name]["yaw_r"].append(float(np.corrcoef(truth_yaw[ok], yaw[ok])[0, 1]))
            if (shut & ok).any() and (still & ok).any():
                res[name]["ear_closed_over_open"].append(float(np.nanmean(ear[shut & ok]) / np.nanmean(ear[still & ok])))
    out = {}
    for name, r in res.items():
        out[name] = {"clips": clips, "frames": r["frames"], "no_face_frames": r["no_face"],
                     "yaw_correlation_median": round(float(np.median(r["yaw_r"])), 3) if r["yaw_r"] else None,
                     "ear_shut_over_open_mean": round(float(np.mean(r["ear_closed_over_open"])), 3)
                     if r["ear_closed_over_open"] else None,
                     "cpu_ms_per_frame": round(1000 * r["cpu"] / max(1, r["frames"]), 1)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=6)
    a = ap.parse_args(argv)
    from biometrics.testdata import ensure_faces
    print(json.dumps(compare(ensure_faces(), a.clips), indent=1))


if __name__ == "__main__":
    main()
