"""OCR engines behind one small interface.

``get_engine()`` returns the engine named by ``OCR_ENGINE`` (``rapidocr``,
the default, or ``tesseract``).  Both return :class:`TextLine` objects with a
quadrilateral in the coordinates of the image they were given, the text and a
0..1 confidence, and both can read a single cropped line (``read_line``), which
the ID card parser uses for second opinions.

RapidOCR (PP-OCRv4 ONNX models inside the rapidocr-onnxruntime wheel) detects
text lines at any rotation: each line crop is turned upright (90° for tall
crops, 180° by the direction classifier) before recognition.  Tesseract
(chi_sim, via pytesseract) works on an upright page, so its engine first asks
Tesseract's OSD for the page rotation.
"""
from __future__ import annotations

import abc

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from .imaging import resize_max

DET_SIDE = int(os.environ.get("BIOMETRICS_OCR_DET_SIDE", "640"))
DET_MIN_TEXT_H = float(os.environ.get("BIOMETRICS_OCR_DET_MIN_TEXT_H", "22"))
DET_TEXT_H = float(os.environ.get("BIOMETRICS_OCR_DET_TEXT_H", "28"))
DET_MAX_SIDE = 1280
REC_BATCH = int(os.environ.get("BIOMETRICS_OCR_REC_BATCH", "1"))
REC_MIN_W = int(os.environ.get("BIOMETRICS_OCR_REC_MIN_W", "64"))


@dataclass
class TextLine:
    box: np.ndarray  # 4x2 float32, image coordinates
    text: str
    score: float
    char_scores: list = field(default_factory=list)
    flipped: bool = False  # crop was turned 180° before recognition
    crop: np.ndarray | None = None  # upright line image (RapidOCR only)
    char_cols: list = field(default_factory=list)  # CTC column of each character (RapidOCR only)
    n_cols: float = 0.0  # CTC columns covered by the line image


def _short_side(q: np.ndarray) -> float:
    return float(min(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[0] - q[3])))


class Engine(abc.ABC):
    name = "base"

    @abc.abstractmethod
    def read(self, rgb: np.ndarray) -> list[TextLine]:
        """Every text line of a photo."""

    @abc.abstractmethod
    def read_line(self, crop: np.ndarray, *, digits: bool = False) -> tuple[str, float]:
        """One line of text from a crop, with a confidence."""


def crop_quad(rgb: np.ndarray, quad: np.ndarray, pad: float = 0.0) -> np.ndarray:
    """Perspective-crop a text quad (tl, tr, br, bl) to an axis-aligned image."""
    import cv2

    q = np.asarray(quad, np.float32)
    if pad:
        c = q.mean(0)
        q = c + (q - c) * (1 + pad)
    w = int(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[2] - q[3])))
    h = int(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2])))
    w, h = max(w, 2), max(h, 2)
    M = cv2.getPerspectiveTransform(q, np.float32([[0, 0], [w, 0], [w, h], [0, h]]))
    return cv2.warpPerspective(rgb, M, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)


class RapidOcrEngine(Engine):
    name = "rapidocr"

    def __init__(self):
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        from rapidocr_onnxruntime import RapidOCR

        threads = int(os.environ.get("BIOMETRICS_OCR_THREADS", "-1"))
        # The detector must not upscale: the image it gets is already the size we chose
        # (RapidOCR's default, limit_type "min" 736, blows a 960x720 copy up to 992x736).
        kw = {}
        if threads > 0:
            kw.update(intra_op_num_threads=threads, inter_op_num_threads=1)
        self._ocr = RapidOCR(**kw)
        self._ocr.text_det.limit_type = "max"
        self._ocr.text_det.limit_side_len = DET_SIDE
        self._ocr.text_rec.rec_batch_num = REC_BATCH
        self._ocr.text_rec.rec_image_shape = [3, 48, REC_MIN_W]

    def detect(self, det_img: np.ndarray) -> list[np.ndarray]:
        boxes, _ = self._ocr.text_det(det_img)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, np.float32) for b in self._ocr.sorted_boxes(boxes)]

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float, list, bool]]:
        if not crops:
            return []
        upright = []
        for c in crops:
            if c.shape[0] >= 1.5 * c.shape[1]:
                c = np.rot90(c)
            upright.append(np.ascontiguousarray(c))
        imgs, cls_res, _ = self._ocr.text_cls(upright)
        flipped = [("180" in lab and sc > self._ocr.text_cls.cls_thresh) for lab, sc in cls_res]
        rec, _ = self._ocr.text_rec(imgs, return_word_box=True)
        out = []
        for (text, score, *rest), fl, img in zip(rec, flipped, imgs):
            chars = list(rest[0][4]) if rest and len(rest[0]) > 4 else []
            cols = [c for w in rest[0][2] for c in w] if rest and len(rest[0]) > 4 else []
            ncols = float(rest[0][0]) if rest else 0.0
            out.append((text, float(score), chars, fl, img, cols, ncols))
        return out

    def detect_two_pass(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Text quads in ``rgb`` coordinates.

        Pass 1 runs the detector on a small copy of the whole photo (``DET_SIDE``).  When the
        text it finds is large enough (a card filling most of the photo) those boxes are used.
        Otherwise (a small card far from the camera) pass 2 re-detects on the region around
        the text found, scaled so that a text line is ~``DET_TEXT_H`` px high: far fewer
        pixels than detecting on a big copy of the whole photo.
        """
        import cv2

        det_img, s = resize_max(rgb, DET_SIDE)
        boxes = self.detect(det_img)
        if not boxes:
            return []
        heights = sorted(_short_side(b) for b in boxes)
        med = heights[len(heights) // 2]
        if med >= DET_MIN_TEXT_H or s >= 1.0:
            return [b / s for b in boxes]
        pts = np.concatenate(boxes) / s
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        th = med / s  # text line height in rgb pixels
        mx, my = 0.12 * (x1 - x0) + 2 * th, 0.12 * (y1 - y0) + 2 * th
        H, W = rgb.shape[:2]
        x0, y0 = int(max(0, x0 - mx)), int(max(0, y0 - my))
        x1, y1 = int(min(W, x1 + mx)), int(min(H, y1 + my))
        region = rgb[y0:y1, x0:x1]
        s2 = min(1.0, DET_TEXT_H / th, DET_MAX_SIDE / max(region.shape[:2]))
        if s2 <= s * 1.15:  # no real gain in resolution
            return [b / s for b in boxes]
        det2 = cv2.resize(region, (max(1, round(region.shape[1] * s2)), max(1, round(region.shape[0] * s2))),
                          interpolation=cv2.INTER_AREA)
        boxes2 = self.detect(det2)
        if not boxes2:
            return [b / s for b in boxes]
        off = np.float32([x0, y0])
        return [b / s2 + off for b in boxes2]

    def read(self, rgb: np.ndarray) -> list[TextLine]:
        quads = self.detect_two_pass(rgb)
        crops = [crop_quad(rgb, q) for q in quads]
        res = self.recognise(crops)
        return [TextLine(q, t, sc, ch, fl, im, cols, nc)
                for q, (t, sc, ch, fl, im, cols, nc) in zip(quads, res) if t.strip()]

    def read_line(self, crop: np.ndarray, *, digits: bool = False) -> tuple[str, float]:
        res = self.recognise([crop])
        return (res[0][0], res[0][1]) if res else ("", 0.0)


class TesseractEngine(Engine):
    name = "tesseract"

    def __init__(self):
        import pytesseract

        self._t = pytesseract
        self._t.get_tesseract_version()  # raises if the binary is missing

    def orientation(self, rgb: np.ndarray) -> int:
        """Clockwise rotation (0/90/180/270) Tesseract OSD says the page needs."""
        try:
            small, _ = resize_max(rgb, 1600)
            osd = self._t.image_to_osd(small, config="--psm 0 -c min_characters_to_try=5")
            for line in osd.splitlines():
                if line.startswith("Rotate:"):
                    return int(line.split(":")[1]) % 360
        except Exception:
            pass
        return 0

    def read(self, rgb: np.ndarray) -> list[TextLine]:
        img, s = resize_max(rgb, 2000)
        d = self._t.image_to_data(img, lang="chi_sim", config="--psm 11", output_type=self._t.Output.DICT)
        groups: dict = {}
        for i, word in enumerate(d["text"]):
            if not word.strip():
                continue
            key = (d["block_num"][i], d["par_num"][i], d["line_num"][i])
            groups.setdefault(key, []).append(i)
        lines = []
        for idx in groups.values():
            idx.sort(key=lambda i: d["left"][i])
            x0 = min(d["left"][i] for i in idx)
            y0 = min(d["top"][i] for i in idx)
            x1 = max(d["left"][i] + d["width"][i] for i in idx)
            y1 = max(d["top"][i] + d["height"][i] for i in idx)
            text = "".join(d["text"][i] for i in idx)
            conf = [float(d["conf"][i]) for i in idx if float(d["conf"][i]) >= 0]
            q = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) / s
            lines.append(TextLine(q, text, (sum(conf) / len(conf) / 100.0) if conf else 0.0))
        return lines

    def read_line(self, crop: np.ndarray, *, digits: bool = False) -> tuple[str, float]:
        if digits:
            cfg, lang = "--psm 7 -c tessedit_char_whitelist=0123456789X", "eng"
        else:
            cfg, lang = "--psm 7", "chi_sim"
        d = self._t.image_to_data(crop, lang=lang, config=cfg, output_type=self._t.Output.DICT)
        words = [(w, float(c)) for w, c in zip(d["text"], d["conf"]) if w.strip()]
        if not words:
            return "", 0.0
        return "".join(w for w, _ in words).replace(" ", ""), sum(c for _, c in words) / len(words) / 100.0


ENGINES = {"rapidocr": RapidOcrEngine, "tesseract": TesseractEngine}


@functools.lru_cache(maxsize=4)
def _engine(name: str) -> Engine:
    return ENGINES[name]()


def get_engine(name: str | None = None) -> Engine:
    name = (name or os.environ.get("OCR_ENGINE") or "rapidocr").lower()
    if name not in ENGINES:
        raise ValueError(f"OCR_ENGINE must be one of {sorted(ENGINES)}")
    return _engine(name)


def tesseract_available() -> bool:
    try:
        get_engine("tesseract")
        return True
    except Exception:
        return False
