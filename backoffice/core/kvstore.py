"""Small key-value store with TTL: Redis when configured, in-process memory otherwise.

OTP codes, rate-limit counters and lockouts live here. Values are strings; callers never put raw
personal data in keys (they use blind indexes).
"""
from __future__ import annotations

import threading
from typing import Protocol

from backoffice.core.clock import SystemClock


class KVStore(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl: float) -> None: ...
    def set_nx(self, key: str, value: str, ttl: float) -> bool: ...
    def delete(self, key: str) -> bool: ...
    def incr(self, key: str, ttl: float) -> int: ...
    def ttl(self, key: str) -> float | None: ...


class MemoryKV:
    def __init__(self, clock=None):
        self.clock = clock or SystemClock()
        self._data: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str):
        item = self._data.get(key)
        if item and item[1] <= self.clock.now():
            del self._data[key]
            return None
        return item

    def get(self, key):
        with self._lock:
            item = self._live(key)
            return item[0] if item else None

    def set(self, key, value, ttl):
        with self._lock:
            self._data[key] = (value, self.clock.now() + ttl)

    def set_nx(self, key, value, ttl):
        with self._lock:
            if self._live(key):
                return False
            self._data[key] = (value, self.clock.now() + ttl)
            return True

    def delete(self, key):
        with self._lock:
            return self._live(key) is not None and self._data.pop(key, None) is not None

    def incr(self, key, ttl):
        """Counter whose window starts at the first increment."""
        with self._lock:
            item = self._live(key)
            if item:
                value = int(item[0]) + 1
                self._data[key] = (str(value), item[1])
            else:
                value = 1
                self._data[key] = ("1", self.clock.now() + ttl)
            return value

    def ttl(self, key):
        with self._lock:
            item = self._live(key)
            return item[1] - self.clock.now() if item else None

    def sweep(self) -> int:
        """Drop expired entries nobody read again (retention purge); Redis expires keys by itself."""
        with self._lock:
            now = self.clock.now()
            dead = [k for k, (_v, exp) in self._data.items() if exp <= now]
            for key in dead:
                del self._data[key]
            return len(dead)


class RedisKV:
    # Lua keeps "increment, and set the window on the first hit" atomic across workers.
    _INCR = "local v = redis.call('INCR', KEYS[1]) if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return v"

    def __init__(self, url: str, prefix: str = "hall:"):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self.prefix = prefix
        self._incr = self.client.register_script(self._INCR)

    def _k(self, key):
        return self.prefix + key

    def get(self, key):
        return self.client.get(self._k(key))

    def set(self, key, value, ttl):
        self.client.set(self._k(key), value, px=max(1, int(ttl * 1000)))

    def set_nx(self, key, value, ttl):
        return bool(self.client.set(self._k(key), value, px=max(1, int(ttl * 1000)), nx=True))

    def delete(self, key):
        return bool(self.client.delete(self._k(key)))

    def incr(self, key, ttl):
        return int(self._incr(keys=[self._k(key)], args=[max(1, int(ttl * 1000))]))

    def ttl(self, key):
        ms = self.client.pttl(self._k(key))
        return ms / 1000 if ms and ms > 0 else None


def make_kv(redis_url: str | None, clock=None, prefix: str = "hall:") -> KVStore:
    return RedisKV(redis_url, prefix=prefix) if redis_url else MemoryKV(clock)
