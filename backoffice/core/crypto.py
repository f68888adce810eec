"""Encryption at rest and blind indexes for personal data.

Keys come from the environment (HALL_DATA_KEYS, newest first). Every key is stretched into a Fernet key;
MultiFernet decrypts with any of them and encrypts with the first, which is what key rotation needs.
Lookups by a personal value (ID number, phone) use an HMAC "blind index" so the value is never stored
or compared in clear.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


class Crypto:
    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("at least one data key is needed")
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(_derive(k, b"hall-encrypt"))) for k in keys]
        )
        # The index key follows the oldest key: rotating encryption keys must not break lookups.
        self._index_key = _derive(keys[-1], b"hall-index")
        self._root = keys[-1]

    def subkey(self, purpose: str) -> bytes:
        """A stable secret for one purpose (OTP HMACs, link signing), shared by all workers."""
        return _derive(self._root, b"hall-" + purpose.encode())

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:  # wrong key or tampered data: never return garbage
            raise ValueError("cannot decrypt: unknown key or corrupted data") from exc

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)

    def encrypt_str(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self.encrypt(value.encode()).decode()

    def decrypt_str(self, token: str | None) -> str | None:
        if token is None:
            return None
        return self.decrypt(token.encode()).decode()

    def blind_index(self, value: str) -> str:
        return hmac.new(self._index_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str | None) -> str:
    if not phone or len(phone) < 7:
        return "***"
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_number(number: str | None) -> str:
    if not number or len(number) < 8:
        return "***"
    return f"{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}"


def mask_account(number: str | None) -> str:
    if not number or len(number) < 6:
        return "***"
    return f"{number[:2]}{'*' * (len(number) - 6)}{number[-4:]}"


def mask_name(name: str | None) -> str:
    if not name:
        return "*"
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"
