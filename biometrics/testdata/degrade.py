"""Degraded copies of a real photo, for the exposure correction and the face bands.

Each kind imitates one way a customer's phone photo goes wrong; ``black`` and ``blown_out`` are beyond
repair on purpose (what must still be refused).  Deterministic for a given seed.
"""
from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from ..imaging import load_image

# kind -> what it does (doc and bench table)
DEGRADATIONS = {
    "dark": "underexposed: light x0.25, sensor noise, JPEG q85",
    "very_dark": "badly underexposed: light x0.10, sensor noise, JPEG q85",
    "bright": "overexposed, washed out: tone curve x^0.3 + 12 (the brightest highlights clip), JPEG q85",
    "low_contrast": "haze / backlight: contrast x0.35 around mid-grey, JPEG q85",
    "phone": "cheap phone: blur 1 px, noise sigma 7, JPEG q40",
    "small": "face far from the camera: photo shrunk to 1/3",
}
UNUSABLE = {
    "black": "light x0.015: almost nothing left",
    "blown_out": "x4 + 150: the face is clipped white",
}


def _jpeg(arr: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def degrade_array(rgb: np.ndarray, kind: str, *, seed: int = 0) -> bytes:
    """JPEG bytes of ``rgb`` degraded by ``kind`` (a key of DEGRADATIONS or UNUSABLE)."""
    rng = np.random.default_rng(seed)
    a = rgb.astype(np.float32)
    noise = lambda s: rng.normal(0, s, a.shape).astype(np.float32)  # noqa: E731
    if kind == "dark":
        return _jpeg(a * 0.25 + noise(1.5), 85)
    if kind == "very_dark":
        return _jpeg(a * 0.10 + noise(1.0), 85)
    if kind == "black":
        return _jpeg(a * 0.015, 85)
    if kind == "bright":
        return _jpeg(255.0 * (a / 255.0) ** 0.3 + 12 + noise(1.5), 85)
    if kind == "blown_out":
        return _jpeg(a * 4.0 + 150, 85)
    if kind == "low_contrast":
        return _jpeg(128 + (a - 128) * 0.35 + noise(1.5), 85)
    if kind == "phone":
        return _jpeg(cv2.GaussianBlur(a, (0, 0), 1.0) + noise(7.0), 40)
    if kind == "small":
        h, w = rgb.shape[:2]
        return _jpeg(cv2.resize(rgb, (max(1, w // 3), max(1, h // 3)), interpolation=cv2.INTER_AREA), 90)
    raise ValueError(kind)


def degrade(image: bytes, kind: str, *, seed: int = 0, max_side: int = 1280) -> bytes:
    return degrade_array(load_image(image, max_side=max_side), kind, seed=seed)
