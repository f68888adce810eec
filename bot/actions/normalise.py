"""What customers type, turned into what a step asks for: one tested function per kind of answer.

Phone keyboards give full-width digits, spaces and dashes; people write their number with +86, read digits
out in Chinese (「幺三八」), and put words around a code (「验证码是 482913」). Each function returns the value, or
None when the text holds no such value (the step then asks again).
"""
from __future__ import annotations

import re
import unicodedata

# Chinese numerals as people read digits out; 幺 is how 1 is said in phone numbers.
CN_DIGITS = {"零": "0", "〇": "0", "○": "0", "洞": "0", "幺": "1", "一": "1", "壹": "1", "二": "2", "两": "2",
             "贰": "2", "三": "3", "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6",
             "七": "7", "柒": "7", "拐": "7", "八": "8", "捌": "8", "九": "9", "玖": "9", "勾": "9"}
SEPARATORS = re.compile(r"[\s\-_.,，。·:：/／()（）]")
_CN_RUN = re.compile(f"[{''.join(CN_DIGITS)}]{{4,}}")  # a run of read-out digits (4+: a 十一点 is no number)


def width(text: str | None) -> str:
    """Full-width to half-width (NFKC), any script's decimal digits to ASCII."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)


def compact(text: str | None) -> str:
    """Half-width, without spaces or separators: how a typed button title or option is compared."""
    return SEPARATORS.sub("", width(text))


def spoken_digits(text: str) -> str:
    """Runs of digits read out in Chinese (「幺三八零零零零零零零一」) written as digits."""
    return _CN_RUN.sub(lambda m: "".join(CN_DIGITS[c] for c in m.group(0)), text)


def digit_runs(text: str | None) -> list[str]:
    """Every number in the text, separators inside it ignored (「138 0000-0001」 is one number)."""
    cleaned = spoken_digits(width(text))
    joined = re.sub(r"(?<=\d)[\s\-_.·/／]+(?=\d)", "", cleaned)
    return re.findall(r"\d+", joined)


def phone(text: str | None) -> str | None:
    """A mainland mobile number: 11 digits from 1[3-9], with or without +86 / 86 / 0086 in front."""
    for run in digit_runs(text):
        for prefix in ("0086", "86", ""):
            number = run[len(prefix):] if run.startswith(prefix) else None
            if number and re.fullmatch(r"1[3-9]\d{9}", number):
                return number
    return None


def account_number(text: str | None) -> str | None:
    """A fund account number: 8 to 10 digits, alone in the text (letters mixed in are a typo, not a number)."""
    if re.search(r"[A-Za-z]", width(text)):
        return None
    runs = [r for r in digit_runs(text) if 8 <= len(r) <= 10]
    return runs[0] if len(runs) == 1 else None


def code(text: str | None, length: int = 6) -> str | None:
    """An SMS code of `length` digits, words around it allowed (「验证码是 482 913」)."""
    runs = [r for r in digit_runs(text) if len(r) == length]
    return runs[0] if len(runs) == 1 else None
