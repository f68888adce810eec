"""Presentation-attack detection (PAD) cues on the frames of a liveness clip.

No learned model: every cue is a measurement with a documented reason, computed from the frames and the face
mesh landmarks (:mod:`biometrics.landmarks`).  Each gives a score in 0..1 through a linear ramp between a
"live" and an "attack" value (tuned on generated set A only); ``attack_score`` combines them as a noisy-OR
(1 - prod(1 - s)): independent half-sure signs add up.  The clip is an attack when the score reaches
``ATTACK_MIN``; ``attack`` names the medium of the strongest cue.

* ``static`` - nothing changes: consecutive frames differ by codec noise only, or the landmarks never move
  beyond a similarity (shake) and the eyes/mouth never change.  A still image encoded as a video.
* ``planar`` - the face moves, but as a plane: a homography fitted on the rigid landmarks of a rest frame
  explains their position in the other frames almost as well as it does for a flat photo, and the nose ridge
  shows no more parallax than the cheeks.  A real head turning or nodding shows parallax (the nose tip moves
  farther than the face outline) that no homography explains.  Catches a print swayed or bent in front of the
  camera, and a phone or monitor moved to fake a head turn.
* ``moire`` - sharp isolated peaks in the spectrum of the face region: a screen's pixel grid re-imaged by
  the camera aliases into moire; halftone print dots do the same.  Rows/columns at multiples of 1/8 cycle per
  pixel are ignored (JPEG/video block edges).
* ``frame`` - straight edges on three or four sides of the face that enclose it at a short distance: a
  phone or monitor bezel, or the edge of a sheet of paper.  The band inside the edges tells a dark bezel
  (screen) from a white margin (print).
* ``glare`` - a large flat white specular patch over the face: a reflection on a glossy screen or photo
  (skin highlights are small and textured).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from . import landmarks as L

ATTACK_MIN = 0.5

# (live value, attack value) for each ramp; tuned on set A.
STATIC_DIFF = (1.2, 0.5)  # median grey-level change between consecutive frames (160-px copies)
STATIC_MOTION = (0.015, 0.006)  # largest non-similarity landmark motion (IOD): only landmark noise, no person
PLANAR_RATIO = (0.50, 0.36)  # homography residual / similarity residual, frames with real distortion
PLANAR_NOSE = (1.45, 1.15)  # nose-ridge residual / other rigid points' residual
PLANAR_MIN_DISTORTION = 0.035  # similarity residual (iod) a frame needs to say anything about 3-D
MOIRE_PEAK = (1.7, 2.5)  # largest log-spectrum excess over the local background
FRAME_SIDES = (1.5, 3.0)  # sides of an enclosing frame found, median over frames
GLARE_FRAC = (0.012, 0.035)  # largest flat white blob / face box area

_RIGID = np.array(L.RIGID)
_NOSE = np.array([i for i in L.RIGID if i in L.NOSE_RIDGE])
_NOT_NOSE = np.array([i for i in L.RIGID if i not in L.NOSE_RIDGE])


@dataclass
class Verdict:
    score: float
    kind: str | None
    measures: dict = field(default_factory=dict)


def ramp(x: float | None, live: float, attack: float) -> float:
    """0 at the live value, 1 at the attack value, linear between (either direction)."""
    if x is None or not np.isfinite(x):
        return 0.0
    return float(np.clip((x - live) / (attack - live), 0.0, 1.0))


def _sim_fit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    m, _ = cv2.estimateAffinePartial2D(a.astype(np.float32), b.astype(np.float32), method=cv2.LMEDS)
    if m is None:
        return a
    return a @ m[:, :2].T + m[:, 2]


def _hom_fit(a: np.ndarray, b: np.ndarray, fit_idx=None) -> np.ndarray:
    src, dst = (a, b) if fit_idx is None else (a[fit_idx], b[fit_idx])
    h, _ = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), 0)
    if h is None:
        return a
    p = np.column_stack([a, np.ones(len(a))]) @ h.T
    return p[:, :2] / p[:, 2:3]


def _rms(d: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(d ** 2, axis=1))))


def static_cue(timed, tr) -> tuple[float, dict]:
    grays = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (160, 160 * f.shape[0] // f.shape[1]),
                        interpolation=cv2.INTER_AREA).astype(np.float32) for _t, f in timed]
    diffs = [float(np.mean(np.abs(a - b))) for a, b in zip(grays, grays[1:])]
    diff = float(np.median(diffs)) if diffs else 0.0
    idx = [i for i, f in enumerate(tr.faces) if f is not None]
    motion = 0.0
    if len(idx) >= 2:
        ref = tr.faces[idx[0]]
        a = ref.points[_RIGID, :2]
        for i in idx[1:]:
            b = tr.faces[i].points[_RIGID, :2]
            motion = max(motion, _rms(_sim_fit(a, b) - b) / ref.iod)
    ear = tr.ear[~np.isnan(tr.ear)]
    mouth = tr.mouth[~np.isnan(tr.mouth)]
    ear_range = float((np.percentile(ear, 95) - np.percentile(ear, 5)) / max(1e-6, np.median(ear))) if len(ear) else 0
    mouth_range = float(np.percentile(mouth, 95) - np.percentile(mouth, 5)) if len(mouth) else 0
    geo = ramp(motion, *STATIC_MOTION) * ramp(ear_range, 0.25, 0.12) * ramp(mouth_range, 0.10, 0.04)
    score = max(ramp(diff, *STATIC_DIFF), geo)
    return score, {"frame_diff": round(diff, 3), "motion": round(motion, 4), "ear_range": round(ear_range, 3),
                   "mouth_range": round(mouth_range, 3)}


def planar_cue(tr, rest) -> tuple[float, dict]:
    idx = [i for i, f in enumerate(tr.faces) if f is not None]
    dist = [abs(tr.yaw[i] - rest["yaw"]) + abs(tr.pitch[i] - rest["pitch"]) + 30 * abs(tr.mouth[i] - rest["mouth"])
            for i in idx]
    r = idx[int(np.argmin(dist))]
    ref = tr.faces[r]
    a = ref.points[_RIGID, :2].astype(np.float64)
    nose_in = np.isin(_RIGID, _NOSE)
    ratios, noses, used = [], [], 0
    for i in idx:
        if i == r:
            continue
        b = tr.faces[i].points[_RIGID, :2].astype(np.float64)
        e_sim = _rms(_sim_fit(a, b) - b) / ref.iod
        if e_sim < PLANAR_MIN_DISTORTION:
            continue
        used += 1
        e_hom = _rms(_hom_fit(a, b) - b) / ref.iod
        ratios.append(e_hom / e_sim)
        h_rest = _hom_fit(a, b, fit_idx=~nose_in)
        e_nose = _rms(h_rest[nose_in] - b[nose_in])
        e_other = _rms(h_rest[~nose_in] - b[~nose_in])
        noses.append(e_nose / max(1e-6, e_other))
    if used < 2:
        return 0.0, {"frames": used}
    ratio, nose = float(np.median(ratios)), float(np.median(noses))
    # The nose parallax is the stronger sign (a bent sheet has no sharp nose); the homography fit adds to it.
    score = ramp(nose, *PLANAR_NOSE) * 0.65 + ramp(ratio, *PLANAR_RATIO) * 0.35
    return score, {"frames": used, "hom_over_sim": round(ratio, 3), "nose_parallax": round(nose, 3)}


def _sample(idx, k):
    if len(idx) <= k:
        return idx
    return [idx[int(round(j))] for j in np.linspace(0, len(idx) - 1, k)]


def _face_crop(rgb, face, grow=0.0):
    t, r, b, l = face.box
    h, w = rgb.shape[:2]
    gw, gh = (r - l) * grow, (b - t) * grow
    y0, y1 = int(max(0, t - gh)), int(min(h, b + gh))
    x0, x1 = int(max(0, l - gw)), int(min(w, r + gw))
    return rgb[y0:y1, x0:x1]


def _moire_peak(gray: np.ndarray) -> float | None:
    n = 128
    if min(gray.shape) < n:
        return None
    cy, cx = gray.shape[0] // 2, gray.shape[1] // 2
    g = gray[cy - n // 2:cy + n // 2, cx - n // 2:cx + n // 2].astype(np.float32)
    g = g - cv2.GaussianBlur(g, (0, 0), 3)
    win = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    spec = np.log(np.abs(np.fft.fftshift(np.fft.fft2(g * win))) + 1e-3)
    bg = cv2.medianBlur(spec.astype(np.float32), 5)
    bg = cv2.GaussianBlur(bg, (0, 0), 2)
    ex = spec - bg
    f = np.fft.fftshift(np.fft.fftfreq(n))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    rad = np.hypot(fx, fy)
    mask = (rad >= 0.07) & (rad <= 0.49)
    step = 1.0 / n
    for k in range(0, 5):  # JPEG / codec block grid and the axes
        for axis in (fx, fy):
            mask &= np.abs(np.abs(axis) - k / 8) > 1.5 * step
    return float(ex[mask].max()) if mask.any() else None


def moire_cue(timed, tr) -> tuple[float, dict]:
    idx = [i for i, f in enumerate(tr.faces) if f is not None]
    peaks = []
    for i in _sample(idx, 8):
        crop = _face_crop(timed[i][1], tr.faces[i])
        p = _moire_peak(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY))
        if p is not None:
            peaks.append(p)
    if not peaks:
        return 0.0, {}
    v = float(np.median(peaks))
    return ramp(v, *MOIRE_PEAK), {"peak": round(v, 3)}


def _frame_sides(rgb, face) -> tuple[int, float | None]:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    H, W = gray.shape
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 40, 120)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=50, minLineLength=int(0.18 * min(H, W)), maxLineGap=10)
    if lines is None:
        return 0, None
    t, r, b, l = face.box
    fw, fh = max(1, r - l), max(1, b - t)
    cx, cy = (l + r) / 2, (t + b) / 2
    sides, bands = set(), []
    for x1, y1, x2, y2 in lines[:, 0]:
        ang = abs(np.degrees(np.arctan2(y2 - y1, x2 - x1))) % 180
        if abs(ang - 90) < 20:  # vertical: left / right of the face, beside it
            x = (x1 + x2) / 2
            if max(y1, y2) < cy - 0.2 * fh or min(y1, y2) > cy + 0.2 * fh:
                continue
            if l - 1.6 * fw < x < l - 0.08 * fw:
                sides.add("left")
                bands.append(gray[int(cy - 0.2 * fh):int(cy + 0.2 * fh), int(x) + 3:int(x) + 9])
            elif r + 0.08 * fw < x < r + 1.6 * fw:
                sides.add("right")
                bands.append(gray[int(cy - 0.2 * fh):int(cy + 0.2 * fh), max(0, int(x) - 9):max(0, int(x) - 3)])
        elif ang < 20 or ang > 160:  # horizontal: above / below, across the face's columns
            y = (y1 + y2) / 2
            if max(x1, x2) < cx - 0.2 * fw or min(x1, x2) > cx + 0.2 * fw:
                continue
            if t - 1.4 * fh < y < t - 0.05 * fh:
                sides.add("top")
            elif b + 0.05 * fh < y < b + 1.6 * fh:
                sides.add("bottom")
    vals = [float(x.mean()) for x in bands if x.size]
    return len(sides), (float(np.median(vals)) if vals else None)


def frame_cue(timed, tr) -> tuple[float, dict, str]:
    idx = [i for i, f in enumerate(tr.faces) if f is not None]
    counts, bands = [], []
    for i in _sample(idx, 6):
        n, band = _frame_sides(timed[i][1], tr.faces[i])
        counts.append(n)
        if band is not None and n >= 3:
            bands.append(band)
    v = float(np.median(counts)) if counts else 0.0
    band = float(np.median(bands)) if bands else None
    kind = "screen" if band is not None and band < 90 else "print"
    return ramp(v, *FRAME_SIDES), {"sides": v, "band": None if band is None else round(band, 1)}, kind


def glare_cue(timed, tr) -> tuple[float, dict]:
    idx = [i for i, f in enumerate(tr.faces) if f is not None]
    fracs = []
    for i in _sample(idx, 8):
        crop = _face_crop(timed[i][1], tr.faces[i]).astype(np.int16)
        if crop.size == 0:
            continue
        mx, mn = crop.max(2), crop.min(2)
        spec = ((mx >= 245) & (mx - mn <= 25)).astype(np.uint8)
        n, _lab, stats, _c = cv2.connectedComponentsWithStats(spec, connectivity=8)
        big = stats[1:, cv2.CC_STAT_AREA].max() if n > 1 else 0
        fracs.append(big / spec.size)
    if not fracs:
        return 0.0, {}
    v = float(np.percentile(fracs, 75))
    return ramp(v, *GLARE_FRAC), {"blob": round(v, 4)}


def assess(timed, tr, rest) -> Verdict:
    """All cues on decoded frames and their landmark track (:func:`biometrics.liveness.measure`)."""
    measures, scores, kinds = {}, {}, {}
    scores["static"], measures["static"] = static_cue(timed, tr)
    kinds["static"] = "static"
    scores["planar"], measures["planar"] = planar_cue(tr, rest)
    kinds["planar"] = "print"
    scores["moire"], measures["moire"] = moire_cue(timed, tr)
    kinds["moire"] = "screen"
    scores["frame"], measures["frame"], kinds["frame"] = frame_cue(timed, tr)
    scores["glare"], measures["glare"] = glare_cue(timed, tr)
    kinds["glare"] = "screen"
    measures["scores"] = {k: round(v, 3) for k, v in scores.items()}
    # Independent cues add up (noisy-OR): two half-sure signs of a medium make a sure one.
    score = 1.0 - float(np.prod([1.0 - v for v in scores.values()]))
    top = max(scores, key=scores.get)
    return Verdict(score, kinds[top] if score >= ATTACK_MIN else None, measures)
