"""Independent liveness set B: other people, other renderers, other cameras.  Never used for tuning.

Differences from set A (:mod:`liveclips`), on purpose:

* people: single faces cut from other group photos (:func:`faces.fetch_other_faces`), composited onto
  generated rooms (wall, window light, shelves) under other light colours;
* live heads: a **dense depth map** interpolated from the mesh and a per-pixel inverse warp (fixed-point
  iteration) with a stronger perspective, instead of A's triangle warp; blinks by compositing lid skin taken
  from above the eye (A moves the lid points); a mouth by a dense jaw flow and an elliptic cavity;
* camera: 432x768 (9:16), rolling shutter, lagging auto-exposure, chroma noise, 10 or 15 fps; videos in WebM
  (VP8) or MJPEG-AVI, frames as JPEG q70-85;
* attacks: ``print_glossy`` (a halftoned glossy print held close, often filling the frame so no border shows,
  moving specular glare), ``print_curved`` (bent about the horizontal axis, matte, a thumb on the edge),
  ``monitor_replay`` (a B live clip in a window on a monitor: BGR stripes, other pixel pitch, PWM flicker
  banding, thin bezel mostly out of frame, ceiling-lamp reflection), ``static_noisy`` (one frame of a person
  through the full camera model: noise, shake, rolling shutter and exposure drift, but a face that never moves).
"""
from __future__ import annotations

import functools
import math
import random
from pathlib import Path

import cv2
import numpy as np

from .. import landmarks as L
from .liveclips import Clip, encode_jpegs, encode_video, timeline

ATTACK_KINDS = ("print_glossy", "print_curved", "monitor_replay", "static_noisy")
KINDS = ("live",) + ATTACK_KINDS
SIZE = (432, 768)


def room_b(rng: random.Random, size=SIZE) -> np.ndarray:
    W, H = size
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    tint = np.array([rng.uniform(0.85, 1.1), rng.uniform(0.9, 1.05), rng.uniform(0.8, 1.15)], np.float32)
    wall = rng.uniform(120, 200) * tint
    img = wall * (0.7 + 0.5 * np.exp(-((xx - rng.uniform(0, W)) ** 2) / (2 * (0.4 * W) ** 2)))[..., None]
    if rng.random() < 0.6:  # a window: bright, with blinds
        x0 = int(rng.uniform(-0.2, 0.6) * W)
        y0 = int(rng.uniform(0.0, 0.2) * H)
        ww, hh = int(rng.uniform(0.3, 0.5) * W), int(rng.uniform(0.25, 0.4) * H)
        win = img[max(0, y0):y0 + hh, max(0, x0):x0 + ww]
        win[:] = 235
        win[::int(rng.uniform(8, 14))] = 190
    for _ in range(rng.randint(0, 2)):  # shelves
        y = int(rng.uniform(0.15, 0.5) * H)
        img[y:y + 6, :] *= 0.6
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(2.5, 4.0))  # out of focus behind the person
    return np.clip(img, 0, 255).astype(np.uint8)


class CameraB:
    """Rolling shutter, lagging auto-exposure, luma + chroma noise, gamma."""

    def __init__(self, rng: random.Random):
        self.np = np.random.default_rng(rng.randrange(1 << 30))
        self.vel = np.zeros(2)
        self.pos = np.zeros(2)
        self.exp = 1.0
        self.noise = rng.uniform(1.5, 3.5)
        self.target = rng.uniform(115, 135)

    def shoot(self, rgb: np.ndarray) -> np.ndarray:
        H, W = rgb.shape[:2]
        self.vel = 0.7 * self.vel + self.np.normal(0, 0.8, 2)
        self.pos = 0.95 * self.pos + self.vel
        rows = np.arange(H, dtype=np.float32)[:, None]
        mx = np.arange(W, dtype=np.float32)[None, :] - self.pos[0] - self.vel[0] * (rows / H - 0.5)
        my = np.repeat(rows, W, 1) - self.pos[1]
        f = cv2.remap(rgb, np.broadcast_to(mx, (H, W)).astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        self.exp += 0.25 * (self.target / max(1.0, float(f.mean()) * self.exp) - 1) * self.exp
        f = 255 * ((f * self.exp).clip(0, 255) / 255) ** 0.95
        luma = self.np.normal(0, self.noise, (H, W, 1))
        chroma = cv2.resize(self.np.normal(0, self.noise * 0.8, (H // 2, W // 2, 3)), (W, H))
        return np.clip(f + luma + chroma, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=12)
def _person(path: str, seed: int):
    """The person on a generated room, 432x768, face ~40 % of the width; mesh points in frame coordinates."""
    rng = random.Random(seed)
    W, H = SIZE
    crop = np.asarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    f = L.detect(crop)[0]
    oval = f.points[list(L.FACE_OVAL), :2]
    fw = float(np.ptp(oval[:, 0]))
    s = rng.uniform(0.36, 0.44) * W / fw
    c = oval.mean(0)
    m = np.array([[s, 0, W / 2 - s * c[0]], [0, s, 0.42 * H - s * c[1]]], np.float32)
    img = cv2.warpAffine(crop, m, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    valid = cv2.warpAffine(np.ones(crop.shape[:2], np.float32), m, (W, H), flags=cv2.INTER_LINEAR)
    pts = f.points.copy()
    pts[:, :2] = pts[:, :2] @ m[:, :2].T + m[:, 2]
    pts[:, 2] *= s
    # Head (oval grown for hair) and shoulders are kept; the rest becomes the generated room.
    mask = np.zeros((H, W), np.float32)
    fo = pts[list(L.FACE_OVAL), :2]
    cc = fo.mean(0)
    cv2.fillConvexPoly(mask, np.round(cc + (fo - cc) * np.array([1.45, 1.3])).astype(np.int32), 1.0)
    chin = pts[152, :2]
    fwp = float(np.ptp(fo[:, 0]))
    torso = np.array([[chin[0] - 0.45 * fwp, chin[1] - 0.1 * fwp], [chin[0] + 0.45 * fwp, chin[1] - 0.1 * fwp],
                      [chin[0] + 1.4 * fwp, H], [chin[0] - 1.4 * fwp, H]], np.int32)
    cv2.fillConvexPoly(mask, torso, 1.0)
    mask = cv2.GaussianBlur(mask * cv2.erode(valid, np.ones((9, 9), np.uint8)), (0, 0), 5)[..., None]
    light = np.array([rng.uniform(0.9, 1.1), 1.0, rng.uniform(0.85, 1.1)], np.float32) * rng.uniform(0.85, 1.1)
    frame = room_b(rng).astype(np.float32) * (1 - mask) + img.astype(np.float32) * light * mask
    return np.clip(frame, 0, 255).astype(np.uint8), pts, mask[..., 0]


class DepthHead:
    def __init__(self, path, seed=0):
        from scipy.interpolate import griddata

        self.img, self.pts, self.mask = _person(str(path), seed)
        H, W = self.img.shape[:2]
        p = self.pts[:468]
        fo = p[list(L.FACE_OVAL)]
        self.fw = float(np.ptp(fo[:, 0]))
        self.c = fo[:, :2].mean(0)
        zedge = float(np.median(fo[:, 2]))
        self.zc = zedge + 0.6 * self.fw
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        z = griddata(p[:, :2], p[:, 2], (xx, yy), method="linear")
        inside = ~np.isnan(z)
        dist = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
        z = np.where(inside, z, zedge + 0.35 * self.fw * np.clip(dist / (0.35 * self.fw), 0, 1))
        self.z = z.astype(np.float32)
        head = cv2.dilate(inside.astype(np.uint8), np.ones((int(0.4 * self.fw) | 1,) * 2, np.uint8)).astype(np.float32)
        self.w = cv2.GaussianBlur(head, (0, 0), 0.12 * self.fw)
        self.xx, self.yy = xx, yy
        mouth_y = (p[13, 1] + p[14, 1]) / 2
        self.mouth = (p[61, :2] + p[291, :2]) / 2
        self.mouth_w = float(np.linalg.norm(p[61, :2] - p[291, :2]))
        self.mouth_y = mouth_y
        jaw = np.clip((yy - mouth_y) / (0.08 * self.fw), 0, 1) * np.exp(-((xx - self.mouth[0]) / (0.45 * self.fw)) ** 2)
        self.jaw = (jaw * inside).astype(np.float32)
        self.iod = float(np.linalg.norm(p[33, :2] - p[263, :2]))

    def _lids(self, img, amount):
        out = img.astype(np.float32)
        p = self.pts
        for eye in (L.RIGHT_EYE, L.LEFT_EYE):
            e = p[list(eye), :2]
            x0, x1 = e[:, 0].min(), e[:, 0].max()
            y0, y1 = e[:, 1].min(), e[:, 1].max()
            w, h = x1 - x0, max(2.0, y1 - y0)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            m = np.zeros(img.shape[:2], np.float32)
            cv2.ellipse(m, (int(cx), int(cy)), (int(w * 0.62), int(h * 0.95)), 0, 0, 360, 1.0, -1)
            m = cv2.GaussianBlur(m, (0, 0), max(1.0, w / 10))[..., None] * amount
            shift = np.float32([[1, 0, 0], [0, 1, -1.6 * h]])  # skin from above the eye slid down
            skin = cv2.warpAffine(out, shift, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)
            out = out * (1 - m) + skin * m
            if amount > 0.7:
                cv2.ellipse(out, (int(cx), int(cy + 0.2 * h)), (int(w * 0.5), int(h * 0.5)), 0, 10, 170,
                            tuple(float(v) for v in np.median(skin[int(cy), int(x0):int(x1)], 0) * 0.4),
                            max(1, int(w / 16)), cv2.LINE_AA)
        return out.clip(0, 255).astype(np.uint8)

    def _mouth(self, img, amount):
        d = amount * 0.4 * self.iod
        my = self.yy - d * self.jaw
        out = cv2.remap(img, self.xx, my.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cav = np.zeros(img.shape[:2], np.float32)
        cv2.ellipse(cav, (int(self.mouth[0]), int(self.mouth_y + d * 0.5)), (int(self.mouth_w * 0.42), int(d * 0.5)),
                    0, 0, 360, 1.0, -1, cv2.LINE_AA)
        cav = cv2.GaussianBlur(cav, (0, 0), 1.5)[..., None]
        return (out * (1 - cav) + np.array([60, 25, 28], np.float32) * cav).clip(0, 255).astype(np.uint8)

    def render(self, yaw=0.0, pitch=0.0, roll=0.0, blink=0.0, mouth=0.0) -> np.ndarray:
        src = self.img
        if blink > 0.05:
            src = self._lids(src, blink)
        if mouth > 0.05:
            src = self._mouth(src, mouth)
        a, b, r = (math.radians(v) for v in (yaw, pitch, roll))
        X, Y, Z = self.xx - self.c[0], self.yy - self.c[1], self.z - self.zc
        # yaw (about the vertical axis, nose toward +x for yaw > 0), pitch (nose down for > 0), roll
        x1 = X * math.cos(a) - Z * math.sin(a)
        z1 = X * math.sin(a) + Z * math.cos(a)
        y2 = Y * math.cos(b) - z1 * math.sin(b)
        z2 = Y * math.sin(b) + z1 * math.cos(b)
        x3 = x1 * math.cos(r) - y2 * math.sin(r)
        y3 = x1 * math.sin(r) + y2 * math.cos(r)
        f = 4.5 * self.fw
        k = f / (f + z2 + self.zc - float(np.median(self.z)))
        dx = ((x3 * k + self.c[0]) - self.xx) * self.w
        dy = ((y3 * k + self.c[1]) - self.yy) * self.w
        px, py = self.xx.copy(), self.yy.copy()
        for _ in range(6):  # inverse of the forward flow: p = q - D(p)
            px = self.xx - cv2.remap(dx, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            py = self.yy - cv2.remap(dy, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.remap(src, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@functools.lru_cache(maxsize=6)
def _head(path: str, seed: int) -> DepthHead:
    return DepthHead(path, seed)


def live_frames(path, challenge, seed=0, fps=None, camera=True):
    rng = random.Random(seed)
    fps = fps or rng.choice((10.0, 15.0))
    head = _head(str(path), seed % 2)
    poses, schedule = timeline(challenge, rng, fps, lead=(0.5, 1.3), dur=(1.0, 1.8), gap=(0.3, 1.0),
                               extra_blink=0.7, amp={"turn": (20, 34), "nod": (12, 22), "mouth": (0.7, 1.0)})
    cam = CameraB(rng) if camera else None
    out = []
    for i, p in enumerate(poses):
        fr = head.render(**p)
        out.append((round(i / fps, 3), cam.shoot(fr) if cam else fr))
    return out, schedule, fps


def _halftone(rgb: np.ndarray, period: float, rng) -> np.ndarray:
    """Glossy print: CMY amplitude-modulated dots at 15/75/0 degrees on white, rendered at 3x."""
    up = cv2.resize(rgb, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    H, W = up.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    out = np.ones_like(up)
    for ch, ang in ((0, 15), (1, 75), (2, 0)):
        t = math.radians(ang)
        u = (xx * math.cos(t) + yy * math.sin(t)) * 2 * math.pi / (period * 3)
        v = (-xx * math.sin(t) + yy * math.cos(t)) * 2 * math.pi / (period * 3)
        screen = 0.5 + 0.25 * (np.cos(u) + np.cos(v))
        ink = (1 - up[..., ch]) > screen  # cyan absorbs red, etc.
        out[..., ch] *= np.where(ink, 0.12, 1.0)
    out = cv2.GaussianBlur(out, (0, 0), 0.8)
    return np.clip(out * 245, 0, 255).astype(np.uint8)


def _paper_pose(challenge, rng, fps):
    poses, schedule = timeline(challenge, rng, fps, lead=(0.5, 1.3), dur=(1.0, 1.8), gap=(0.3, 1.0),
                               extra_blink=0.0, amp={"turn": (20, 45), "nod": (15, 35), "mouth": (0, 0)})
    return [(p["yaw"], p["pitch"], p["roll"] * 2) for p in poses], schedule


def _camera_matrix(W, H, focal):
    return np.array([[focal, 0, W / 2], [0, focal, H / 2], [0, 0, 1]], np.float64)


def _rot(yaw, pitch, roll):
    r, _ = cv2.Rodrigues(np.radians([pitch, yaw, roll]).astype(np.float64))
    return r


def _surface_remap(tex, surf_fn, rot, tvec, K, size, bg):
    """Render a textured surface (a function of texture uv -> local 3-D) by projecting a dense uv grid and
    inverting it with scipy (a different path from set A's triangle renderer)."""
    from scipy.interpolate import griddata

    W, H = size
    th, tw = tex.shape[:2]
    gu, gv = np.meshgrid(np.linspace(0, 1, 48), np.linspace(0, 1, 64))
    P = surf_fn(gu.ravel(), gv.ravel()) @ rot.T + tvec
    x = K[0, 0] * P[:, 0] / P[:, 2] + K[0, 2]
    y = K[1, 1] * P[:, 1] / P[:, 2] + K[1, 2]
    qy, qx = np.mgrid[0:H, 0:W]
    mu = griddata((x, y), gu.ravel() * (tw - 1), (qx, qy), method="linear")
    mv = griddata((x, y), gv.ravel() * (th - 1), (qx, qy), method="linear")
    inside = ~np.isnan(mu)
    mu = np.where(inside, mu, -10).astype(np.float32)
    mv = np.where(inside, mv, -10).astype(np.float32)
    out = cv2.remap(tex, mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    m = cv2.GaussianBlur(inside.astype(np.float32), (3, 3), 0.6)[..., None]
    return (bg.astype(np.float32) * (1 - m) + out.astype(np.float32) * m).astype(np.uint8), inside


def print_frames(path, challenge, seed=0, curved=False):
    rng = random.Random(seed)
    W, H = SIZE
    fps = rng.choice((10.0, 15.0))
    person, _pts, _m = _person(str(path), seed % 2)
    if curved:
        tex = cv2.GaussianBlur(person, (0, 0), 0.7)
        tex = np.clip(18 + tex.astype(np.float32) * 0.86, 0, 255).astype(np.uint8)
    else:
        tex = _halftone(person, rng.uniform(1.8, 2.6), rng)
    th, tw = tex.shape[:2]
    sheet_w = 0.15
    sheet_h = sheet_w * th / tw
    R = sheet_h * rng.uniform(0.6, 1.0)

    def surf(u, v):
        x, y = (u - 0.5) * sheet_w, (v - 0.5) * sheet_h
        z = (y ** 2) / (2 * R) if curved else np.zeros_like(y)
        return np.column_stack([x, y, -z])

    focal = 1.05 * W
    K = _camera_matrix(W, H, focal)
    fill = rng.uniform(1.0, 1.25) if not curved else rng.uniform(0.8, 0.95)  # glossy: held close, no border
    dist = sheet_w * focal / (W * fill)
    bg = room_b(rng)
    poses, schedule = _paper_pose(challenge, rng, fps)
    cam = CameraB(rng)
    frames = []
    gx, gy = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.5)
    for i, (yaw, pitch, roll) in enumerate(poses):
        rot = _rot(-yaw, -pitch, roll)
        img, inside = _surface_remap(tex, surf, rot, np.array([0, 0, dist]), K, (W, H), bg)
        img = img.astype(np.float32)
        if not curved:  # gloss: a lamp's reflection that slides with the tilt
            yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
            cx, cy = (gx + yaw / 60) * W, (gy + pitch / 60) * H
            spot = np.exp(-(((xx - cx) / (0.12 * W)) ** 2 + ((yy - cy) / (0.08 * H)) ** 2)) * 120
            img += (spot * inside)[..., None]
        else:  # a thumb holding the bottom edge
            cv2.ellipse(img, (int(W * rng.uniform(0.3, 0.7)), int(H * 0.97)), (int(0.07 * W), int(0.05 * H)), 0, 0,
                        360, (180, 140, 120), -1, cv2.LINE_AA)
        frames.append((round(i / fps, 3), cam.shoot(np.clip(img, 0, 255).astype(np.uint8))))
    return frames, schedule, fps


def monitor_frames(path, challenge, seed=0):
    rng = random.Random(seed)
    W, H = SIZE
    content, schedule, fps = live_frames(path, challenge, seed=seed + 104729)
    focal = 1.05 * W
    pitch_m = rng.uniform(0.00025, 0.0003)  # 24"-27" monitors
    win_px = (300, 534)  # the player window on the monitor, in panel pixels
    win_w = win_px[0] * pitch_m
    dist = win_w * focal / (W * rng.uniform(0.85, 1.05))
    corner = rng.random() < 0.5
    bg = np.full((H, W, 3), rng.uniform(170, 225), np.uint8)  # a light web page around the player window
    cam = CameraB(rng)
    frames = []
    phase = rng.uniform(0, 6.28)
    for i, (t, img) in enumerate(content):
        panel = cv2.resize(img, win_px, interpolation=cv2.INTER_AREA).astype(np.float32)
        panel = 10 + 245 * (panel / 255) ** 0.9 * np.array([1.0, 0.97, 0.9], np.float32)  # warm gamut, lifted black
        yb = np.arange(win_px[1], dtype=np.float32)[:, None, None]
        panel *= 1 + 0.1 * np.sin(2 * np.pi * yb / rng.uniform(120, 200) + phase + i * 1.7)  # PWM x rolling shutter
        rows = np.repeat(np.clip(panel, 0, 255), 3, axis=0)
        sub = np.zeros((win_px[1] * 3, win_px[0] * 3, 3), np.float32)
        for k, ch in enumerate((2, 1, 0)):  # BGR stripe order
            sub[:, k::3, :] = rows * 0.3
            sub[:, k::3, ch] = rows[..., ch] * 1.9
        sub[2::3] *= 0.5
        sub = np.clip(sub, 0, 255).astype(np.uint8)
        big = np.ascontiguousarray(cv2.resize(bg, (2 * W, 2 * H)))
        yaw, pitch_a = rng.gauss(0, 1.0), rng.gauss(0, 1.0)
        rot = _rot(yaw, pitch_a, 0)
        Kb = _camera_matrix(2 * W, 2 * H, 2 * focal)
        ww, wh = win_w, win_w * win_px[1] / win_px[0]
        quad3 = np.array([[-ww / 2, -wh / 2, 0], [ww / 2, -wh / 2, 0], [ww / 2, wh / 2, 0], [-ww / 2, wh / 2, 0]])
        if corner:  # the monitor's bezel (14 mm, dark grey) just left of and below the window
            bz = np.array([[-ww / 2 - 0.03, wh / 2 + 0.004, 0], [ww / 2 + 0.05, wh / 2 + 0.004, 0],
                           [ww / 2 + 0.05, wh / 2 + 0.018, 0], [-ww / 2 - 0.03, wh / 2 + 0.018, 0]])
            pb, _ = cv2.projectPoints(bz, cv2.Rodrigues(rot)[0], np.array([0, 0, dist]), Kb, None)
            cv2.fillConvexPoly(big, np.round(pb[:, 0]).astype(np.int32), (55, 55, 58), cv2.LINE_AA)
        pq, _ = cv2.projectPoints(quad3, cv2.Rodrigues(rot)[0], np.array([0, 0, dist]), Kb, None)
        M = cv2.getPerspectiveTransform(np.float32([[0, 0], [sub.shape[1], 0], [sub.shape[1], sub.shape[0]],
                                                    [0, sub.shape[0]]]), pq[:, 0].astype(np.float32))
        big = cv2.warpPerspective(sub, M, (2 * W, 2 * H), dst=big, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_TRANSPARENT)
        frame = cv2.resize(cv2.GaussianBlur(big, (0, 0), 0.8), (W, H), interpolation=cv2.INTER_AREA)
        frames.append((t, cam.shoot(frame)))
    return frames, schedule, fps


def static_frames(path, challenge, seed=0):
    rng = random.Random(seed)
    fps = rng.choice((10.0, 15.0))
    person, _p, _m = _person(str(path), seed % 2)
    _poses, schedule = timeline(challenge, rng, fps)
    n = int((schedule[-1][2] + rng.uniform(0.5, 1.2)) * fps)
    cam = CameraB(rng)
    return [(round(i / fps, 3), cam.shoot(person)) for i in range(n)], schedule, fps


def make_clip(kind: str, path, challenge, seed=0) -> Clip:
    challenge = list(challenge)
    if kind == "live":
        frames, schedule, fps = live_frames(path, challenge, seed=seed)
    elif kind == "print_glossy":
        frames, schedule, fps = print_frames(path, challenge, seed=seed)
    elif kind == "print_curved":
        frames, schedule, fps = print_frames(path, challenge, seed=seed, curved=True)
    elif kind == "monitor_replay":
        frames, schedule, fps = monitor_frames(path, challenge, seed=seed)
    elif kind == "static_noisy":
        frames, schedule, fps = static_frames(path, challenge, seed=seed)
    else:
        raise ValueError(kind)
    return Clip(kind, Path(path).stem.split("__")[0], challenge, frames, schedule, fps, seed, {"set": "B"})


def encode(clip: Clip) -> bytes:
    """WebM (VP8) like a browser's MediaRecorder, or MJPEG in AVI, by seed."""
    if clip.seed % 2:
        return encode_video(clip.frames, clip.fps, "VP80", ".webm")
    return encode_video(clip.frames, clip.fps, "MJPG", ".avi")


def frames_b(clip: Clip) -> list:
    return encode_jpegs(clip.frames, quality=70 + clip.seed % 16)
