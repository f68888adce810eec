"""Account core: fund accounts, their owners' identity data (encrypted) and device binding."""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, DateTime, Integer, String, Text, select

from backoffice.core.crypto import mask_id_number, mask_name, mask_phone
from backoffice.core.db import Base
from biometrics import idnumber

ACCOUNT_RE = re.compile(r"^\d{8,10}$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
STATES = ("normal", "locked", "dormant", "closed")
INVESTOR_TYPES = ("投资者",)
# Why an ID number was refused (biometrics.idnumber.validate: the one ID rule of the product, also the OCR's).
ID_ERRORS = {"bad_format": "17 digits and a digit or X expected", "bad_checksum": "the check character does not match",
             "bad_birth_date": "the birth date is not a real, past date", "bad_region": "unknown region code"}


class Account(Base):
    __tablename__ = "accounts"
    account_number = Column(String(16), primary_key=True)
    name_enc = Column(Text, nullable=False)
    id_number_enc = Column(Text, nullable=False)
    id_index = Column(String(64), nullable=False, index=True)
    phone_enc = Column(Text, nullable=False)
    phone_index = Column(String(64), nullable=False, index=True)
    investor_type = Column(String(16), nullable=False, default="投资者")
    opened_on = Column(Date, nullable=False)
    state = Column(String(16), nullable=False, default="normal")
    # Money in cents: exact on every database (SQLite has no decimal type).
    balance_cents = Column(BigInteger, nullable=False, default=0)
    has_positions = Column(Boolean, nullable=False, default=False)
    pending_withdrawals_cents = Column(BigInteger, nullable=False, default=0)
    password_failures = Column(Integer, nullable=False, default=0)
    bound_device = Column(String(128), index=True)
    bound_at = Column(DateTime(timezone=True))
    signature_media_id = Column(String(32))
    portrait_media_id = Column(String(32))
    id_on_file = Column(JSON)  # {"front_media_id", "back_media_id", "valid_until", "accepted_at"}
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)


class AccountError(ValueError):
    """Invalid account data; the message is safe to show to staff."""


@dataclass
class AccountView:
    account_number: str
    investor_type: str
    opened_on: str
    state: str
    balance: str
    has_positions: bool
    pending_withdrawals: str
    bound_device: str | None
    signature_on_file: bool
    portrait_on_file: bool
    id_on_file: dict | None
    name_masked: str
    id_number_masked: str
    phone_masked: str


def to_cents(value, field: str) -> int:
    try:
        amount = Decimal(str(value if value is not None else 0))
    except InvalidOperation as exc:
        raise AccountError(f"{field} must be a number") from exc
    if not amount.is_finite():
        raise AccountError(f"{field} must be a number")
    return int((amount * 100).quantize(Decimal("1")))


def from_cents(cents: int) -> str:
    return str((Decimal(cents or 0) / 100).quantize(Decimal("0.01")))


class AccountService:
    def __init__(self, db, crypto, audit, clock):
        self.db, self.crypto, self.audit, self.clock = db, crypto, audit, clock

    # --- creation and reads -------------------------------------------------------------
    def create(self, data: dict) -> AccountView:
        number = str(data.get("account_number", "")).strip()
        if not ACCOUNT_RE.match(number):
            raise AccountError("account_number must be 8-10 digits")
        id_number = str(data.get("id_number", "")).strip().upper()
        checked = idnumber.validate(id_number, today=self.clock.utcnow().date())
        if not checked.ok:
            raise AccountError(f"id_number is not a valid resident ID number: {ID_ERRORS[checked.error]}")
        phone = str(data.get("phone", "")).strip()
        if not PHONE_RE.match(phone):
            raise AccountError("phone must be an 11-digit mainland mobile number")
        name = str(data.get("name", "")).strip()
        if not 1 <= len(name) <= 32:
            raise AccountError("name is required")
        state = data.get("state", "normal")
        if state not in STATES:
            raise AccountError(f"state must be one of {', '.join(STATES)}")
        try:
            opened_on = date.fromisoformat(str(data.get("opened_on")))
        except ValueError as exc:
            raise AccountError("opened_on must be YYYY-MM-DD") from exc
        now = self.clock.utcnow()
        row = Account(
            account_number=number,
            name_enc=self.crypto.encrypt_str(name),
            id_number_enc=self.crypto.encrypt_str(id_number),
            id_index=self.crypto.blind_index(id_number),
            phone_enc=self.crypto.encrypt_str(phone),
            phone_index=self.crypto.blind_index(phone),
            investor_type=data.get("investor_type") or "投资者",
            opened_on=opened_on,
            state=state,
            balance_cents=to_cents(data.get("balance"), "balance"),
            has_positions=bool(data.get("has_positions", False)),
            pending_withdrawals_cents=to_cents(data.get("pending_withdrawals"), "pending_withdrawals"),
            bound_device=data.get("bound_device"),
            bound_at=now if data.get("bound_device") else None,
            signature_media_id=data.get("signature_media_id"),
            created_at=now,
            updated_at=now,
        )
        with self.db.session() as s:
            if s.get(Account, number) is not None:
                raise AccountError("account already exists")
            s.add(row)
        return self._view(row)

    def get(self, number: str) -> AccountView | None:
        with self.db.session() as s:
            row = s.get(Account, number)
            return self._view(row) if row else None

    def exists(self, number: str) -> bool:
        return self.get(number) is not None

    def phone_of(self, number: str) -> str | None:
        with self.db.session() as s:
            row = s.get(Account, number)
            return self.crypto.decrypt_str(row.phone_enc) if row else None

    def phone_matches(self, number: str, phone: str) -> bool:
        """Compare blind indexes in constant time; an unknown account simply does not match."""
        candidate = self.crypto.blind_index(phone)
        with self.db.session() as s:
            row = s.get(Account, number)
            stored = row.phone_index if row else None
        if stored is None:
            return False
        return hmac.compare_digest(stored, candidate)

    def find_by_id_number(self, id_number: str) -> list[str]:
        return self.find_by_id_index(self.crypto.blind_index(id_number))

    def find_by_id_index(self, id_index: str) -> list[str]:
        """Accounts of the ID number whose blind index this is (kept instead of the number, e.g. face reviews)."""
        with self.db.session() as s:
            q = select(Account.account_number).where(Account.id_index == id_index)
            return sorted(s.execute(q).scalars())

    # --- changes ------------------------------------------------------------------------
    def set_portrait(self, number: str, media_id: str) -> None:
        self._update(number, portrait_media_id=media_id)

    def identity_of(self, number: str) -> tuple[str, str] | None:
        """(name, ID number) of the account record, decrypted, for server-side comparisons only."""
        with self.db.session() as s:
            row = s.get(Account, number)
            if row is None:
                return None
            return self.crypto.decrypt_str(row.name_enc), self.crypto.decrypt_str(row.id_number_enc)

    def set_id_on_file(self, number: str, record: dict) -> None:
        self._update(number, id_on_file=record)

    def set_signature(self, number: str, media_id: str) -> None:
        self._update(number, signature_media_id=media_id)

    def portrait_refs(self, number: str) -> list[str]:
        """Media ids of the portraits to compare a selfie with: ID on file, then the authority's portrait."""
        with self.db.session() as s:
            row = s.get(Account, number)
            if row is None:
                return []
            refs = [(row.id_on_file or {}).get("portrait_media_id"), row.portrait_media_id]
        return [r for r in refs if r]

    def bind_device(self, number: str, device: str) -> None:
        self._update(number, bound_device=device, bound_at=self.clock.utcnow())

    def unbind_device(self, number: str) -> None:
        self._update(number, bound_device=None, bound_at=None)

    def _update(self, number: str, **values) -> None:
        with self.db.session() as s:
            row = s.get(Account, number, with_for_update=True)
            if row is None:
                raise AccountError("no such account")
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = self.clock.utcnow()

    def _view(self, row: Account) -> AccountView:
        return AccountView(
            account_number=row.account_number,
            investor_type=row.investor_type,
            opened_on=row.opened_on.isoformat(),
            state=row.state,
            balance=from_cents(row.balance_cents),
            has_positions=bool(row.has_positions),
            pending_withdrawals=from_cents(row.pending_withdrawals_cents),
            bound_device=row.bound_device,
            signature_on_file=bool(row.signature_media_id),
            portrait_on_file=bool(row.portrait_media_id),
            id_on_file=row.id_on_file,
            name_masked=mask_name(self.crypto.decrypt_str(row.name_enc)),
            id_number_masked=mask_id_number(self.crypto.decrypt_str(row.id_number_enc)),
            phone_masked=mask_phone(self.crypto.decrypt_str(row.phone_enc)),
        )

