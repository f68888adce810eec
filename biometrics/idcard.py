"""Read a photographed 居民身份证: front (人像面) and back (国徽面).

Pipeline (front): decode → OCR engine finds and reads text lines at any
rotation → the dominant text direction gives the card's rotation (mod 180°),
the position of the ID number line (lowest line of a front) resolves the
remaining 180° → lines are grouped into rows in the card frame and assigned to
fields by their labels (姓名 性别 民族 出生 住址 公民身份号码) and by row order →
validation (GB 11643 checksum with one-character correction, birth date and
gender against the printed fields, region code, the 56 民族 names) → the
portrait is cropped from the region above the number, right of the text.

The name falls back to Tesseract when RapidOCR is unsure about a character
(e.g. a rare name character outside its 6,623-character dictionary).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import idnumber
from .errors import BadImage
from .imaging import load_image, resize_max
from .ocr import TextLine, crop_quad, get_engine

ETHNICITIES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 "
    "柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
).split()

NAME_CHAR_MIN = 0.80  # below this per-character confidence the name gets a Tesseract second opinion
WORK_SIDE = 2000

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

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("ok", "error", "message", "name", "gender", "ethnicity", "birth_date",
                                           "address", "id_number", "confidences", "engine", "number_corrected",
                                           "needs_review")}
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


def _ocr(image: bytes):
    rgb = load_image(image, max_side=WORK_SIDE, fast_resize=True)
    engine = get_engine()
    if engine.name == "tesseract":
        rot = engine.orientation(rgb)
        if rot:
            rgb = np.ascontiguousarray(np.rot90(rgb, -(rot // 90)))
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


def _tesseract_name(item: _L) -> str | None:
    """Tesseract's reading of the name line (label stripped, CJK only), or None."""
    if item.line.crop is None:
        return None
    try:
        tess = get_engine("tesseract")
    except Exception:
        return None
    text, _conf = tess.read_line(item.line.crop)
    cand = "".join(_CJK.findall(_strip_label(text.replace(" ", ""), "姓名")))
    return cand if 1 <= len(cand) <= 6 else None


def _name_gap(line: TextLine) -> bool | None:
    """Did RapidOCR drop a character of the name?  None when spacing is unknown.

    The recogniser reports the CTC column of every character.  Name characters are printed
    at an even pitch (the pitch of the 姓名 label, or of the name itself), so a character the
    recogniser could not read (e.g. outside its dictionary) leaves a hole of about two
    pitches between neighbours, or an empty stretch after the last character.
    """
    text, cols = line.text, line.char_cols
    if not cols or len(cols) != len(text):
        return None
    pos = [(c, x) for c, x in zip(text, cols) if _CJK.match(c)]
    if not pos:
        return None
    labelled = len(pos) >= 2 and pos[0][0] == "姓" and pos[1][0] == "名"
    vals = [x for _, x in pos[2:]] if labelled else [x for _, x in pos]
    diffs = sorted(b - a for a, b in zip(vals, vals[1:]))
    pitch = max(pos[1][1] - pos[0][1] if labelled else 0, diffs[0] if diffs else 0)
    if pitch <= 0 or not vals:
        return None
    if any(b - a > 1.6 * pitch for a, b in zip(vals, vals[1:])):
        return True
    # Margins: the line image has about the same margin before the first character and
    # after the last one; a whole extra pitch at the end is a character that was not read.
    lead, trail = pos[0][1], line.n_cols - vals[-1]
    return bool(line.n_cols) and trail - lead > pitch


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


# --------------------------------------------------------------------------------------- front


def read_front(image: bytes) -> IdCardFront:
    try:
        rgb, engine, lines = _ocr(image)
    except BadImage as e:
        return IdCardFront(False, "bad_image", e.message_zh)
    eng = engine.name
    res = lambda err, **kw: IdCardFront(False, err, MESSAGES[err], engine=eng, **kw)  # noqa: E731
    lines = [ln for ln in lines if ln.text.strip()]
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
    # Prefer a candidate that validates, then the longest line.
    num_items.sort(key=lambda ic: (not idnumber.validate(ic[1]).ok, -len(ic[0].text)))
    num_item, cand = num_items[0]
    # The number is the lowest line of a front: if most text is below it, the card is upside down.
    others = [i for i in items if i is not num_item]
    flip = bool(others) and sum(i.cy > num_item.cy for i in others) > len(others) / 2
    if flip:
        items = _to_frame(lines, angle, True)
        num_item = next(i for i in items if i.line is num_item.line)
    labels_found = sum(lab in alltext for lab in _FRONT_LABELS)
    if labels_found < 2 and not idnumber.validate(cand).ok:
        return res("not_id_card")

    # Number (with one-character correction).
    chk = idnumber.correct_one(cand)
    if not chk.ok and engine.name != "tesseract":
        # Second opinion from Tesseract on the number line crop (digits only).
        try:
            tess = get_engine("tesseract")
            if num_item.line.crop is not None:
                t2, _ = tess.read_line(num_item.line.crop, digits=True)
                c2 = _number_candidate(t2)
                if c2 and idnumber.correct_one(c2).ok:
                    chk = idnumber.correct_one(c2)
        except Exception:
            pass
    if not chk.ok:
        err = {"bad_format": "number_unreadable"}.get(chk.error, chk.error)
        return res(err)
    number = chk.number
    conf = {"id_number": round(num_item.line.score, 3)}

    # Portrait column: text right of ~half the number line is the photo (no text expected there).
    nlen = num_item.x1 - num_item.x0
    photo_x = num_item.x0 + 0.45 * nlen
    above = [i for i in items if i.cy < num_item.y0 and i is not num_item
             and not (i.x0 > photo_x and len(i.text) <= 3 and i.line.score < 0.8)]
    above = [i for i in above if i.x0 < photo_x]
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
    name = None
    review: list[str] = []
    if r_name is not None and rows:
        row = rows[r_name]
        lab = next((i for i in row if _has_label(i.text, "姓名")), None)
        vals = [i for i in row if i is not lab] or ([lab] if lab else [])
        target = vals[0] if vals else None
        if target is not None:
            raw = target.text
            stripped = _strip_label(raw, "姓名")
            label_len = len(raw) - len(stripped)
            name = "".join(_CJK.findall(stripped)) or None
            scores = target.line.char_scores[label_len:] if target.line.char_scores else []
            nconf = float(min(scores)) if scores else target.line.score
            # Second opinion: RapidOCR silently drops or replaces characters outside its
            # dictionary, so short or doubtful names are re-read by Tesseract.  When
            # Tesseract sees more characters (or disagrees on a doubtful one) the name is
            # flagged for review rather than guessed.
            # Only doubtful names pay for a Tesseract run: a low character confidence, a
            # one-character name, or a hole in the character spacing where RapidOCR dropped a
            # character (see _name_gap); without spacing information, any name of <= 2 characters.
            gap = _name_gap(target.line) if engine.name == "rapidocr" else None
            doubtful = nconf < NAME_CHAR_MIN or len(name or "") <= 1 or gap or (gap is None and len(name or "") <= 2)
            if name and engine.name == "rapidocr" and doubtful:
                if gap:
                    review.append("name")
                    nconf = min(nconf, 0.3)
                alt = _tesseract_name(target)
                if alt is not None:
                    eng = "rapidocr+tesseract"
                    if len(alt) > len(name) and _subsequence(name, alt):
                        if "name" not in review:
                            review.append("name")
                        nconf = min(nconf, 0.3)
                    elif nconf < NAME_CHAR_MIN and alt != name and "name" not in review:
                        review.append("name")
            conf["name"] = round(nconf, 3)

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
    if r_birth is not None:
        conf["birth_date"] = round(min(i.line.score for i in rows[r_birth]), 3)

    # Address: rows from 住址 down to the number.
    address = None
    if r_addr is not None:
        parts = []
        for ri in range(r_addr, len(rows)):
            t = row_text(ri)
            if ri == r_addr:
                t = _strip_label(t, "住址")
            parts.append(t)
        address = "".join(parts) or None
        conf["address"] = round(min(i.line.score for ri in range(r_addr, len(rows)) for i in rows[ri]), 3)

    out = IdCardFront(True, None, MESSAGES["ok"], name=name, gender=gender, ethnicity=eth, birth_date=birth,
                      address=address, id_number=number, confidences=conf, engine=eng,
                      number_corrected=chk.corrected, needs_review=review)
    # Consistency with the number.
    nb = idnumber.birth_date(number).isoformat()
    ng = idnumber.gender(number)
    if birth is None:
        out.birth_date, conf["birth_date"] = nb, 0.0
    elif birth != nb:
        out.ok, out.error = False, "birth_date_mismatch"
    if gender is None:
        out.gender, conf["gender"] = ng, 0.0
    elif gender != ng and out.ok:
        out.ok, out.error = False, "gender_mismatch"
    if out.ok and (not name or not address or not eth):
        out.ok, out.error = False, "fields_unreadable"
    if not out.ok:
        out.message = MESSAGES[out.error]
    out.portrait_png = _portrait(rgb, angle, flip, num_item, items)
    return out


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
    eng = engine.name
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
    # Authority: the row just above the validity row, minus its label.
    rows = _rows([i for i in items if i.cy < valid.y0])
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
        out.ok, out.error, out.message = False, "fields_unreadable", MESSAGES["fields_unreadable"]
    return out
