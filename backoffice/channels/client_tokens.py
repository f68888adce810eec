"""Client tokens for the REST channel: an app or H5 client proves which REST sender it speaks for.

The back-office issues them (`POST /api/clients/token`, staff token: the app's own backend asks for one after
its user signed in to the app) and the REST channel checks them (connectors/rest.py). A token is a JWT (HS256)
naming the sender (`sub`), for the audience `hall-rest`, expiring (default 1 h, at most 24 h). With
`HALL_ENV=production` the REST channel refuses a message without a valid token for its sender; in development
a token is optional (testers, `make run`) but checked when sent.

The signing key is `HALL_CLIENT_TOKEN_KEY` (required in production), in development generated once into
var/client_token_key. The Rasa process (REST channel) and the back-office read the same setting.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import jwt

from backoffice.channels.senders import BadSender, canonical

AUDIENCE = "hall-rest"
DEFAULT_TTL = 3600
MAX_TTL = 24 * 3600
ROOT = Path(__file__).resolve().parents[2]


class InvalidClientToken(ValueError):
    pass


def production() -> bool:
    return os.environ.get("HALL_ENV", "development") == "production"


def signing_key() -> str:
    value = os.environ.get("HALL_CLIENT_TOKEN_KEY")
    if value:
        return value
    if production():
        raise RuntimeError("HALL_CLIENT_TOKEN_KEY must be set in production")
    path = Path(os.environ.get("HALL_VAR_DIR", ROOT / "var")) / "client_token_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def issue(sender: str, ttl: int = DEFAULT_TTL, *, key: str | None = None, now: float | None = None) -> dict:
    """A token for the REST sender `sender` (the client's own id, without the `rest:` prefix)."""
    canonical(sender)
    ttl = max(60, min(int(ttl), MAX_TTL))
    issued = int(now if now is not None else time.time())
    token = jwt.encode({"sub": sender, "aud": AUDIENCE, "iat": issued, "exp": issued + ttl},
                       key or signing_key(), algorithm="HS256")
    return {"token": token, "expires_at": issued + ttl}


def verify(token: str, *, key: str | None = None) -> str:
    """The sender a valid token names; InvalidClientToken otherwise (expired, forged, other audience)."""
    try:
        claims = jwt.decode(token, key or signing_key(), algorithms=["HS256"], audience=AUDIENCE,
                            options={"require": ["exp", "sub", "aud"]})
        return canonical(claims["sub"])
    except (jwt.PyJWTError, BadSender, KeyError, TypeError) as exc:
        raise InvalidClientToken(exc.__class__.__name__) from None


def bearer(header: str | None) -> str | None:
    return header[7:].strip() if header and header.startswith("Bearer ") else None
