"""The payments import's set-based path (issue 22, performance): lines staged and written by one
INSERT … SELECT. What it must keep: matching as the API matches (in capitals, by the words of a
description), duplicates by external id within the file and against the organisation, values with
tabs, backslashes and newlines kept exactly, derived ids shared by the fast and the full reading,
and an import that dies leaving nothing — its re-run records each payment once. Both databases."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.payments import importing
from arrears.payments.models import Payment, PaymentImport
from arrears.payments.reading import derived_external_id, read_payments
from tests.faces.repaysync.conftest import RS, Tenant
from tests.payments.helpers import book_account, import_file, upload_book, write_csv

ODD = "back\\slash\tand tab"  # a reference COPY's text format must escape
NOTE = "line one\nline two"


async def _payments(t: Tenant) -> list[Payment]:
    async with transaction() as s:
        return list(await s.scalars(select(Payment).where(Payment.org_id == t.org.id).order_by(Payment.line_number)))


async def _imports(t: Tenant) -> int:
    async with transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(PaymentImport)
                                  .where(PaymentImport.org_id == t.org.id)) or 0)


def _file(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "mixed.csv", [
        ["Date", "Reference", "Amount", "Description", "Transaction Id"],
        ["2025-07-03", "b100", "10.00", "", "T-1"],  # B100 in capitals
        ["2025-07-03", "B100", "11.00", "", "T-1"],  # the same id again in the file: a duplicate
        ["2025-07-04", ODD, "12.00", NOTE, "T-2"],  # nobody's
        ["2025-07-05", "", "13.00", "PAYMENT FROM B100 THANKS", ""],  # by its words; a derived id
        ["05/07/2025", "", "13.00", "PAYMENT FROM B100 THANKS", ""],  # the same content again: a second payment
        ["2025-07-06", "B100", "1,000.00", "", "T-3"],  # an amount only the full reading takes
    ])


async def test_matching_duplicates_and_odd_values_as_before(rs: RS, tmp_path):
    t = await rs.tenant()
    await upload_book(t, tmp_path / "book.csv", [["B100", "Bravo", "", "0821234567", 100, 200, 0, 300, 0, 600]],
                      "2025-06-30")
    book = await book_account(t, "B100")
    f = _file(tmp_path)
    pv = (await import_file(t, f, preview=True)).json()
    assert [(x["line"], x["outcome"]) for x in pv["lines"]] == [
        (2, "recorded"), (3, "duplicate"), (4, "unmatched"), (5, "recorded"), (6, "recorded"), (7, "recorded")]
    assert pv["lines"][0]["accountId"] == book and pv["lines"][3]["externalId"] is None
    assert pv["lines"][2]["reference"] == ODD and pv["lines"][2]["description"] == NOTE
    assert {k: pv["counts"][k] for k in ("payments", "recorded", "unmatched", "duplicates")} == {
        "payments": 6, "recorded": 4, "unmatched": 1, "duplicates": 1}
    assert (pv["counts"]["amountRecorded"], pv["counts"]["amountUnmatched"]) == (1036, 12)
    assert await _payments(t) == [] and await _imports(t) == 0  # a preview leaves nothing

    body = (await import_file(t, f)).json()
    assert (body["recorded"], body["unmatched"], body["duplicates"]) == (4, 1, 1), body
    stored = await _payments(t)
    assert [(p.line_number, p.amount, p.status) for p in stored] == [
        (2, Decimal("10.00"), "recorded"), (4, Decimal("12.00"), "unmatched"), (5, Decimal("13.00"), "recorded"),
        (6, Decimal("13.00"), "recorded"), (7, Decimal("1000.00"), "recorded")]
    odd = stored[1]
    assert (odd.reference, odd.note, odd.external_id, odd.account_id) == (ODD, NOTE, "T-2", None)
    assert stored[2].external_id != stored[3].external_id and stored[2].external_id.startswith("line:")
    assert len({p.id for p in stored}) == 5 and all(str(p.import_id) == body["id"] for p in stored)
    h = await t.h("manager")
    account = (await t.client.get(f"/api/v1/accounts/{book}", headers=h)).json()
    assert account["balance"] == -436 and account["status"] == "paid_up"  # 600 - 1036

    again = (await import_file(t, f)).json()
    assert (again["recorded"], again["unmatched"], again["duplicates"]) == (0, 0, 6)
    assert len(await _payments(t)) == 5


async def test_an_import_that_dies_leaves_nothing_and_its_rerun_records_each_payment_once(
        rs: RS, tmp_path, monkeypatch):
    t = await rs.tenant()
    await upload_book(t, tmp_path / "book.csv", [["B100", "Bravo", "", "0821234567", 100, 200, 0, 300, 0, 600]],
                      "2025-06-30")
    f = _file(tmp_path)

    async def dies(*args, **kwargs):
        raise RuntimeError("killed")  # after the payments, the import row and its event are written

    monkeypatch.setattr(importing.service, "changed", dies)
    with pytest.raises(RuntimeError):
        async with transaction() as s:
            await importing.import_file(s, None, f, org_id=t.org.id)
    assert await _payments(t) == [] and await _imports(t) == 0
    monkeypatch.undo()

    async with transaction() as s:  # the staging tables are gone with the failed transaction
        row = await importing.import_file(s, None, f, org_id=t.org.id)
    assert (row.recorded, row.unmatched, row.duplicates) == (4, 1, 1)
    async with transaction() as s:
        row = await importing.import_file(s, None, f, org_id=t.org.id)
    assert (row.recorded, row.unmatched, row.duplicates) == (0, 0, 6)
    assert len(await _payments(t)) == 5 and await _imports(t) == 2


def test_the_fast_and_the_full_reading_make_the_same_lines(tmp_path):
    f = _file(tmp_path)
    parsed = read_payments(str(f))
    rows = list(parsed.staged_rows())
    assert [r[0] for r in rows] == [2, 3, 4, 5, 6, 7] and parsed.count == 6 and parsed.repeated == 1
    assert rows[2][1:3] == (ODD, NOTE) and rows[1][7] is True and rows[0][7] is False
    assert rows[3][3:5] == rows[4][3:5] == ("13.00", "2025-07-05")  # ISO and day-first dates alike
    assert rows[5][3] == "1000.00"
    # Derived ids are those of earlier versions (date ISO, amount with two decimals, occurrence):
    # a file imported before is still a duplicate.
    old = "line:" + hashlib.sha256(b"2025-07-05|13.00|PAYMENT FROM B100 THANKS|PAYMENT FROM B100 THANKS|1"
                                   ).hexdigest()[:40]
    assert rows[3][6] == old == derived_external_id("2025-07-05", "13.00", "PAYMENT FROM B100 THANKS",
                                                    "PAYMENT FROM B100 THANKS", 1)
    assert rows[4][6] != old


WORDS = ["B100", "b100", "B100.", "x-b100", "ZZ9", "PAYMENT FROM B100 THANKS", "B100/7", "a", "9", "-B100",
         "B_100", "B100\n", "Ｂ100", "é100", "B100 B100", "K-1.2/3_4"]


async def test_one_word_texts_are_not_looked_up_again_and_match_as_before(rs: RS, tmp_path):
    """A text that is a single word was looked up whole already: the database filter (ONE_WORD)
    leaves exactly those out, so matching by words finds what `service.match_lines` finds."""
    t = await rs.tenant()
    await upload_book(t, tmp_path / "book.csv", [["B100", "Bravo", "", "0821234567", 100, 200, 0, 300, 0, 600]],
                      "2025-06-30")
    book = await book_account(t, "B100")
    async with transaction() as s:
        expected = await importing.service.match_lines(s, t.org.id, WORDS)
        if s.get_bind().dialect.name == "postgresql":  # the same words in both regular expressions
            for word in WORDS:
                one = await s.scalar(select(func.cast(word, importing.Text).op("~")(importing.ONE_WORD)))
                assert one == bool(re.fullmatch(importing.service.TOKEN_PATTERN, word)), word
    for word in WORDS:  # a single word's only word is itself
        if re.fullmatch(importing.service.TOKEN_PATTERN, word):
            assert importing.service.reference_tokens(word) in ([word], [])
    assert {k: str(v) for k, v in expected.items()} == {
        w: book for w in ("B100", "b100", "B100.", "PAYMENT FROM B100 THANKS", "-B100", "B100\n", "B100 B100")}
    rows = [["Date", "Reference", "Amount", "Transaction Id"]] + [
        ["2025-07-03", w, "1.00", f"W-{i}"] for i, w in enumerate(WORDS)]
    body = (await import_file(t, write_csv(tmp_path / "words.csv", rows))).json()
    stored = await _payments(t)
    assert len(stored) == len(WORDS)
    for p in stored:  # the file's cells are read trimmed: "B100\n" is "B100"
        assert (str(p.account_id) if p.account_id else None) == (
            str(expected[p.reference]) if p.reference in expected else None), p.reference
    assert body["recorded"] == 7 and body["unmatched"] == len(WORDS) - 7
