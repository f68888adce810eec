"""Liveness clips, live and attacks, tuning set A (reproducible by seed).

Live: :class:`~biometrics.testdata.head_mesh.MeshHead` turns, nods, blinks and opens the mouth of a real
photo with 3-D parallax, plus idle head motion, spontaneous blinks, hand-held camera shake, sensor noise and
exposure drift.  Attacks (the physical cues of each medium):

* ``print_sway`` - the photo printed on paper (ink gamut, white margin, paper grain), held in front of a room
  and tilted/swayed in 3-D to mimic the asked turns and nods (exact perspective projection of a plane);
* ``print_bent`` - the same sheet bent into a cylinder, convex toward the camera (to fake depth), swayed; light
  falls off across the curve;
* ``screen_replay`` - a live clip of the same person doing the same challenge played on a phone held in front
  of the camera: an RGB-stripe pixel grid re-imaged by the camera (moire from real aliasing), emissive gamma /
  blue white point, raised black level, black bezel and phone body, a window reflection on the glass;
* ``static_video`` - one photo encoded as a video.

Everything here is synthetic and says so in the reports: the "live" heads are one photo re-projected on its own
face mesh (no hair motion, stretched far cheek), which is why a second, independently generated set exists
(:mod:`biometrics.testdata.liveclips_b`) for the figures.
"""
from __future__ import annotations

import functools
import math
import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import warp

ATTACK_KINDS = ("print_sway", "print_bent", "screen_replay", "static_video")
KINDS = ("live",) + ATTACK_KINDS
SIZE = (480, 640)  # W, H of the camera frames (portrait, like a phone selfie)


@dataclass
class Clip:
    kind: str
    person: str
    challenge: list
    frames: list  # [(seconds, RGB uint8)]
    schedule: list  # [(action, t_start, t_end)] as the page would have prompted
    fps: float
    seed: int
    meta: dict = field(default_factory=dict)

    @property
    def is_attack(self) -> bool:
        return self.kind != "live"


# ------------------------------------------------------------------------------------------ timeline


def _bump(t, t0, t1, hold=0.35):
    """0 -> 1 -> 0 over [t0, t1] with a flat top over ``hold`` of the span (smooth ramps)."""
    if t <= t0 or t >= t1:
        return 0.0
    u = (t - t0) / (t1 - t0)
    r = (1 - hold) / 2
    if u < r:
        return math.sin(u / r * math.pi / 2) ** 2
    if u > 1 - r:
        return math.sin((1 - u) / r * math.pi / 2) ** 2
    return 1.0


def timeline(challenge, rng: random.Random, fps: float, *, lead=(0.7, 1.1), dur=(1.1, 1.6), gap=(0.4, 0.8),
             tail=(0.6, 1.0), extra_blink=0.5, amp=None):
    """Per-frame targets {yaw, pitch, roll, blink, mouth} and the prompt schedule for a challenge."""
    amp = amp or {"turn": (24, 36), "nod": (14, 22), "mouth": (0.75, 1.0)}
    t = rng.uniform(*lead)
    acts, schedule = [], []
    for a in challenge:
        d = rng.uniform(*dur) if a != "blink" else rng.uniform(0.5, 0.8)
        acts.append((a, t, t + d, rng.uniform(*amp["turn"]), rng.uniform(*amp["nod"]), rng.uniform(*amp["mouth"])))
        schedule.append((a, round(t - 0.25, 2), round(t + d + 0.3, 2)))
        t += d + rng.uniform(*gap)
    total = t + rng.uniform(*tail)
    blinks = []
    for a, t0, t1, *_ in acts:
        if a == "blink":
            c = (t0 + t1) / 2
            blinks.append((c - 0.12, c + 0.16))
    if rng.random() < extra_blink:  # a spontaneous blink somewhere
        c = rng.uniform(0.3, total - 0.3)
        blinks.append((c - 0.1, c + 0.14))
    n = int(total * fps)
    wander = [rng.uniform(0, 6.28) for _ in range(3)]
    poses = []
    for i in range(n):
        tt = i / fps
        p = {"yaw": 1.8 * math.sin(0.9 * tt + wander[0]), "pitch": 1.5 * math.sin(0.7 * tt + wander[1]),
             "roll": 1.2 * math.sin(0.5 * tt + wander[2]), "blink": 0.0, "mouth": 0.0}
        for a, t0, t1, ay, ap, am in acts:
            b = _bump(tt, t0, t1)
            if a == "turn_left":
                p["yaw"] += ay * b
            elif a == "turn_right":
                p["yaw"] -= ay * b
            elif a == "nod":
                p["pitch"] += ap * b
            elif a == "open_mouth":
                p["mouth"] = max(p["mouth"], am * b)
        for b0, b1 in blinks:
            p["blink"] = max(p["blink"], _bump(tt, b0, b1, hold=0.4))
        poses.append(p)
    return poses, schedule


# -------------------------------------------------------------------------------------------- camera


class Camera:
    """Hand-held phone camera: shake (similarity random walk), exposure drift, sensor noise, slight blur."""

    def __init__(self, rng: random.Random, noise=(2.0, 4.0), shake=1.5):
        self.rng = rng
        self.np = np.random.default_rng(rng.randrange(1 << 30))
        self.noise = rng.uniform(*noise)
        self.shake = shake
        self.state = np.zeros(3)
        self.gain = 1.0
        self.blur = rng.uniform(0.3, 0.8)

    def shoot(self, rgb: np.ndarray) -> np.ndarray:
        H, W = rgb.shape[:2]
        self.state = 0.85 * self.state + self.np.normal(0, [self.shake, self.shake, 0.25])
        m = cv2.getRotationMatrix2D((W / 2, H / 2), self.state[2], 1.0)
        m[:, 2] += self.state[:2]
        f = cv2.warpAffine(rgb, m, (W, H), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        if self.blur > 0.35:
            f = cv2.GaussianBlur(f, (0, 0), self.blur)
        self.gain = 0.9 * self.gain + 0.1 * (1 + self.np.normal(0, 0.03))
        f = f * self.gain + self.np.normal(0, self.noise, f.shape).astype(np.float32)
        return np.clip(f, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------ people


@functools.lru_cache(maxsize=16)
def _portrait(path: str, seed: int, size=SIZE, face_frac=0.42) -> np.ndarray:
    from .generator import _crop_face

    return np.asarray(_crop_face(path, size[0], size[1], face_frac=face_frac, rng=random.Random(seed)))


@functools.lru_cache(maxsize=8)
def _head(path: str, seed: int):
    from .head_mesh import MeshHead

    return MeshHead(_portrait(path, seed))


def live_frames(path, challenge, seed=0, fps=12.0, camera=True, extra_blink=0.5, poses_out=None):
    """(frames, schedule); ``poses_out`` (a list) receives the true pose of every frame (benchmarks)."""
    rng = random.Random(seed)
    head = _head(str(path), seed % 3)
    poses, schedule = timeline(challenge, rng, fps, extra_blink=extra_blink)
    if poses_out is not None:
        poses_out.extend(poses)
    cam = Camera(rng) if camera else None
    frames = []
    for i, p in enumerate(poses):
        f = head.frame(**p)
        frames.append((round(i / fps, 3), cam.shoot(f) if cam else f))
    return frames, schedule


# ------------------------------------------------------------------------------------------ scenes


def room(rng: random.Random, size=SIZE) -> np.ndarray:
    """A plain indoor background: a lit wall with a soft gradient, a shelf edge, a lamp glow."""
    W, H = size
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    wall = np.array([rng.uniform(150, 215), rng.uniform(140, 205), rng.uniform(125, 195)], np.float32)
    g = 0.75 + 0.35 * (xx / W * rng.uniform(-1, 1) + yy / H * rng.uniform(-0.5, 0.5))
    img = wall * g[..., None]
    y0 = int(rng.uniform(0.6, 0.85) * H)
    img[y0:] *= rng.uniform(0.55, 0.8)
    lx, ly = rng.uniform(0, W), rng.uniform(0, H / 3)
    img += (60 * np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / (2 * (0.25 * W) ** 2)))[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    return np.clip(img, 0, 255).astype(np.uint8)


def _rot(yaw, pitch, roll):
    a, b, r = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


class Sheet:
    """A flat or cylindrically bent rectangle carrying a texture, placed in front of a pinhole camera."""

    def __init__(self, texture: np.ndarray, width: float, bend_radius: float | None = None, grid=(18, 24)):
        self.tex = texture
        th, tw = texture.shape[:2]
        self.w, self.h = width, width * th / tw
        gx, gy = grid
        u = np.linspace(-self.w / 2, self.w / 2, gx)
        v = np.linspace(-self.h / 2, self.h / 2, gy)
        uu, vv = np.meshgrid(u, v)
        if bend_radius:
            # Bent about the vertical axis, centre toward the camera: arc length u at radius R.
            ang = uu / bend_radius
            x, z = bend_radius * np.sin(ang), bend_radius * (1 - np.cos(ang))
        else:
            x, z = uu, np.zeros_like(uu)
        self.local = np.column_stack([x.ravel(), vv.ravel(), z.ravel()])
        self.ang = (uu / bend_radius).ravel() if bend_radius else np.zeros(uu.size)
        self.uv = np.column_stack([(uu.ravel() / self.w + 0.5) * (tw - 1), (vv.ravel() / self.h + 0.5) * (th - 1)])
        self.tris = warp.triangulate(self.uv)

    def project(self, rot, pos, focal, size):
        W, H = size
        p = self.local @ rot.T + pos
        x = focal * p[:, 0] / p[:, 2] + W / 2
        y = focal * p[:, 1] / p[:, 2] + H / 2
        return np.column_stack([x, y, p[:, 2]]), (np.array([0, 0, 1.0]) @ rot.T)

    def draw(self, bg, rot, pos, focal, texture=None, shade=True):
        H, W = bg.shape[:2]
        dst, _n = self.project(rot, pos, focal, (W, H))
        tex = self.tex if texture is None else texture
        if shade:
            # Lambert-ish: the light is above the camera; a tilted or curved sheet darkens where it faces away.
            light = np.array([0.0, -0.35, -1.0])
            light /= np.linalg.norm(light)
            local_n = np.column_stack([np.sin(self.ang), np.zeros(len(self.ang)), -np.cos(self.ang)])
            lam = np.clip((local_n @ rot.T) @ light, 0.2, 1.0)
            shade_map = _interp_grid(lam, self.uv, tex.shape[:2])
            tex = np.clip(tex.astype(np.float32) * (0.55 + 0.45 * shade_map[..., None]), 0, 255).astype(np.uint8)
        return warp.render(tex, self.uv, dst, self.tris, dst[:, 2], bg)


def _interp_grid(vals, uv, shape):
    """Smooth per-texel map from values at the grid points (grid is regular in uv)."""
    h, w = shape
    xs, ys = np.unique(uv[:, 0]), np.unique(uv[:, 1])
    grid = vals.reshape(len(ys), len(xs)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)


def print_texture(photo: np.ndarray, rng: random.Random, margin=(0.08, 0.18)) -> np.ndarray:
    """The photo as printed: ink gamut (no deep black, dull colours), paper white margin and grain."""
    h, w = photo.shape[:2]
    m = rng.uniform(*margin)
    mw, mh = int(w * m), int(h * m * 0.8)
    p = photo.astype(np.float32)
    grey = p.mean(2, keepdims=True)
    p = grey + (p - grey) * rng.uniform(0.75, 0.9)
    p = 22 + p * rng.uniform(0.8, 0.88)
    p = cv2.GaussianBlur(p, (0, 0), 0.6)
    paper = np.full((h + 2 * mh, w + 2 * mw, 3), rng.uniform(232, 248), np.float32)
    paper[mh:mh + h, mw:mw + w] = p
    paper += np.random.default_rng(rng.randrange(1 << 30)).normal(0, 2.0, paper.shape[:2])[..., None]
    return np.clip(paper, 0, 255).astype(np.uint8)


def _sway(challenge, rng, fps, n_hint=None):
    """Sheet/phone orientation per frame that mimics the asked actions (turns -> yaw, nod -> pitch)."""
    poses, schedule = timeline(challenge, rng, fps, amp={"turn": (25, 40), "nod": (18, 30), "mouth": (0, 0)})
    out = []
    for i, p in enumerate(poses):
        out.append((p["yaw"] * 1.0, p["pitch"] * 1.0, p["roll"]))
    return out, schedule


def print_frames(path, challenge, seed=0, fps=12.0, bent=False):
    rng = random.Random(seed)
    W, H = SIZE
    photo = _portrait(str(path), seed % 3, face_frac=0.42)
    tex = print_texture(photo, rng)
    bg = room(rng)
    focal = 1.15 * W
    width = 0.20  # metres: a 10x15 cm-ish print of a head-and-shoulders photo, enlarged
    # Held so that the photo part spans about the camera's width (the face as big as a live selfie's).
    dist = width * (photo.shape[1] / tex.shape[1]) * focal / (W * rng.uniform(0.85, 1.05))
    sheet = Sheet(tex, width, bend_radius=(width * rng.uniform(0.55, 0.9)) if bent else None)
    sway, schedule = _sway(challenge, rng, fps)
    cam = Camera(rng)
    frames = []
    for i, (yaw, pitch, roll) in enumerate(sway):
        pos = np.array([rng.gauss(0, 0.002), rng.gauss(0, 0.002), dist])
        frame = sheet.draw(bg.copy(), _rot(-yaw, -pitch, roll), pos, focal)
        frames.append((round(i / fps, 3), cam.shoot(frame)))
    return frames, schedule


def screen_texture(content: np.ndarray, res=(360, 780), gamma=1.15, white=(0.94, 0.98, 1.06), black=14.0):
    """The phone screen as the camera sees it up close: content letterboxed into the panel, emissive gamma
    and white point, then an RGB-stripe subpixel grid (3 columns per pixel, a dark gap every 4th row)."""
    rw, rh = res
    ch, cw = content.shape[:2]
    s = min(rw / cw, rh / ch)
    panel = np.zeros((rh, rw, 3), np.float32)
    c = cv2.resize(content, (int(cw * s), int(ch * s)), interpolation=cv2.INTER_AREA).astype(np.float32)
    y0, x0 = (rh - c.shape[0]) // 2, (rw - c.shape[1]) // 2
    panel[y0:y0 + c.shape[0], x0:x0 + c.shape[1]] = c
    panel = black + (255 - black) * (panel / 255.0) ** (1 / gamma) * np.array(white, np.float32)
    # Each pixel is three vertical subpixel stripes; the lit one carries the channel, its neighbours leak a
    # little (lens bloom), and the camera's exposure on an emissive panel brings the mean back to ~the content.
    lit = np.clip(panel * 1.6, 0, 255)
    rows = np.repeat(lit, 4, axis=0)
    sub = np.empty((rh * 4, rw * 3, 3), np.float32)
    for k in range(3):
        sub[:, k::3, :] = rows * 0.4
        sub[:, k::3, k] = rows[..., k]
    sub[3::4] *= 0.45
    sub = np.clip(sub, 0, 255).astype(np.uint8)
    return sub


def phone_frames(path, challenge, seed=0, fps=12.0):
    """A live clip of the same person and challenge replayed on a phone held in front of the camera."""
    rng = random.Random(seed)
    W, H = SIZE
    content, schedule = live_frames(path, challenge, seed=seed + 7919, fps=fps, camera=True)
    bg = room(rng)
    focal = 1.15 * W
    panel_w, panel_h = 0.068, 0.068 * 780 / 360
    bez = rng.uniform(0.003, 0.006)
    dist = panel_w * focal / (W * rng.uniform(0.7, 0.9))  # the panel spans 70-90 % of the frame width
    tremor = [(rng.gauss(0, 1.5), rng.gauss(0, 1.5), rng.gauss(0, 1.0))]
    for _ in range(len(content)):
        tremor.append(tuple(0.9 * v + rng.gauss(0, 0.5) for v in tremor[-1]))
    glare_x, glare_a = rng.uniform(-0.6, 0.6), rng.uniform(30, 80)
    body_col = rng.uniform(8, 30)
    cam = Camera(rng)
    frames = []
    for i, (t, img) in enumerate(content):
        yaw, pitch, roll = tremor[i]
        rot = _rot(yaw, pitch, roll)
        pos = np.array([0.0, 0.0, dist])
        tex = screen_texture(img)
        th, tw = tex.shape[:2]
        # A window reflected in the glass: a soft bright band that slides as the phone turns.
        xx = np.linspace(-1, 1, tw, dtype=np.float32)[None, :] + np.linspace(-0.5, 0.5, th, dtype=np.float32)[:, None]
        band = (np.exp(-((xx - glare_x - yaw / 20) / 0.1) ** 2) * glare_a).astype(np.float32)
        tex = np.clip(tex + band[..., None], 0, 255).astype(np.uint8)
        # Render at twice the camera resolution, then integrate (lens + pixel): real aliasing of the grid.
        big = cv2.resize(bg, (2 * W, 2 * H), interpolation=cv2.INTER_LINEAR)
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
        body = _project_quad(corners * [(panel_w / 2 + bez), (panel_h / 2 + 2 * bez)], rot, pos, 2 * focal, (2 * W, 2 * H))
        cv2.fillConvexPoly(big, np.round(body * 16).astype(np.int32), (body_col,) * 3, cv2.LINE_AA, shift=4)
        quad = _project_quad(corners * [panel_w / 2, panel_h / 2], rot, pos, 2 * focal, (2 * W, 2 * H))
        src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
        M = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
        big = cv2.warpPerspective(tex, M, (2 * W, 2 * H), dst=big, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_TRANSPARENT)
        big = cv2.GaussianBlur(big, (0, 0), 0.7)
        frame = cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA)
        frames.append((t, cam.shoot(frame)))
    return frames, schedule


def _project_quad(xy, rot, pos, focal, size):
    W, H = size
    p = np.column_stack([xy, np.zeros(len(xy))]) @ rot.T + pos
    return np.column_stack([focal * p[:, 0] / p[:, 2] + W / 2, focal * p[:, 1] / p[:, 2] + H / 2])


def static_frames(path, challenge, seed=0, fps=12.0, seconds=None):
    rng = random.Random(seed)
    photo = _portrait(str(path), seed % 3)
    _poses, schedule = timeline(challenge, rng, fps)
    n = int((seconds or (schedule[-1][2] + 0.8)) * fps)
    return [(round(i / fps, 3), photo) for i in range(n)], schedule


def make_clip(kind: str, path, challenge, seed=0, fps=12.0) -> Clip:
    challenge = list(challenge)
    fn = {"live": live_frames, "print_sway": print_frames, "print_bent": functools.partial(print_frames, bent=True),
          "screen_replay": phone_frames, "static_video": static_frames}[kind]
    frames, schedule = fn(path, challenge, seed=seed, fps=fps)
    return Clip(kind, Path(path).stem.split("__")[0], challenge, frames, schedule, fps, seed)


# ------------------------------------------------------------------------------------------ encoding


def encode_video(frames, fps: float, fourcc="mp4v", suffix=".mp4", quality=None) -> bytes:
    H, W = frames[0][1].shape[:2]
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        wr = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
        if not wr.isOpened():
            raise RuntimeError(f"OpenCV cannot write {fourcc}")
        if quality is not None:
            wr.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)
        for _t, f in frames:
            wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        wr.release()
        return Path(path).read_bytes()
    finally:
        os.unlink(path)


def encode_jpegs(frames, quality=85) -> list[tuple[float, bytes]]:
    out = []
    for t, f in frames:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append((t, buf.tobytes()))
    return out


def write_fake_camera(photo, challenge, out_path, *, seed: int = 0, fps: float = 15.0, kind: str = "live") -> Path:
    """Write a clip of ``photo``'s person doing ``challenge`` (or an attack ``kind``) for Chromium's fake camera.

    ``.y4m`` (YUV4MPEG2, 4:2:0) or ``.mjpeg`` (concatenated JPEG frames), the two formats
    ``--use-file-for-fake-video-capture`` reads; Chromium loops the file.  Returns the path.
    """
    out = Path(out_path)
    clip = make_clip(kind, photo, challenge, seed=seed, fps=fps)
    if out.suffix == ".y4m":
        H, W = clip.frames[0][1].shape[:2]
        with open(out, "wb") as f:
            f.write(f"YUV4MPEG2 W{W} H{H} F{int(round(fps))}:1 Ip A1:1 C420jpeg\n".encode())
            for _t, rgb in clip.frames:
                yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # planar Y, U, V at 4:2:0
                f.write(b"FRAME\n" + yuv.tobytes())
    elif out.suffix in (".mjpeg", ".mjpg"):
        with open(out, "wb") as f:
            for _t, data in encode_jpegs(clip.frames, quality=90):
                f.write(data)
    else:
        raise ValueError("use a .y4m or .mjpeg file name")
    return out
