"""Bounded cost per customer message, checked by every channel before Rasa sees the message.

* Length: NLU cost grows with the text (a 100 KB message took 44 s to tokenise and featurise and held a Rasa
  worker all that time), and no business step needs more than a sentence or two. Longer texts are refused
  with a polite answer and never reach NLU.
* Rate: a token bucket per conversation and one per customer address (REST; WeChat's requests come from
  Tencent and carry none), in Redis so every replica of every channel shares them. A refused message costs one
  Redis round trip. Loopback and `HALL_IP_EXEMPT` addresses have no address bucket (the local simulator, an app
  backend relaying customers from inside must pass their addresses on through a trusted proxy header).

Settings: `HALL_MAX_MESSAGE_CHARS` (1000), `HALL_RATE_PER_SENDER` and `HALL_RATE_PER_ADDRESS` as
"burst/per_minute" (defaults 20/60 and 120/300).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time

from backoffice.core.requester import exempt, limit_key, networks, parse_ip
from connectors.channel_metrics import REFUSED

log = logging.getLogger("connectors.guard")

TOO_LONG = "您的消息太长了（超过{limit}字），我没法处理。请用一两句话告诉我您要办理的业务或问题。"
TOO_FAST = "您发送消息太频繁了，请稍等片刻再发送。"

# KEYS[1] bucket; ARGV: burst, refill per second, now (s), ttl (s). Returns 1 when a token was taken.
_BUCKET_LUA = """
local b = tonumber(ARGV[1]); local r = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 't', 'ts')
local t = tonumber(v[1]) or b; local ts = tonumber(v[2]) or now
t = math.min(b, t + math.max(0, now - ts) * r)
local ok = 0
if t >= 1 then t = t - 1; ok = 1 end
redis.call('HSET', KEYS[1], 't', tostring(t), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return ok
"""


def parse_rate(raw: str | None, default: tuple[float, float]) -> tuple[float, float]:
    """"burst/per_minute" → (burst, tokens per second)."""
    if not raw:
        return default[0], default[1] / 60.0
    burst, _, per_minute = raw.partition("/")
    return float(burst), float(per_minute or 0) / 60.0


class _MemoryBuckets:
    """The same buckets in one process (development without Redis)."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, burst: float, rate: float, now: float) -> bool:
        tokens, ts = self._state.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - ts) * rate)
        ok = tokens >= 1
        self._state[key] = (tokens - 1 if ok else tokens, now)
        if len(self._state) > 100_000:  # a flood of made-up senders must not grow this without bound
            self._state.clear()
        return ok


class _RedisBuckets:
    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_BUCKET_LUA)
        self.prefix = prefix

    async def take(self, key: str, burst: float, rate: float, now: float) -> bool:
        ttl = int(burst / rate) + 60 if rate > 0 else 3600
        return bool(await self._script(keys=[self.prefix + key], args=[burst, rate, now, ttl]))


class Guard:
    def __init__(self, *, redis_url: str | None = None, prefix: str = "hall:guard:", max_chars: int = 1000,
                 per_sender=(20.0, 1.0), per_address=(120.0, 5.0), exempt_networks=("127.0.0.0/8", "::1/128"),
                 clock=time.time):
        self.max_chars = max_chars
        self.per_sender, self.per_address = per_sender, per_address
        self.exempt = networks(exempt_networks)
        self.clock = clock
        self._buckets = _RedisBuckets(redis_url, prefix) if redis_url else _MemoryBuckets()

    @classmethod
    def from_env(cls) -> "Guard":
        return cls(redis_url=os.environ.get("REDIS_URL") or None,
                   prefix=os.environ.get("HALL_KV_PREFIX", "hall:") + "guard:",
                   max_chars=int(os.environ.get("HALL_MAX_MESSAGE_CHARS", 1000)),
                   per_sender=parse_rate(os.environ.get("HALL_RATE_PER_SENDER"), (20, 60)),
                   per_address=parse_rate(os.environ.get("HALL_RATE_PER_ADDRESS"), (120, 300)),
                   exempt_networks=os.environ.get("HALL_IP_EXEMPT", "127.0.0.0/8,::1/128").split(","))

    async def admit(self, conversation: str, text: str | None, address: str | None = None,
                    channel: str = "unknown") -> str | None:
        """None when the message may go to the bot, else the polite answer to send instead."""
        if text is not None and len(text) > self.max_chars:
            REFUSED.labels(channel, "too_long").inc()
            return TOO_LONG.format(limit=self.max_chars)
        now = self.clock()
        keys = [("s:" + hashlib.sha256(conversation.encode()).hexdigest()[:32], self.per_sender)]
        ip = parse_ip(address)
        if ip and not exempt(ip, self.exempt):
            keys.append(("a:" + hashlib.sha256(limit_key(ip).encode()).hexdigest()[:32], self.per_address))
        try:
            for key, (burst, rate) in keys:
                if not await self._buckets.take(key, burst, rate, now):
                    REFUSED.labels(channel, "throttled").inc()
                    return TOO_FAST
        except Exception as exc:  # redis.exceptions.*, OSError, timeouts
            # The limiter's store is down: let the message through (the turn answers 系统繁忙 if the bot's own
            # stores are down too); the length cap above still holds.
            log.warning("rate limiter unavailable: %s", exc.__class__.__name__)
        return None


_GUARD: Guard | None = None


def guard() -> Guard:
    """One guard per process, built from the environment on first use."""
    global _GUARD
    if _GUARD is None:
        _GUARD = Guard.from_env()
    return _GUARD
