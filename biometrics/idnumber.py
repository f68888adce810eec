"""GB 11643-1999 citizen identity numbers (居民身份证号码).

18 characters: 6-digit region code, 8-digit birth date (YYYYMMDD), 3-digit
sequence whose last digit is odd for men and even for women, and an
ISO 7064 MOD 11-2 check character.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
PATTERN = re.compile(r"^\d{17}[\dX]$")

# Province-level prefixes in use (81/82/83: residence permits for HK, Macau, Taiwan residents).
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


def birth_date_plausible(number: str, today: _dt.date | None = None) -> bool:
    d = birth_date(number)
    today = today or _dt.date.today()
    return d is not None and _dt.date(1900, 1, 1) <= d <= today


def region_plausible(number: str) -> bool:
    """Province prefix in use and the 6-digit code known (now or historically)."""
    if not number or len(number) < 6 or not number[:6].isdigit():
        return False
    if number[:2] not in PROVINCES:
        return False
    if number[:2] in ("71", "81", "82", "83"):
        return number[2:6] == "0000"
    if number[2:4] == "00":
        return False
    try:
        from stdnum import numdb

        info = numdb.get("cn/loc").info(number[:6])
        return any(props.get("county") for _part, props in info)
    except Exception:  # stdnum missing: fall back to the province check
        return True


def region_name(number: str) -> str | None:
    return PROVINCES.get((number or "")[:2])


@dataclass
class Check:
    ok: bool
    number: str
    error: str | None = None
    corrected: bool = False


def validate(number: str, today: _dt.date | None = None) -> Check:
    """Full validation.  ``error`` is one of bad_format, bad_checksum, bad_birth_date, bad_region."""
    n = (number or "").strip().upper()
    if not PATTERN.match(n):
        return Check(False, n, "bad_format")
    if not checksum_ok(n):
        return Check(False, n, "bad_checksum")
    if not birth_date_plausible(n, today):
        return Check(False, n, "bad_birth_date")
    if not region_plausible(n):
        return Check(False, n, "bad_region")
    return Check(True, n)


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
        return Check(True, candidates.pop(), None, corrected=True)
    return first
