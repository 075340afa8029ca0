"""The payments domain's error codes."""

from __future__ import annotations

from enum import StrEnum


class PaymentErrorCode(StrEnum):
    PAYMENT_NOT_UNMATCHED = "PAYMENT_NOT_UNMATCHED"
    PAYMENT_REVERSED = "PAYMENT_REVERSED"
    NO_PAYMENT_LINES = "NO_PAYMENT_LINES"
