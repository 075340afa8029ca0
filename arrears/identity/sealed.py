"""A column type for numbers that must not lie in the database in clear (bank account and ID
numbers): Fernet-encrypted with the key derived from SECRET_KEY (the same helper as provider
secrets, arrears.identity.crypto), tagged `f1:` so that a row written before encryption (and not
yet migrated) still reads. The ciphertext is random per write, so these columns cannot be
searched or compared in SQL: a keyed fingerprint (`crypto.fingerprint`) kept in a column of its
own beside each one is what a resent number is compared with (`same`).

Reading a row does not decrypt: the attribute is a `SealedText`, a string whose text is the
masked form (`******7890`, kept beside the ciphertext when it was written), so every API
answer, page, log line and CSV shows the masked number whatever forgets to mask it. Only the
code that needs the number itself calls `reveal()`: the bank file's writer. What else needs to
know of a number (whether it can go into a bank file) is worked out when it is written, and
kept beside it as well.

Stored form: `f1:<masked>:<token>`; `f1:<token>` was written before the masked form was kept
(migration 0021 gives those rows their masks and fingerprints) and reads as `********`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from arrears.identity import crypto

TAG = "f1:"
UNKNOWN = "********"  # the masked form of a value stored without one


def masked(value: str) -> str:
    """The shown form: stars, then the last four characters, never more than half of them."""
    if isinstance(value, SealedText):
        return str.__str__(value)
    keep = min(4, len(value) // 2)
    return "*" * (len(value) - keep) + value[len(value) - keep:]


def seal(value: str) -> str:
    return f"{TAG}{masked(value)}:{crypto.encrypt(value)}"


def _parts(stored: str) -> tuple[str | None, str]:
    """(masked form or None, token) of a sealed value."""
    hint, _, token = stored[len(TAG):].rpartition(":")
    return (hint or None), token


def unseal(stored: str) -> str:
    return crypto.decrypt(_parts(stored)[1]) if stored.startswith(TAG) else stored


class SealedText(str):
    """A sealed column's value as read: its text is the masked number; `reveal()` decrypts."""

    stored: str

    def __new__(cls, stored: str) -> SealedText:
        if stored.startswith(TAG):
            shown = _parts(stored)[0] or UNKNOWN
        else:  # a row from before encryption: its number is in clear anyway
            shown = masked(stored)
        obj = super().__new__(cls, shown)
        obj.stored = stored
        return obj

    def reveal(self) -> str:
        return unseal(self.stored)

    def __repr__(self) -> str:
        return f"SealedText({str.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return SealedText, (self.stored,)


def reveal(value: str | None) -> str | None:
    """The number itself: decrypted when read from the database, as it is when just assigned."""
    return value.reveal() if isinstance(value, SealedText) else value


def same(current: str | None, new: str | None, fingerprint: str | None) -> bool:
    """Whether a stored number equals `new`, by its masked form and then by `fingerprint` (the
    one stored beside it): nothing is decrypted. A sealed number without a fingerprint (only a
    hand-written row: 0021 gave every row one) counts as changed, and is written again with one."""
    if not isinstance(current, SealedText) or new is None:
        return current == new
    if not current.stored.startswith(TAG):  # a row from before encryption: in clear anyway
        return current.stored == new
    if str.__str__(current) not in (masked(new), UNKNOWN):
        return False
    return fingerprint is not None and crypto.constant_eq(fingerprint, crypto.fingerprint(new))


class Sealed(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, SealedText):
            return value.stored
        value = str(value)
        return value if value.startswith(TAG) else seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else SealedText(str(value))
