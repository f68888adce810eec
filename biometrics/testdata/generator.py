"""Synthetic test data: ID card fronts/backs photographed by a phone, signatures, selfies, videos.

Everything is rendered locally with Pillow/OpenCV from installed fonts and the
real face photos of :mod:`biometrics.testdata.faces`.  The cards are *not*
replicas of the real security design; they follow the field layout of the
second-generation 居民身份证 closely enough to exercise field parsing.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import math
import os
import random

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .. import idnumber

FONT_DIRS = ["/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype", "/usr/share/fonts"]

# (file, ttc index) for CJK value text.  Index 2 of the Noto CJK collections is SC.
_CJK_FONTS = {
    "sans": ("NotoSansCJK-Regular.ttc", 2),
    "serif": ("NotoSerifCJK-Regular.ttc", 2),
    "sans-bold": ("NotoSansCJK-Bold.ttc", 2),
    "serif-bold": ("NotoSerifCJK-Bold.ttc", 2),
    "mono": ("NotoSansCJK-Regular.ttc", 7),  # Noto Sans Mono CJK SC
}
_NUMBER_FONTS = ["DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "DejaVuSans.ttf"]

ETHNICITIES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 "
    "柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
).split()

# Name characters in the 通用规范汉字表 that RapidOCR's 6,623-character dictionary lacks.
RARE_NAME_CHARS = "燊旻翀赟琇镕霂瑀淏甦"

TIERS = ("clean", "medium", "hard")

MM = 20  # render scale: pixels per millimetre (card is 85.6 x 54 mm)
CARD_W, CARD_H = int(85.6 * MM), int(54 * MM)


def _find_font(name: str) -> str | None:
    for d in FONT_DIRS:
        for root, _dirs, files in os.walk(d):
            if name in files:
                return os.path.join(root, name)
    return None


@functools.lru_cache(maxsize=64)
def _font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    if kind == "number":
        for n in _NUMBER_FONTS:
            p = _find_font(n)
            if p:
                return ImageFont.truetype(p, size)
        kind = "mono"
    fname, idx = _CJK_FONTS.get(kind, _CJK_FONTS["sans"])
    p = _find_font(fname)
    if not p:
        raise RuntimeError("fonts-noto-cjk is required for the test-data generator")
    return ImageFont.truetype(p, size, index=idx)


def available_fonts() -> list[str]:
    return [k for k, (f, _i) in _CJK_FONTS.items() if _find_font(f)]


# ----------------------------------------------------------------------------------------- fields


def _faker(seed: int):
    from faker import Faker

    f = Faker("zh_CN")
    f.seed_instance(seed)
    return f


def random_front_fields(seed: int = 0, *, rare_name: bool | None = None) -> dict:
    """Realistic, self-consistent front fields (valid GB 11643 number)."""
    rng = random.Random(seed)
    fake = _faker(seed)
    while True:
        number = fake.ssn(min_age=18, max_age=85)
        if idnumber.validate(number).ok:
            break
    gender = idnumber.gender(number)
    name = fake.name_male() if gender == "男" else fake.name_female()
    if rare_name is None:
        rare_name = rng.random() < 0.1
    if rare_name:
        i = rng.randrange(1, len(name))
        name = name[:i] + rng.choice(RARE_NAME_CHARS) + name[i + 1:]
    ethnicity = "汉" if rng.random() < 0.75 else rng.choice(ETHNICITIES[1:])
    birth = idnumber.birth_date(number)
    province = idnumber.PROVINCES[number[:2]]
    if number[:2] in ("11", "12", "31", "50"):
        city = ""
    else:
        city = fake.city_name() + "市"
    address = f"{province}{city}{fake.district()}区{fake.street_name()}{rng.randint(1, 999)}号"
    r = rng.random()
    if r < 0.4:
        address += f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 28)}{rng.randint(1, 4):02d}室"
    elif r < 0.6:
        address += f"{rng.randint(1, 12)}组"
    address = address[:33]
    return {
        "name": name,
        "gender": gender,
        "ethnicity": ethnicity,
        "birth_date": birth.isoformat(),
        "address": address,
        "id_number": number,
    }


def random_back_fields(seed: int = 0, *, expired: bool = False, long_term: bool = False) -> dict:
    rng = random.Random(seed)
    fake = _faker(seed + 7919)
    prov = rng.choice([p for k, p in idnumber.PROVINCES.items() if k not in ("71", "81", "82", "83")])
    if prov.endswith("市"):
        authority = f"{prov}公安局{fake.district()}分局"
    else:
        authority = f"{fake.city_name()}市公安局{fake.district()}分局" if rng.random() < 0.6 else f"{fake.city_name()}县公安局"
    today = dt.date.today()
    if expired:
        start = dt.date(rng.randint(2000, today.year - 12), rng.randint(1, 12), rng.randint(1, 28))
        years = 10
    else:
        years = rng.choice([10, 20])
        start = dt.date(rng.randint(today.year - years + 1, today.year), rng.randint(1, 12), rng.randint(1, 28))
        if start >= today:
            start = start.replace(year=start.year - 1)
    end = start.replace(year=start.year + years)
    return {
        "authority": authority,
        "valid_from": start.isoformat(),
        "valid_until": "长期" if long_term else end.isoformat(),
    }


# ------------------------------------------------------------------------------------ card render


def _card_background(rng: random.Random) -> Image.Image:
    h, w = CARD_H, CARD_W
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.array([rng.uniform(228, 242), rng.uniform(234, 246), rng.uniform(236, 250)], np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = base[c] + 8 * np.sin(x / w * math.pi * rng.uniform(0.6, 1.4) + c) * np.cos(y / h * math.pi)
    # Faint guilloche waves.
    for k in range(14):
        phase, amp, per = rng.uniform(0, 6.3), rng.uniform(10, 40), rng.uniform(80, 200)
        yy = (k + 0.5) * h / 14 + amp * np.sin(x[0] / per + phase)
        for xi in range(0, w, 2):
            yi = int(yy[xi])
            if 0 <= yi < h - 1:
                img[yi:yi + 2, xi] -= (6, 3, 1)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return Image.fromarray(img)


def _round_mask(w: int, h: int, r: int) -> Image.Image:
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).rounded_rectangle((0, 0, w - 1, h - 1), radius=r, fill=255)
    return m


@functools.lru_cache(maxsize=32)
def _face_box(path: str) -> tuple[int, int, int, int] | None:
    """(top, right, bottom, left) of the largest face in the photo, via dlib HOG."""
    import face_recognition

    im = Image.open(path).convert("RGB")
    s = min(1.0, 800 / max(im.size))
    small = np.asarray(im.resize((round(im.width * s), round(im.height * s))))
    locs = face_recognition.face_locations(small, 1)
    if not locs:
        return None
    t, r, b, l = max(locs, key=lambda L: (L[2] - L[0]) * (L[1] - L[3]))
    return tuple(int(round(v / s)) for v in (t, r, b, l))


def _crop_face(path, out_w: int, out_h: int, face_frac: float, rng: random.Random | None = None,
               center_y: float = 0.45) -> Image.Image:
    """Crop the photo around its face so the face is ``face_frac`` of the width."""
    im = Image.open(path).convert("RGB")
    box = _face_box(str(path))
    if box is None:
        t, r, b, l = im.height // 4, im.width * 3 // 4, im.height * 3 // 4, im.width // 4
    else:
        t, r, b, l = box
    fw = r - l
    cx, cy = (l + r) / 2, (t + b) / 2
    if rng:
        cx += rng.uniform(-0.08, 0.08) * fw
        cy += rng.uniform(-0.06, 0.06) * fw
    cw = fw / face_frac
    ch = cw * out_h / out_w
    x0, y0 = cx - cw / 2, cy - ch * center_y
    # Pad with edge colour when the crop leaves the photo.
    need = max(0, -x0, -y0, x0 + cw - im.width, y0 + ch - im.height)
    if need > 0:
        pad = int(need) + 2
        arr = np.pad(np.asarray(im), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        im = Image.fromarray(arr)
        x0 += pad
        y0 += pad
    return im.resize((out_w, out_h), Image.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch))


def _draw_spaced(draw, xy, text, font, fill, spacing=0):
    x, y = xy
    for ch in text:
        draw.text((x, y), ch, font=font, fill=fill)
        x += font.getlength(ch) + spacing
    return x


def render_front(fields: dict, face_path=None, *, font: str = "serif", seed: int = 0) -> Image.Image:
    """The flat card (RGBA, 1712x1080) for ``fields``."""
    rng = random.Random(seed)
    card = _card_background(rng).convert("RGBA")
    d = ImageDraw.Draw(card)
    label_c = (40 + rng.randint(0, 30), 105 + rng.randint(0, 30), 170 + rng.randint(0, 30), 255)
    ink = (rng.randint(10, 35),) * 3 + (255,)
    lab = _font("sans", int(3.0 * MM))
    val = _font(font, int(3.3 * MM))
    x_lab, x_val = int(6 * MM), int(15.5 * MM)

    def y(mm):
        return int(mm * MM)

    d.text((x_lab, y(7)), "姓  名", font=lab, fill=label_c)
    _draw_spaced(d, (x_val, y(6.7)), fields["name"], val, ink, spacing=int(0.6 * MM))
    d.text((x_lab, y(14.5)), "性  别", font=lab, fill=label_c)
    d.text((x_val, y(14.2)), fields["gender"], font=val, fill=ink)
    d.text((int(25.5 * MM), y(14.5)), "民  族", font=lab, fill=label_c)
    d.text((int(35 * MM), y(14.2)), fields["ethnicity"], font=val, fill=ink)
    d.text((x_lab, y(22)), "出  生", font=lab, fill=label_c)
    yy, mm_, dd = fields["birth_date"].split("-")
    nf = _font(font, int(3.3 * MM))
    d.text((x_val, y(21.7)), yy, font=nf, fill=ink)
    d.text((int(25 * MM), y(22)), "年", font=lab, fill=label_c)
    d.text((int(30 * MM), y(21.7)), str(int(mm_)), font=nf, fill=ink)
    d.text((int(34 * MM), y(22)), "月", font=lab, fill=label_c)
    d.text((int(38.5 * MM), y(21.7)), str(int(dd)), font=nf, fill=ink)
    d.text((int(43 * MM), y(22)), "日", font=lab, fill=label_c)
    d.text((x_lab, y(29.5)), "住  址", font=lab, fill=label_c)
    addr = fields["address"]
    per_line = 11
    for i in range(0, len(addr), per_line):
        d.text((x_val, y(29.2 + 4.6 * (i // per_line))), addr[i:i + per_line], font=val, fill=ink)
    d.text((x_lab, y(45.5)), "公民身份号码", font=lab, fill=label_c)
    num_font = _font("number", int(3.9 * MM))
    _draw_spaced(d, (int(29 * MM), y(45)), fields["id_number"], num_font, ink, spacing=int(0.55 * MM))
    # Portrait.
    pw, ph = int(26 * MM), int(32 * MM)
    px, py = int(55 * MM), int(6 * MM)
    if face_path:
        por = _crop_face(face_path, pw, ph, face_frac=0.5, rng=rng, center_y=0.42)
        por = Image.blend(por, Image.new("RGB", por.size, (235, 238, 242)), 0.12)
        card.paste(por.convert("RGBA"), (px, py))
    else:
        d.rectangle((px, py, px + pw, py + ph), fill=(225, 228, 232, 255))
    card.putalpha(_round_mask(CARD_W, CARD_H, int(3 * MM)))
    return card


def _emblem(d: ImageDraw.ImageDraw, cx: int, cy: int, r: int):
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(200, 30, 30, 255), outline=(230, 190, 60, 255), width=r // 10)
    for i in range(5):
        a = -math.pi / 2 + i * 2 * math.pi / 5
        sx, sy = cx + (r * 0.45 if i else 0) * math.cos(a), cy - r * 0.35 + (r * 0.35 if i else 0) * math.sin(a)
        rr = r * (0.22 if i == 0 else 0.09)
        pts = []
        for k in range(10):
            b = -math.pi / 2 + k * math.pi / 5
            rad = rr if k % 2 == 0 else rr * 0.4
            pts.append((sx + rad * math.cos(b), sy + rad * math.sin(b)))
        d.polygon(pts, fill=(240, 200, 60, 255))
    d.rectangle((cx - r * 0.5, cy + r * 0.25, cx + r * 0.5, cy + r * 0.45), fill=(240, 200, 60, 255))


def render_back(fields: dict, *, font: str = "sans", seed: int = 0) -> Image.Image:
    rng = random.Random(seed)
    card = _card_background(rng).convert("RGBA")
    d = ImageDraw.Draw(card)
    _emblem(d, int(14 * MM), int(14 * MM), int(9 * MM))
    title_c = (20, 20, 20, 255)
    d.text((int(30 * MM), int(7 * MM)), "中华人民共和国", font=_font("serif-bold", int(5.2 * MM)), fill=title_c)
    _draw_spaced(d, (int(30 * MM), int(17 * MM)), "居民身份证", _font("sans-bold", int(7.5 * MM)), title_c,
                 spacing=int(1.5 * MM))
    lab = _font("sans", int(3.0 * MM))
    val = _font(font, int(3.3 * MM))
    ink = (20, 20, 20, 255)
    d.text((int(15 * MM), int(38 * MM)), "签发机关", font=lab, fill=title_c)
    d.text((int(31 * MM), int(37.7 * MM)), fields["authority"], font=val, fill=ink)
    d.text((int(15 * MM), int(45 * MM)), "有效期限", font=lab, fill=title_c)
    vf = fields["valid_from"].replace("-", ".")
    vu = fields["valid_until"].replace("-", ".")
    d.text((int(31 * MM), int(44.7 * MM)), f"{vf}-{vu}", font=val, fill=ink)
    card.putalpha(_round_mask(CARD_W, CARD_H, int(3 * MM)))
    return card


# --------------------------------------------------------------------------------- photographing

_TIER = {
    #          card width frac, tilt deg, persp, blur sigma, noise, jpeg q, light lo, glare prob
    "clean": dict(frac=(0.70, 0.85), tilt=3, persp=0.01, blur=(0.0, 0.5), noise=2, q=(88, 95), light=0.92, glare=0.0),
    "medium": dict(frac=(0.55, 0.75), tilt=10, persp=0.035, blur=(0.8, 1.4), noise=4, q=(65, 80), light=0.72, glare=0.3),
    "hard": dict(frac=(0.42, 0.62), tilt=20, persp=0.06, blur=(1.4, 2.2), noise=7, q=(40, 55), light=0.55, glare=0.7),
}


def _background(rng: random.Random, w: int, h: int) -> np.ndarray:
    base = np.array([rng.randint(40, 220) for _ in range(3)], np.float32)
    small = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 18, (h // 32 + 2, w // 32 + 2, 3)).astype(np.float32)
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = base + tex
    if rng.random() < 0.5:  # wood-like stripes
        yy = np.arange(h, dtype=np.float32)[:, None, None]
        img += 10 * np.sin(yy / rng.uniform(8, 30) + rng.uniform(0, 6))
    img = np.clip(img, 0, 255).astype(np.uint8)
    # Some clutter: a few rectangles and lines.
    for _ in range(rng.randint(0, 4)):
        c = tuple(int(v) for v in np.clip(base + rng.uniform(-60, 60), 0, 255))
        x0, y0 = rng.randrange(w), rng.randrange(h)
        cv2.rectangle(img, (x0, y0), (x0 + rng.randint(50, w // 3), y0 + rng.randint(50, h // 3)), c, -1)
    return img


def photograph(card: Image.Image, *, tier: str = "clean", seed: int = 0, size=(3000, 2250),
               quarter_turns: int | None = None) -> bytes:
    """Place the flat card in a phone-photo scene with the tier's degradations; returns JPEG bytes."""
    if tier not in _TIER:
        raise ValueError(f"tier must be one of {TIERS}")
    p = _TIER[tier]
    rng = random.Random(seed * 7 + TIERS.index(tier))
    if quarter_turns is None:
        r = rng.random()
        if tier == "clean":
            quarter_turns = 0
        elif tier == "medium":
            quarter_turns = 2 if r < 0.2 else 0
        else:
            quarter_turns = 0 if r < 0.4 else (1 if r < 0.6 else (2 if r < 0.8 else 3))
    W, H = size
    if quarter_turns % 2:
        W, H = H, W
    bg = _background(rng, W, H).astype(np.float32)
    cw, ch = card.size
    frac = rng.uniform(*p["frac"])
    long_side = frac * (W if quarter_turns % 2 == 0 else H)
    s = long_side / cw
    ang = math.radians(rng.uniform(-p["tilt"], p["tilt"]) + 90 * quarter_turns)
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    pts = (src - [cw / 2, ch / 2]) * s
    jit = np.float32([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)]) * p["persp"] * cw * s
    pts = pts + jit
    rot = np.float32([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    pts = pts @ rot.T
    span = pts.max(0) - pts.min(0)
    cx = rng.uniform(span[0] / 2 + 10, W - span[0] / 2 - 10) if span[0] + 20 < W else W / 2
    cy = rng.uniform(span[1] / 2 + 10, H - span[1] / 2 - 10) if span[1] + 20 < H else H / 2
    dst = (pts + [cx, cy]).astype(np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    rgba = np.asarray(card.convert("RGBA"))
    warped = cv2.warpPerspective(rgba, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    alpha = warped[..., 3:4].astype(np.float32) / 255.0
    # Soft shadow.
    small = cv2.resize(alpha[..., 0], (W // 8, H // 8), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(1.0, 0.01 * W / 8))
    sh = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    sh = np.roll(sh, (int(0.006 * H), int(0.006 * W)), axis=(0, 1))[..., None]
    img = bg * (1 - 0.35 * sh)
    img = img * (1 - alpha) + warped[..., :3].astype(np.float32) * alpha
    # Lighting gradient.
    yy, xx = np.mgrid[0:H:8, 0:W:8].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    g = (np.cos(a) * xx / W + np.sin(a) * yy / H)
    g = (g - g.min()) / (np.ptp(g) + 1e-6)
    light = p["light"] + (1.03 - p["light"]) * g
    light = cv2.resize(light, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
    img *= light
    # Glare: a bright soft ellipse somewhere on the card.
    if rng.random() < p["glare"]:
        gx, gy = cx + rng.uniform(-0.3, 0.3) * span[0], cy + rng.uniform(-0.3, 0.3) * span[1]
        rad = rng.uniform(0.05, 0.12) * max(span)
        dist = ((np.arange(W)[None, :] - gx) ** 2 / (1.6 * rad) ** 2 + (np.arange(H)[:, None] - gy) ** 2 / rad ** 2)
        img += (rng.uniform(90, 170) * np.exp(-dist * 2.5) * alpha[..., 0])[..., None]
    sigma = rng.uniform(*p["blur"])
    if sigma > 0.3:
        if tier == "hard" and rng.random() < 0.3:  # motion blur
            k = max(3, int(sigma * 5) | 1)
            ker = np.zeros((k, k), np.float32)
            ker[k // 2, :] = 1.0 / k
            rm = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
            ker = cv2.warpAffine(ker, rm, (k, k))
            ker /= ker.sum()
            img = cv2.filter2D(img, -1, ker)
        else:
            img = cv2.GaussianBlur(img, (0, 0), sigma * W / 3000)
    img += np.random.default_rng(seed).normal(0, p["noise"], (H, W, 1)).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="JPEG", quality=rng.randint(*p["q"]))
    return buf.getvalue()


def make_id_front(name=None, gender=None, ethnicity=None, birth_date=None, address=None, id_number=None, *,
                  face_path=None, tier: str = "clean", seed: int = 0, size=(3000, 2250), font: str | None = None,
                  quarter_turns: int | None = None) -> bytes:
    """A phone photo (JPEG bytes) of an ID card front.  Missing fields are random (seeded)."""
    fields = random_front_fields(seed)
    given = dict(name=name, gender=gender, ethnicity=ethnicity, birth_date=birth_date, address=address,
                 id_number=id_number)
    fields.update({k: v for k, v in given.items() if v is not None})
    font = font or available_fonts()[seed % len(available_fonts())]
    card = render_front(fields, face_path, font=font, seed=seed)
    return photograph(card, tier=tier, seed=seed, size=size, quarter_turns=quarter_turns)


def make_id_back(authority=None, valid_from=None, valid_until=None, *, tier: str = "clean", seed: int = 0,
                 size=(3000, 2250), font: str | None = None, quarter_turns: int | None = None) -> bytes:
    fields = random_back_fields(seed)
    given = dict(authority=authority, valid_from=valid_from, valid_until=valid_until)
    fields.update({k: v for k, v in given.items() if v is not None})
    font = font or available_fonts()[seed % len(available_fonts())]
    return photograph(render_back(fields, font=font, seed=seed), tier=tier, seed=seed, size=size,
                      quarter_turns=quarter_turns)


def make_bank_card(*, seed: int = 0, tier: str = "clean", size=(3000, 2250)) -> bytes:
    """A bank card photo: a card with a 16-19 digit number, not an ID card."""
    rng = random.Random(seed)
    card = Image.new("RGBA", (CARD_W, CARD_H), (rng.randint(150, 200), 30, 40, 255))
    d = ImageDraw.Draw(card)
    d.text((int(6 * MM), int(5 * MM)), rng.choice(["中国工商银行", "中国建设银行", "招商银行", "中国农业银行"]),
           font=_font("sans-bold", int(5 * MM)), fill=(255, 255, 255, 255))
    d.rounded_rectangle((int(8 * MM), int(18 * MM), int(19 * MM), int(26 * MM)), radius=MM, fill=(220, 190, 90, 255))
    digits = "62" + "".join(str(rng.randint(0, 9)) for _ in range(17))
    groups = " ".join(digits[i:i + 4] for i in range(0, 19, 4))
    d.text((int(8 * MM), int(32 * MM)), groups, font=_font("number", int(5 * MM)), fill=(250, 250, 250, 255))
    d.text((int(8 * MM), int(42 * MM)), "ZHANG SAN      12/29", font=_font("number", int(3.5 * MM)), fill=(250, 250, 250, 255))
    d.text((int(62 * MM), int(42 * MM)), "银联 UnionPay", font=_font("sans-bold", int(3.5 * MM)), fill=(255, 255, 255, 255))
    card.putalpha(_round_mask(CARD_W, CARD_H, int(3 * MM)))
    return photograph(card, tier=tier, seed=seed, size=size, quarter_turns=0)


def make_screenshot(*, seed: int = 0) -> bytes:
    """A phone chat screenshot with Chinese text (PNG)."""
    rng = random.Random(seed)
    fake = _faker(seed)
    W, H = 1080, 2340
    img = Image.new("RGB", (W, H), (237, 237, 237))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, W, 180), fill=(247, 247, 247))
    d.text((W // 2 - 120, 90), "客户服务", font=_font("sans", 48), fill=(20, 20, 20))
    y = 260
    while y < H - 300:
        text = fake.sentence()[:16]
        right = rng.random() < 0.5
        tw = _font("sans", 44).getlength(text) + 60
        x0 = W - 160 - tw if right else 160
        d.rounded_rectangle((x0, y, x0 + tw, y + 110), radius=16, fill=(149, 236, 105) if right else (255, 255, 255))
        d.text((x0 + 30, y + 28), text, font=_font("sans", 44), fill=(20, 20, 20))
        y += 170
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- selfies

SELFIE_VARIANTS = ("clean", "jitter", "dark", "overexposed", "blurry", "small", "exif_rotated", "noisy")


def make_selfie(face_path, variant: str = "clean", *, seed: int = 0, size=(960, 1280)) -> bytes:
    """A phone selfie (JPEG bytes) made from a real face photo."""
    rng = random.Random(seed)
    W, H = size
    if variant == "small":
        im = _crop_face(face_path, W, H, face_frac=0.06, rng=rng)
    else:
        im = _crop_face(face_path, W, H, face_frac=rng.uniform(0.38, 0.5), rng=rng)
    arr = np.asarray(im).astype(np.float32)
    if variant in ("jitter", "noisy", "exif_rotated"):
        ang = rng.uniform(-8, 8)
        sc = rng.uniform(0.92, 1.08)
        m = cv2.getRotationMatrix2D((W / 2, H / 2), ang, sc)
        arr = cv2.warpAffine(arr, m, (W, H), borderMode=cv2.BORDER_REFLECT)
        arr = arr * rng.uniform(0.85, 1.1) + rng.uniform(-12, 12)
        arr[..., rng.randrange(3)] *= rng.uniform(0.93, 1.05)
    if variant == "noisy":
        arr += np.random.default_rng(seed).normal(0, 9, arr.shape)
    if variant == "dark":
        arr = arr * 0.12
    if variant == "overexposed":
        arr = arr * 2.6 + 90
    if variant == "blurry":
        arr = cv2.GaussianBlur(arr, (0, 0), W / 90)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    if variant == "exif_rotated":
        # Pixels stored sideways, EXIF says "rotate 90 CW to display" (orientation 6), like a phone.
        stored = out.transpose(Image.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        stored.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    else:
        out.save(buf, format="JPEG", quality=rng.randint(80, 92))
    return buf.getvalue()


def make_group_photo(face_a, face_b, *, seed: int = 0, size=(1280, 960)) -> bytes:
    """Two people side by side (for the multiple-faces refusal)."""
    W, H = size
    a = _crop_face(face_a, W // 2, H, face_frac=0.55, rng=random.Random(seed))
    b = _crop_face(face_b, W // 2, H, face_frac=0.55, rng=random.Random(seed + 1))
    img = Image.new("RGB", (W, H))
    img.paste(a, (0, 0))
    img.paste(b, (W // 2, 0))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_blank(color=(255, 255, 255), size=(1200, 900), fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


# --------------------------------------------------------------------------------------- signature

SIGNATURE_KINDS = ("normal", "blank", "single_stroke", "ink_flood", "tiny")


def make_signature(landscape: bool = True, *, seed: int = 0, kind: str = "normal", name: str | None = None,
                   size=(1600, 900)) -> bytes:
    """A phone photo (JPEG) of a handwritten-looking signature on paper."""
    rng = random.Random(seed)
    W, H = size if landscape else (size[1], size[0])
    paper = np.full((H, W, 3), [rng.randint(225, 250)] * 3, np.float32)
    paper += np.random.default_rng(seed).normal(0, 3, (H, W, 1))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    paper *= (0.88 + 0.12 * (xx / W))[..., None]
    ink = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(ink)
    if kind == "normal" or kind == "tiny":
        if name is None:
            name = _faker(seed).name()
        fs = int(min(W * 0.75 / len(name), H * 0.5)) if kind == "normal" else 26
        font = _font(rng.choice(["sans", "serif", "sans-bold"]), fs)
        x = W * 0.1 - fs * 0.5 if kind == "normal" else W * 0.45
        for ch in name:
            layer = Image.new("L", (fs * 2, fs * 2), 0)
            ImageDraw.Draw(layer).text((fs // 2, fs // 3), ch, font=font, fill=255)
            layer = layer.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR)
            layer = layer.transform(layer.size, Image.AFFINE, (1, rng.uniform(-0.3, -0.1), 0, 0, 1, 0),
                                    resample=Image.BILINEAR)
            ink.paste(255, (int(x), int(H * 0.5 - fs) + rng.randint(-fs // 8, fs // 8)), layer)
            x += fs * rng.uniform(0.8, 1.0)
        if kind == "normal":  # a flourish underneath
            pts = [(W * 0.12 + i * W * 0.06, H * 0.75 + 25 * math.sin(i * 0.9 + seed)) for i in range(12)]
            d.line(pts, fill=255, width=max(3, H // 150))
    elif kind == "single_stroke":
        d.line([(W * 0.3, H * 0.5), (W * 0.6, H * 0.52)], fill=255, width=6)
    elif kind == "ink_flood":
        d.rectangle((W * 0.05, H * 0.05, W * 0.95, H * 0.95), fill=255)
        for _ in range(30):
            d.line([(rng.uniform(0, W), rng.uniform(0, H)) for _ in range(2)], fill=0, width=4)
    m = np.asarray(ink.filter(ImageFilter.GaussianBlur(1.0)), np.float32)[..., None] / 255.0
    color = np.array(rng.choice([(25, 30, 40), (20, 30, 110), (10, 10, 10)]), np.float32)
    img = paper * (1 - m) + color * m
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=88)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- liveness


def make_liveness_video(face_path, action: str = "blink", *, seed: int = 0, fps: int = 15, seconds: float = 3.0,
                        size=(480, 640)) -> bytes:
    """An MP4 selfie video of a person blinking / turning the head / holding still ("still").

    Rendered by :mod:`biometrics.testdata.liveclips` (a 3-D head from the photo's face mesh, camera shake and
    noise).  ``turn`` turns to a side chosen by the seed; ``seconds`` is a minimum (the clip is as long as the
    action needs); ``size`` is fixed at 480x640.  Any action name of :data:`biometrics.liveness.ACTIONS` works too.
    """
    from . import liveclips

    if action == "turn":
        challenge = [random.Random(seed).choice(["turn_left", "turn_right"])]
    elif action == "still":
        challenge = []
    else:
        challenge = [action]
    frames, _schedule = liveclips.live_frames(face_path, challenge, seed=seed, fps=float(fps),
                                              extra_blink=0.0 if action == "still" else 0.5)
    while frames and frames[-1][0] < seconds - 1.0 / fps:  # hold the last pose to the asked length
        frames.append((round(frames[-1][0] + 1.0 / fps, 3), frames[-1][1]))
    return liveclips.encode_video(frames, fps)
