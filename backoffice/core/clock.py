"""The one time module: injectable clocks (TTL rules are tested without sleeping), Beijing time, and the
helpers that turn stored UTC datetimes into what customers and staff read."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

# Customers and staff read Beijing time whatever the server's zone; everything stored is UTC.
CHINA = timezone(timedelta(hours=8))


class SystemClock:
    def now(self) -> float:
        return time.time()

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)


class ManualClock(SystemClock):
    """A clock tests move by hand."""

    def __init__(self, start: float | None = None):
        self._t = time.time() if start is None else start

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        self._t += seconds


def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def iso(dt: datetime | None) -> str | None:
    return as_utc(dt).isoformat() if dt is not None else None


def in_china(dt: datetime) -> datetime:
    """A stored (UTC, possibly naive) datetime in Beijing time."""
    return as_utc(dt).astimezone(CHINA)


def china_date(dt: datetime) -> str:
    """2024年6月3日: the date in customers' texts."""
    d = in_china(dt)
    return f"{d.year}年{d.month}月{d.day}日"


def china_time_from_timestamp(ts, fmt: str = "%m-%d %H:%M:%S") -> str:
    """A Unix timestamp (Rasa events) in Beijing time; "" when it is not a number."""
    try:
        return datetime.fromtimestamp(float(ts), CHINA).strftime(fmt)
    except (TypeError, ValueError):
        return ""


def china_time_from_iso(text: str | None, fmt: str = "%m-%d %H:%M:%S") -> str:
    """An ISO timestamp (the API's) in Beijing time; the text itself when it is not one."""
    try:
        return datetime.fromisoformat(text).astimezone(CHINA).strftime(fmt)
    except (TypeError, ValueError):
        return text or ""
