"""Read a photographed 居民身份证: front (人像面) and back (国徽面).

Pipeline (front): decode → the detector finds text lines anywhere in the photo → the long
thin lines are read first and the one whose digits pass GB 11643 is the ID number → the
number line gives the card's direction, scale and place (:mod:`biometrics.cardframe`), the
card's left and top edges are looked for near where the layout puts them → only the lines
on the card (left of the portrait, above the number) are read, cut at the card's edges, so
an application form or a desk under the card is ignored → lines are grouped into rows and
assigned to fields by their labels (姓名 性别 民族 出生 住址) and by row order → validation
(GB 11643 checksum with one-character correction, birth date and gender against the
printed fields, region code, the 56 民族 names) → the portrait is cut from the card frame.

Names are read character by character by PP-OCRv5 (its dictionary covers the rare name
characters) with PP-OCRv4 as a second opinion; a character neither reads with confidence is
kept and marked (``name_uncertain``, ``name_marked``), never dropped.  A card whose number is
valid but some field is unreadable is ``ok`` with ``missing_fields`` and a targeted request.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import cardframe, idnumber
from .errors import BadImage
from .imaging import load_image, resize_max
from .ocr import TextLine, crop_quad, get_engine, model_file

ETHNICITIES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 "
    "柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
).split()

NAME_PITCH_COLS = 4.5  # CTC columns between name characters: text ~65 % of a 48-px line, 8 px a column
NAME_CHAR_MIN = 0.80  # confidence a name character needs (with a second reading agreeing) to be sure
NAME_SURE = 0.98  # a line reading this sure of a name character is taken without reading it again
NAME_WINDOWS = (0.5, 0.6, 0.75)  # half-widths, in character pitches, of the windows a character is re-read in
BIRTH_MISMATCH_CONF = 0.90  # a printed birth date read at least this sure that disagrees with the number is refused
GLARE_MIN = 0.08  # share of saturated pixels in a field's area that makes its problem "glare"
WORK_SIDE = 2000
NUMBER_CANDIDATES = 16  # long boxes read at most while looking for the number line

FIELD_NAMES_ZH = {"name": "姓名", "gender": "性别", "ethnicity": "民族", "birth_date": "出生日期", "address": "住址",
                  "id_number": "公民身份号码", "authority": "签发机关", "validity": "有效期限"}

MESSAGES = {
    "ok": "身份证识别成功，请核对识别结果。",
    "bad_image": "图片无法识别，请重新拍摄并上传清晰的身份证照片。",
    "no_text": "照片中没有识别到文字，请将身份证人像面放在光线充足处拍摄。",
    "not_id_card": "这张照片不像是居民身份证人像面，请拍摄身份证有照片的一面。",
    "back_side": "您上传的是身份证国徽面，请上传有照片的人像面。",
    "front_side": "您上传的是身份证人像面，请上传印有签发机关和有效期限的国徽面。",
    "number_unreadable": "身份证号码看不清，请避免反光、对准焦距后重新拍摄。",
    "bad_checksum": "身份证号码校验未通过，请确认证件真实有效并重新拍摄清晰照片。",
    "bad_birth_date": "身份证号码中的出生日期无效，请确认证件真实有效。",
    "bad_region": "身份证号码中的地区代码无效，请确认证件真实有效。",
    "fields_unreadable": "身份证部分信息看不清，请将证件平放、避免反光后重新拍摄。",
    "name_uncertain": "请核对您的姓名：{name}。方括号或□处的字没能看清，请确认或告诉我们正确的字，工作人员会再核对。",
    "birth_date_mismatch": "身份证上的出生日期与号码不一致，请确认证件真实有效。",
    "gender_mismatch": "身份证上的性别与号码不一致，请确认证件真实有效。",
    "validity_unreadable": "有效期限看不清，请重新拍摄身份证国徽面。",
    "expired": "您的身份证已过有效期，请使用有效期内的身份证办理。",
}

_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")
_FRONT_LABELS = ("姓名", "性别", "民族", "出生", "住址", "公民身份号码")
_BACK_MARKERS = ("签发机关", "有效期限", "居民身份证", "中华人民共和国")


@dataclass
class IdCardFront:
    ok: bool
    error: str | None = None
    message: str = ""
    name: str | None = None
    gender: str | None = None
    ethnicity: str | None = None
    birth_date: str | None = None
    address: str | None = None
    id_number: str | None = None
    confidences: dict = field(default_factory=dict)
    portrait_png: bytes | None = None
    engine: str = ""
    number_corrected: bool = False
    needs_review: list = field(default_factory=list)  # fields a human should confirm (e.g. a rare name character)
    name_uncertain: list = field(default_factory=list)  # indexes into name of characters not read with confidence
    name_marked: str | None = None  # name for the customer to confirm: 陈[甦]雨 (doubtful), 陈□雨 (unread)
    missing_fields: list = field(default_factory=list)  # fields that could not be read (ok stays true)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("ok", "error", "message", "name", "gender", "ethnicity", "birth_date",
                                           "address", "id_number", "confidences", "engine", "number_corrected",
                                           "needs_review", "name_uncertain", "name_marked", "missing_fields")}
        d["has_portrait"] = self.portrait_png is not None
        return d


@dataclass
class IdCardBack:
    ok: bool
    error: str | None = None
    message: str = ""
    authority: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    expired: bool = False
    confidences: dict = field(default_factory=dict)
    engine: str = ""
    missing_fields: list = field(default_factory=list)  # e.g. ["authority"]; the message asks for it

    def to_dict(self) -> dict:
        return dict(self.__dict__)


# ------------------------------------------------------------------------------------ geometry


@dataclass
class _L:
    line: TextLine
    text: str  # spaces removed
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def cx(self):
        return (self.x0 + self.x1) / 2

    @property
    def cy(self):
        return (self.y0 + self.y1) / 2

    @property
    def h(self):
        return self.y1 - self.y0


def _angle(lines: list[TextLine]) -> float:
    """Dominant text direction in degrees (mod 180), by a length-weighted doubled-angle mean."""
    cs = sn = 0.0
    for ln in lines:
        q = ln.box
        e1, e2 = q[1] - q[0], q[3] - q[0]
        v = e1 if np.linalg.norm(e1) >= np.linalg.norm(e2) else e2
        L = float(np.linalg.norm(v))
        short = float(min(np.linalg.norm(e1), np.linalg.norm(e2))) or 1.0
        if L / short < 2.0:
            continue
        a = math.atan2(v[1], v[0])
        cs += L * math.cos(2 * a)
        sn += L * math.sin(2 * a)
    if cs == 0 and sn == 0:
        return 0.0
    return math.degrees(math.atan2(sn, cs) / 2)


def _to_frame(lines: list[TextLine], angle: float, flip: bool) -> list[_L]:
    a = math.radians(-angle)
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    out = []
    for ln in lines:
        p = ln.box @ R.T
        if flip:
            p = -p
        out.append(_L(ln, re.sub(r"\s+", "", ln.text), float(p[:, 0].min()), float(p[:, 0].max()),
                      float(p[:, 1].min()), float(p[:, 1].max())))
    return out


def _rows(items: list[_L]) -> list[list[_L]]:
    if not items:
        return []
    hs = sorted(i.h for i in items)
    tol = 0.55 * hs[len(hs) // 2]
    rows: list[list[_L]] = []
    for it in sorted(items, key=lambda i: i.cy):
        if rows and abs(np.mean([r.cy for r in rows[-1]]) - it.cy) <= tol:
            rows[-1].append(it)
        else:
            rows.append([it])
    return [sorted(r, key=lambda i: i.x0) for r in rows]


def _number_candidate(text: str) -> str | None:
    t = idnumber.normalize(text)
    t = re.sub(r"[^0-9X]", "", t)
    if len(t) < 17:
        return None
    if len(t) == 18:
        return t
    for i in range(len(t) - 17):
        if idnumber.validate(t[i:i + 18]).ok:
            return t[i:i + 18]
    return t[-18:] if len(t) > 18 else t


def _upright(rgb: np.ndarray, engine) -> np.ndarray:
    """The photo turned upright for the Tesseract engine (its OSD); other engines read any rotation."""
    if engine.name == "tesseract":
        rot = engine.orientation(rgb)
        if rot:
            rgb = np.ascontiguousarray(np.rot90(rgb, -(rot // 90)))
    return rgb


def _ocr(image: bytes):
    rgb = load_image(image, max_side=WORK_SIDE, fast_resize=True)
    engine = get_engine()
    rgb = _upright(rgb, engine)
    return rgb, engine, engine.read(rgb)


def _strip_label(text: str, label: str) -> str:
    if text.startswith(label):
        return text[len(label):]
    # Tolerate one misread label character.
    if len(text) > len(label) and sum(a == b for a, b in zip(text, label)) >= len(label) - 1:
        return text[len(label):]
    return text


def _has_label(text: str, label: str) -> bool:
    return text.startswith(label) or (len(label) == 2 and len(text) >= 2 and text[:2] != label
                                       and (text[0] == label[0] and text[1] in "名别族生址"))


def _ethnicity(text: str) -> str | None:
    t = "".join(_CJK.findall(text)).rstrip("族")
    if t in ETHNICITIES:
        return t
    # Longest ethnicity name contained in the text, else one edit away.
    inside = [e for e in ETHNICITIES if e in t]
    if inside:
        return max(inside, key=len)
    close = [e for e in ETHNICITIES if len(e) == len(t) and sum(a != b for a, b in zip(e, t)) == 1]
    return close[0] if len(close) == 1 else None


def _birth(text: str) -> str | None:
    m = re.search(r"(\d{4})\D{0,2}?(\d{1,2})\D{1,2}?(\d{1,2})", idnumber.normalize(text).replace("X", ""))
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None


# --------------------------------------------------------------------------------------- names

# Variant forms that the 通用规范汉字表 keeps as standard characters in personal names although
# OpenCC lists them as traditional forms (甦 is not 苏 in a name).
_NAME_VARIANTS_KEPT = set("甦昇陞甯")


@functools.lru_cache(maxsize=1)
def _traditional_to_simplified() -> dict:
    """Traditional -> simplified characters (OpenCC's table, from opencc-python-reimplemented).

    Names and addresses on a 居民身份证 are printed in standard simplified characters; the
    PP-OCRv5 dictionary also holds traditional forms and now and then reads 杰 as 傑.  Only
    unambiguous mappings are used (乾 -> 干/乾, 於 -> 于/於 are left alone).
    """
    try:
        path = model_file("opencc", "dictionary/TSCharacters.txt")
    except RuntimeError:
        return {}
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        src, _, dst = line.partition("\t")
        opts = dst.split()
        if len(src) == 1 and opts and src not in opts and src not in _NAME_VARIANTS_KEPT:
            table[src] = opts[0]
    return table


def _simplified(text: str | None) -> str | None:
    if not text:
        return text
    t2s = _traditional_to_simplified()
    return "".join(t2s.get(c, c) for c in text)


@dataclass
class _Name:
    text: str | None
    uncertain: list
    marked: str | None
    conf: float


def _window_read(line: TextLine, rec, c0: float, c1: float) -> list[tuple[str, float]]:
    """The CJK characters the recogniser reads in columns c0..c1 of a line, read on their own."""
    img = line.crop
    h, w = img.shape[:2]
    px = w / line.n_cols
    a, b = int(max(0.0, c0 * px)), int(min(w, c1 * px))
    if b - a < 3:
        return []
    pad = int(0.4 * h)
    bg = [int(v) for v in np.median(img.reshape(-1, img.shape[2]), 0)]
    sub = cv2.copyMakeBorder(np.ascontiguousarray(img[:, a:b]), 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=bg)
    r = rec(sub)
    t2s = _traditional_to_simplified()
    return [(t2s.get(c, c), sc) for c, sc in zip(r.text, r.char_scores) if _CJK.match(c)]


def _vote(readings: list[tuple[str, float]]) -> tuple[str | None, float, bool]:
    """(best character, its best confidence, sure) from several readings of one character.

    Sure: read at least twice, once with confidence ≥ NAME_CHAR_MIN, and no other character
    read with that confidence.
    """
    votes: dict = {}
    for c, sc in readings:
        votes.setdefault(c, []).append(sc)
    if not votes:
        return None, 0.0, False
    best = max(votes, key=lambda c: (len(votes[c]), max(votes[c])))
    conf = max(votes[best])
    rivals = any(max(v) >= NAME_CHAR_MIN for c, v in votes.items() if c != best)
    return best, conf, len(votes[best]) >= 2 and conf >= NAME_CHAR_MIN and not rivals


def _read_name(item: "_L", engine) -> _Name:
    """The name from its line, character by character.

    Every character the line reading is not fully sure of is read again on its own, in
    windows of a few widths around it (PP-OCRv5 reads a rare character alone better than
    within the line), and the readings vote (:func:`_vote`).  A character the line reading
    skipped leaves a hole in the CTC columns (name characters are printed at an even pitch);
    the hole is read the same way.  A character without a sure vote is kept - the best
    reading, or □ when nothing was read - and listed in ``uncertain``; none is dropped.
    """
    line = item.line
    raw = line.text.replace(" ", "")
    stripped = _strip_label(raw, "姓名")
    first = len(raw) - len(stripped)
    idx = [i for i in range(first, len(line.text)) if _CJK.match(line.text[i])]
    if not idx:
        return _Name(None, [], None, 0.0)
    t2s = _traditional_to_simplified()
    chars = [t2s.get(line.text[i], line.text[i]) for i in idx]
    scores = [line.char_scores[i] if i < len(line.char_scores) else line.score for i in idx]
    cols = line.char_cols if len(line.char_cols) == len(line.text) else []
    rec = getattr(engine, "rec", None)
    can_reread = rec is not None and line.crop is not None and bool(line.n_cols)

    def reread(x: float) -> list:
        reads = []
        for hw in NAME_WINDOWS if can_reread else ():
            got = _window_read(line, rec, x - hw * pitch, x + hw * pitch)
            if len(got) == 1:
                reads.append(got[0])
        return reads

    if not cols:
        return _name_result(chars, scores, [k for k, sc in enumerate(scores) if sc < NAME_CHAR_MIN])
    xs = [cols[i] + 0.5 for i in idx]
    pitch = _name_pitch(cols, idx, first)
    # Characters the line reading was not sure of.
    uncertain = []
    for k, (x, sc) in enumerate(zip(xs, scores)):
        if sc >= NAME_SURE:
            continue
        best, conf, sure = _vote([(chars[k], sc)] + reread(x))
        chars[k], scores[k] = best, conf
        if not sure:
            uncertain.append(k)
    # Holes: characters the line reading skipped.
    for k in range(len(xs) - 2, -1, -1):
        gap = xs[k + 1] - xs[k]
        if gap <= 1.6 * pitch:
            continue
        missing = max(1, int(round(gap / pitch)) - 1)
        found = [_vote(reread(xs[k] + gap * (j + 1) / (missing + 1))) for j in range(missing)]
        for j, (best, conf, sure) in enumerate(found):
            pos = k + 1 + j
            chars.insert(pos, best or "□")
            scores.insert(pos, conf)
            uncertain = [u + 1 if u >= pos else u for u in uncertain]
            if not sure:
                uncertain.append(pos)
    return _name_result(chars, scores, sorted(uncertain))


def _value_column(rows: list, r_addr: int | None) -> float | None:
    """Where the values start (frame x): the continuation lines of the address, which carry no label."""
    if r_addr is None:
        return None
    starts = [rows[ri][0].x0 for ri in range(r_addr + 1, len(rows)) if rows[ri]]
    return float(np.median(starts)) if starts else None


def _leading_gap(name: _Name, item: "_L", value_x: float | None) -> _Name:
    """A name line starting a character or more right of the value column lost its first
    character(s) (glare, a thumb): they are put in as □, marked, never dropped."""
    n = len(name.text)
    if value_x is None or n == 0:
        return name
    pitch = (item.x1 - item.x0) / n
    missing = int(round((item.x0 - value_x) / pitch)) if item.x0 - value_x > 0.6 * pitch else 0
    if missing <= 0:
        return name
    chars = ["□"] * missing + list(name.text)
    uncertain = list(range(missing)) + [k + missing for k in name.uncertain]
    return _name_result(chars, [0.0] * missing + [name.conf] * n, uncertain)


def _name_pitch(cols: list, idx: list, first: int) -> float:
    """CTC columns between name characters: the median step, the smaller of two steps (a hole
    is in at most one); for two characters their step unless it is a hole, then the 姓名
    label's pitch or the nominal one."""
    diffs = sorted(cols[b] - cols[a] for a, b in zip(idx, idx[1:]))
    if len(diffs) >= 3:
        return float(diffs[len(diffs) // 2])
    if len(diffs) == 2:
        return float(diffs[0])
    ref = float(max(1, cols[first - 1] - cols[first - 2])) if first >= 2 else NAME_PITCH_COLS
    return float(diffs[0]) if diffs and diffs[0] <= 1.6 * ref else ref


def _name_result(chars: list, scores: list, uncertain: list) -> _Name:
    marked = "".join(f"[{c}]" if k in uncertain and c != "□" else c for k, c in enumerate(chars))
    conf = min(scores) if scores else 0.0
    if uncertain:
        conf = min(conf, 0.3)
    return _Name("".join(chars), uncertain, marked, round(float(conf), 3))


# --------------------------------------------------------------------------------------- front


def _field_request(fields: list[str], causes: dict) -> str:
    """The targeted Chinese request for a retake when only some fields could not be read."""
    names = "、".join(FIELD_NAMES_ZH[f] for f in fields)
    cause = {causes[f] for f in fields}
    if cause == {"glare"}:
        return f"身份证{names}一栏反光，请避开灯光重拍人像面。"
    if "cut" in cause:
        return f"身份证{names}一栏没有拍全，请把整张证件放进取景框后重拍人像面。"
    return f"身份证{names}一栏看不清，请对准焦距、让证件铺满取景框后重拍人像面。"


def read_front(image: bytes) -> IdCardFront:
    try:
        rgb = load_image(image, max_side=WORK_SIDE, fast_resize=True)
    except BadImage as e:
        return IdCardFront(False, "bad_image", e.message_zh)
    engine = get_engine()
    if engine.name == "tesseract":
        rgb = _upright(rgb, engine)
        return _front_from_lines(rgb, engine, [ln for ln in engine.read(rgb) if ln.text.strip()])
    quads = engine.detect_two_pass(rgb) or engine.detect_fine(rgb)  # finer: a small card far away
    if not quads:
        return IdCardFront(False, "no_text", MESSAGES["no_text"], engine=engine.label)
    found = _find_number(rgb, engine, quads)
    # Fallbacks, cheapest first.  A card turned 90° among horizontal text (a form): the detector
    # splits the vertical number line into pieces - detect on the photo turned a quarter.  Small
    # card text beside large text: detect finer (1280 px), upright and turned.
    for detect in (lambda: _quarter_turn_quads(engine, rgb, engine.detect_two_pass),
                   lambda: engine.detect_fine(rgb),
                   lambda: _quarter_turn_quads(engine, rgb, engine.detect_fine)):
        if found is not None:
            break
        found = _find_number(rgb, engine, detect())
    if found is None:
        # No valid number line: read everything to tell the customer what the picture is.
        return _front_from_lines(rgb, engine, engine.lines(rgb, quads))
    num_line, chk, frame = found
    items, num_item = _card_lines(rgb, engine, num_line, frame)
    return _parse_front(rgb, engine, items, num_item, chk, frame)


def _quarter_turn_quads(engine, rgb, detect) -> list[np.ndarray]:
    """Text quads ``detect`` finds on the photo turned 90° counter-clockwise, in the photo's coordinates."""
    W = rgb.shape[1]
    turned = np.ascontiguousarray(np.rot90(rgb))
    out = []
    for q in detect(turned):
        out.append(np.stack([W - 1 - q[:, 1], q[:, 0]], 1).astype(np.float32))
    return out


def _digit_span(line: TextLine) -> tuple[float, float]:
    """Start and end of the 18 digits along the line, as fractions of its length.

    The recogniser's CTC columns say roughly where the digits are (and where a 公民身份号码
    label the detector joined to them ends); the ink of the upright line image right of that
    point gives the exact extent.
    """
    text, cols, n = line.text, line.char_cols, line.n_cols
    pos = [i for i, c in enumerate(text) if idnumber.normalize(c) in tuple("0123456789X")]
    if not cols or len(cols) != len(text) or not n or len(pos) < 17:
        return 0.0, 1.0
    pos = pos[-18:]
    pitch = (cols[pos[-1]] - cols[pos[0]]) / max(1, len(pos) - 1)
    a, b = max(0.0, (cols[pos[0]] - 0.5 * pitch) / n), min(1.0, (cols[pos[-1]] + 0.5 * pitch) / n)
    img = line.crop
    if img is None or not img.size:
        return a, b
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    h, w = grey.shape
    # Split point: halfway between the last label character and the first digit.
    split = 0
    if pos[0] > 0:
        split = int(w * (cols[pos[0] - 1] + cols[pos[0]]) / 2 / n)
    band = grey[int(0.2 * h):int(0.8 * h) + 1, split:]
    _t, ink = cv2.threshold(band, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    inked = np.flatnonzero(ink.sum(0) >= 2)
    if inked.size < 2:
        return a, b
    a2, b2 = (split + inked[0]) / w, (split + inked[-1] + 1) / w
    # Trust the ink only where it agrees with the columns (glare or moiré make stray "ink").
    if abs(a2 - a) < 1.5 * pitch / n and abs(b2 - b) < 1.5 * pitch / n:
        return a2, b2
    return a, b


def _find_number(rgb, engine, quads):
    """The ID number line among the long text lines: (line, check, card frame) or None.

    Only long, thin boxes are read here (the number is the longest line of a front); the card
    is found from the one whose digits pass GB 11643.
    """
    def aspect(q):
        e1, e2 = np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[3] - q[0])
        return max(e1, e2) / max(1.0, min(e1, e2)), max(e1, e2)

    # The 18 digits make a box about 13 times as long as high (more with the label joined):
    # boxes are tried in order of closeness to that, so a form full of long lines costs little.
    cands = sorted((q for q in quads if aspect(q)[0] >= 6.0), key=lambda q: abs(math.log(aspect(q)[0] / 13.0)))
    read = []
    for q in cands[:NUMBER_CANDIDATES]:
        crop = crop_quad(rgb, q)
        tall = crop.shape[0] >= 1.5 * crop.shape[1]
        (rd, fl, img), = engine.recognise([crop])
        cand = _number_candidate(rd.text)
        if not cand and rd.score < 0.8:
            # Perhaps turned the wrong way by the direction classifier: read it the other way up.
            img = np.ascontiguousarray(img[::-1, ::-1])
            rd, fl = engine.rec(img), not fl
            cand = _number_candidate(rd.text)
        chk = idnumber.correct_one(cand) if cand else None
        read.append((q, tall, rd, fl, img, chk))
        if chk is not None and chk.ok:
            break
    else:
        # No line passed: second opinions on the lines that look like an 18-digit number.
        for i, (q, tall, rd, fl, img, chk) in enumerate(read):
            if chk is not None and len(chk.number) == 18:
                chk2 = _number_second_opinions(engine, img, chk)
                if chk2.ok:
                    read[i] = (q, tall, rd, fl, img, chk2)
                    break
    for q, tall, rd, fl, img, chk in read:
        if chk is None or not chk.ok:
            continue
        line = TextLine.from_reading(q, rd, fl, img)
        u, v = cardframe.reading_axes(q, tall, fl)
        fq = np.stack([q @ u, q @ v], 1)
        x0, x1 = float(fq[:, 0].min()), float(fq[:, 0].max())
        a, b = _digit_span(line)
        frame = cardframe.predict(u, v, x0 + a * (x1 - x0), x0 + b * (x1 - x0), float(fq[:, 1].mean()))
        return line, chk, cardframe.refine(rgb, frame)
    return None


def _ordered(quad_f: np.ndarray) -> np.ndarray:
    """Indexes of a quad's corners as tl, tr, br, bl in frame coordinates."""
    s, d = quad_f.sum(1), quad_f[:, 0] - quad_f[:, 1]
    return np.array([s.argmin(), d.argmax(), s.argmax(), d.argmin()])


CARD_DET_PX_MM = 10.0  # resolution of the card copy the lines are detected on (text ~34 px high)
CARD_MARGIN_MM = 8.0  # the copy reaches this far beyond the predicted left/top edges (perspective)
LABEL_LEFT_MM = 2.5  # text further left than this from the label column is not on the card


def _card_lines(rgb, engine, num_line: TextLine, frame: cardframe.CardFrame):
    """Detect and read the text lines of the card only: left of the portrait, above the number.

    The card area is resampled upright at a fixed scale and the detector runs on that copy, so
    every line is upright (no direction classifier) and as high as the detector likes.  The
    copy reaches a little beyond the predicted edges (perspective makes the prediction from
    the number line inexact far from it); lines left of the card's label column (姓名 性别
    出生 住址, printed one under the other) or above the name row are not on the card - a form
    under it - and are dropped, or cut where they run into the card.  Each line is cut from
    the full-resolution photo for recognition.
    """
    nf = frame.to_frame(num_line.box)
    num_top_mm = frame.to_mm(0.0, float(nf[:, 1].min()))[1]
    m = CARD_MARGIN_MM
    x0, y0 = -m if "left" not in frame.edges_found else 1.0, -m if "top" not in frame.edges_found else 1.0
    x1, y1 = cardframe.TEXT_RIGHT_MM + 6.0, max(10.0, num_top_mm - 0.3)
    px = CARD_DET_PX_MM
    card = frame.warp_mm(rgb, x0, y0, x1, y1, px)
    quads_mm = []
    for b in engine.detect(card):
        q = b / px + np.float32([x0, y0])
        if q[:, 0].mean() < cardframe.TEXT_RIGHT_MM:
            quads_mm.append(q[_ordered(q)])
    items = _read_mm_quads(rgb, engine, frame, quads_mm)
    # The label column and the name row bound the card's text on the left and at the top.
    labelled = [(i, lab) for i in items for lab in ("姓名", "性别", "出生", "住址") if _has_label(i.text, lab)]
    if labelled:
        left = float(np.median([frame.to_mm(i.x0, 0)[0] for i, _ in labelled])) - LABEL_LEFT_MM
        names = [i for i, lab in labelled if lab == "姓名"]
        top = frame.to_mm(0, min(i.y0 for i in names))[1] - LABEL_LEFT_MM if names else -1e9
        keep, cut = [], []
        for q, it in zip(quads_mm, items):
            if q[:, 0].max() <= left or q[:, 1].max() <= top:
                continue
            if q[:, 0].min() < left - 0.5:
                q = q.copy()
                q[[0, 3], 0] = left
                cut.append(q)
            else:
                keep.append(it)
        items = keep + _read_mm_quads(rgb, engine, frame, cut)
    num_item = _L(num_line, re.sub(r"\s+", "", num_line.text), float(nf[:, 0].min()), float(nf[:, 0].max()),
                  float(nf[:, 1].min()), float(nf[:, 1].max()))
    return items, num_item


def _read_mm_quads(rgb, engine, frame: cardframe.CardFrame, quads_mm: list) -> list[_L]:
    """Recognise card-millimetre quads (cut from the photo); items in frame coordinates, in order."""
    photo_quads = [frame.to_photo(np.float32([frame.mm(x, y) for x, y in q])) for q in quads_mm]
    items = []
    for pq, (rd, _fl, img) in zip(photo_quads, engine.recognise([crop_quad(rgb, q) for q in photo_quads],
                                                                classify=False)):
        ln = TextLine.from_reading(pq, rd, False, img)
        fr = frame.to_frame(pq)
        items.append(_L(ln, re.sub(r"\s+", "", rd.text), float(fr[:, 0].min()), float(fr[:, 0].max()),
                        float(fr[:, 1].min()), float(fr[:, 1].max())))
    return items


def _front_from_lines(rgb, engine, lines: list[TextLine]) -> IdCardFront:
    """Whole-photo path: the Tesseract engine, or a photo where no valid number line was found."""
    eng = engine.label
    res = lambda err: IdCardFront(False, err, MESSAGES[err], engine=eng)  # noqa: E731
    if not lines:
        return res("no_text")
    angle = _angle(lines)
    items = _to_frame(lines, angle, False)
    num_items = [(i, _number_candidate(i.text)) for i in items]
    num_items = [(i, c) for i, c in num_items if c]
    alltext = "".join(i.text for i in items)
    if not num_items:
        if sum(m in alltext for m in _BACK_MARKERS) >= 2 or "签发机关" in alltext or "有效期限" in alltext:
            return res("back_side")
        if sum(lab in alltext for lab in _FRONT_LABELS) >= 3:
            return res("number_unreadable")
        return res("not_id_card")
    num_items.sort(key=lambda ic: (not idnumber.validate(ic[1]).ok, -len(ic[0].text)))
    num_item, cand = num_items[0]
    others = [i for i in items if i is not num_item]
    flip = bool(others) and sum(i.cy > num_item.cy for i in others) > len(others) / 2
    if flip:
        items = _to_frame(lines, angle, True)
        num_item = next(i for i in items if i.line is num_item.line)
    labels_found = sum(lab in alltext for lab in _FRONT_LABELS)
    if labels_found < 2 and not idnumber.validate(cand).ok:
        return res("not_id_card")
    chk = idnumber.correct_one(cand)
    if not chk.ok and num_item.line.crop is not None:
        chk = _number_second_opinions(engine, num_item.line.crop, chk)
    if not chk.ok:
        return res({"bad_format": "number_unreadable"}.get(chk.error, chk.error))
    return _parse_front(rgb, engine, [i for i in items if i is not num_item], num_item, chk, None, angle, flip)


def _number_second_opinions(engine, crop, chk):
    """Re-read a number line that failed its checksum: PP-OCRv4, then Tesseract (digits only)."""
    readers = []
    if engine.second_opinion() is not None:
        readers.append(lambda c: engine.second_opinion()(c).text)
    if engine.name != "tesseract":
        def tess(c):
            return get_engine("tesseract").read_line(c, digits=True)[0]
        readers.append(tess)
    for read in readers:
        try:
            c2 = _number_candidate(read(crop))
        except Exception:  # Tesseract missing: the other opinions stand
            continue
        if c2 and idnumber.correct_one(c2).ok:
            return idnumber.correct_one(c2)
    return chk


def _parse_front(rgb, engine, items: list[_L], num_item: _L, chk, frame, angle=None, flip=False) -> IdCardFront:
    eng = engine.label
    number = chk.number
    conf = {"id_number": round(num_item.line.score, 3)}

    if frame is None:
        # Portrait column: text right of ~half the number line is the photo (no text expected there).
        nlen = num_item.x1 - num_item.x0
        photo_x = num_item.x0 + 0.45 * nlen
        above = [i for i in items if i.cy < num_item.y0
                 and not (i.x0 > photo_x and len(i.text) <= 3 and i.line.score < 0.8)]
        above = [i for i in above if i.x0 < photo_x]
    else:
        above = [i for i in items if i.text]
    rows = _rows(above)

    def find(label):
        for ri, row in enumerate(rows):
            for it in row:
                if _has_label(it.text, label):
                    return ri
        return None

    r_name, r_gender, r_birth, r_addr = find("姓名"), find("性别"), find("出生"), find("住址")
    # Fall back on row order (name, gender/ethnicity, birth, address...).
    if r_name is None:
        anchor = next(((r, k) for r, k in ((r_gender, 1), (r_birth, 2), (r_addr, 3)) if r is not None), None)
        r_name = (anchor[0] - anchor[1] if anchor[0] - anchor[1] >= 0 else None) if anchor else (0 if rows else None)
        if r_name is not None and any(_has_label(i.text, lab) for i in rows[r_name] for lab in _FRONT_LABELS[1:]):
            r_name = None
    if r_gender is None and r_name is not None and r_name + 1 < len(rows):
        r_gender = r_name + 1
    if r_birth is None and r_gender is not None and r_gender + 1 < len(rows):
        r_birth = r_gender + 1
    if r_addr is None and r_birth is not None and r_birth + 1 < len(rows):
        r_addr = r_birth + 1

    def row_text(ri):
        return "".join(i.text for i in rows[ri]) if ri is not None and ri < len(rows) else ""

    # Name.
    name = _Name(None, [], None, 0.0)
    review: list[str] = []
    if r_name is not None and rows:
        row = rows[r_name]
        lab = next((i for i in row if _has_label(i.text, "姓名")), None)
        vals = [i for i in row if i is not lab] or ([lab] if lab else [])
        if vals:
            name = _read_name(vals[0], engine)
            if name.text and vals[0] is not lab:
                name = _leading_gap(name, vals[0], _value_column(rows, r_addr))
            if name.text:
                conf["name"] = name.conf
                if name.uncertain:
                    review.append("name")

    # Gender and ethnicity.
    gt = row_text(r_gender)
    gender = None
    m = re.search(r"性别?([男女])", gt) or re.search(r"([男女])", _strip_label(gt, "性别"))
    if m:
        gender = m.group(1)
    eth = None
    if "民族" in gt:
        eth = _ethnicity(gt.split("民族", 1)[1])
    elif gt:
        tail = re.sub(r"^.*?[男女]", "", gt)
        eth = _ethnicity(tail.replace("民族", "").replace("民", "", 1) if tail.startswith("民") else tail)
    if r_gender is not None:
        conf["gender"] = conf["ethnicity"] = round(min(i.line.score for i in rows[r_gender]), 3)

    # Birth date.
    birth = _birth(_strip_label(row_text(r_birth), "出生"))
    birth_conf = round(min(i.line.score for i in rows[r_birth]), 3) if r_birth is not None else 0.0
    if r_birth is not None:
        conf["birth_date"] = birth_conf

    # Address: rows from 住址 down to the number.
    address = None
    if r_addr is not None:
        parts = []
        for ri in range(r_addr, len(rows)):
            t = row_text(ri)
            if ri == r_addr:
                t = _strip_label(t, "住址")
            parts.append(t)
        # A separator after the 住址 label (：、) is not part of the address.
        address = _simplified(re.sub(r"^\W+|\W+$", "", "".join(parts))) or None
        conf["address"] = round(min(i.line.score for ri in range(r_addr, len(rows)) for i in rows[ri]), 3)

    out = IdCardFront(True, None, MESSAGES["ok"], name=name.text, gender=gender, ethnicity=eth, birth_date=birth,
                      address=address, id_number=number, confidences=conf, engine=eng,
                      number_corrected=chk.corrected, needs_review=review, name_uncertain=name.uncertain,
                      name_marked=name.marked)
    # Consistency with the number.  A printed date read with confidence that disagrees with the
    # number is refused (a forged or altered card); a doubtful reading gives way to the number.
    nb = idnumber.birth_date(number).isoformat()
    ng = idnumber.gender(number)
    if birth is None:
        out.birth_date, conf["birth_date"] = nb, 0.0
    elif birth != nb:
        if birth_conf >= BIRTH_MISMATCH_CONF:
            out.ok, out.error = False, "birth_date_mismatch"
        else:
            out.birth_date = nb
            review.append("birth_date")
    if gender is None:
        out.gender, conf["gender"] = ng, 0.0
    elif gender != ng and out.ok:
        out.ok, out.error = False, "gender_mismatch"
    if not out.ok:
        out.message = MESSAGES[out.error]
    else:
        missing = [f for f, v in (("name", name.text), ("ethnicity", eth), ("address", address)) if not v]
        if missing:
            # The number (valid checksum) is the identity: the result stands, the missing fields
            # go to staff review and the customer gets a targeted request for a retake.
            causes = {f: _missing_cause(rgb, frame, f) for f in missing}
            out.missing_fields = missing
            out.needs_review += [f for f in missing if f not in out.needs_review]
            out.message = _field_request(missing, causes)
        elif out.name_uncertain:
            out.message = MESSAGES["name_uncertain"].format(name=out.name_marked)
    if frame is not None:
        out.portrait_png = _portrait_from_frame(rgb, frame)
    else:
        out.portrait_png = _portrait(rgb, angle, flip, num_item, items)
    return out


def _missing_cause(rgb, frame, field_name: str) -> str:
    if frame is None:
        return "unclear"
    if not cardframe.field_in_photo(rgb, frame, field_name):
        return "cut"
    if cardframe.glare(rgb, frame, field_name) >= GLARE_MIN:
        return "glare"
    return "unclear"


def _portrait_from_frame(rgb: np.ndarray, frame: cardframe.CardFrame) -> bytes | None:
    """The portrait area of the card (51-85 mm across, 2-42 mm down), with the face found in it."""
    from . import face

    crop = frame.warp_mm(rgb, 51.0, 2.0, 85.0, 44.0, min(12.0, max(4.0, frame.scale)))
    if crop.size == 0 or min(crop.shape[:2]) < 40:
        return None
    crop, _ = resize_max(crop, 640)
    boxes = face.detect(crop)
    if not boxes:
        return None
    return face.portrait_from_array(crop, boxes[0])


def _portrait(rgb: np.ndarray, angle: float, flip: bool, num: _L, items: list[_L]) -> bytes | None:
    """Crop the photo region (card frame: right of the text, above the number) and find the face in it."""
    from . import face

    nlen = num.x1 - num.x0
    h = num.h
    x0, x1 = num.x0 + 0.40 * nlen, num.x1 + 0.08 * nlen
    y1 = num.y0 - 0.3 * h
    y0 = y1 - 1.05 * nlen
    corners = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if flip:
        corners = -corners  # back from the flipped frame
    a = math.radians(angle)
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    # Corners listed tl, tr, br, bl in the card frame map to image points in that order,
    # so the perspective crop comes out upright whatever the card's rotation.
    quad = corners @ R.T
    crop = crop_quad(rgb, quad)
    if crop.size == 0 or min(crop.shape[:2]) < 40:
        return None
    crop, _ = resize_max(crop, 640)
    boxes = face.detect(crop)
    if not boxes:
        return None
    return face.portrait_from_array(crop, boxes[0])


# ---------------------------------------------------------------------------------------- back

_DATE = r"(\d{4})\D?(\d{2})\D?(\d{2})"


def read_back(image: bytes, today: dt.date | None = None) -> IdCardBack:
    try:
        rgb, engine, lines = _ocr(image)
    except BadImage as e:
        return IdCardBack(False, "bad_image", e.message_zh)
    eng = engine.label
    lines = [ln for ln in lines if ln.text.strip()]
    if not lines:
        return IdCardBack(False, "no_text", MESSAGES["no_text"], engine=eng)
    angle = _angle(lines)
    items = _to_frame(lines, angle, False)
    alltext = "".join(i.text for i in items)
    valid = None
    for i in items:
        t = idnumber.normalize(i.text)
        if re.search(_DATE + r"\D{0,3}(?:" + _DATE + "|长期)", t):
            valid = i
            break
    if valid is None:
        if any(_number_candidate(i.text) and idnumber.validate(_number_candidate(i.text)).ok for i in items) \
                or sum(lab in alltext for lab in _FRONT_LABELS) >= 2:
            return IdCardBack(False, "front_side", MESSAGES["front_side"], engine=eng)
        if "有效期限" in alltext or "签发机关" in alltext:
            return IdCardBack(False, "validity_unreadable", MESSAGES["validity_unreadable"], engine=eng)
        return IdCardBack(False, "not_id_card", MESSAGES["not_id_card"], engine=eng)
    others = [i for i in items if i is not valid]
    flip = bool(others) and sum(i.cy > valid.cy for i in others) > len(others) / 2
    if flip:
        items = _to_frame(lines, angle, True)
        valid = next(i for i in items if i.line is valid.line)
    t = idnumber.normalize(valid.text)
    m = re.search(_DATE + r"\D{0,3}(?:" + _DATE + "|(长期))", t)
    try:
        vf = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        vu = "长期" if m.group(7) else dt.date(int(m.group(4)), int(m.group(5)), int(m.group(6)))
    except (ValueError, TypeError):
        return IdCardBack(False, "validity_unreadable", MESSAGES["validity_unreadable"], engine=eng)
    # Authority: the row just above the validity row, minus its label.  Only text of the card
    # counts: within a few line heights above the validity row and starting in its column (a
    # form or a note under the card is ignored).
    h, vlen = valid.h, valid.x1 - valid.x0
    near = [i for i in items if valid.y0 - 3.5 * h < i.cy < valid.y0
            and valid.x0 - 0.6 * vlen - 1.5 * h <= i.x0 <= valid.x0 + 0.6 * vlen]
    rows = _rows(near)
    authority = None
    for row in reversed(rows):
        txt = "".join(i.text for i in row)
        if "签发机关" in txt or (rows and row is rows[-1]):
            authority = _strip_label(txt.split("签发机关", 1)[-1], "签发机关") or None
            break
    conf = {"validity": round(valid.line.score, 3)}
    if authority:
        authority = "".join(ch for ch in authority if _CJK.match(ch) or ch.isalnum())
        conf["authority"] = round(min(i.line.score for i in rows[-1]), 3) if rows else 0.0
    today = today or dt.date.today()
    expired = vu != "长期" and vu < today
    out = IdCardBack(True, None, "身份证国徽面识别成功。", authority=authority, valid_from=vf.isoformat(),
                     valid_until=vu if vu == "长期" else vu.isoformat(), expired=expired, confidences=conf,
                     engine=eng)
    if expired:
        out.ok, out.error = False, "expired"
        out.message = f"您的身份证已于{vu.year}年{vu.month}月{vu.day}日过期，请使用有效期内的身份证办理。"
    elif not authority:
        # Validity read, authority not: a targeted request (glare over the authority line, or not clear).
        area = np.float32([[valid.x0, valid.y0 - 2.2 * h], [valid.x1, valid.y0 - 2.2 * h], [valid.x1, valid.y0],
                           [valid.x0, valid.y0]])
        glare = cardframe.saturated_share(crop_quad(rgb, _from_frame(area, angle, flip)))
        cause = "glare" if glare >= GLARE_MIN else "unclear"
        out.ok, out.error, out.missing_fields = False, "fields_unreadable", ["authority"]
        out.message = _field_request(["authority"], {"authority": cause}).replace("人像面", "国徽面")
    return out


def _from_frame(pts: np.ndarray, angle: float, flip: bool) -> np.ndarray:
    """Photo coordinates of points given in the frame of :func:`_to_frame`."""
    a = math.radians(-angle)
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    p = -pts if flip else pts
    return (p @ R).astype(np.float32)
