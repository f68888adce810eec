"""Face verification with dlib: selfie vs. ID portrait / portrait on file.

* Detection: dlib HOG on a copy downscaled to 640 px; upsampling (and a larger
  copy) only when nothing is found.  The CNN detector is far too slow on CPU.
* Quality gates on the detected face: several faces, face too small, blur
  (variance of the Laplacian on a fixed-size face crop), too dark, overexposed.
* Encoding: dlib's ResNet 128-d descriptor using the 5-point landmark model.
* Decision on the Euclidean distance (min over references) with three bands:
  ``<= accept_max`` accept, ``<= review_max`` review by staff, else reject.
  Defaults were measured on the synthetic set (docs/biometrics.md) and can be
  overridden with FACE_ACCEPT_MAX / FACE_REVIEW_MAX.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import BadImage
from .imaging import encode_png, laplacian_variance, load_image, resize_max

DEFAULT_ACCEPT_MAX = 0.45
DEFAULT_REVIEW_MAX = 0.58

DETECT_SIDE = 640
WORK_SIDE = 1280
MIN_FACE_PX = 60  # face box width in the working image
MIN_FACE_FRAC_SELFIE = 0.12  # face width / shorter image side, selfies only
SECOND_FACE_AREA = 0.30  # a second face at least this fraction of the main face's area counts
BLUR_MIN = 30.0  # variance of Laplacian on a 128-px-wide grey face crop
DARK_MAX = 50.0  # mean grey level of the face
BRIGHT_MIN = 215.0
SATURATED_FRAC = 0.35

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

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "decision": self.decision,
            "distance": None if self.distance is None else round(float(self.distance), 4),
            "error": self.error,
            "message": self.message,
            "bands": {"accept_max": self.accept_max, "review_max": self.review_max},
        }


@dataclass
class FaceInfo:
    encoding: np.ndarray
    box: tuple  # (top, right, bottom, left) in the working image
    image: np.ndarray  # working image (RGB)
    blur: float
    brightness: float


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


def analyse(rgb: np.ndarray, *, role: str = "selfie") -> FaceInfo:
    """Detect, check quality, and encode the one face in ``rgb``.  Raises FaceError."""
    gray_small = cv2.cvtColor(resize_max(rgb, 320)[0], cv2.COLOR_RGB2GRAY)
    if float(gray_small.mean()) < DARK_MAX * 0.8:
        raise FaceError("too_dark")
    flat = float(gray_small.std()) < 8.0
    boxes = [] if flat else detect(rgb)
    if not boxes and flat:
        raise FaceError("no_face")
    if not boxes:
        # Explain a failed detection by exposure when the whole picture is too dark / bright.
        if float(gray_small.mean()) < DARK_MAX * 0.8:
            raise FaceError("too_dark")
        if float(gray_small.mean()) > BRIGHT_MIN or float((gray_small >= 250).mean()) > SATURATED_FRAC:
            raise FaceError("overexposed")
        raise FaceError("no_face")
    main = boxes[0]
    area = (main[2] - main[0]) * (main[1] - main[3])
    if len(boxes) > 1 and (boxes[1][2] - boxes[1][0]) * (boxes[1][1] - boxes[1][3]) >= SECOND_FACE_AREA * area:
        raise FaceError("multiple_faces")
    t, r, b, l = _clip_box(main, rgb.shape)
    fw = r - l
    if fw < MIN_FACE_PX or (role == "selfie" and fw < MIN_FACE_FRAC_SELFIE * min(rgb.shape[:2])):
        raise FaceError("face_too_small")
    crop = cv2.cvtColor(rgb[t:b, l:r], cv2.COLOR_RGB2GRAY)
    crop = cv2.resize(crop, (128, max(1, round(128 * crop.shape[0] / max(1, crop.shape[1])))), interpolation=cv2.INTER_AREA)
    brightness = float(crop.mean())
    if brightness < DARK_MAX:
        raise FaceError("too_dark")
    if brightness > BRIGHT_MIN or float((crop >= 250).mean()) > SATURATED_FRAC:
        raise FaceError("overexposed")
    blur = laplacian_variance(crop)
    if blur < BLUR_MIN:
        raise FaceError("too_blurry")
    enc = _fr().face_encodings(rgb, known_face_locations=[(t, r, b, l)], num_jitters=1, model="small")
    if not enc:
        raise FaceError("no_face")
    return FaceInfo(np.asarray(enc[0]), (t, r, b, l), rgb, blur, brightness)


def analyse_bytes(data: bytes, *, role: str = "selfie", try_rotations: bool = False) -> FaceInfo:
    try:
        rgb = load_image(data, max_side=WORK_SIDE)
    except BadImage:
        raise FaceError("bad_image") from None
    try:
        return analyse(rgb, role=role)
    except FaceError as e:
        if not (try_rotations and e.code == "no_face"):
            raise
    for k in (2, 1, 3):
        try:
            return analyse(np.ascontiguousarray(np.rot90(rgb, k)), role=role)
        except FaceError as e2:
            if e2.code != "no_face":
                raise
    raise FaceError("no_face")


def compare(selfie: bytes, references: list[bytes], *, bands=None) -> FaceResult:
    """Compare a selfie with one or more reference portraits (distance = min over references)."""
    a, r = globals()["bands"](bands)
    base = dict(accept_max=a, review_max=r)
    try:
        probe = analyse_bytes(selfie, role="selfie")
    except FaceError as e:
        return FaceResult(ok=False, error=e.code, message=MESSAGES.get(e.code, MESSAGES["bad_image"]), **base)
    encs, first_err = [], None
    for ref in references or []:
        try:
            encs.append(analyse_bytes(ref, role="reference", try_rotations=True).encoding)
        except FaceError as e:
            first_err = first_err or e.code
    if not encs:
        code = first_err or "no_reference"
        return FaceResult(ok=False, error="reference_" + code if first_err else code,
                          message=REFERENCE_MESSAGES.get(code, MESSAGES["no_reference"]), **base)
    dist = float(min(np.linalg.norm(e - probe.encoding) for e in encs))
    d = decide(dist, (a, r))
    return FaceResult(ok=True, decision=d, distance=dist, message=MESSAGES[d], **base)


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
