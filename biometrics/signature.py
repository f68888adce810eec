"""Handwritten signature photo checks and normalisation.

The guide says 签名时手机需横屏签名: the photo must be landscape.  Ink is found
with Otsu's threshold on an illumination-flattened grey image; the result is a
cropped RGBA PNG (dark ink on a transparent background) for agreements.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from .errors import BadImage
from .imaging import encode_png, load_image

MIN_SIDE = 300  # px, shorter side of the photo
MIN_INK_RATIO = 0.0003  # ink pixels / image pixels
MAX_INK_RATIO = 0.25
MIN_CONTRAST = 40  # grey levels between paper and ink
MIN_STROKES = 2
MIN_EXTENT = 0.12  # ink bounding box width / photo width
OUT_HEIGHT = 240

MESSAGES = {
    "bad_image": "签名照片无法识别，请重新拍摄并上传。",
    "not_landscape": "请将手机横屏后重新拍摄签名照片（签名时手机需横屏）。",
    "too_small": "签名照片分辨率太低，请靠近一些重新拍摄。",
    "blank": "照片中没有检测到签名，请在白纸上用深色笔签名后拍摄。",
    "too_much_ink": "照片中墨迹过多，不像是签名，请在白纸上签名后重新拍摄。",
    "too_few_strokes": "签名笔画过少，请用正楷或常用签名完整签写您的姓名。",
    "signature_too_small": "签名太小，请把签名写大一些并让它占满照片的大部分。",
}


@dataclass
class SignatureResult:
    ok: bool
    problems: list = field(default_factory=list)
    message: str = ""
    png: bytes | None = None
    ink_ratio: float | None = None
    strokes: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("png")
        d["has_png"] = self.png is not None
        return d


def _result(problems, **kw) -> SignatureResult:
    return SignatureResult(ok=not problems, problems=problems,
                           message=MESSAGES[problems[0]] if problems else "签名已通过检查。", **kw)


def check(image: bytes) -> SignatureResult:
    try:
        rgb = load_image(image, max_side=1200)
    except BadImage as e:
        return SignatureResult(ok=False, problems=["bad_image"], message=e.message_zh)
    h, w = rgb.shape[:2]
    problems = []
    if w <= h:
        problems.append("not_landscape")
    if min(h, w) < MIN_SIDE:
        problems.append("too_small")
        return _result(problems)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # Flatten uneven lighting: divide by a large-scale estimate of the paper.
    k = max(15, (min(h, w) // 8) | 1)
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k // 3 | 1, k // 3 | 1)))
    paper = cv2.GaussianBlur(paper, (0, 0), k / 4)
    flat = np.clip(gray / np.maximum(paper, 1) * 235, 0, 255).astype(np.uint8)
    flat = cv2.GaussianBlur(flat, (3, 3), 0)
    t, mask = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink = mask > 0
    ratio = float(ink.mean())
    contrast = float(flat[~ink].mean() - flat[ink].mean()) if ink.any() and (~ink).any() else 0.0
    if ratio < MIN_INK_RATIO or contrast < MIN_CONTRAST:
        problems.append("blank")
        return _result(problems, ink_ratio=round(ratio, 4))
    if ratio > MAX_INK_RATIO:
        problems.append("too_much_ink")
        return _result(problems, ink_ratio=round(ratio, 4))
    # Strokes = connected ink components that are not specks.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(20, int(h * w * 0.00005))
    keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    strokes = len(keep)
    if not keep:
        return _result(problems + ["signature_too_small"], ink_ratio=round(ratio, 4), strokes=0)
    x0 = min(stats[i, cv2.CC_STAT_LEFT] for i in keep)
    y0 = min(stats[i, cv2.CC_STAT_TOP] for i in keep)
    x1 = max(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] for i in keep)
    y1 = max(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT] for i in keep)
    if (x1 - x0) < MIN_EXTENT * w:
        problems.append("signature_too_small")
    elif strokes < MIN_STROKES:
        problems.append("too_few_strokes")
    png = _normalise(flat, labels, keep, (x0, y0, x1, y1), t)
    return _result(problems, png=png if not problems else None, ink_ratio=round(ratio, 4), strokes=strokes)


def _normalise(flat: np.ndarray, labels: np.ndarray, keep: list, box, threshold: float) -> bytes:
    x0, y0, x1, y1 = box
    pad = max(8, int(0.05 * max(x1 - x0, y1 - y0)))
    H, W = flat.shape
    x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(W, x1 + pad), min(H, y1 + pad)
    crop = flat[y0:y1, x0:x1].astype(np.float32)
    keep_mask = np.isin(labels[y0:y1, x0:x1], keep)
    keep_mask = cv2.dilate(keep_mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    # Alpha from darkness: paper (>= ~threshold+margin) transparent, ink opaque, anti-aliased edges.
    paper_level = min(250.0, float(threshold) + 40)
    ink_level = float(np.percentile(crop[keep_mask], 5)) if keep_mask.any() else 0.0
    alpha = np.clip((paper_level - crop) / max(1.0, paper_level - ink_level), 0, 1)
    alpha[~keep_mask] = 0
    scale = OUT_HEIGHT / crop.shape[0]
    if crop.shape[1] * scale > 4 * OUT_HEIGHT * 2:
        scale = 8 * OUT_HEIGHT / crop.shape[1]
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[..., :3] = (20, 20, 30)
    rgba[..., 3] = np.clip(alpha * 255, 0, 255).astype(np.uint8)
    return encode_png(rgba)
