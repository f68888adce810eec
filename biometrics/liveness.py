"""Challenge-response liveness with presentation-attack detection (see docs/biometrics.md, "Liveness").

The customer is asked for a random ordered sequence of 1-3 actions (``random_challenge``); the clip must
show them **in that order** (and, with a ``schedule``, each inside the time window the page prompted it).
Landmarks: MediaPipe Face Mesh (:mod:`biometrics.landmarks`, Apache-2.0, model inside the wheel).
Presentation-attack cues: :mod:`biometrics.pad`.  Identity across the clip: dlib's 5-point model + ResNet
descriptor (the same as :mod:`biometrics.face`).

Directions are the **customer's**: ``turn_left`` = the customer turns the head to their own left, which in an
unmirrored camera image moves the nose to the image's right.  The H5 page mirrors only its preview; the frames it
sends and the videos phones record are unmirrored.  Pass ``mirrored=True`` for frames taken from a mirrored
preview.

    check(video: bytes, challenge="blink", *, mirrored=False) -> LivenessResult
    check_frames(frames: list[tuple[float, bytes]], challenge, schedule=None, *, mirrored=False) -> LivenessResult

Both are top-level, picklable and bounded (bytes, frame count, side, duration), for :mod:`biometrics.pool`.
"""
from __future__ import annotations

import math
import os
import random
import tempfile
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import BadImage, BadVideo
from .imaging import encode_jpeg, laplacian_variance, load_image, resize_max

ACTIONS = ("blink", "turn_left", "turn_right", "open_mouth", "nod")
ACTION_TEXT = {
    "blink": "眨眨眼",
    "turn_left": "向左转头",
    "turn_right": "向右转头",
    "open_mouth": "张张嘴",
    "nod": "点点头",
}
ENV_ACTIONS = "HALL_LIVENESS_ACTIONS"

MAX_BYTES = 30 * 1024 * 1024
MAX_SECONDS = 12.0  # read at most this much of a video
MAX_FRAMES = 120  # analysed frames (about 10 s at 12 fps)
TARGET_FPS = 12.0  # videos are sampled down to about this rate (a blink lasts 100-300 ms)
MIN_FRAMES = 8
MIN_SECONDS = 1.5
FRAME_SIDE = 640
MAX_FRAME_BYTES = 3 * 1024 * 1024
SCHEDULE_GRACE = 1.0  # seconds an action may come after its prompt window closed
SCHEDULE_EARLY = 0.3  # ... or before it opened (the page's clock and the frames' are not exact)

# Action thresholds (tuned on the generated set A only; see docs).
YAW_MIN = 15.0  # degrees from the clip's resting pose
PITCH_MIN = 10.0
MOUTH_MIN = 0.30  # inner-lip gap / eyes-to-nose-base height
MOUTH_RISE = 0.20
EAR_CLOSED = 0.78  # fraction of the open-eye level (at 10-12 fps a blink is often caught half-closed)
EAR_OPEN = 0.90
NOD_MAX_YAW = 8.0  # a nod's frames stay this close to the resting yaw (turns also move the measured pitch)
STRONG = 1.4  # an action the challenge did not ask for fails it only when this much above its threshold
BLINK_MAX_S = 1.2  # open -> closed -> open within this
STILL_YAW = 12.0  # blink frames must be near the resting pose: a nod or a tilted picture also lowers the EAR
STILL_PITCH = 8.0
FLAT_TILT = 0.90  # eye-to-mouth height below this fraction of its median: the picture tilted, not the lid
SAME_PERSON_MAX = 0.6
SECOND_FACE_AREA = 0.30
BEST_BLUR_MIN = 25.0
BEST_FACE_MIN_PX = 80

MESSAGES = {
    "bad_video": "视频无法读取，请重新录制一段 3 到 8 秒的自拍视频。",
    "bad_frames": "画面数据无法读取，请刷新页面后重新进行活体检测。",
    "too_large": "视频文件过大，请录制 3 到 8 秒的短视频。",
    "too_short": "视频太短，请按提示完成全部动作，录制 3 到 8 秒。",
    "no_face": "视频中没有持续检测到人脸，请正对镜头、露出完整面部重新录制。",
    "multiple_faces": "视频中出现了多张人脸，请确保画面中只有您本人。",
    "face_changed": "视频中的人脸前后不一致，请本人重新录制。",
    "presentation_attack": "检测到疑似翻拍，请勿使用照片或屏幕翻拍，请本人正对镜头重新录制。",
    "wrong_order": "动作顺序与提示不一致，请按提示的顺序依次完成：{steps}。",
    "wrong_action": "检测到与提示不符的动作（{got}），请只按提示依次完成：{steps}。",
    "out_of_time": "“{action}”没有在提示的时间内完成，请看到提示后再做动作。",
    "no_best_frame": "没有拍到清晰的正脸，请在光线充足处正对镜头、睁眼，重新录制。",
    "passed": "活体检测通过。",
}
MISSING = {
    "blink": "没有检测到眨眼动作，请正对镜头自然眨眼后重新录制。",
    "turn_left": "没有检测到向左转头，请正对镜头后缓慢把头转向您的左侧，再转回来。",
    "turn_right": "没有检测到向右转头，请正对镜头后缓慢把头转向您的右侧，再转回来。",
    "open_mouth": "没有检测到张嘴动作，请正对镜头把嘴张大一些，再合上。",
    "nod": "没有检测到点头动作，请正对镜头缓慢低头再抬起。",
    "turn": "没有检测到转头动作，请正对镜头后缓慢向左或向右转头，再转回来。",
}
ERROR_CODES = {a: "no_" + a for a in ACTIONS} | {"turn": "no_turn"}


# ----------------------------------------------------------------------------------------- challenge


def allowed_actions() -> list[str]:
    """Actions the deployment may ask for: ``HALL_LIVENESS_ACTIONS`` (comma list), default all five."""
    raw = os.environ.get(ENV_ACTIONS, "")
    acts = [a.strip() for a in raw.split(",") if a.strip() in ACTIONS]
    return list(dict.fromkeys(acts)) or list(ACTIONS)


def random_challenge(actions=None, k: int | None = None, rng=None) -> list[str]:
    """2-3 distinct actions in random order from ``actions`` (default :func:`allowed_actions`).

    With one allowed action the challenge is that action alone.  ``rng``: a ``random.Random`` (tests).
    """
    pool = list(dict.fromkeys(a for a in (actions or allowed_actions()) if a in ACTIONS))
    if not pool:
        raise ValueError("no valid liveness action")
    rng = rng or random.SystemRandom()
    if len(pool) == 1:
        return pool
    if k is None:
        k = rng.choice((2, 3))
    k = max(1, min(k, 3, len(pool)))
    return rng.sample(pool, k)


def parse_challenge(challenge) -> list[str]:
    """A list or a comma string of actions; ``"turn"`` (either direction) is kept for old callers."""
    if isinstance(challenge, str):
        items = [c.strip() for c in challenge.replace("，", ",").split(",") if c.strip()]
    else:
        items = [str(c).strip() for c in (challenge or [])]
    if not items or len(items) > 3 or any(a not in ACTIONS + ("turn",) for a in items):
        raise ValueError(f"challenge must be 1-3 of {', '.join(ACTIONS)} (or 'turn')")
    return items


def instructions(challenge) -> str:
    """The prompt for the customer, e.g. ``请依次完成：眨眨眼、向左转头``."""
    acts = parse_challenge(challenge)
    text = "、".join(ACTION_TEXT.get(a, "左右转头") for a in acts)
    return ("请依次完成：" if len(acts) > 1 else "请") + text


# ------------------------------------------------------------------------------------------- result


@dataclass
class LivenessResult:
    ok: bool
    passed: bool = False
    error: str | None = None
    message: str = ""
    challenge: list = field(default_factory=list)
    best_frame_jpeg: bytes | None = None
    frames: int = 0
    measures: dict = field(default_factory=dict)
    actions: list = field(default_factory=list)  # [{"action": ..., "t": seconds}] in time order
    attack_score: float = 0.0
    attack: str | None = None

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "best_frame_jpeg"}
        d["has_best_frame"] = self.best_frame_jpeg is not None
        return d


def _fail(code, challenge, ok=False, **kw) -> LivenessResult:
    return LivenessResult(ok, False, code, kw.pop("message", None) or MESSAGES[code], list(challenge), **kw)


# -------------------------------------------------------------------------------------------- input


def read_timed_frames(video: bytes) -> list[tuple[float, np.ndarray]]:
    """Decode a video into (seconds, RGB frame) pairs: at most MAX_SECONDS, about TARGET_FPS, MAX_FRAMES,
    longer side <= FRAME_SIDE.  Raises BadVideo."""
    if not video:
        raise BadVideo()
    if len(video) > MAX_BYTES:
        raise BadVideo("too_large", MESSAGES["too_large"])
    fd, path = tempfile.mkstemp(suffix=".video")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(video)
        cap = cv2.VideoCapture(path)
        if not cap.isOpened():
            raise BadVideo()
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        if not (1.0 <= fps <= 240.0):  # browsers' WebM often says 1000 or nothing
            fps = 30.0
        # Keep a frame when at least 0.75 / TARGET_FPS after the last kept one, by the container's timestamps
        # (frame rates vary: 15 fps keeps all, 24-30 fps every other, 60 fps every fourth).
        min_dt = 0.75 / TARGET_FPS
        out, i, last_t = [], 0, -1.0
        while len(out) < MAX_FRAMES and i < MAX_SECONDS * fps * 1.05 + 1:
            if not cap.grab():
                break
            ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            t = ms / 1000.0 if ms and ms > 0 else i / fps
            if t <= last_t:  # containers without timestamps (or broken ones): the frame rate
                t = i / fps
            last_t = t
            i += 1
            if t > MAX_SECONDS:
                break
            if out and t - out[-1][0] < min_dt:
                continue
            ok, bgr = cap.retrieve()
            if ok and bgr is not None and bgr.ndim == 3 and min(bgr.shape[:2]) >= 32:
                out.append((t, resize_max(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), FRAME_SIDE)[0]))
        cap.release()
        if out:
            t0 = out[0][0]
            out = [(t - t0, f) for t, f in out]
        return out
    finally:
        os.unlink(path)


def read_frames(video: bytes) -> tuple[list[np.ndarray], float]:
    """Frames and duration (seconds) of a video; kept for older callers."""
    timed = read_timed_frames(video)
    if not timed:
        return [], 0.0
    dt = timed[1][0] - timed[0][0] if len(timed) > 1 else 0.0
    return [f for _t, f in timed], timed[-1][0] + dt


def _decode_frames(frames) -> list[tuple[float, np.ndarray]]:
    """(seconds, JPEG bytes) pairs from the H5 page -> (seconds, RGB); raises BadVideo."""
    if not isinstance(frames, (list, tuple)) or not frames:
        raise BadVideo("bad_frames", MESSAGES["bad_frames"])
    if len(frames) > 4 * MAX_FRAMES:
        raise BadVideo("too_large", MESSAGES["too_large"])
    items = []
    for item in frames:
        try:
            t, data = item
            t = float(t)
        except (TypeError, ValueError):
            raise BadVideo("bad_frames", MESSAGES["bad_frames"]) from None
        if not math.isfinite(t) or t < 0 or not isinstance(data, (bytes, bytearray, memoryview)):
            raise BadVideo("bad_frames", MESSAGES["bad_frames"])
        items.append((t, bytes(data)))
    items.sort(key=lambda x: x[0])
    t0 = items[0][0]
    items = [(t, d) for t, d in items if t - t0 <= MAX_SECONDS]  # the schedule uses the same clock
    if len(items) > MAX_FRAMES:  # evenly thinned
        idx = np.linspace(0, len(items) - 1, MAX_FRAMES).round().astype(int)
        items = [items[i] for i in sorted(set(idx))]
    out, bad = [], 0
    for t, data in items:
        if len(data) > MAX_FRAME_BYTES:
            bad += 1
            continue
        try:
            out.append((t, load_image(data, max_side=FRAME_SIDE, max_bytes=MAX_FRAME_BYTES, fast_resize=True)))
        except BadImage:
            bad += 1
    if not out or bad > 0.3 * len(items):
        raise BadVideo("bad_frames", MESSAGES["bad_frames"])
    return out


def _parse_schedule(schedule, challenge) -> list[tuple[str, float, float]] | None:
    if not schedule:
        return None
    sched = []
    for item in schedule:
        a, t0, t1 = item
        sched.append((str(a), float(t0), float(t1)))
    if [s[0] for s in sched] != list(challenge):
        raise ValueError("schedule must list the challenge's actions in order")
    return sched


# ------------------------------------------------------------------------------------------ analysis


@dataclass
class Track:
    """Per-frame measurements of the main face (NaN where no face)."""

    t: np.ndarray
    ear: np.ndarray
    mouth: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    height: np.ndarray
    iod: np.ndarray
    faces: list  # landmarks.Face or None
    multi: int


def measure(timed: list[tuple[float, np.ndarray]], mirrored: bool = False) -> Track:
    from . import landmarks

    n = len(timed)
    cols = {k: np.full(n, np.nan) for k in ("ear", "mouth", "yaw", "pitch", "height", "iod")}
    faces, multi = [], 0
    for i, (_t, rgb) in enumerate(timed):
        found = landmarks.detect(rgb)
        if len(found) > 1:
            a0 = (found[0].box[2] - found[0].box[0]) * (found[0].box[1] - found[0].box[3])
            a1 = (found[1].box[2] - found[1].box[0]) * (found[1].box[1] - found[1].box[3])
            if a1 >= SECOND_FACE_AREA * a0:
                multi += 1
        f = found[0] if found else None
        faces.append(f)
        if f is None:
            continue
        cols["ear"][i], cols["mouth"][i] = f.ear(), f.mouth()
        cols["yaw"][i] = -f.yaw() if mirrored else f.yaw()
        cols["pitch"][i], cols["height"][i], cols["iod"][i] = f.pitch(), f.face_height(), f.iod
    return Track(np.array([t for t, _ in timed]), faces=faces, multi=multi, **cols)


def _segments(flag: np.ndarray) -> list[tuple[int, int]]:
    segs, start = [], None
    for i, v in enumerate(list(flag) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            segs.append((start, i - 1))
            start = None
    return segs


def rest_pose(tr: Track) -> dict:
    ok = ~np.isnan(tr.yaw)
    yaw0 = float(np.median(tr.yaw[ok]))
    pitch0 = float(np.median(tr.pitch[ok]))
    still = ok & (np.abs(tr.yaw - yaw0) < STILL_YAW) & (np.abs(tr.pitch - pitch0) < STILL_PITCH)
    ear0 = float(np.percentile(tr.ear[still], 75)) if still.sum() >= 3 else float(np.nanpercentile(tr.ear, 75))
    return {"yaw": yaw0, "pitch": pitch0, "mouth": float(np.nanmedian(tr.mouth)), "ear": ear0,
            "height": float(np.nanmedian(tr.height[still])) if still.any() else float(np.nanmedian(tr.height))}


def detect_actions(tr: Track, rest: dict | None = None) -> list[dict]:
    """Actions seen in the clip, in time order: [{"action", "t", "peak"}]."""
    rest = rest or rest_pose(tr)
    ok = ~np.isnan(tr.yaw)
    events = []

    def add(action, seg, values, sign=1.0, strong_at=None):
        i0, i1 = seg
        k = i0 + int(np.nanargmax(sign * values[i0:i1 + 1]))
        peak = float(values[k])
        events.append({"action": action, "t": round(float(tr.t[k]), 2), "peak": round(peak, 3),
                       "strong": strong_at is not None and abs(peak) >= strong_at})

    dyaw = np.where(ok, tr.yaw - rest["yaw"], 0.0)
    for seg in _segments(dyaw >= YAW_MIN):
        add("turn_left", seg, dyaw, strong_at=STRONG * YAW_MIN)
    for seg in _segments(dyaw <= -YAW_MIN):
        add("turn_right", seg, dyaw, -1.0, strong_at=STRONG * YAW_MIN)
    dp = np.where(ok, tr.pitch - rest["pitch"], 0.0)
    # A nod: the head goes down (or up) by PITCH_MIN and comes back; turning the head also moves the
    # measured pitch a little, so frames well into a turn do not count.
    nod_flag = (np.abs(dp) >= PITCH_MIN) & (np.abs(dyaw) < NOD_MAX_YAW)
    for seg in _segments(nod_flag):
        add("nod", seg, np.abs(dp), strong_at=STRONG * PITCH_MIN)
    mouth = np.where(ok, tr.mouth, 0.0)
    m_min = max(MOUTH_MIN, rest["mouth"] + MOUTH_RISE)
    for seg in _segments(mouth >= m_min):
        add("open_mouth", seg, mouth, strong_at=STRONG * m_min)
    # Blink: EAR drops below EAR_CLOSED of the open level with open eyes before and after, while the head is
    # near its resting pose and the eye-to-mouth height has not shrunk (a picture tilted back shrinks both).
    ear = np.where(ok, tr.ear, np.nan)
    near = ok & (np.abs(dyaw) < STILL_YAW) & (np.abs(dp) < STILL_PITCH)
    flat = np.where(ok, tr.height < FLAT_TILT * rest["height"], False)
    closed = near & ~flat & (ear < EAR_CLOSED * rest["ear"]) & (mouth < max(MOUTH_MIN, rest["mouth"] + MOUTH_RISE))
    opened = ok & (ear > EAR_OPEN * rest["ear"])
    for seg in _segments(closed):
        i0, i1 = seg
        t0, t1 = tr.t[i0], tr.t[i1]
        before = opened & (tr.t < t0) & (tr.t >= t1 - BLINK_MAX_S)
        after = opened & (tr.t > t1) & (tr.t <= t0 + BLINK_MAX_S)
        if before.any() and after.any():
            add("blink", seg, -ear)
            events[-1]["peak"] = round(float(np.nanmin(ear[i0:i1 + 1]) / rest["ear"]), 3)
    events.sort(key=lambda e: e["t"])
    return events


def match_challenge(events: list[dict], challenge: list[str], schedule=None) -> tuple[str | None, dict]:
    """None when the events show the challenge in order (and in time); else (error code, message format args).

    Extra blinks are allowed (people blink); a clear extra turn, nod or open mouth (``STRONG`` times its
    threshold) that the challenge did not ask for fails the check unless it repeats the action just done (a
    customer may turn twice), so one recorded clip showing every action cannot answer any challenge.
    """
    j, last_t, last_action = 0, -1.0, None
    for ev in events:
        a, t = ev["action"], ev["t"]
        want = challenge[j] if j < len(challenge) else None
        hit = want is not None and (a == want or (want == "turn" and a in ("turn_left", "turn_right")))
        if hit and schedule:
            _a, w0, w1 = schedule[j]
            if t < w0 - SCHEDULE_EARLY:
                continue  # done before it was asked for: does not count (nor does it fail by itself)
            if t > w1 + SCHEDULE_GRACE:
                return "out_of_time", {"action": ACTION_TEXT.get(want, want)}
        if hit and t > last_t:
            j, last_t, last_action = j + 1, t, a
            continue
        if a == "blink" or a == last_action or not ev.get("strong", True):
            continue
        if a in challenge[j:] or (a.startswith("turn") and "turn" in challenge[j:]):
            return "wrong_order", {}
        return "wrong_action", {"got": ACTION_TEXT.get(a, a)}
    if j < len(challenge):
        return "missing:" + challenge[j], {}
    return None, {}


def _identity(timed, tr: Track, idx: list[int]) -> float:
    from . import dlibface as fr

    encs = []
    for i in idx:
        f = tr.faces[i]
        t, r, b, l = f.box
        h, w = timed[i][1].shape[:2]
        box = (max(0, t), min(w - 1, r), min(h - 1, b), max(0, l))
        e = fr.face_encodings(timed[i][1], [box], num_jitters=1, model="small")
        if e:
            encs.append(e[0])
    if len(encs) < 2:
        return 0.0
    return float(max(np.linalg.norm(encs[0] - e) for e in encs[1:]))


def _best_frame(timed, tr: Track, rest: dict) -> int | None:
    ok = ~np.isnan(tr.yaw)
    cand = ok & (np.abs(tr.yaw - rest["yaw"]) < 8) & (np.abs(tr.pitch - rest["pitch"]) < 8) \
        & (tr.ear >= EAR_OPEN * rest["ear"]) & (tr.mouth < max(MOUTH_MIN, rest["mouth"] + MOUTH_RISE) * 0.8)
    best, best_sharp = None, -1.0
    for i in np.flatnonzero(cand):
        t, r, b, l = tr.faces[i].box
        if r - l < BEST_FACE_MIN_PX:
            continue
        rgb = timed[i][1]
        crop = cv2.cvtColor(rgb[max(0, t):max(0, b), max(0, l):max(0, r)], cv2.COLOR_RGB2GRAY)
        if crop.size == 0:
            continue
        crop = cv2.resize(crop, (128, max(1, round(128 * crop.shape[0] / max(1, crop.shape[1])))),
                          interpolation=cv2.INTER_AREA)
        s = laplacian_variance(crop)
        if s > best_sharp:
            best, best_sharp = int(i), s
    if best is None or best_sharp < BEST_BLUR_MIN:
        return None
    return best


def analyse(timed: list[tuple[float, np.ndarray]], challenge, schedule=None, mirrored=False) -> LivenessResult:
    """The whole check on decoded (seconds, RGB) frames."""
    from . import pad

    challenge = parse_challenge(challenge)
    schedule = _parse_schedule(schedule, challenge)
    n = len(timed)
    if n == 0:
        return _fail("bad_video", challenge)
    duration = timed[-1][0] - timed[0][0]
    if n < MIN_FRAMES or duration < MIN_SECONDS:
        return _fail("too_short", challenge, frames=n)
    tr = measure(timed, mirrored)
    with_face = [i for i, f in enumerate(tr.faces) if f is not None]
    if tr.multi > 0.3 * n:
        return _fail("multiple_faces", challenge, frames=n)
    if len(with_face) < max(MIN_FRAMES // 2, 0.6 * n):
        return _fail("no_face", challenge, frames=n)
    rest = rest_pose(tr)
    events = detect_actions(tr, rest)
    measures = {"frames_with_face": len(with_face), "seconds": round(duration, 2),
                "rest": {k: round(v, 3) for k, v in rest.items()}}
    idx = sorted({with_face[0], with_face[len(with_face) // 3], with_face[2 * len(with_face) // 3], with_face[-1]})
    dist = _identity(timed, tr, idx)
    measures["identity_distance"] = round(dist, 3)
    actions = [{"action": e["action"], "t": e["t"]} for e in events]
    common = dict(frames=n, measures=measures, actions=actions)
    if dist > SAME_PERSON_MAX:
        return _fail("face_changed", challenge, **common)
    verdict = pad.assess(timed, tr, rest)
    measures["pad"] = verdict.measures
    common.update(attack_score=round(verdict.score, 3), attack=verdict.kind)
    if verdict.kind is not None:
        return _fail("presentation_attack", challenge, ok=True, **common)
    err, args = match_challenge(events, challenge, schedule)
    steps = "、".join(ACTION_TEXT.get(a, "左右转头") for a in challenge)
    if err is not None:
        if err.startswith("missing:"):
            a = err.split(":", 1)[1]
            return _fail(ERROR_CODES[a], challenge, ok=True, message=MISSING[a], **common)
        return _fail(err, challenge, ok=True, message=MESSAGES[err].format(steps=steps, **args), **common)
    best = _best_frame(timed, tr, rest)
    if best is None:
        return _fail("no_best_frame", challenge, ok=True, **common)
    jpeg = encode_jpeg(timed[best][1], 92)
    measures["best_frame_t"] = round(float(tr.t[best]), 2)
    return LivenessResult(True, True, None, MESSAGES["passed"], list(challenge), jpeg, **common)


def check(video: bytes, challenge="blink", *, mirrored: bool = False) -> LivenessResult:
    """Liveness on a short selfie video (MP4/WebM/MOV...)."""
    acts = parse_challenge(challenge)
    try:
        timed = read_timed_frames(video)
    except BadVideo as e:
        return _fail(e.code if e.code in MESSAGES else "bad_video", acts)
    if not timed:
        return _fail("bad_video", acts)
    return analyse(timed, acts, None, mirrored)


def check_frames(frames: list[tuple[float, bytes]], challenge, schedule=None, *, mirrored: bool = False) -> LivenessResult:
    """Liveness on timestamped JPEG frames (seconds, bytes) from the H5 page; ``schedule`` = the prompt
    windows [(action, t_start, t_end)] in the frames' clock, one per challenge action, in order."""
    acts = parse_challenge(challenge)
    try:
        timed = _decode_frames(frames)
    except BadVideo as e:
        return _fail(e.code if e.code in MESSAGES else "bad_frames", acts)
    return analyse(timed, acts, schedule, mirrored)
