"""Challenge-response liveness from a short selfie video: blink, or turn the head.

Frames are read with OpenCV, the face is found with dlib HOG and its 68 landmarks
with dlib's shape predictor (``shape_predictor_68_face_landmarks.dat`` from
face_recognition_models: trained on iBUG 300-W, licensed for non-commercial
use only; see docs/biometrics.md before using this in production).

* blink: the eye aspect ratio (EAR, Soukupová & Čech 2016) drops below 60 % of
  the subject's open-eye baseline and opens again;
* turn: the nose tip moves sideways relative to the jaw outline by at least
  12 % of the face width (a yaw of very roughly 25-30°).

Also checked: a face in most frames, never two faces, and the same person in
the first and last usable frames (face descriptor distance).

What this stops: a still photo held to the camera or uploaded as a video, a
recorded clip of someone else's face mid-way. What it does NOT stop: a replayed
video of the customer blinking/turning, a printed photo with cut-out eyes
bent by hand, a mask, or a deepfake; the regulation's live video witness by
staff remains the real check.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import BadVideo
from .imaging import encode_jpeg, laplacian_variance, resize_max

MAX_BYTES = 30 * 1024 * 1024
MAX_SECONDS = 15.0
MAX_FRAMES = 36
MIN_FRAMES = 8
FRAME_SIDE = 640
EAR_CLOSED = 0.60  # fraction of the open-eye baseline
EAR_OPEN = 0.85
TURN_MIN = 0.12  # nose offset change / face width
SAME_PERSON_MAX = 0.6

MESSAGES = {
    "bad_video": "视频无法读取，请重新录制一段 3 到 5 秒的自拍视频。",
    "too_short": "视频太短，请录制 3 到 5 秒。",
    "no_face": "视频中没有持续检测到人脸，请正对镜头、露出完整面部重新录制。",
    "multiple_faces": "视频中出现了多张人脸，请确保画面中只有您本人。",
    "face_changed": "视频中的人脸前后不一致，请本人重新录制。",
    "no_blink": "没有检测到眨眼动作，请正对镜头，自然眨眼两次后重新录制。",
    "no_turn": "没有检测到转头动作，请正对镜头后缓慢向左或向右转头，再转回来。",
    "passed": "活体检测通过。",
}


@dataclass
class LivenessResult:
    ok: bool
    passed: bool = False
    error: str | None = None
    message: str = ""
    challenge: str = "blink"
    best_frame_jpeg: bytes | None = None
    frames: int = 0
    measures: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "best_frame_jpeg"}
        d["has_best_frame"] = self.best_frame_jpeg is not None
        return d


def read_frames(video: bytes) -> tuple[list[np.ndarray], float]:
    """Decode up to MAX_FRAMES evenly spaced RGB frames (longer side <= FRAME_SIDE)."""
    if not video:
        raise BadVideo()
    if len(video) > MAX_BYTES:
        raise BadVideo("bad_video", "视频文件过大，请录制 3 到 5 秒的短视频。")
    fd, path = tempfile.mkstemp(suffix=".video")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(video)
        cap = cv2.VideoCapture(path)
        if not cap.isOpened():
            raise BadVideo()
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        if not (1.0 <= fps <= 240.0):
            fps = 25.0
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        limit = int(min(total if total > 0 else 10**9, MAX_SECONDS * fps))
        step = max(1, -(-limit // MAX_FRAMES)) if total > 0 else 1
        frames, i = [], 0
        while i < limit and len(frames) < MAX_FRAMES:
            ok = cap.grab()
            if not ok:
                break
            if i % step == 0:
                ok, bgr = cap.retrieve()
                if ok and bgr is not None and bgr.ndim == 3:
                    frames.append(resize_max(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), FRAME_SIDE)[0])
            i += 1
        cap.release()
        return frames, i / fps
    finally:
        os.unlink(path)


def _ear(eye: list) -> float:
    p = np.asarray(eye, np.float32)
    a = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    b = 2.0 * np.linalg.norm(p[0] - p[3])
    return float(a / b) if b else 0.0


def check(video: bytes, challenge: str = "blink") -> LivenessResult:
    import face_recognition as fr

    if challenge not in ("blink", "turn"):
        raise ValueError("challenge must be 'blink' or 'turn'")
    res = lambda err, **kw: LivenessResult(False, False, err, MESSAGES[err], challenge, **kw)  # noqa: E731
    try:
        frames, seconds = read_frames(video)
    except BadVideo:
        return res("bad_video")
    if not frames:
        return res("bad_video")
    if len(frames) < MIN_FRAMES or seconds < 1.0:
        return res("too_short", frames=len(frames))
    data = []  # (index, box, ear, yaw)
    multi = 0
    for idx, rgb in enumerate(frames):
        small, s = resize_max(rgb, 320)
        locs = fr.face_locations(small, 0) or fr.face_locations(small, 1)
        if not locs:
            continue
        locs = sorted(locs, key=lambda L: -(L[2] - L[0]) * (L[1] - L[3]))
        if len(locs) > 1 and (locs[1][2] - locs[1][0]) >= 0.6 * (locs[0][2] - locs[0][0]):
            multi += 1
        box = tuple(int(round(v / s)) for v in locs[0])
        lm = fr.face_landmarks(rgb, [box], model="large")
        if not lm:
            continue
        lm = lm[0]
        ear = (_ear(lm["left_eye"]) + _ear(lm["right_eye"])) / 2
        chin = np.asarray(lm["chin"], np.float32)
        left, right = chin[0, 0], chin[16, 0]
        nose = np.asarray(lm["nose_bridge"], np.float32)[-1, 0]
        width = max(1.0, right - left)
        data.append((idx, box, ear, float((nose - left) / width - 0.5)))
    n = len(frames)
    if multi > 0.3 * n:
        return res("multiple_faces", frames=n)
    if len(data) < max(MIN_FRAMES // 2, 0.5 * n):
        return res("no_face", frames=n)
    ears = np.array([d[2] for d in data])
    yaws = np.array([d[3] for d in data])
    base = float(np.percentile(ears, 80))
    closed = ears < EAR_CLOSED * base
    opened = ears > EAR_OPEN * base
    blink = False
    for j in np.flatnonzero(closed):
        if opened[:j].any() and opened[j + 1:].any():
            blink = True
            break
    yaw0 = float(np.median(yaws[: max(2, len(yaws) // 5)]))
    turn_amount = float(np.max(np.abs(yaws - yaw0)))
    turned = turn_amount >= TURN_MIN
    measures = {"ear_baseline": round(base, 3), "ear_min": round(float(ears.min()), 3),
                "turn": round(turn_amount, 3), "face_frames": len(data)}

    # Best frame: eyes open, near-frontal, sharpest face.
    cands = [d for d in data if d[2] > EAR_OPEN * base and abs(d[3] - yaw0) < 0.05] or data
    def sharp(d):
        t, r, b, l = d[1]
        g = cv2.cvtColor(frames[d[0]][max(0, t):b, max(0, l):r], cv2.COLOR_RGB2GRAY)
        return laplacian_variance(g) if g.size else 0.0
    best = max(cands, key=sharp)
    # Same person at the start and the end.
    first, last = data[0], data[-1]
    encs = [fr.face_encodings(frames[d[0]], [d[1]])[0] for d in (first, last)]
    dist = float(np.linalg.norm(encs[0] - encs[1]))
    measures["identity_distance"] = round(dist, 3)
    jpeg = encode_jpeg(frames[best[0]], 92)
    if dist > SAME_PERSON_MAX:
        return res("face_changed", frames=n, measures=measures)
    passed = blink if challenge == "blink" else turned
    if not passed:
        return LivenessResult(True, False, "no_blink" if challenge == "blink" else "no_turn",
                              MESSAGES["no_blink" if challenge == "blink" else "no_turn"], challenge, jpeg, n, measures)
    return LivenessResult(True, True, None, MESSAGES["passed"], challenge, jpeg, n, measures)
