"""Unpaid reason codes."""

from __future__ import annotations

import pytest

from arrears.premiums.unpaid_codes import (
    UNPAID_REASONS,
    UnpaidCodeError,
    describe_unpaid_code,
    lookup_unpaid_reason,
    match_unpaid_reason,
    normalise_unpaid_code,
)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("02", "Not provided for"),
        ("03", "Debits not allowed to this account"),
        ("04", "Payment stopped by account holder"),
        ("06", "Account frozen"),
        ("08", "Account in sequestration"),
        ("10", "Account in liquidation"),
        ("12", "Account closed"),
        ("14", "Account transferred within banking group"),
        ("16", "Account transferred to another banking group"),
        ("18", "Account holder deceased"),
        ("22", "Account effects not cleared"),
        ("26", "No such account"),
        ("28", "Recall/withdrawal"),
        ("30", "No authority to debit"),
        ("32", "Debit in contravention of payer's authority"),
        ("34", "Authorisation cancelled"),
        ("36", "Previously stopped via stop payment advice"),
        ("56", "Not FICA compliant"),
    ],
)
def test_known_codes(code: str, text: str) -> None:
    reason = lookup_unpaid_reason(code)
    assert (reason.code, reason.text, reason.known) == (code, text, True)
    assert describe_unpaid_code(code) == text
    assert str(reason) == f"{code} {text}"


def test_the_table_is_exactly_the_documented_codes() -> None:
    assert sorted(UNPAID_REASONS) == ["02", "03", "04", "06", "08", "10", "12", "14", "16", "18", "22", "26",
                                      "28", "30", "32", "34", "36", "56"]


def test_only_funds_problems_are_retryable() -> None:
    assert sorted(code for code, r in UNPAID_REASONS.items() if r.retryable) == ["02", "22"]
    assert {r.category for r in UNPAID_REASONS.values()} == {"insufficient_funds", "account", "disputed",
                                                              "recalled"}
    assert lookup_unpaid_reason("04").category == "disputed"


@pytest.mark.parametrize(("raw", "expected"), [(2, "02"), ("2", "02"), (" 02 ", "02"), ("56", "56"), (99, "99")])
def test_codes_are_normalised(raw: str | int, expected: str) -> None:
    assert normalise_unpaid_code(raw) == expected


def test_unknown_codes_are_kept_not_refused() -> None:
    reason = lookup_unpaid_reason("99")
    assert (reason.code, reason.known, reason.retryable, reason.category) == ("99", False, False, "unknown")
    assert reason.text == "Unknown unpaid reason code 99"
    assert lookup_unpaid_reason(7).code == "07"
    assert lookup_unpaid_reason(7).known is False


@pytest.mark.parametrize("raw", ["", "123", "AB", "2a", "-2", "٢", None, 2.0, True])
def test_malformed_codes_are_refused(raw: object) -> None:
    with pytest.raises(UnpaidCodeError):
        lookup_unpaid_reason(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Account closed", "12"),
        ("ACCOUNT CLOSED.", "12"),
        ("debit in contravention of payers authority", "32"),
        ("Recall / Withdrawal", "28"),
        ("  no such account ", "26"),
    ],
)
def test_match_by_text(text: str, code: str) -> None:
    found = match_unpaid_reason(text)
    assert found is not None and found.code == code


@pytest.mark.parametrize("text", ["closed", "Account closed by bank", ""])
def test_match_by_text_needs_the_whole_text(text: str) -> None:
    assert match_unpaid_reason(text) is None
