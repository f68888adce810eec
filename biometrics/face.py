"""Face verification with dlib: selfie vs. ID portrait / portrait on file.

* Detection: dlib HOG on a copy downscaled to 640 px; upsampling (and a larger
  copy) only when nothing is found.  The CNN detector is far too slow on CPU.
* Quality gates on the detected face: several faces, face too small, blur
  (variance of the Laplacian on a fixed-size face crop), too dark / overexposed
  beyond correction.
* Encoding: dlib's ResNet 128-d descriptor using the 5-point landmark model.
* Decision on the Euclidean distance (min over references) with three bands:
  ``<= accept_max`` accept, ``<= review_max`` review by staff, else reject.
  Defaults were chosen on public photos of real people (docs/biometrics.md) and
  can be overridden with FACE_ACCEPT_MAX / FACE_REVIEW_MAX.
* Exposure: a dark, bright or flat face is corrected (gamma / CLAHE) before it
  is judged, and refused only when it stays unusable.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import BadImage
from . import imaging
from .imaging import encode_png, laplacian_variance, load_image, resize_max

# Chosen on public photos of 17 people taken years apart (bench/face_public.py, docs/biometrics.md): accept
# up to where at most 0.1 % of impostor pairs fall; review up to where at most 1 % do.  On held-out
# identities: TAR 0.95 inside accept, FAR 0.008 (all from one look-alike pair of people).  To be
# re-measured on customers' photos (East-Asian faces overlap more: dlib issue #480).
DEFAULT_ACCEPT_MAX = 0.51
DEFAULT_REVIEW_MAX = 0.65

DETECT_SIDE = 640
WORK_SIDE = 1280
MIN_FACE_PX = 60  # face box width in the working image
MIN_FACE_FRAC_SELFIE = 0.12  # face width / shorter image side, selfies only
SECOND_FACE_AREA = 0.30  # a second face at least this fraction of the main face's area counts
BLUR_MIN = 30.0  # variance of Laplacian on a 128-px-wide grey face crop
DARK_MAX = 50.0  # mean grey level of the face below which its exposure is corrected
BRIGHT_MIN = 215.0  # ... above which
SATURATED_FRAC = 0.35  # face pixels >= 250: more than this is blown out, beyond repair
LOW_SPREAD = 60.0  # 5th-95th percentile grey spread of the face below which contrast is corrected
# (undegraded public photos: 102 and more, 5th percentile 115)
MIN_SPREAD = 8.0  # ... below which too few grey levels are left to correct: refused
CLIPPED_FRAC = 0.5  # face pixels <= 3: more than this is crushed black, beyond repair
TARGET_GREY = 128.0  # face mean after a gamma correction
CLAHE_CLIP = 2.0
FLAT_STD, FLAT_STD_DARK = 8.0, 2.0  # grey std of the whole (320-px) picture below which it is blank

MESSAGES = {
    "no_face": "没有检测到人脸，请正对镜头、露出完整面部后重新拍摄。",
    "multiple_faces": "照片中有多张人脸，请确保画面中只有您本人。",
    "face_too_small": "人脸太小，请把手机拿近一些，让面部占据画面的主要部分。",
    "too_blurry": "照片太模糊，请保持手机稳定、对焦清晰后重新拍摄。",
    "too_dark": "光线太暗，请到光线充足的地方重新拍摄。",
    "overexposed": "照片过亮（曝光过度），请避免强光直射后重新拍摄。",
    "bad_image": "图片无法识别，请重新拍摄并上传清晰的照片。",
    "no_reference": "没有可用于比对的证件照片，请先上传身份证人像面。",
    "accept": "人脸比对通过。",
    "review": "人脸比对结果需要人工复核，工作人员会尽快处理，请耐心等待。",
    "reject": "人脸比对未通过，请确认由本人操作，并在光线充足处正对镜头重新拍摄。",
}
REFERENCE_MESSAGES = {
    "no_face": "证件照片中没有检测到人像，请重新上传清晰的身份证人像面。",
    "multiple_faces": "证件照片中检测到多张人脸，请只拍摄身份证人像面。",
    "face_too_small": "证件照片中的人像太小，请靠近一些重新拍摄身份证。",
    "too_blurry": "证件照片太模糊，请重新拍摄身份证人像面。",
    "too_dark": "证件照片太暗，请在光线充足处重新拍摄。",
    "overexposed": "证件照片反光或过亮，请避开强光重新拍摄。",
    "bad_image": "证件照片无法识别，请重新上传。",
}


class FaceError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass
class FaceResult:
    ok: bool
    decision: str | None = None
    distance: float | None = None
    error: str | None = None
    message: str = ""
    accept_max: float | None = None
    review_max: float | None = None
    # What was done to the pictures, nothing personal: {"corrected": "gamma"|"gamma+clahe"|"clahe"|None (selfie),
    # "reference_corrected": [...] (one per usable reference)}.
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "decision": self.decision,
            "distance": None if self.distance is None else round(float(self.distance), 4),
            "error": self.error,
            "message": self.message,
            "bands": {"accept_max": self.accept_max, "review_max": self.review_max},
            "diagnostics": dict(self.diagnostics),
        }


@dataclass
class FaceInfo:
    encoding: np.ndarray
    box: tuple  # (top, right, bottom, left) in the working image
    image: np.ndarray  # working image (RGB)
    blur: float
    brightness: float  # mean grey of the face before any correction
    corrected: str | None = None  # "gamma" | "gamma+clahe" | "clahe" when the exposure was corrected


def _fr():
    from . import dlibface  # the face_recognition calls, without loading the non-commercial 68-point model

    return dlibface


def warm_up() -> None:
    _fr()


def bands(override=None) -> tuple[float, float]:
    if override:
        a, r = override
    else:
        a = float(os.environ.get("FACE_ACCEPT_MAX", DEFAULT_ACCEPT_MAX))
        r = float(os.environ.get("FACE_REVIEW_MAX", DEFAULT_REVIEW_MAX))
    return a, max(a, r)


def decide(distance: float, band=None) -> str:
    a, r = bands(band)
    if distance <= a:
        return "accept"
    if distance <= r:
        return "review"
    return "reject"


def detect(rgb: np.ndarray, *, thorough: bool = True) -> list[tuple]:
    """Face boxes (top, right, bottom, left) in ``rgb`` coordinates, largest first."""
    fr = _fr()
    small, s = resize_max(rgb, DETECT_SIDE)
    tries = [(small, s, 0), (small, s, 1)]
    if thorough and s < 1.0:
        big, bs = resize_max(rgb, WORK_SIDE)
        tries.append((big, bs, 1))
    elif thorough and max(rgb.shape[:2]) < 400:
        tries.append((small, s, 2))
    for img, sc, up in tries:
        locs = fr.face_locations(img, number_of_times_to_upsample=up, model="hog")
        if locs:
            boxes = [tuple(int(round(v / sc)) for v in L) for L in locs]
            return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[1] - b[3]))
    return []


def _clip_box(box, shape):
    t, r, b, l = box
    h, w = shape[:2]
    return max(0, t), min(w, r), min(h, b), max(0, l)


def _face_grey(rgb: np.ndarray, box) -> np.ndarray:
    t, r, b, l = box
    crop = cv2.cvtColor(rgb[t:b, l:r], cv2.COLOR_RGB2GRAY)
    return cv2.resize(crop, (128, max(1, round(128 * crop.shape[0] / max(1, crop.shape[1])))), interpolation=cv2.INTER_AREA)


def _exposure_problem(st: dict) -> str | None:
    """Which way a face's exposure is off (None: usable as it is)."""
    if st["mean"] < DARK_MAX:
        return "too_dark"
    if st["mean"] > BRIGHT_MIN or st["white"] > SATURATED_FRAC:
        return "overexposed"
    if st["spread"] < LOW_SPREAD:
        return "low_contrast"
    return None


def _unrecoverable(st: dict) -> str | None:
    """A face whose pixels no longer hold it: clipped black/white or hardly any grey levels left."""
    if st["white"] > SATURATED_FRAC:
        return "overexposed"
    if st["black"] > CLIPPED_FRAC or st["spread"] < MIN_SPREAD:
        return "too_dark" if st["mean"] < 128 else "overexposed"
    return None


def correct_exposure(rgb: np.ndarray, st: dict, method: str | None = None) -> tuple[np.ndarray, str]:
    """``rgb`` corrected for the exposure of its face (grey statistics ``st``); returns (image, how).

    Over-exposure: a gamma that brings the face's mean grey to mid-grey (a global curve: keeps the order
    of grey levels, which the descriptor relies on, and costs one table look-up).  Under-exposure: the
    same gamma, then CLAHE on the lightness, which spreads the few grey levels a dark face has left.
    Low contrast with a normal mean: CLAHE alone.  Chosen on the tuning half of the public identities
    (docs/biometrics.md): on badly under-exposed photos gamma+CLAHE gave genuine distances ~0.03 lower
    than gamma alone and CLAHE alone could not find most faces; on over-exposed ones gamma alone was best.
    ``method`` forces one of them (bench).
    """
    problem = _exposure_problem(st)
    how = method or {"too_dark": "gamma+clahe", "low_contrast": "clahe"}.get(problem, "gamma")
    if how == "gamma":
        return imaging.apply_gamma(rgb, imaging.gamma_for(st["mean"], TARGET_GREY)), how
    if how == "clahe":
        return imaging.clahe(rgb, CLAHE_CLIP), how
    if how == "gamma+clahe":
        return imaging.clahe(imaging.apply_gamma(rgb, imaging.gamma_for(st["mean"], TARGET_GREY)), CLAHE_CLIP), how
    raise ValueError(how)


def analyse(rgb: np.ndarray, *, role: str = "selfie", correction: str | None = "auto") -> FaceInfo:
    """Detect, check quality, correct exposure, and encode the one face in ``rgb``.  Raises FaceError.

    A dark, bright or flat photo is corrected (see :func:`correct_exposure`) before anything is refused;
    it is refused only when the face stays unusable.  ``correction=None`` turns correction off (bench).
    """
    method = None if correction == "auto" else correction
    gray_small = cv2.cvtColor(resize_max(rgb, 320)[0], cv2.COLOR_RGB2GRAY)
    whole = imaging.exposure_stats(gray_small)
    dark = whole["mean"] < DARK_MAX * 0.8
    # Blank or uniform: nothing to correct.  (A dark photo's grey levels are squeezed near zero, so
    # only a near-constant one counts as blank.)
    if float(gray_small.std()) < (FLAT_STD_DARK if dark else FLAT_STD):
        raise FaceError("too_dark" if dark else "no_face")
    # A photo this dark hardly ever shows a detectable face: go straight to a corrected copy (corrected
    # from the whole picture's statistics, for detection only; the face decides the final curve below).
    boxes = [] if dark else detect(rgb)
    if not boxes and _exposure_problem(whole) and correction is not None:
        boxes = detect(correct_exposure(rgb, whole, method)[0])
    if not boxes:
        # Explain a failed detection by exposure when the whole picture is too dark / bright.
        if dark:
            raise FaceError("too_dark")
        if whole["mean"] > BRIGHT_MIN or whole["white"] > SATURATED_FRAC:
            raise FaceError("overexposed")
        raise FaceError("no_face")
    main = boxes[0]
    area = (main[2] - main[0]) * (main[1] - main[3])
    if len(boxes) > 1 and (boxes[1][2] - boxes[1][0]) * (boxes[1][1] - boxes[1][3]) >= SECOND_FACE_AREA * area:
        raise FaceError("multiple_faces")
    box = t, r, b, l = _clip_box(main, rgb.shape)
    fw = r - l
    if fw < MIN_FACE_PX or (role == "selfie" and fw < MIN_FACE_FRAC_SELFIE * min(rgb.shape[:2])):
        raise FaceError("face_too_small")
    raw = imaging.exposure_stats(_face_grey(rgb, box))
    problem = _exposure_problem(raw)
    work, corrected = rgb, None
    if problem and correction is None:  # the behaviour before correction existed (bench "before")
        if problem != "low_contrast":
            raise FaceError(problem)
    elif problem:
        lost = _unrecoverable(raw)
        if lost:
            raise FaceError(lost)
        work, corrected = correct_exposure(rgb, raw, method)
    crop = _face_grey(work, box)
    blur = laplacian_variance(crop)
    if blur < BLUR_MIN:
        raise FaceError("too_blurry")
    enc = _fr().face_encodings(work, known_face_locations=[box], num_jitters=1, model="small")
    if not enc:
        raise FaceError("no_face")
    return FaceInfo(np.asarray(enc[0]), box, work, blur, raw["mean"], corrected)


def analyse_bytes(data: bytes, *, role: str = "selfie", try_rotations: bool = False,
                  correction: str | None = "auto") -> FaceInfo:
    try:
        rgb = load_image(data, max_side=WORK_SIDE)
    except BadImage:
        raise FaceError("bad_image") from None
    try:
        return analyse(rgb, role=role, correction=correction)
    except FaceError as e:
        if not (try_rotations and e.code == "no_face"):
            raise
    for k in (2, 1, 3):
        try:
            return analyse(np.ascontiguousarray(np.rot90(rgb, k)), role=role, correction=correction)
        except FaceError as e2:
            if e2.code != "no_face":
                raise
    raise FaceError("no_face")


def compare(selfie: bytes, references: list[bytes], *, bands=None, correction: str | None = "auto") -> FaceResult:
    """Compare a selfie with one or more reference portraits (distance = min over references).

    ``correction``: "auto" (default) corrects dark/bright/flat photos before judging them; None is the
    behaviour before correction existed (kept for the bench's before/after figures)."""
    a, r = globals()["bands"](bands)
    base = dict(accept_max=a, review_max=r)
    try:
        probe = analyse_bytes(selfie, role="selfie", correction=correction)
    except FaceError as e:
        return FaceResult(ok=False, error=e.code, message=MESSAGES.get(e.code, MESSAGES["bad_image"]), **base)
    infos, first_err = [], None
    for ref in references or []:
        try:
            infos.append(analyse_bytes(ref, role="reference", try_rotations=True, correction=correction))
        except FaceError as e:
            first_err = first_err or e.code
    diagnostics = {"corrected": probe.corrected, "reference_corrected": [i.corrected for i in infos]}
    if not infos:
        code = first_err or "no_reference"
        return FaceResult(ok=False, error="reference_" + code if first_err else code,
                          message=REFERENCE_MESSAGES.get(code, MESSAGES["no_reference"]), diagnostics=diagnostics,
                          **base)
    dist = float(min(np.linalg.norm(i.encoding - probe.encoding) for i in infos))
    d = decide(dist, (a, r))
    return FaceResult(ok=True, decision=d, distance=dist, message=MESSAGES[d], diagnostics=diagnostics, **base)


def encode(image: bytes, *, role: str = "selfie") -> np.ndarray:
    """128-d descriptor of the single face in the image (raises FaceError)."""
    return analyse_bytes(image, role=role, try_rotations=role != "selfie").encoding


# --------------------------------------------------------------------------- ID card portrait


def portrait_from_array(rgb: np.ndarray, box=None) -> bytes | None:
    """Crop a passport-style portrait (26:32) around the largest face; PNG bytes or None."""
    if box is None:
        boxes = detect(rgb)
        if not boxes:
            return None
        box = boxes[0]
    t, r, b, l = box
    fw = r - l
    cx, cy = (l + r) / 2, (t + b) / 2
    w = fw * 2.0
    h = w * 32 / 26
    x0, y0 = int(max(0, cx - w / 2)), int(max(0, cy - h * 0.45))
    x1, y1 = int(min(rgb.shape[1], cx + w / 2)), int(min(rgb.shape[0], cy + h * 0.55))
    crop = rgb[y0:y1, x0:x1]
    if crop.size == 0:
        return None
    if crop.shape[0] > 480:
        crop = cv2.resize(crop, (round(crop.shape[1] * 480 / crop.shape[0]), 480), interpolation=cv2.INTER_AREA)
    return encode_png(np.ascontiguousarray(crop), compress_level=1)  # fast; a portrait is small anyway


def portrait_from_idcard(image: bytes) -> bytes | None:
    """The portrait on a photographed ID card front (any quarter-turn), as PNG; None if no face."""
    try:
        rgb = load_image(image, max_side=2000)
    except BadImage:
        return None
    for k in (0, 2, 1, 3):
        img = np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb
        boxes = detect(img)
        if boxes:
            return portrait_from_array(img, boxes[0])
    return None
