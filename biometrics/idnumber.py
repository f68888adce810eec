"""GB 11643-1999 citizen identity numbers (居民身份证号码): the one ID-number rule of the product.

18 characters: 6-digit region code, 8-digit birth date (YYYYMMDD), 3-digit
sequence whose last digit is odd for men and even for women, and an
ISO 7064 MOD 11-2 check character.

:func:`validate` is used by the back-office (account records), the ID card OCR
(:mod:`biometrics.idcard`) and the demo seed alike.  A number is valid when

- the check character matches (GB 11643);
- the birth date is a real date, not in the future and at most
  :data:`MAX_AGE_YEARS` years back;
- the region code is one that has existed at **any** time (GB/T 2260 codes
  since 1980, the table python-stdnum ships as ``stdnum/cn/loc.dat``), whatever
  the birth date.  A card carries the code of the office that issued it, which
  may have been created after the holder was born (厦门市思明区 350203 dates
  from 1983; people born in 1965 carry it), and keeps a code that was abolished
  later.  Province-level codes (``xx00xx``) are not issued on cards;
- or it is a residence permit for Hong Kong, Macau or Taiwan residents
  (港澳台居民居住证, region ``810000`` / ``820000`` / ``830000``, same layout and
  checksum): accepted, reported as ``kind="residence_permit"``.  No other
  ``71``/``81``/``82``/``83`` code is issued on any card.
"""
from __future__ import annotations

import datetime as _dt
import functools
import re
from dataclasses import dataclass
from importlib import resources

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
PATTERN = re.compile(r"^\d{17}[\dX]$")

# Province-level prefixes (names for the generator and region_name; 81/82/83: residence permits).
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
    "83": "台湾地区",
}

# Characters OCR engines confuse with each other, for one-character correction.
CONFUSABLE = {
    "0": "8693", "1": "74", "2": "7", "3": "85", "4": "19", "5": "63", "6": "5089",
    "7": "12", "8": "03695", "9": "806", "X": "",
}
# Non-digit glyphs an engine may emit for a digit (applied before validation).
_GLYPHS = str.maketrans({
    "O": "0", "o": "0", "D": "0", "Q": "0", "〇": "0", "I": "1", "l": "1", "|": "1", "i": "1",
    "Z": "2", "z": "2", "S": "5", "s": "5", "B": "8", "G": "6", "b": "6", "g": "9", "q": "9",
    "x": "X", "×": "X", "Ｘ": "X", "K": "X", "k": "X",
    "０": "0", "１": "1", "２": "2", "３": "3", "４": "4", "５": "5", "６": "6", "７": "7", "８": "8", "９": "9",
})


def check_char(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need 17 digits")
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def checksum_ok(number: str) -> bool:
    return bool(PATTERN.match(number or "")) and check_char(number[:17]) == number[17]


def normalize(text: str) -> str:
    """Map look-alike glyphs to digits / X and drop separators (for OCR output)."""
    t = (text or "").translate(_GLYPHS)
    return re.sub(r"[\s\-_.·,:：]", "", t).upper()


def birth_date(number: str) -> _dt.date | None:
    try:
        return _dt.datetime.strptime(number[6:14], "%Y%m%d").date()
    except (ValueError, TypeError):
        return None


def gender(number: str) -> str | None:
    if not number or len(number) < 17 or not number[16].isdigit():
        return None
    return "男" if int(number[16]) % 2 else "女"


MAX_AGE_YEARS = 125  # older than any person alive: an earlier "birth date" is a misread or a forgery
# 港澳台居民居住证 (since 2018): the region field is fixed per origin, not an office code.
RESIDENCE_PERMIT_REGIONS = {"810000": "香港", "820000": "澳门", "830000": "台湾"}


def birth_date_plausible(number: str, today: _dt.date | None = None) -> bool:
    d = birth_date(number)
    today = today or _dt.date.today()
    if d is None:
        return False
    try:
        earliest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:  # 29 February
        earliest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
    return earliest <= d <= today


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every 6-digit region code below province level that has existed since 1980, validity dates ignored.

    Read from python-stdnum's GB/T 2260 table (``stdnum/cn/loc.dat``: a province line ``35 province=...``,
    then indented ``0203 county="[1983-]思明区"`` lines).  A missing or empty table raises: an ID check
    never passes for want of its data."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    codes, province = set(), None
    for line in text.splitlines():
        if m := re.match(r"^(\d{2})\s", line):
            province = m.group(1)
        elif (m := re.match(r"^\s+(\d{4})\s", line)) and province:
            if m.group(1)[:2] != "00":  # province-level entries (110000 北京市) are not printed on cards
                codes.add(province + m.group(1))
    if len(codes) < 3000:
        raise RuntimeError("stdnum/cn/loc.dat: region table missing or truncated")
    return frozenset(codes)


def region_plausible(number: str) -> bool:
    """The 6-digit region code has existed at some time (independent of the birth date), or is a residence permit's."""
    code = (number or "")[:6]
    return code in RESIDENCE_PERMIT_REGIONS or code in known_regions()


def kind(number: str) -> str:
    """"residence_permit" (港澳台居民居住证) or "resident" (居民身份证)."""
    return "residence_permit" if (number or "")[:6] in RESIDENCE_PERMIT_REGIONS else "resident"


def region_name(number: str) -> str | None:
    return PROVINCES.get((number or "")[:2])


@dataclass
class Check:
    ok: bool
    number: str
    error: str | None = None
    corrected: bool = False
    kind: str = "resident"  # or "residence_permit"


def validate(number: str, today: _dt.date | None = None) -> Check:
    """The product's ID-number rule (module docstring).  ``error`` is one of bad_format, bad_checksum,
    bad_birth_date, bad_region."""
    n = (number or "").strip().upper()
    if not PATTERN.match(n):
        return Check(False, n, "bad_format")
    if not checksum_ok(n):
        return Check(False, n, "bad_checksum")
    if not birth_date_plausible(n, today):
        return Check(False, n, "bad_birth_date")
    if not region_plausible(n):
        return Check(False, n, "bad_region")
    return Check(True, n, kind=kind(n))


def correct_one(number: str, today: _dt.date | None = None) -> Check:
    """Validate; if invalid, try replacing one OCR-ambiguous character.

    The correction is applied only when exactly one single-character variant
    (from :data:`CONFUSABLE`) passes every check.
    """
    n = normalize(number)
    first = validate(n, today)
    if first.ok or len(n) != 18:
        return first
    candidates = set()
    for i, ch in enumerate(n):
        alts = CONFUSABLE.get(ch, "")
        if i == 17 and ch in "14":
            alts += "X"  # a blurred X read as 1 or 4
        for alt in alts:
            cand = n[:i] + alt + n[i + 1:]
            if validate(cand, today).ok:
                candidates.add(cand)
    # Only look-alike substitutions are tried, so a number printed with a wrong
    # check character (a forgery or a typo) is not silently "repaired".
    if len(candidates) == 1:
        number = candidates.pop()
        return Check(True, number, None, corrected=True, kind=kind(number))
    return first
