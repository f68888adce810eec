"""Staff accounts, console sessions and the login rate limit.

Sessions are random ids kept in the KV store (Redis in production) under a hash of the id, so a
leaked store dump does not hand out live cookies; each carries its own CSRF token.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, DateTime, Integer, String, select

from backoffice.core.clock import iso
from backoffice.core.db import Base

ROLES = ("agent", "reviewer", "admin")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,32}$")
SESSION_TTL = 8 * 3600  # idle expiry, refreshed on every request
LOGIN_WINDOW = 15 * 60
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class StaffUser(Base):
    __tablename__ = "staff_users"
    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(32), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    last_login_at = Column(DateTime(timezone=True))


class StaffError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class StaffService:
    def __init__(self, db, kv, audit, clock):
        self.db, self.kv, self.audit, self.clock = db, kv, audit, clock

    # --- accounts ---------------------------------------------------------------------------
    def create(self, username: str, password: str, role: str) -> dict:
        if not USERNAME_RE.match(username or ""):
            raise StaffError("username: 2-32 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise StaffError(f"role must be one of {', '.join(ROLES)}")
        if len(password or "") < 10:
            raise StaffError("password must have at least 10 characters")
        with self.db.session() as s:
            if s.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none():
                raise StaffError("username exists")
            s.add(StaffUser(username=username, password_hash=hash_password(password), role=role, active=True,
                            created_at=self.clock.utcnow()))
            self.audit.record("staff_created", actor="system", session=s, username=username, role=role)
        return {"username": username, "role": role}

    def set_password(self, username: str, password: str) -> None:
        if len(password or "") < 10:
            raise StaffError("password must have at least 10 characters")
        with self.db.session() as s:
            user = s.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none()
            if user is None:
                raise StaffError("no such user")
            user.password_hash = hash_password(password)

    def exists(self, username: str) -> bool:
        with self.db.session() as s:
            return s.execute(select(StaffUser.id).where(StaffUser.username == username)).first() is not None

    def list(self) -> list[dict]:
        with self.db.session() as s:
            return [{"username": u.username, "role": u.role, "active": u.active, "last_login_at": iso(u.last_login_at)}
                    for u in s.execute(select(StaffUser).order_by(StaffUser.username)).scalars()]

    # --- login --------------------------------------------------------------------------------
    def _keys(self, username: str, ip: str) -> tuple[str, str]:
        return f"console:fail:u:{_digest(username.lower())}", f"console:fail:ip:{_digest(ip)}"

    def rate_limited(self, username: str, ip: str) -> bool:
        user_key, ip_key = self._keys(username, ip)
        return (int(self.kv.get(user_key) or 0) >= MAX_FAILURES_PER_USER
                or int(self.kv.get(ip_key) or 0) >= MAX_FAILURES_PER_IP)

    def authenticate(self, username: str, password: str, ip: str) -> dict:
        """The user on success; StaffError("rate_limited" | "invalid") otherwise (same answer for both causes)."""
        username = (username or "").strip()[:32]
        if self.rate_limited(username, ip):
            raise StaffError("rate_limited")
        with self.db.session() as s:
            user = s.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none()
            ok = verify_password(user.password_hash if user else _DUMMY_HASH, password or "")
            if ok and user is not None and user.active:
                if _hasher.check_needs_rehash(user.password_hash):
                    user.password_hash = hash_password(password)
                user.last_login_at = self.clock.utcnow()
                found = {"username": user.username, "role": user.role}
            else:
                found = None
        user_key, ip_key = self._keys(username, ip)
        if found is None:
            self.kv.incr(user_key, LOGIN_WINDOW)
            self.kv.incr(ip_key, LOGIN_WINDOW)
            self.audit.record("console_login_failed", actor=f"staff:{username}" if user else "staff:?")
            raise StaffError("invalid")
        self.kv.delete(user_key)
        self.audit.record("console_login", actor=f"staff:{found['username']}")
        return found

    # --- sessions -------------------------------------------------------------------------------
    def open_session(self, user: dict) -> str:
        sid = secrets.token_urlsafe(32)
        data = {"username": user["username"], "role": user["role"], "csrf": secrets.token_urlsafe(32)}
        self.kv.set(f"console:session:{_digest(sid)}", json.dumps(data), SESSION_TTL)
        return sid

    def session(self, sid: str | None) -> dict | None:
        if not sid or len(sid) > 128:
            return None
        key = f"console:session:{_digest(sid)}"
        raw = self.kv.get(key)
        if not raw:
            return None
        data = json.loads(raw)
        with self.db.session() as s:  # a deactivated or demoted user loses the session at once
            user = s.execute(select(StaffUser).where(StaffUser.username == data["username"])).scalar_one_or_none()
            if user is None or not user.active:
                self.kv.delete(key)
                return None
            data["role"] = user.role
        self.kv.set(key, json.dumps(data), SESSION_TTL)
        return data

    def close_session(self, sid: str | None) -> None:
        if sid:
            self.kv.delete(f"console:session:{_digest(sid)}")
