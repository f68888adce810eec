"""Injectable time source so TTL rules can be tested without sleeping."""
from __future__ import annotations

import time
from datetime import datetime, timezone


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
