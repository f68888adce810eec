"""A 3-D head from one photo (tuning set A): the face mesh's depth drives a triangle warp.

MediaPipe's 478 landmarks carry a relative depth per point.  The photo is cut into triangles over those
points (plus a ring for hair/ears that turns with the head and a fixed outer ring and frame border for the
background), the points are rotated in 3-D about a neck axis behind the face and projected with a mild
perspective, and the photo is redrawn triangle by triangle, far to near.  So a turning head shows real
parallax (the nose moves farther than the cheeks and hides part of the far cheek), unlike a shifted photo.
Blinks close the upper lid onto the lower one by moving the lid points (the skin above the eye stretches over
it); an open mouth lowers the lower lip and jaw and paints the mouth cavity and a band of teeth.
What it cannot do: show the far side of the head that the photo never saw (it is stretched), move hair.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import landmarks as L
from . import warp

R_UPPER = (246, 161, 160, 159, 158, 157, 173)
R_LOWER = (7, 163, 144, 145, 153, 154, 155)
L_UPPER = (466, 388, 387, 386, 385, 384, 398)
L_LOWER = (249, 390, 373, 374, 380, 381, 382)
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78)


class MeshHead:
    def __init__(self, rgb: np.ndarray):
        faces = L.detect(rgb)
        if not faces:
            raise ValueError("no face in the source photo")
        f = faces[0]
        self.rgb = rgb
        H, W = rgb.shape[:2]
        pts = f.points[:468].astype(np.float64)  # the iris points would drag the pupil over the closed lid
        oval = pts[list(L.FACE_OVAL)]
        self.center = oval[:, :2].mean(0)
        self.fw = float(np.ptp(oval[:, 0]))
        self.zc = float(np.median(oval[:, 2]) + 0.55 * self.fw)
        n_mesh = len(pts)
        c = self.center
        ring1 = np.column_stack([c + (oval[:, :2] - c) * 1.28, np.full(len(oval), self.zc - 0.15 * self.fw)])
        ring2 = np.column_stack([c + (oval[:, :2] - c) * 2.1, np.full(len(oval), self.zc)])
        bx = np.linspace(0, W - 1, 7)
        by = np.linspace(0, H - 1, 9)
        border = np.array([(x, 0) for x in bx] + [(x, H - 1) for x in bx] + [(0, y) for y in by[1:-1]]
                          + [(W - 1, y) for y in by[1:-1]], np.float64)
        border = np.column_stack([border, np.full(len(border), self.zc)])
        self.src = np.vstack([pts, ring1, ring2, border])
        self.head = np.zeros(len(self.src), np.float64)  # 1 = moves with the head
        self.head[: n_mesh + len(oval)] = 1.0
        self.n_mesh = n_mesh
        self.tris = warp.triangulate(self.src[:, :2])
        self.iod = f.iod
        # Jaw weights: points below the mouth line move down with the jaw, fading sideways.
        mouth_y = (pts[13, 1] + pts[14, 1]) / 2
        mcx = (pts[61, 0] + pts[291, 0]) / 2
        below = self.src[:, 1] > mouth_y + 0.5
        wx = np.exp(-((self.src[:, 0] - mcx) / (0.42 * self.fw)) ** 2)
        chin_y = pts[152, 1]
        wy = np.clip((self.src[:, 1] - mouth_y) / max(1.0, 0.25 * (chin_y - mouth_y)), 0, 1)
        self.jaw = np.where(below, wx * wy, 0.0) * (self.head > 0)
        self.jaw[list(INNER_UPPER)] = 0.0
        for i in INNER_LOWER[1:-1]:
            self.jaw[i] = 1.0
        self.jaw[list(INNER_UPPER)[1:-1]] = 0.0

    def points(self, yaw=0.0, pitch=0.0, roll=0.0, blink=0.0, mouth=0.0, shift=(0.0, 0.0), scale=1.0):
        p = self.src.copy()
        # Blink: upper lid onto the lower lid; the iris goes under the lid.
        if blink > 0:
            for up, lo in ((R_UPPER, R_LOWER), (L_UPPER, L_LOWER)):
                up, lo = list(up), list(lo)
                p[up, :2] += blink * 0.92 * (p[lo, :2] - p[up, :2])
        if mouth > 0:
            p[:, 1] += mouth * 0.42 * self.iod * self.jaw
        # Rigid head rotation about the neck axis, only for head points.
        c = np.array([self.center[0], self.center[1], self.zc])
        q = p - c
        a, b, r = math.radians(yaw), math.radians(pitch), math.radians(roll)
        ry = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
        rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
        rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
        rot = q @ (rz @ rx @ ry).T
        h = self.head[:, None]
        q = rot * h + q * (1 - h)
        focal = 7.0 * self.fw
        persp = focal / (focal + q[:, 2] - (self.zc - c[2]))
        persp = persp * self.head + (1 - self.head)
        out = np.empty_like(p)
        out[:, 0] = c[0] + q[:, 0] * persp * scale + shift[0] * self.head
        out[:, 1] = c[1] + q[:, 1] * persp * scale + shift[1] * self.head
        out[:, 2] = q[:, 2] + c[2]
        return out

    def frame(self, yaw=0.0, pitch=0.0, roll=0.0, blink=0.0, mouth=0.0, shift=(0.0, 0.0), scale=1.0,
              background: np.ndarray | None = None) -> np.ndarray:
        dst = self.points(yaw, pitch, roll, blink, mouth, shift, scale)
        bg = self.rgb if background is None else background
        out = warp.render(self.rgb, self.src, dst, self.tris, dst[:, 2], bg.copy())
        if mouth > 0.08:
            out = _paint_mouth(out, dst, mouth)
        if blink > 0.5:
            out = _paint_lids(out, dst, blink)
        return out


def _paint_mouth(img: np.ndarray, p: np.ndarray, amount: float) -> np.ndarray:
    poly = np.vstack([p[list(INNER_UPPER), :2], p[list(INNER_LOWER)[1:-1], :2]])
    H, W = img.shape[:2]
    mask = np.zeros((H, W), np.float32)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.2)[..., None]
    top = p[list(INNER_UPPER), 1].max()
    bottom = p[list(INNER_LOWER), 1].max()
    yy = np.arange(H, dtype=np.float32)[:, None, None]
    teeth = ((yy > top - 1) & (yy < top + 0.28 * (bottom - top))).astype(np.float32)
    cavity = np.array([45, 18, 20], np.float32) * (1 - teeth) + np.array([215, 205, 190], np.float32) * teeth
    return (img.astype(np.float32) * (1 - mask) + cavity * mask).clip(0, 255).astype(np.uint8)


def _paint_lids(img: np.ndarray, p: np.ndarray, amount: float) -> np.ndarray:
    """What is left of the eye between the lowered lid and the lower lid becomes lid skin with a lash line."""
    out = img.astype(np.float32)
    for up, lo in ((R_UPPER, R_LOWER), (L_UPPER, L_LOWER)):
        poly = np.vstack([p[list(up), :2], p[list(lo)[::-1], :2]])
        w = float(np.ptp(poly[:, 0])) or 1.0
        H, W = img.shape[:2]
        mask = np.zeros((H, W), np.float32)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, w / 14))[..., None] * min(1.0, (amount - 0.5) * 2.5)
        c = p[list(up), :2].mean(0)
        y0 = int(np.clip(c[1] - 0.45 * w, 0, H - 1))
        skin = np.median(img[max(0, y0 - 2):y0 + 3, int(c[0] - w / 4):int(c[0] + w / 4)].reshape(-1, 3), 0)
        out = out * (1 - mask) + skin.astype(np.float32) * mask
        lash = np.round(p[list(lo), :2]).astype(np.int32)
        cv2.polylines(out, [lash], False, tuple(float(v) * 0.35 for v in skin), max(1, int(w / 18)), cv2.LINE_AA)
    return out.clip(0, 255).astype(np.uint8)
