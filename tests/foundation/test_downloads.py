"""Issue 19 §8: one formula-injection guard for every CSV Arrears writes, and download names that
are safe and survive any alphabet (RFC 6266)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from starlette.responses import Response

from arrears.downloads import SafeCsvWriter, content_disposition, formula_safe, safe_filename


@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+SUM(A1)", "'+SUM(A1)"),
    ("-2+3", "'-2+3"), ("@cmd", "'@cmd"), ("\tTAB", "'\tTAB"), ("\rCR", "'\rCR"),
    ("-45.00", "'-45.00"), ("+27821234567", "'+27821234567"), ("45,50", "45,50"),
    ("Doe, J", "Doe, J"), ("", ""), (None, ""), (12, "12"), (Decimal("-45.00"), "-45.00"), (-3, "-3"),
])
def test_formula_safe(cell, written):
    assert formula_safe(cell) == written


def test_a_plain_phone_is_a_number_in_a_phone_column_only():
    assert formula_safe("+27821234567", phone=True) == "+27821234567"
    assert formula_safe("+27 82 =1", phone=True) == "'+27 82 =1"
    assert formula_safe("-0821234567", phone=True) == "'-0821234567"


def test_the_writer_guards_every_cell():
    out = io.StringIO()
    SafeCsvWriter(out).writerows([["=1+1", "ok", -5], ["@x", None, "+27 82"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=1+1", "ok", "-5"], ["'@x", "", "'+27 82"]]
    assert out.getvalue().endswith("\r\n")


@pytest.mark.parametrize("name, safe", [
    ("report.xlsx", "report.xlsx"), ("../../etc/passwd", "passwd"), ('a"b;c.csv', "a_b_c.csv"),
    ("C:\\Users\\x\\book.xls", "book.xls"), ("line\r\nbreak.csv", "line_break.csv"), ("", "download"),
])
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


def test_a_5000_character_name_is_cut_and_keeps_its_extension():
    name = safe_filename("x" * 5000 + ".csv")
    assert len(name) <= 150 and name.endswith(".csv")


@pytest.mark.parametrize("name", ["Дебиторы.csv", "Café Ågren.pdf", "報告.xlsx", "Отчёт " * 1000 + ".csv"])
def test_non_ascii_names_encode_as_a_header(name):
    value = content_disposition(name)
    # Starlette encodes headers as latin-1: this raised UnicodeEncodeError (a 500) before.
    Response(b"", headers={"Content-Disposition": value})
    assert value.isascii() and "filename*=UTF-8''" in value and 'filename="' in value
    assert value.count(".") >= 1 and len(value) < 1000


def test_ascii_names_stay_simple():
    assert content_disposition("debtors_7.csv") == 'attachment; filename="debtors_7.csv"'
    assert content_disposition("debtors_7.csv", quoted=False) == "attachment; filename=debtors_7.csv"
    assert content_disposition("my book.csv", quoted=False) == 'attachment; filename="my book.csv"'
    assert content_disposition("Café.pdf").startswith('attachment; filename="Cafe.pdf"; filename*=')
