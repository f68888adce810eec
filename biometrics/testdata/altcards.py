"""An independent set of ID-card-front photos, for reporting OCR figures (never for tuning).

Written apart from :mod:`biometrics.testdata.generator` on purpose, so that the reader cannot
simply have learnt one generator: its own field lists (names with real rare characters, real
county codes, addresses), its own layout (the printed positions of a real 居民身份证 with a
per-card print shift and per-field jitter), other fonts (楷 AR PL UKai / LXGW WenKai, 明 AR PL
UMing, 黑 WenQuanYi Zen Hei, Noto Serif CJK; the number in OCR-B, as on the real card), and
other scenes: a card on a desk, lying on a printed application form, held in a hand, shown on
a screen and photographed (moiré), with glare.  Three degradation tiers.

Fonts come from Debian packages: fonts-arphic-ukai fonts-arphic-uming fonts-wqy-zenhei
fonts-lxgw-wenkai fonts-ocr-b (and fonts-noto-cjk).  No simplified-Chinese 仿宋 font is
packaged in Debian, PyPI or npm (cwTeX 仿宋 only has traditional forms), so none is used.

    make_alt_front(seed, tier) -> (jpeg_bytes, truth_fields, meta)
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
from PIL import Image, ImageDraw, ImageFont

from .. import idnumber

TIERS = ("clean", "medium", "hard")
SCENES = ("desk", "form", "hand", "screen")

PX_MM = 16  # card render scale (the other generator uses 20)
CARD = (int(85.6 * PX_MM), int(54 * PX_MM))

_VALUE_FONTS = {
    "ukai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    "uming": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    "wenkai": ("/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf", 0),
    "zenhei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    "notoserif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
}
_LABEL_FONTS = [("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
                ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
                ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2)]
_DIGIT_FONT = ("/usr/share/fonts/opentype/ocr-b/OCRB.otf", 0)
_FALLBACK = ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2)

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志强晓东海燕文博子涵浩然思远"
         "欣怡梓萱雨婷俊杰宇轩佳怡嘉琪晨曦一鸣天宇紫涵梦琪雅琴玉兰德华春生秋月冬梅振宇")
# Rare characters that really occur in given names (in the 通用规范汉字表 or GB 18030 name
# characters), none of them in PP-OCRv4's dictionary, and different from the other generator's.
RARE = "喆堃犇淼焱鑫垚昇玥彧祎禛湉沄婳璠琤俅偲劼勍叡奭姞宬弢昉晅曌枏渼澔濬炘焜玎玠珅瑢璘皞竑莛蓁霈颀飏甯珺"

# Real county codes (GB/T 2260) with an address prefix.
REGIONS = {
    "110105": "北京市朝阳区", "110108": "北京市海淀区", "310115": "上海市浦东新区", "310104": "上海市徐汇区",
    "440305": "广东省深圳市南山区", "440106": "广东省广州市天河区", "330106": "浙江省杭州市西湖区",
    "510107": "四川省成都市武侯区", "420111": "湖北省武汉市洪山区", "350203": "福建省厦门市思明区",
    "370202": "山东省青岛市市南区", "610113": "陕西省西安市雁塔区", "320106": "江苏省南京市鼓楼区",
    "430104": "湖南省长沙市岳麓区", "120101": "天津市和平区", "500103": "重庆市渝中区",
    "210102": "辽宁省沈阳市和平区", "230103": "黑龙江省哈尔滨市南岗区", "530102": "云南省昆明市五华区",
    "450103": "广西壮族自治区南宁市青秀区", "520102": "贵州省贵阳市南明区", "620102": "甘肃省兰州市城关区",
    "650102": "新疆维吾尔自治区乌鲁木齐市天山区", "150102": "内蒙古自治区呼和浩特市新城区",
    "640104": "宁夏回族自治区银川市兴庆区", "460106": "海南省海口市龙华区", "540102": "西藏自治区拉萨市城关区",
    "130104": "河北省石家庄市桥西区", "410105": "河南省郑州市金水区", "340104": "安徽省合肥市蜀山区",
    "360102": "江西省南昌市东湖区", "220102": "吉林省长春市南关区", "140105": "山西省太原市小店区",
}
STREETS = ("人民路", "解放大道", "中山北路", "建设街", "和平里", "文化路", "长江东路", "黄河路", "新华街", "光明巷",
           "科技园路", "滨河西路", "朝阳街", "幸福里", "学府路", "东风路", "胜利街", "青年路")
VILLAGES = ("幸福村", "新河村", "王家庄", "李家湾", "石桥村", "杨柳屯", "东湖社区", "南苑小区", "锦绣花园", "金色家园")
ETHNIC = ("汉",) * 12 + ("回", "满", "蒙古", "壮", "维吾尔", "朝鲜", "土家", "彝", "苗", "藏", "哈萨克", "布依")


def _digits(rng, n):
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def alt_fields(seed: int, *, rare: bool | None = None) -> dict:
    """Fields of one card (valid GB 11643 number)."""
    rng = random.Random(f"alt-fields-{seed}")
    while True:
        code = rng.choice(sorted(REGIONS))
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 66))
        first17 = code + born.strftime("%Y%m%d") + _digits(rng, 3)
        number = first17 + idnumber.check_char(first17)
        if idnumber.validate(number).ok:
            break
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.04 else rng.choice(SURNAMES)
    n_given = 1 if rng.random() < 0.3 else 2
    given = [rng.choice(GIVEN) for _ in range(n_given)]
    if rare is None:
        rare = rng.random() < 0.25
    if rare:
        given[rng.randrange(n_given)] = rng.choice(RARE)
    name = surname + "".join(given)
    addr = REGIONS[code]
    r = rng.random()
    if r < 0.45:
        street, no, bld = rng.choice(STREETS), rng.randint(1, 480), rng.randint(1, 24)
        addr += f"{street}{no}号{bld}栋{rng.randint(1, 33)}0{rng.randint(1, 8)}室"
    elif r < 0.75:
        street, no, bld = rng.choice(STREETS), rng.randint(1, 200), rng.randint(1, 12)
        addr += f"{street}{no}号院{bld}号楼{rng.randint(1, 6)}单元{rng.randint(101, 2808)}号"
    else:
        town, village = rng.choice(("城关镇", "新城街道", "东关街道", "桥头镇")), rng.choice(VILLAGES)
        addr += f"{town}{village}{rng.randint(1, 9)}组{rng.randint(1, 150)}号"
    return {"name": name, "gender": idnumber.gender(number), "ethnicity": rng.choice(ETHNIC),
            "birth_date": born.isoformat(), "address": addr[:34], "id_number": number, "rare_name": rare}


@functools.lru_cache(maxsize=64)
def _f(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    if not os.path.exists(path):
        raise RuntimeError(f"font {path} missing: install the Makefile's APT_PACKAGES (make sysdeps)")
    return ImageFont.truetype(path, size, index=index)


def _has_glyph(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    return font.getmask(ch).getbbox() is not None


def _text(d, xy, text, font_spec, size, fill, pitch=None):
    """Draw text glyph by glyph (falling back to Noto Serif for a glyph the font lacks)."""
    x, y = xy
    f = _f(*font_spec, size)
    for ch in text:
        g = f if _has_glyph(f, ch) else _f(*_FALLBACK, size)
        d.text((x, y), ch, font=g, fill=fill)
        x += pitch if pitch else g.getlength(ch)
    return x


def _card_face(rng: random.Random) -> np.ndarray:
    w, h = CARD
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    top = np.array([rng.uniform(215, 235), rng.uniform(228, 240), rng.uniform(235, 248)], np.float32)
    bottom = np.array([rng.uniform(232, 246), rng.uniform(226, 238), rng.uniform(215, 232)], np.float32)
    t = (yy / h)[..., None]
    img = top * (1 - t) + bottom * t
    # Rosette guilloche: concentric rings around a point right of centre.
    cx, cy = w * rng.uniform(0.55, 0.75), h * rng.uniform(0.3, 0.6)
    r = np.hypot(xx - cx, yy - cy)
    ang = np.arctan2(yy - cy, xx - cx)
    rings = np.cos(r / rng.uniform(5, 9) + 3 * np.sin(ang * rng.randint(5, 11)))
    img -= (rings > 0.93)[..., None] * np.float32([10, 6, 2])
    return np.clip(img, 0, 255).astype(np.uint8)


def render_alt_front(f: dict, face_path, rng: random.Random) -> Image.Image:
    """The flat card (RGBA) in the real card's layout with print shift and per-field jitter."""
    from .generator import _crop_face, _round_mask

    card = Image.fromarray(_card_face(rng)).convert("RGBA")
    d = ImageDraw.Draw(card)
    mm = PX_MM
    sx, sy = rng.uniform(-1.0, 1.0), rng.uniform(-0.8, 0.8)  # print shift (mm)

    def P(x, y, j=0.35):
        return (int((x + sx + rng.uniform(-j, j)) * mm), int((y + sy + rng.uniform(-j, j)) * mm))

    lab_font = rng.choice(_LABEL_FONTS)
    val_font = _VALUE_FONTS[rng.choice(sorted(_VALUE_FONTS))]
    lab_c = (rng.randint(30, 70), rng.randint(110, 150), rng.randint(160, 205), 255)
    ink = (rng.randint(0, 30), rng.randint(0, 30), rng.randint(0, 35), 255)
    ls, vs = int(2.9 * mm), int(rng.uniform(3.2, 3.6) * mm)
    lab_pitch = 2.9 * mm * 1.55
    for text, (x, y) in (("姓名", (6.5, 8.0)), ("性别", (6.5, 15.0)), ("民族", (22.5, 15.0)),
                         ("出生", (6.5, 22.0)), ("住址", (6.5, 29.0))):
        _text(d, P(x, y), text, lab_font, ls, lab_c, pitch=lab_pitch)
    name_pitch = vs * rng.uniform(1.05, 1.3)
    _text(d, P(16.5, 7.6), f["name"], val_font, vs, ink, pitch=name_pitch)
    _text(d, P(16.5, 14.6), f["gender"], val_font, vs, ink)
    _text(d, P(32.0, 14.6), f["ethnicity"], val_font, vs, ink)
    y_, m_, d_ = f["birth_date"].split("-")
    bx, by = P(16.5, 21.6)
    num_f = _f(*val_font, vs)
    x = _text(d, (bx, by), y_, val_font, vs, ink) + 0.8 * mm
    x = _text(d, (x, by + 0.3 * mm), "年", lab_font, ls, lab_c) + 1.2 * mm
    x = _text(d, (x, by), str(int(m_)), val_font, vs, ink) + 0.8 * mm
    x = _text(d, (x, by + 0.3 * mm), "月", lab_font, ls, lab_c) + 1.2 * mm
    x = _text(d, (x, by), str(int(d_)), val_font, vs, ink) + 0.8 * mm
    _text(d, (x, by + 0.3 * mm), "日", lab_font, ls, lab_c)
    del num_f
    per_line = int(37.5 / (vs / mm))  # the address column ends before the portrait (~54 mm)
    ax, ay = P(16.5, 28.6)
    for i in range(0, len(f["address"]), per_line):
        _text(d, (ax, ay + int(i // per_line * 4.7 * mm)), f["address"][i:i + per_line], val_font, vs, ink)
    _text(d, P(6.5, 46.0), "公民身份号码", lab_font, ls, lab_c, pitch=2.9 * mm * 1.12)
    dx, dy = P(28.5, 45.2)
    digit_size = int(rng.uniform(3.6, 4.1) * mm)
    _text(d, (dx, dy), f["id_number"], _DIGIT_FONT, digit_size, ink, pitch=2.85 * mm)
    pw, ph = int(26 * mm), int(32 * mm)
    px, py = P(55.5, 5.5, 0.3)
    if face_path:
        por = _crop_face(face_path, pw, ph, face_frac=rng.uniform(0.45, 0.55), rng=rng, center_y=0.45)
        arr = np.asarray(por).astype(np.float32)
        # Portrait background lightened (real portraits are on white/blue).
        arr = arr * 0.85 + 255 * 0.15
        card.paste(Image.fromarray(arr.astype(np.uint8)).convert("RGBA"), (px, py))
    card.putalpha(_round_mask(CARD[0], CARD[1], int(3.2 * mm)))
    return card


# ------------------------------------------------------------------------------------- scenes

def _desk(rng, W, H):
    kind = rng.choice(("wood", "plain", "cloth", "dark"))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    if kind == "wood":
        base = np.float32([rng.uniform(120, 180), rng.uniform(80, 120), rng.uniform(40, 80)])
        grain = np.sin((yy + 40 * np.sin(xx / rng.uniform(200, 500))) / rng.uniform(6, 14))
        img = base + 18 * grain[..., None]
    elif kind == "cloth":
        base = np.float32([rng.uniform(60, 200) for _ in range(3)])
        check = ((xx // rng.randint(40, 90) + yy // rng.randint(40, 90)) % 2)[..., None]
        img = base + 25 * check
    elif kind == "dark":
        img = np.zeros((H, W, 3), np.float32) + rng.uniform(20, 60)
    else:
        img = np.zeros((H, W, 3), np.float32) + np.float32([rng.uniform(150, 235) for _ in range(3)])
    return img + np.random.default_rng(rng.randrange(1 << 30)).standard_normal((H, W, 1), np.float32) * 4


_FORM_WORDS = ("期货账户开户申请表", "客户姓名", "证件类型", "证件号码", "联系电话", "通讯地址", "风险承受能力", "投资者签字",
               "本人承诺所提供资料真实有效", "立保条卷读", "请用黑色签字笔填写", "经办人", "复核人", "日期", "营业部",
               "金信期货有限公司", "资金账号", "开户类型", "个人", "机构", "适当性评估", "邮政编码", "职业", "学历")


def _form(rng, W, H):
    """A printed application form under the card: lines of text about the card's text size."""
    img = np.zeros((H, W, 3), np.float32) + np.float32([rng.uniform(236, 250)] * 3)
    pil = Image.fromarray(img.astype(np.uint8))
    d = ImageDraw.Draw(pil)
    font = rng.choice(_LABEL_FONTS + [_VALUE_FONTS["notoserif"]])
    size = int(H * rng.uniform(0.022, 0.035))
    y = int(H * 0.04)
    while y < H - size:
        x = int(W * rng.uniform(0.03, 0.1))
        while x < W - 4 * size:
            word = rng.choice(_FORM_WORDS)
            if rng.random() < 0.3:
                word += "：" + "".join(rng.choice(GIVEN + SURNAMES) for _ in range(rng.randint(2, 6)))
            d.text((x, y), word, font=_f(*font, size), fill=(30, 30, 30))
            x += int(_f(*font, size).getlength(word)) + rng.randint(size, 5 * size)
        d.line((int(W * 0.03), y + int(1.5 * size), int(W * 0.97), y + int(1.5 * size)), fill=(90, 90, 90), width=2)
        y += int(size * rng.uniform(2.0, 2.8))
    return np.asarray(pil).astype(np.float32)


def _hand(rng, W, H, quad):
    """A palm beside one short edge of the card and a thumb on its margin.

    The palm stays off the card and the thumb covers at most the outer ~4 mm (the printed
    fields start 6.5 mm in), as when a customer holds the card up by its edge.
    """
    mask = np.zeros((H, W), np.uint8)
    tl, tr, br, bl = quad
    left = rng.random() < 0.5
    a, b = (tl, bl) if left else (tr, br)
    mid = (a + b) / 2
    inward = ((tr + br) / 2 - (tl + bl) / 2) * (1 if left else -1)  # card width, pointing inwards
    unit_in = inward / (np.linalg.norm(inward) or 1)
    edge_len = float(np.linalg.norm(b - a))
    mm = float(np.linalg.norm(inward)) / 85.6
    along = math.degrees(math.atan2(*(b - a)[::-1]))
    c = mid - unit_in * (edge_len * 0.36)
    cv2.ellipse(mask, (int(c[0]), int(c[1])), (int(edge_len * 0.6), int(edge_len * 0.35)),
                along, 0, 360, 255, -1)
    thumb = a + (b - a) * rng.uniform(0.55, 0.8) + unit_in * (rng.uniform(0.5, 2.0) * mm)
    cv2.ellipse(mask, (int(thumb[0]), int(thumb[1])), (int(2.5 * mm), int(7 * mm)), along, 0, 360, 255, -1)
    mask = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 3)[..., None]
    skin = np.float32([rng.uniform(170, 225), rng.uniform(125, 170), rng.uniform(100, 140)])
    return mask, skin


def _moire(img, rng):
    """A photographed screen: the pixel grid interfering with the camera's sampling."""
    H, W = img.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    p1, p2 = rng.uniform(2.6, 3.4), rng.uniform(2.6, 3.4)
    a = math.radians(rng.uniform(-4, 4))
    u = xx * math.cos(a) + yy * math.sin(a)
    v = -xx * math.sin(a) + yy * math.cos(a)
    grid = 0.5 + 0.25 * np.cos(2 * np.pi * u / p1) + 0.25 * np.cos(2 * np.pi * v / p2)
    out = img * (0.8 + 0.25 * grid[..., None])
    out *= np.float32([rng.uniform(0.9, 1.0), 1.0, rng.uniform(1.0, 1.1)])  # screen tint
    return out + 12


_TIER = {
    "clean": dict(frac=(0.62, 0.8), tilt=4, persp=0.015, blur=(0.0, 0.7), noise=(1, 3), q=(85, 95), light=0.9,
                  glare=0.15, scenes=(0.5, 0.3, 0.1, 0.1)),
    "medium": dict(frac=(0.48, 0.68), tilt=12, persp=0.04, blur=(0.7, 1.5), noise=(3, 6), q=(60, 80), light=0.7,
                   glare=0.4, scenes=(0.35, 0.3, 0.2, 0.15)),
    "hard": dict(frac=(0.38, 0.55), tilt=25, persp=0.07, blur=(1.3, 2.3), noise=(5, 9), q=(40, 60), light=0.5,
                 glare=0.7, scenes=(0.3, 0.3, 0.2, 0.2)),
}


def make_alt_front(seed: int, tier: str = "clean", face_path=None, *, rare: bool | None = None,
                   size=None, scene: str | None = None) -> tuple[bytes, dict, dict]:
    """(JPEG bytes, truth fields, scene description) for one photo."""
    if tier not in _TIER:
        raise ValueError(f"tier must be one of {TIERS}")
    p = _TIER[tier]
    rng = random.Random(f"alt-photo-{tier}-{seed}")
    f = alt_fields(seed * 3 + TIERS.index(tier), rare=rare)
    card = np.asarray(render_alt_front(f, face_path, rng))
    drawn = rng.choices(SCENES, weights=p["scenes"])[0]
    scene = scene or drawn
    portrait_photo = rng.random() < 0.3
    W, H = size or rng.choice(((4000, 3000), (3264, 2448), (3000, 2250)))
    turns = 0
    if tier != "clean":
        r = rng.random()
        turns = 2 if r < 0.2 else (0 if r < (0.8 if tier == "medium" else 0.55) else rng.choice((1, 3)))
    if portrait_photo:
        W, H = H, W
        turns = (turns + 1) % 4 if turns % 2 == 0 else turns
    if scene == "form":
        bg = _form(rng, W, H)
    else:
        bg = _desk(rng, W, H)
    cw, ch = CARD
    long_side = rng.uniform(*p["frac"]) * (W if turns % 2 == 0 else H)
    if turns % 2 == 1:
        long_side = min(long_side, 0.9 * H)
    s = long_side / cw
    ang = math.radians(rng.uniform(-p["tilt"], p["tilt"]) + 90 * turns)
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    pts = (src - [cw / 2, ch / 2]) * s
    pts += np.float32([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)]) * p["persp"] * cw * s
    R = np.float32([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    pts = pts @ R.T
    span = pts.max(0) - pts.min(0)
    cx = rng.uniform(span[0] / 2 + 20, W - span[0] / 2 - 20) if span[0] + 40 < W else W / 2
    cy = rng.uniform(span[1] / 2 + 20, H - span[1] / 2 - 20) if span[1] + 40 < H else H / 2
    dst = (pts + [cx, cy]).astype(np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(card, M, (W, H), flags=cv2.INTER_AREA, borderValue=(0, 0, 0, 0)).astype(np.float32)
    alpha = warped[..., 3:4] / 255.0
    # Contact shadow, offset towards a random light direction.
    sh = cv2.GaussianBlur(alpha[..., 0], (0, 0), 0.008 * W)
    off = rng.uniform(0.002, 0.008) * W
    sh = np.roll(sh, (int(off * rng.uniform(-1, 1)), int(off * rng.uniform(-1, 1))), axis=(0, 1))[..., None]
    img = bg * (1 - 0.3 * sh)
    img = img * (1 - alpha) + warped[..., :3] * alpha
    if scene == "hand":
        hm, skin = _hand(rng, W, H, dst)
        img = img * (1 - hm) + skin * hm
    # Light falloff from one corner.
    yy, xx = np.mgrid[0:H:10, 0:W:10].astype(np.float32)
    lx, ly = rng.choice(((0, 0), (W, 0), (0, H), (W, H)))
    dist = np.hypot(xx - lx, yy - ly) / math.hypot(W, H)
    light = cv2.resize(1.03 - (1.03 - p["light"]) * dist, (W, H))[..., None]
    img *= light
    glare = rng.random() < p["glare"]
    if glare:
        # A specular patch on the card (clean tier: over the portrait only, never over text).
        if tier == "clean":
            u, v = rng.uniform(0.72, 0.88), rng.uniform(0.25, 0.6)
        else:
            u, v = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
        g = cv2.perspectiveTransform(np.float32([[[u * cw, v * ch]]]), M)[0, 0]
        rad = rng.uniform(0.04, 0.09 if tier != "hard" else 0.13) * long_side
        gy, gx = np.ogrid[0:H, 0:W]
        e = np.exp(-(((gx - g[0]) / (1.8 * rad)) ** 2 + ((gy - g[1]) / rad) ** 2))
        img += (rng.uniform(80, 200) * e)[..., None] * alpha
    if scene == "screen":
        img = _moire(img, rng)
    sigma = rng.uniform(*p["blur"]) * W / 3000
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise = np.random.default_rng(seed + 17 * TIERS.index(tier)).standard_normal((H, W, 1), np.float32)
    img += noise * rng.uniform(*p["noise"])
    out = np.clip(img, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="JPEG", quality=rng.randint(*p["q"]))
    meta = {"scene": scene, "turns": turns, "glare": glare, "size": (W, H)}
    return buf.getvalue(), f, meta
