"""One-time codes sent by SMS.

Rules: 6 digits from `secrets`, bound to (phone, purpose), valid 5 minutes, resend no sooner than 60 s,
at most 5 wrong tries then void, single use, at most 10 codes a phone a day. The store holds an HMAC of
the code, never the code, and keys use a blind index of the phone, never the number itself.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

DAILY_LIMIT = 10


@dataclass
class Issued:
    status: str  # "sent" | "wait" | "too_many"
    code: str | None = None
    wait_seconds: int = 0


@dataclass
class Checked:
    status: str  # "ok" | "wrong" | "expired" | "exhausted"
    remaining: int = 0


class OtpService:
    def __init__(self, kv, crypto, clock, *, ttl=300, resend_after=60, max_attempts=5, secret: bytes = b""):
        self.kv, self.crypto, self.clock = kv, crypto, clock
        self.ttl, self.resend_after, self.max_attempts = ttl, resend_after, max_attempts
        self._secret = secret or secrets.token_bytes(32)

    def _keys(self, phone: str, purpose: str) -> tuple[str, str, str, str]:
        who = self.crypto.blind_index(phone)[:32]
        base = f"otp:{purpose}:{who}"
        return base, base + ":tries", base + ":resend", f"otp:daily:{who}"

    def _digest(self, phone: str, purpose: str, code: str) -> str:
        return hmac.new(self._secret, f"{purpose}|{phone}|{code}".encode(), hashlib.sha256).hexdigest()

    def issue(self, phone: str, purpose: str) -> Issued:
        key, tries, resend, daily = self._keys(phone, purpose)
        now = self.clock.now()
        if not self.kv.set_nx(resend, repr(now), self.resend_after):
            # The timestamp, not the store's TTL, decides: the clock stays injectable with Redis too.
            last = float(self.kv.get(resend) or 0)
            if now - last < self.resend_after:
                return Issued("wait", wait_seconds=max(1, int(self.resend_after - (now - last) + 0.999)))
            self.kv.set(resend, repr(now), self.resend_after)
        if self.kv.incr(daily, 86400) > DAILY_LIMIT:
            return Issued("too_many")
        code = f"{secrets.randbelow(10**6):06d}"
        record = {"h": self._digest(phone, purpose, code), "exp": now + self.ttl}
        self.kv.delete(tries)
        # The store's own TTL is a backstop; "exp" is checked against the injectable clock.
        self.kv.set(key, json.dumps(record), self.ttl + 5)
        return Issued("sent", code=code)

    def verify(self, phone: str, purpose: str, code: str) -> Checked:
        key, tries, _, _ = self._keys(phone, purpose)
        raw = self.kv.get(key)
        if raw is None:
            return Checked("expired")
        record = json.loads(raw)
        if record["exp"] <= self.clock.now():
            self.kv.delete(key)
            return Checked("expired")
        code = (code or "").strip()
        if hmac.compare_digest(record["h"], self._digest(phone, purpose, code)):
            # Single use: only the caller that actually deletes the code succeeds.
            return Checked("ok") if self.kv.delete(key) else Checked("expired")
        used = self.kv.incr(tries, self.ttl + 5)
        if used >= self.max_attempts:
            self.kv.delete(key)
            return Checked("exhausted")
        return Checked("wrong", remaining=self.max_attempts - used)

    def void(self, phone: str, purpose: str) -> None:
        key, tries, _, _ = self._keys(phone, purpose)
        self.kv.delete(key)
        self.kv.delete(tries)
