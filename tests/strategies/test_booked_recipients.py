"""A run's SMS recipients (issue 23, performance): where the import found the book's number a valid
South African one, the run takes it as phone_key would give it instead of parsing it again
(`runner.booked`); anything else is left to phone_key. Checked over the telephone cells an import
reads, through the import's own reader."""

from __future__ import annotations

from types import SimpleNamespace

from arrears.debtors.reading.phones import read_phone_pair
from arrears.messaging import rules
from arrears.strategies.runner import booked

CELLS = ["082 123 4567", "0821234567", "27821234567", "+27 82 123 4567", "+27 (0)82 123 4567", "0027821234567",
         "821234567", "011 555 1234", "(021) 555-1234", "082-123-4567 / 011 555 1234", "011 555 1234; 083 765 4321",
         "+44 20 7946 0958", "442079460958", "n/a", "0", "123", "082 123 456", "27 82 123 45678", "", "  "]


def _row(cell: str) -> SimpleNamespace:
    _, telephone, valid, _ = read_phone_pair(cell)
    return SimpleNamespace(telephone=telephone, phone_valid=valid)


def test_a_booked_number_is_what_phone_key_makes_of_it():
    taken = 0
    for cell in CELLS:
        row = _row(cell)
        others = ["+27831112222", "27831112222", cell.strip() or None, None, ""]
        for recipient in ([row.telephone, "+" + row.telephone] if row.telephone else []) + others:
            got = booked(row, recipient)
            if got is not None:
                taken += 1
                assert got == rules.phone_key(recipient, "ZA"), (cell, recipient)
    assert taken >= 10  # the usual shapes are taken from the import


def test_the_usual_book_number_is_taken_and_the_rest_left_to_phone_key():
    row = _row("082 123 4567")
    assert booked(row, "27821234567") == booked(row, "+27821234567") == "27821234567"
    assert booked(row, "+27831112222") is None  # the customer's own, other number: phone_key decides
    assert booked(row, "082 123 4567") is None  # not as the import stored it
    assert booked(_row("+44 20 7946 0958"), "+442079460958") is None  # valid, but not a ZA number
    assert booked(_row("082 123 456"), "82123456") is None  # the import found it invalid
    assert booked(SimpleNamespace(telephone="27821234567", phone_valid=False), "27821234567") is None


def test_the_claims_array_literals_quote_what_needs_quoting():
    # The claim's arrays travel as PostgreSQL array literals (runner._pg_array, _pg_text_array).
    import uuid
    from decimal import Decimal

    from arrears.db import pg_array as _pg_array
    from arrears.db import pg_text_array as _pg_text_array

    i = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
    assert _pg_array([i, None, Decimal("-1.50"), 7]) == "{01234567-89ab-cdef-0123-456789abcdef,NULL,-1.50,7}"
    assert _pg_text_array(["A", 'say "hi"', "back\\slash", "a,b", "{x}", ""]) == (
        '{"A","say \\"hi\\"","back\\\\slash","a,b","{x}",""}')
    assert _pg_array([]) == _pg_text_array([]) == "{}"
