"""Column mappings (arrears.debtors.mapping) on files made here: the header's signature, every
mapping problem named, a mapping laid over the header, and a saved profile that no longer fits."""

from __future__ import annotations

from pathlib import Path

from arrears.debtors.mapping import Column, check_mapping, parse_mapping, read_layout, signature
from arrears.debtors.preview import preview_file

HEADER = "Account,Name,Telephone,Cell,Current,30 Days,Total Balance\n"
ROWS = "A1,Alpha,011 555 0001,082 123 4567,10,5,15\nA2,Beta,011 555 0002,083 765 4321,0,20,20\n"


def book(tmp_path: Path, header: str = HEADER) -> str:
    path = tmp_path / "book.csv"
    path.write_text(header + ROWS, encoding="utf-8")
    return str(path)


def test_signature_ignores_case_spacing_and_punctuation_not_order():
    assert signature(["Acc. No.", "Name", "Total"]) == signature(["ACC NO", " name ", "total"])
    assert signature(["Account", "Name"]) != signature(["Name", "Account"])
    assert signature(["Account", "", "Name"]) == signature(["Account", "Name"])
    assert len(signature(["Account"])) == 64


def test_parse_mapping():
    assert parse_mapping(None) == (None, []) and parse_mapping("  ") == (None, [])
    assert parse_mapping('{"3": "telephone", "2": null, "4": ""}') == ({3: "telephone", 2: None, 4: None}, [])
    assert parse_mapping("[1]")[1] and parse_mapping("{")[1] and parse_mapping('{"a": "name"}')[1]


def test_every_problem_is_named():
    columns = [Column(0, "Account", "account", ""), Column(1, "Name", "name", ""),
               Column(2, "Telephone", "telephone", ""), Column(3, "Total", "total_balance", ""),
               Column(4, "31-45", "d30", ""), Column(5, "46-60", None, "")]
    # The reader reads a bucket from one column: a second one on it would be dropped, so it is named.
    assert [(p["code"], p["field"], p["columns"]) for p in check_mapping(columns, {5: "d30"})] == [
        ("duplicate_field", "d30", [4, 5])]
    assert check_mapping(columns, {5: "d60"}) == []
    codes = sorted((p["code"], p.get("field"), p.get("column")) for p in check_mapping(
        columns, {0: None, 1: "telephone", 3: "balance", 9: "name"}))
    assert codes == [("duplicate_field", "telephone", None), ("missing_field", "account", None),
                     ("missing_field", "name", None), ("missing_field", "total_balance", None),
                     ("unknown_column", None, 9), ("unknown_field", "balance", 3)]


def test_a_mapping_is_laid_over_the_header(tmp_path: Path):
    preview = preview_file(book(tmp_path), None, {2: None, 3: "telephone"}, None)
    assert preview.mapping_problems == [] and preview.mapping_source == "request"
    assert [a.telephone_raw for a in preview.accounts] == ["082 123 4567", "083 765 4321"]
    assert preview.mapping[2] is None and preview.mapping[3] == "telephone"
    assert preview.account_count == 2 and str(preview.accounts_total) == "35.00"


def test_a_saved_profile_applies_by_signature_and_one_that_does_not_fit_is_left(tmp_path: Path):
    path = book(tmp_path)
    layout = read_layout(path, None)
    sig = layout.signature
    assert layout.reader is not None and layout.missing == []
    layout.reader.close()
    saved = {sig: {"0": "account", "1": "name", "2": None, "3": "telephone", "4": "current", "5": "d30",
                   "6": "total_balance"}}
    preview = preview_file(path, None, None, saved)
    assert preview.using_saved_mapping and [a.telephone_raw for a in preview.accounts][0] == "082 123 4567"
    assert preview.columns[3].reason == "your saved mapping"
    stale = {sig: {"0": "account", "1": "name", "9": "telephone"}}
    preview = preview_file(path, None, None, stale)
    assert not preview.using_saved_mapping and preview.mapping_problems == []
    assert [a.telephone_raw for a in preview.accounts][0] == "011 555 0001"
    assert any("does not fit" in w for w in preview.warnings)
    other = preview_file(book(tmp_path, HEADER.replace("Cell", "Fax")), None, None, saved)
    assert not other.using_saved_mapping  # another header, another signature
