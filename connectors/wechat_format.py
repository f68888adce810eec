"""Rasa bot messages → WeChat messages, for both WeChat channels (Official Account and 微信客服).

Neither has quick replies a bot can set per message, so buttons become numbered options ("回复数字选择") and
the customer's number is mapped back to the button payload. Text is split under WeChat's byte limit on
paragraph, line, sentence or character boundaries, never inside a URL.
"""
from __future__ import annotations

import json
import re
import unicodedata

MAX_TEXT_BYTES = 2000  # WeChat documents 2048 bytes for text; keep headroom for the XML/JSON envelope
OPTIONS_HINT = "回复数字选择"
OPTIONS_TTL = 24 * 3600
URL_RE = re.compile(r"https?://[^\s，。；！？、）)\]】>\"']+")


def _bytes(s: str) -> int:
    return len(s.encode("utf-8"))


def _hard_split(line: str, limit: int) -> list[str]:
    """Cut one long line at character boundaries, moving a cut that would fall inside a URL to before it."""
    urls = [(m.start(), m.end()) for m in URL_RE.finditer(line)]
    chunks, start = [], 0
    while start < len(line):
        end, size = start, 0
        while end < len(line) and size + _bytes(line[end]) <= limit:
            size += _bytes(line[end])
            end += 1
        if end < len(line):
            for u_start, u_end in urls:
                if u_start < end < u_end and u_start > start:
                    end = u_start
                    break
        chunks.append(line[start:end])
        start = end
    return chunks


# Chinese sentence ends only: ASCII "?" and ";" occur inside URLs.
_SENTENCE_END = re.compile(r"(?<=[。！？；])")


def _pack(units: list[str], joiner: str, limit: int, cut) -> list[str]:
    """Units joined greedily into pieces of at most `limit` bytes; a unit longer than that is `cut(unit, limit)`."""
    pieces, current = [], ""
    for unit in units:
        candidate = unit if not current else current + joiner + unit
        if _bytes(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
            current = ""
        if _bytes(unit) <= limit:
            current = unit
        else:
            parts = cut(unit, limit)
            pieces.extend(parts[:-1])
            current = parts[-1]
    if current:
        pieces.append(current)
    return pieces


def _split_line(line: str, limit: int) -> list[str]:
    """Cut a line longer than `limit` bytes at sentence ends, a sentence that is still too long at characters."""
    return _pack([s for s in _SENTENCE_END.split(line) if s], "", limit, _hard_split)


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, preferring paragraph, then line, then sentence boundaries."""
    text = (text or "").strip()
    if not text:
        return []
    if _bytes(text) <= limit:
        return [text]
    return [p.strip("\n") for p in _pack(text.split("\n"), "\n", limit, _split_line) if p.strip()]


def render_options(buttons: list[dict]) -> tuple[str, list[str]]:
    """("1. 投资者\n2. …\n回复数字选择", payloads)."""
    lines, payloads = [], []
    for i, button in enumerate(buttons, 1):
        title = str(button.get("title") or button.get("payload") or "").strip()
        lines.append(f"{i}. {title}")
        payloads.append(str(button.get("payload") or title))
    return "\n".join(lines) + f"\n{OPTIONS_HINT}", payloads


_NUMBER_RE = re.compile(r"^\s*(?:第\s*)?(\d{1,2})\s*(?:项|个|号)?\s*[.。、]?\s*$")


def match_option(text: str, payloads: list[str] | None) -> str | None:
    """The payload for a numeric answer ("1", "１", "第2项"), if it names one of the offered options."""
    if not payloads or not text:
        return None
    match = _NUMBER_RE.match(unicodedata.normalize("NFKC", text))
    if not match:
        return None
    index = int(match.group(1))
    return payloads[index - 1] if 1 <= index <= len(payloads) else None


def build_outgoing(bot_messages: list[dict], limit: int = MAX_TEXT_BYTES) -> tuple[list[dict], list[str] | None]:
    """WeChat messages for one bot turn, and the options it offered (the last message with buttons wins).

    Consecutive texts are merged into as few WeChat messages as fit, so a typical turn is one passive reply.
    Outgoing items: {"type": "text", "content"}, {"type": "image", "url"|"media_id"},
    {"type": "news", "articles": [{title, description, url, image}]}.
    """
    out: list[dict] = []
    options: list[str] | None = None
    texts: list[str] = []

    def flush():
        if texts:
            for piece in split_text("\n\n".join(texts), limit):
                out.append({"type": "text", "content": piece})
            texts.clear()

    for msg in bot_messages:
        text = (msg.get("text") or "").strip()
        buttons = msg.get("buttons") or msg.get("quick_replies") or []
        if buttons:
            block, options = render_options(buttons)
            text = (text + "\n" + block) if text else block
        if text:
            texts.append(text)
        custom = msg.get("custom") or {}
        news = custom.get("news") or custom.get("articles") if isinstance(custom, dict) else None
        if msg.get("image") or news:
            flush()
        if msg.get("image"):
            out.append({"type": "image", "url": msg["image"]})
        if news:
            out.append({"type": "news", "articles": news if isinstance(news, list) else [news]})
        elif isinstance(custom, dict) and custom.get("text"):
            texts.append(str(custom["text"]))
        if msg.get("attachment") and not msg.get("image"):
            texts.append(str(msg["attachment"]))
    flush()
    return out, options


def options_key(openid: str) -> str:
    return f"wechat:options:{openid}"


def dump_options(payloads: list[str]) -> str:
    return json.dumps(payloads, ensure_ascii=False)


def load_options(raw: str | None) -> list[str] | None:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, list) else None
