"""A column type for numbers that must not lie in the database in clear (bank account and ID
numbers): Fernet-encrypted with the key derived from SECRET_KEY (the same helper as provider
secrets, arrears.identity.crypto), tagged `f1:` so that a row written before encryption (and not
yet migrated) still reads. The ciphertext is random per write, so these columns cannot be
searched or compared in SQL: nothing does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from arrears.identity import crypto

TAG = "f1:"


def seal(value: str) -> str:
    return TAG + crypto.encrypt(value)


def unseal(stored: str) -> str:
    return crypto.decrypt(stored[len(TAG):]) if stored.startswith(TAG) else stored


class Sealed(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        value = str(value)
        return value if value.startswith(TAG) else seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unseal(str(value))
