"""Safe image decoding and small pixel utilities shared by the other modules."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps

from .errors import BadImage

# Hard limits.  A phone photo is 2-12 MB and at most ~50 MP.
MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000
DEFAULT_MAX_SIDE = 2000

# Pillow's own guard: it raises DecompressionBombError beyond 2x this value.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "MPO"}

_MESSAGES = {
    "empty": "上传的文件是空的，请重新拍摄并上传照片。",
    "not_image": "上传的文件不是图片，请上传 JPG 或 PNG 格式的照片。",
    "truncated": "图片不完整（可能上传中断），请重新上传。",
    "too_large": "图片文件过大，请上传 20MB 以内的照片。",
    "too_many_pixels": "图片尺寸过大，请直接用手机拍摄后上传。",
    "too_small": "图片太小，看不清内容，请重新拍摄。",
    "unsupported": "不支持该图片格式，请上传 JPG 或 PNG 格式的照片。",
}


def bad(reason: str) -> BadImage:
    err = BadImage("bad_image", _MESSAGES.get(reason, BadImage.message_zh))
    err.reason = reason
    return err


def load_image(
    data: bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = DEFAULT_MAX_SIDE,
    max_bytes: int = MAX_BYTES,
    min_side: int = 32,
    background=(255, 255, 255),
    fast_resize: bool = False,
) -> np.ndarray:
    """Decode ``data`` into an RGB ``uint8`` array (H, W, 3).

    EXIF orientation is applied, transparency is composited on ``background``,
    animated images give their first frame, and the result is downscaled so
    that its longer side is at most ``max_side`` (``fast_resize``: with OpenCV's area
    interpolation, used by the OCR; the face code keeps Pillow's resize, which its
    thresholds were measured with).  Raises :class:`BadImage`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("load_image expects bytes")
    if len(data) == 0:
        raise bad("empty")
    if len(data) > max_bytes:
        raise bad("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(bytes(data)))
            fmt = img.format
            w, h = img.size
    except Image.DecompressionBombError:
        raise bad("too_many_pixels") from None
    except Image.DecompressionBombWarning:
        raise bad("too_many_pixels") from None
    except Exception:
        raise bad("not_image") from None
    if fmt not in ALLOWED_FORMATS:
        raise bad("unsupported")
    if w * h > max_pixels or w > 30000 or h > 30000:
        raise bad("too_many_pixels")
    if min(w, h) < min_side:
        raise bad("too_small")
    # face_recognition sets LOAD_TRUNCATED_IMAGES = True when imported; a truncated
    # upload must be refused, not silently padded with grey.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if fmt in ("JPEG", "MPO") and max_side:
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: far faster for big photos.
                # (Requested size is a lower bound; the exact resize happens below.)
                s = max_side / max(w, h)
                if s < 1:
                    img.draft("RGB", (max(1, int(w * s)), max(1, int(h * s))))
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img, background)
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise bad("too_many_pixels") from None
    except Exception:
        # "image file is truncated", broken data stream, bad EXIF...
        raise bad("truncated") from None
    if max_side and max(img.size) > max_side and not fast_resize:
        scale = max_side / max(img.size)
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
            Image.BILINEAR if scale > 0.5 else Image.BOX,
        )
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise bad("unsupported")
    if max_side and max(arr.shape[:2]) > max_side:
        # OpenCV's area interpolation: ~10x faster than Pillow's antialiased resize on a
        # 3000x2250 photo (which cannot be JPEG-draft-decoded straight to 2000 px).
        import cv2

        h, w = arr.shape[:2]
        scale = max_side / max(h, w)
        arr = cv2.resize(arr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr)


def _to_rgb(img: Image.Image, background) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, tuple(background) + (255,))
        bg.alpha_composite(img)
        return bg.convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        img = Image.fromarray((arr * (255.0 / top)).astype(np.uint8))
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = arr - arr.min()
        top = arr.max() or 1.0
        img = Image.fromarray((arr * (255.0 / top)).astype(np.uint8))
    return img.convert("RGB")


def to_gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def resize_max(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longer side is at most ``max_side``; returns (image, scale)."""
    import cv2

    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb, 1.0
    s = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


def laplacian_variance(gray: np.ndarray) -> float:
    """Focus measure: variance of the Laplacian (low = blurry)."""
    import cv2

    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def encode_png(rgb_or_rgba: np.ndarray, compress_level: int = 6) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb_or_rgba).save(buf, format="PNG", optimize=False, compress_level=compress_level)
    return buf.getvalue()


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


# --------------------------------------------------------------------------- exposure


def gamma_for(mean: float, target: float) -> float:
    """The gamma that moves a grey level ``mean`` to ``target`` (both 0-255): out = 255 (in/255)^gamma."""
    m = min(max(mean, 1.0), 254.0) / 255.0
    return float(np.log(target / 255.0) / np.log(m))


def apply_gamma(rgb: np.ndarray, gamma: float) -> np.ndarray:
    lut = np.clip(np.round(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)
    return lut[rgb]


def clahe(rgb: np.ndarray, clip: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of the lightness (LAB L) only: colours keep
    their hue, noise in flat areas is not blown up as a global equalisation would."""
    import cv2

    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles, tiles)).apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def exposure_stats(gray: np.ndarray) -> dict:
    """Mean, spread (5th-95th percentile) and clipped fractions of a grey image (a face crop)."""
    p5, p95 = np.percentile(gray, (5, 95))
    return {"mean": float(gray.mean()), "spread": float(p95 - p5), "black": float((gray <= 3).mean()),
            "white": float((gray >= 250).mean())}
