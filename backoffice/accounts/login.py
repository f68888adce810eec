"""掌厅登录: investor login by fund account + reserved phone + SMS code + privacy consent, and sessions.

A failed match never says which of account or phone was wrong.

Lock-out without denial of service. Failures (a wrong account/phone pair, a wrong code) lock the conversation
and the customer address that made them (REST; loopback and `HALL_IP_EXEMPT` not counted) for a while. They
are also counted per account number string (known or not, so counting reveals nothing); that count never
locks the owner out — strangers with a list of account numbers must not be able to lock a customer base out:
past the limit the account is *guarded* for the lock period: a wrong pair is answered as locked at once and
locks the conversation that tried it after one try instead of five, while the right reserved phone still gets
a code (which goes only to that phone) and the right code still logs in. The owner is told by SMS when their
account becomes guarded.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Integer, String

from backoffice.accounts.service import ACCOUNT_RE, PHONE_RE
from backoffice.core.clock import as_utc, iso
from backoffice.core.crypto import mask_account, mask_phone
from backoffice.core.db import Base
from backoffice.core.requester import client_ip, exempt, limit_key, networks
from backoffice.otp.sms import compose

PRIVACY_POLICY_VERSION = "2026-10"
PENDING_TTL = 10 * 60


class CustomerSession(Base):
    __tablename__ = "customer_sessions"
    sender = Column(String(128), primary_key=True)
    account_number = Column(String(16), nullable=False, index=True)
    started_at = Column(DateTime(timezone=True), nullable=False)
    last_seen = Column(DateTime(timezone=True), nullable=False)


class PrivacyConsent(Base):
    __tablename__ = "privacy_consents"
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_number = Column(String(16), nullable=False, index=True)
    sender = Column(String(128), nullable=False)
    version = Column(String(16), nullable=False)
    agreed_at = Column(DateTime(timezone=True), nullable=False)


@dataclass
class LoginResult:
    status: str
    phone_masked: str | None = None
    remaining: int = 0
    wait_seconds: int = 0

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, 0) or k == "status"}


class LoginService:
    def __init__(self, db, kv, accounts, otp, sms, audit, clock, *, idle_seconds, max_failures, lock_seconds,
                 ip_exempt=("127.0.0.0/8", "::1/128")):
        self.db, self.kv, self.accounts, self.otp, self.sms = db, kv, accounts, otp, sms
        self.audit, self.clock = audit, clock
        self.idle_seconds, self.max_failures, self.lock_seconds = idle_seconds, max_failures, lock_seconds
        self.ip_exempt = networks(ip_exempt)

    # --- failure counting ---------------------------------------------------------------
    def _source_keys(self, sender: str) -> list[str]:
        """The counters of who made the attempt: the conversation and, for REST customers, their address."""
        keys = ["login:fail:sender:" + hashlib.sha256(sender.encode()).hexdigest()[:32]]
        ip = client_ip()
        if ip is not None and not exempt(ip, self.ip_exempt):
            keys.append("login:fail:ip:" + hashlib.sha256(limit_key(ip).encode()).hexdigest()[:32])
        return keys

    def _account_key(self, account_number: str) -> str:
        return "login:fail:acct:" + self.accounts.crypto.blind_index(account_number)[:32]

    def _count(self, key: str) -> int:
        return int(self.kv.get(key) or 0)

    def _locked(self, sender: str) -> int:
        """Seconds the conversation or its address stays locked (0: not locked)."""
        for key in self._source_keys(sender):
            if self._count(key) >= self.max_failures:
                return int(self.kv.ttl(key) or self.lock_seconds)
        return 0

    def _guarded(self, account_number: str) -> int:
        key = self._account_key(account_number)
        return int(self.kv.ttl(key) or self.lock_seconds) if self._count(key) >= self.max_failures else 0

    def _fail(self, sender: str, account_number: str, reason: str) -> None:
        guarded_before = self._guarded(account_number)
        for key in self._source_keys(sender):
            if guarded_before:  # a wrong try on a guarded account locks its source at once
                self.kv.set(key, str(self.max_failures), self.lock_seconds)
            else:
                self.kv.incr(key, self.lock_seconds)
        count = self.kv.incr(self._account_key(account_number), self.lock_seconds)
        known = ACCOUNT_RE.match(account_number) is not None
        self.audit.record("login_failed", actor=f"customer:{sender}", reason=reason,
                          account_number=account_number if known else None)
        if self._locked(sender):
            self.audit.record("login_locked_out", actor=f"customer:{sender}",
                              account_number=account_number if known else None)
        if count == self.max_failures and known and self.accounts.exists(account_number):
            self.audit.record("login_guarded", actor="system", account_number=account_number)
            self.sms.send(self.accounts.phone_of(account_number),
                          compose("login_failures", masked=mask_account(account_number)))

    def _pending_key(self, sender: str) -> str:
        return f"login:pending:{sender}"

    # --- steps --------------------------------------------------------------------------
    def _typed_key(self, sender: str) -> str:
        return f"login:typed:{sender}"

    def note_account(self, sender: str, account_number: str) -> dict:
        """The account number the customer typed, kept here for the next step: the conversation (Rasa's tracker,
        its store, the console) only ever holds its mask."""
        account_number = account_number.strip()
        if not ACCOUNT_RE.match(account_number):
            return {"status": "invalid_format"}
        self.kv.set(self._typed_key(sender), account_number, PENDING_TTL)
        return {"status": "ok", "account_masked": mask_account(account_number)}

    def start(self, sender: str, account_number: str, phone: str) -> LoginResult:
        """Check the pair and send the code. Unknown account and wrong phone look the same. Without an account
        number, the one noted for this conversation (note_account) is used."""
        account_number = (account_number or self.kv.get(self._typed_key(sender)) or "").strip()
        if not account_number:
            return LoginResult("no_account")
        phone = phone.strip()
        if not ACCOUNT_RE.match(account_number) or not PHONE_RE.match(phone):
            return LoginResult("invalid_format")
        wait = self._locked(sender)
        if wait:
            return LoginResult("locked_out", wait_seconds=wait)
        if not self.accounts.phone_matches(account_number, phone):
            self._fail(sender, account_number, "mismatch")
            wait = self._locked(sender) or self._guarded(account_number)
            return LoginResult("locked_out", wait_seconds=wait) if wait else LoginResult("mismatch")
        account = self.accounts.get(account_number)
        if account.state == "closed":
            return LoginResult("closed")
        result = self._send_code(sender, account_number, phone)
        # "wait": a code went to this phone less than a minute ago (e.g. from the customer's other device)
        # and is still valid; whoever holds the phone may enter it here, so this login is pending too.
        if result.status in ("sent", "wait"):
            self.kv.set(self._pending_key(sender), json.dumps({"a": account_number, "v": False}), PENDING_TTL)
        return result

    def _send_code(self, sender: str, account_number: str, phone: str) -> LoginResult:
        issued = self.otp.issue(phone, "login", sender=sender)
        if issued.status == "wait":
            return LoginResult("wait", phone_masked=mask_phone(phone), wait_seconds=issued.wait_seconds)
        if issued.status == "too_many":
            return LoginResult("too_many")
        self.sms.send(phone, compose("otp_login", code=issued.code))
        self.audit.record("otp_sent", actor=f"customer:{sender}", account_number=account_number, purpose="login")
        return LoginResult("sent", phone_masked=mask_phone(phone))

    def _pending(self, sender: str) -> dict | None:
        raw = self.kv.get(self._pending_key(sender))
        return json.loads(raw) if raw else None

    def resend(self, sender: str) -> LoginResult:
        pending = self._pending(sender)
        if not pending:
            return LoginResult("no_pending")
        return self._send_code(sender, pending["a"], self.accounts.phone_of(pending["a"]))

    def verify(self, sender: str, code: str) -> LoginResult:
        pending = self._pending(sender)
        if not pending:
            return LoginResult("no_pending")
        account_number = pending["a"]
        wait = self._locked(sender)
        if wait:
            return LoginResult("locked_out", wait_seconds=wait)
        phone = self.accounts.phone_of(account_number)
        checked = self.otp.verify(phone, "login", code, sender=sender)
        if checked.status == "ok":
            self.kv.set(self._pending_key(sender), json.dumps({"a": account_number, "v": True}), PENDING_TTL)
            return LoginResult("ok")
        self.audit.record("otp_failed", actor=f"customer:{sender}", account_number=account_number,
                          purpose="login", result=checked.status)
        if checked.status in ("wrong", "exhausted"):
            self._fail(sender, account_number, "wrong_code")
            wait = self._locked(sender)
            if wait:
                self.otp.void(phone, "login", sender)
                return LoginResult("locked_out", wait_seconds=wait)
        return LoginResult(checked.status, remaining=checked.remaining)

    def complete(self, sender: str, privacy_agreed: bool) -> LoginResult:
        pending = self._pending(sender)
        if not pending or not pending["v"]:
            return LoginResult("no_pending")
        self.kv.delete(self._pending_key(sender))
        account_number = pending["a"]
        if not privacy_agreed:
            self.audit.record("privacy_refused", actor=f"customer:{sender}", account_number=account_number)
            return LoginResult("privacy_refused")
        now = self.clock.utcnow()
        with self.db.session() as s:
            s.add(PrivacyConsent(account_number=account_number, sender=sender,
                                 version=PRIVACY_POLICY_VERSION, agreed_at=now))
            existing = s.get(CustomerSession, sender)
            if existing is not None:
                s.delete(existing)
                s.flush()
            s.add(CustomerSession(sender=sender, account_number=account_number, started_at=now, last_seen=now))
            self.audit.record("login_succeeded", actor=f"customer:{sender}", session=s,
                              account_number=account_number, privacy_version=PRIVACY_POLICY_VERSION)
        # the conversation's own failures are forgiven; the account's guard runs out by itself (strangers may
        # still be trying: the owner's success says nothing about them)
        for key in self._source_keys(sender):
            self.kv.delete(key)
        return LoginResult("ok")

    def cancel(self, sender: str) -> None:
        self.kv.delete(self._pending_key(sender))

    # --- sessions -----------------------------------------------------------------------
    def session(self, sender: str) -> dict | None:
        """The live session of a sender; idle ones expire. Touching is throttled to spare writes."""
        now = self.clock.utcnow()
        with self.db.session() as s:
            row = s.get(CustomerSession, sender)
            if row is None:
                return None
            idle = (now - as_utc(row.last_seen)).total_seconds()
            if idle > self.idle_seconds:
                s.delete(row)
                self.audit.record("session_expired", actor="system", session=s, account_number=row.account_number)
                return None
            if idle > 30:
                row.last_seen = now
            return {"account_number": row.account_number, "started_at": iso(row.started_at)}

    def logout(self, sender: str) -> bool:
        with self.db.session() as s:
            row = s.get(CustomerSession, sender)
            if row is None:
                return False
            s.delete(row)
            self.audit.record("logout", actor=f"customer:{sender}", session=s, account_number=row.account_number)
            return True
