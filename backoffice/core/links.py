"""Signed, expiring links for customers (media previews, agreement pages and PDFs, witness pages): HMAC over a
small JSON payload. The one signer of the back-office; a payload's "t" names what a token is for."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, key: bytes, clock):
        self._key, self.clock = key, clock

    def sign(self, payload: dict, ttl: float) -> str:
        return self.sign_expiring(payload, ttl)[0]

    def sign_expiring(self, payload: dict, ttl: float) -> tuple[str, int]:
        """The token and its expiry (Unix seconds), for answers that tell when a link stops working."""
        exp = int(self.clock.now() + ttl)
        body = _b64(json.dumps({**payload, "exp": exp}, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:20])
        return f"{body}.{mac}", exp

    def verify(self, token: str, kind: str | None = None) -> dict | None:
        """The payload, or None for a forged, malformed or expired token, or one made for another `kind`."""
        try:
            body, mac = token.split(".", 1)
            expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:20])
            if not hmac.compare_digest(mac, expected):
                return None
            payload = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if not isinstance(payload, dict) or payload.get("exp", 0) < self.clock.now():
            return None
        if kind is not None and payload.get("t") != kind:
            return None
        return payload
