"""Password hashing, API-key material and encryption of secrets at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from arrears.config import get_settings
from arrears.state import state


class _Hashing:
    """Argon2id at the configured cost, and a hash to verify against when there is no user:
    that keeps the time of "no such user" close to "wrong password"."""

    def __init__(self, cost: tuple[int, int, int]) -> None:
        self.cost = cost
        time_cost, memory_kib, parallelism = cost
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self.dummy_hash = self.hasher.hash("not-a-real-password")


def _hashing() -> _Hashing:
    """The process's hasher, kept by the application state (again when the settings change)."""
    cost = get_settings().passwords.cost
    return state.obtain("identity.hasher", lambda: _Hashing(cost), usable=lambda h: h.cost == cost)


def password_hasher() -> PasswordHasher:
    return _hashing().hasher


def hash_password(password: str) -> str:
    return _hashing().hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    hashing = _hashing()
    try:
        return (hashing.hasher.verify(password_hash or hashing.dummy_hash, password)
                and password_hash is not None)
    except (VerificationError, InvalidHashError):
        return False


def hash_key(raw_key: str) -> str:
    """API keys are high-entropy random strings, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_pct_key() -> str:
    return "pct_" + secrets.token_hex(32)


_ALNUM = "abcdefghijkmnpqrstuvwxyz23456789"


def new_ins_key() -> tuple[str, str]:
    """A partner key: its public id (`ins_` + 12) and the full key (id + `_` + secret)."""
    key_id = "ins_" + "".join(secrets.choice(_ALNUM) for _ in range(12))
    return key_id, f"{key_id}_{secrets.token_urlsafe(32)}"


def constant_eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(b"arrears-settings-encryption:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str) -> str:
    return _fernet(get_settings().resolved_secret()).encrypt(value.encode()).decode()


@lru_cache(maxsize=4)
def _fingerprint_key(secret: str) -> bytes:
    # Derived from SECRET_KEY as the encryption key is, under its own label: one key per purpose.
    return hashlib.sha256(b"arrears-number-fingerprint:" + secret.encode()).digest()


def fingerprint(value: str) -> str:
    """A keyed fingerprint (HMAC-SHA256) of a number encrypted at rest, stored beside it: equal
    numbers have equal fingerprints, so a resent number is compared without decrypting the stored
    one, and without the key the fingerprint does not tell the number (account and ID numbers are
    too few to hash unkeyed)."""
    key = _fingerprint_key(get_settings().resolved_secret())
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def decrypt(token: str) -> str:
    try:
        return _fernet(get_settings().resolved_secret()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("a stored secret cannot be decrypted: was SECRET_KEY changed?") from exc
