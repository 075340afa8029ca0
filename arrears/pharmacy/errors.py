"""The pharmacy domain's error codes."""

from __future__ import annotations

from enum import StrEnum


class PharmacyErrorCode(StrEnum):
    NO_DEBTORS = "NO_DEBTORS"  # a PDF read without error that lists no debtor
