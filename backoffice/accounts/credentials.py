"""Trading and fund passwords of the account core (the part 重置密码 touches).

A real brokerage keeps these in the trading counter; here they are salted scrypt hashes. A reset issues a
random temporary password that is only ever delivered by SMS to the reserved phone and must be changed at
the first login (`must_change`). Neither the password nor its hash ever leaves this module in a view.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Boolean, Column, DateTime, Integer, String, UniqueConstraint, select

from backoffice.core.db import Base

KINDS = {"交易密码": "trade", "资金密码": "fund"}
TEMPORARY_DIGITS = 6  # futures counters use 6-digit numeric passwords


class PasswordCredential(Base):
    __tablename__ = "password_credentials"
    __table_args__ = (UniqueConstraint("account_number", "kind", name="uq_password_credentials_account_kind"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_number = Column(String(16), nullable=False, index=True)
    kind = Column(String(8), nullable=False)  # trade | fund
    salt = Column(String(32), nullable=False)
    hash = Column(String(128), nullable=False)
    must_change = Column(Boolean, nullable=False, default=False)
    set_at = Column(DateTime(timezone=True), nullable=False)


def _hash(password: str, salt: str) -> str:
    return hashlib.scrypt(password.encode(), salt=salt.encode(), n=2**14, r=8, p=1).hex()


def kind_of(password_type: str) -> str:
    kind = KINDS.get(password_type, password_type)
    if kind not in KINDS.values():
        raise ValueError("password_type must be 交易密码 or 资金密码")
    return kind


def issue_temporary(session, account_number: str, kind: str, now) -> str:
    """Store a new temporary password in the caller's transaction and return it (for the SMS only)."""
    password = "".join(secrets.choice("0123456789") for _ in range(TEMPORARY_DIGITS))
    while len(set(password)) < 3:  # counters refuse trivial passwords such as 111111
        password = "".join(secrets.choice("0123456789") for _ in range(TEMPORARY_DIGITS))
    salt = secrets.token_hex(16)
    row = session.execute(
        select(PasswordCredential).where(PasswordCredential.account_number == account_number,
                                         PasswordCredential.kind == kind).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = PasswordCredential(account_number=account_number, kind=kind)
        session.add(row)
    row.salt, row.hash, row.must_change, row.set_at = salt, _hash(password, salt), True, now
    return password


def check(session, account_number: str, kind: str, password: str) -> dict | None:
    """{"ok": bool, "must_change": bool} or None when no password is on file."""
    row = session.execute(
        select(PasswordCredential).where(PasswordCredential.account_number == account_number,
                                         PasswordCredential.kind == kind)
    ).scalar_one_or_none()
    if row is None:
        return None
    return {"ok": hmac.compare_digest(row.hash, _hash(password, row.salt)), "must_change": bool(row.must_change)}


# --- the must-change flag after a reset ----------------------------------------------------------
# A temporary password stays flagged until the trading core reports that the customer changed it: the
# counter forces the change at the first use of the password there, then calls
# POST /api/accounts/{n}/password-changed (backoffice/applications/routes.py), which clears the flag here. Until then
# every 掌厅 login reminds the customer (login_reminders). A new reset flags it again.
LABELS = {v: k for k, v in KINDS.items()}


def temporary_kinds(db, account_number: str) -> list[str]:
    """The password kinds ("trade", "fund") of the account still set to a temporary password."""
    with db.session() as s:
        rows = s.execute(select(PasswordCredential.kind).where(PasswordCredential.account_number == account_number,
                                                               PasswordCredential.must_change.is_(True))).scalars()
        return sorted(rows, key=list(KINDS.values()).index)


def login_reminders(db, account_number: str) -> list[str]:
    return [f"温馨提示：您的{LABELS[kind]}已重置为临时密码（已通过短信发送至开户预留手机），首次使用时交易系统将要求您"
            f"立即修改。请尽快登录交易软件修改{LABELS[kind]}，切勿将临时密码告知任何人。"
            for kind in temporary_kinds(db, account_number)]


def mark_changed(db, audit, account_number: str, kind: str, now) -> bool:
    """The trading core reports the customer set a new password: clear the flag. False when none was set."""
    with db.session() as s:
        row = s.execute(select(PasswordCredential).where(PasswordCredential.account_number == account_number,
                                                         PasswordCredential.kind == kind).with_for_update()
                        ).scalar_one_or_none()
        if row is None or not row.must_change:
            return False
        row.must_change = False  # the new password lives in the trading core only
        audit.record("password_changed", actor="trading_core", session=s, account_number=account_number,
                     kind=kind)
        return True
