"""One-time codes sent by SMS.

Rules: 6 digits from `secrets`, bound to (phone, purpose, conversation), valid 5 minutes, resend no sooner
than 60 s, at most 5 wrong tries then void, single use, at most 10 codes a phone a day and 5 a phone from one
conversation. The store holds an HMAC of the code, never the code, and keys use a blind index of the phone,
never the number itself.

A code belongs to the conversation that asked for it: a stranger who knows an account number and its phone
can ask for a code (the owner is told by SMS) but can neither make the owner wait out the resend minute, nor
void the owner's code with wrong guesses, nor use up the phone's daily codes alone.

Per sender (a WeChat openid or REST conversation id) on top: at most 20 codes a day whatever the phones
(one sender cannot flood many phones), and at most 10 wrong codes an hour whatever the codes (resending
does not buy fresh guesses); past that every code of the sender answers "exhausted".

Per customer IP address (REST customers; backoffice/core/requester.py): at most `ip_hourly_codes` codes and
`ip_hourly_failures` wrong codes an hour, so one machine cannot spread its attempts over many conversation ids.
Generous by default, since a carrier's NAT puts many customers behind one address; loopback and the networks
in `ip_exempt` (the local simulator, an app backend relaying from inside) are not counted.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from backoffice.core.requester import client_ip, exempt, limit_key, networks

DAILY_LIMIT = 10
PHONE_SENDER_DAILY_LIMIT = 5
SENDER_DAILY_LIMIT = 20
SENDER_MAX_FAILURES = 10
SENDER_FAILURE_WINDOW = 3600
IP_WINDOW = 3600


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
    def __init__(self, kv, crypto, clock, *, ttl=300, resend_after=60, max_attempts=5, secret: bytes = b"",
                 ip_hourly_codes=30, ip_hourly_failures=30, ip_exempt=("127.0.0.0/8", "::1/128")):
        self.kv, self.crypto, self.clock = kv, crypto, clock
        self.ttl, self.resend_after, self.max_attempts = ttl, resend_after, max_attempts
        self.ip_hourly_codes, self.ip_hourly_failures = ip_hourly_codes, ip_hourly_failures
        self.ip_exempt = networks(ip_exempt)  # parsed once, not per code
        self._secret = secret or secrets.token_bytes(32)

    def _keys(self, phone: str, purpose: str, sender: str | None) -> tuple[str, str, str, str, str | None]:
        who = self.crypto.blind_index(phone)[:32]
        conv = hashlib.sha256(sender.encode()).hexdigest()[:16] if sender is not None else "-"
        base = f"otp:{purpose}:{who}:{conv}"
        here = f"otp:daily:{who}:{conv}" if sender is not None else None
        return base, base + ":tries", base + ":resend", f"otp:daily:{who}", here

    def _digest(self, phone: str, purpose: str, code: str) -> str:
        return hmac.new(self._secret, f"{purpose}|{phone}|{code}".encode(), hashlib.sha256).hexdigest()

    def _sender_keys(self, sender: str) -> tuple[str, str]:
        who = hashlib.sha256(sender.encode()).hexdigest()[:32]
        return f"otp:sender:daily:{who}", f"otp:sender:fail:{who}"

    def _ip_keys(self) -> tuple[str | None, str | None]:
        """Code and failure counters of the current request's customer address (None, None when it is unknown or
        exempt); the address is hashed, never stored as typed."""
        ip = client_ip()
        if ip is None or exempt(ip, self.ip_exempt):
            return None, None
        who = hashlib.sha256(limit_key(ip).encode()).hexdigest()[:32]
        return f"otp:ip:codes:{who}", f"otp:ip:fail:{who}"

    def _reached(self, counter: str | None, limit: int) -> bool:
        return counter is not None and int(self.kv.get(counter) or 0) >= limit

    def issue(self, phone: str, purpose: str, sender: str | None = None) -> Issued:
        key, tries, resend, daily, daily_here = self._keys(phone, purpose, sender)
        now = self.clock.now()
        sender_daily = self._sender_keys(sender)[0] if sender is not None else None
        ip_codes, _ = self._ip_keys()
        # Checked before anything of the phone's is touched: a capped sender must not delay the owner.
        if self._reached(sender_daily, SENDER_DAILY_LIMIT) or self._reached(ip_codes, self.ip_hourly_codes):
            return Issued("too_many")
        if not self.kv.set_nx(resend, repr(now), self.resend_after):
            # The timestamp, not the store's TTL, decides: the clock stays injectable with Redis too.
            last = float(self.kv.get(resend) or 0)
            if now - last < self.resend_after:
                return Issued("wait", wait_seconds=max(1, int(self.resend_after - (now - last) + 0.999)))
            self.kv.set(resend, repr(now), self.resend_after)
        # one conversation alone cannot use up the phone's codes of the day (its owner's included)
        if self._reached(daily_here, PHONE_SENDER_DAILY_LIMIT) or self.kv.incr(daily, 86400) > DAILY_LIMIT:
            return Issued("too_many")
        if daily_here:
            self.kv.incr(daily_here, 86400)
        if sender_daily:
            self.kv.incr(sender_daily, 86400)
        if ip_codes:
            self.kv.incr(ip_codes, IP_WINDOW)
        code = f"{secrets.randbelow(10**6):06d}"
        record = {"h": self._digest(phone, purpose, code), "exp": now + self.ttl}
        self.kv.delete(tries)
        # The store's own TTL is a backstop; "exp" is checked against the injectable clock.
        self.kv.set(key, json.dumps(record), self.ttl + 5)
        return Issued("sent", code=code)

    def verify(self, phone: str, purpose: str, code: str, sender: str | None = None) -> Checked:
        key, tries, resend, _, _ = self._keys(phone, purpose, sender)
        raw = self.kv.get(key)
        if raw is None:
            return Checked("expired")
        failures = self._sender_keys(sender)[1] if sender is not None else None
        if self._reached(failures, SENDER_MAX_FAILURES):
            self.kv.delete(key)  # this sender has guessed enough: no code of theirs is checked any more
            return Checked("exhausted")
        _, ip_failures = self._ip_keys()
        if self._reached(ip_failures, self.ip_hourly_failures):
            # The code is kept: the address may be shared (NAT), the phone's owner can still use it elsewhere.
            return Checked("exhausted")
        record = json.loads(raw)
        if record["exp"] <= self.clock.now():
            self.kv.delete(key)
            return Checked("expired")
        code = (code or "").strip()
        if hmac.compare_digest(record["h"], self._digest(phone, purpose, code)):
            # Single use: only the caller that actually deletes the code succeeds.
            if not self.kv.delete(key):
                return Checked("expired")
            # Used by whoever holds the phone: the next code (another device, the next step) need not wait
            # out the minute; the daily caps still bound the SMS count.
            self.kv.delete(resend)
            return Checked("ok")
        used = self.kv.incr(tries, self.ttl + 5)
        if failures:
            self.kv.incr(failures, SENDER_FAILURE_WINDOW)
        if ip_failures:
            self.kv.incr(ip_failures, IP_WINDOW)
        if used >= self.max_attempts:
            self.kv.delete(key)
            return Checked("exhausted")
        return Checked("wrong", remaining=self.max_attempts - used)

    def void(self, phone: str, purpose: str, sender: str | None = None) -> None:
        key, tries, _, _, _ = self._keys(phone, purpose, sender)
        self.kv.delete(key)
        self.kv.delete(tries)
