"""Property (issue 21): accounts interleaved with any mix of lines that are not accounts (headings,
blank lines, footers, page titles, the header printed again, labelled and unlabelled subtotals)
read as exactly those accounts, with each kind of line counted, by both reading paths."""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.debtors.reading import AccountRow, read_age_analysis

HEADER = ["Acc No", "Name", "Cell", "Current", "30 Days", "60 Days", "Total"]
LINES = st.lists(st.one_of(
    st.tuples(st.just("account"), st.lists(st.integers(-50_000, 500_000), min_size=3, max_size=3)),
    st.tuples(st.just("heading"), st.sampled_from(["Area: Gauteng", "Rep: Sipho", "BRANCH NORTH", "Medical Aid: GEMS"])),
    st.tuples(st.just("blank"), st.none()),
    st.tuples(st.just("footer"), st.sampled_from(["Printed by ADMIN", "Page 3", "Page 2 of 9", "End of report"])),
    st.tuples(st.just("title"), st.sampled_from(["Debtors Age Analysis - page 2 of 5"])),
    st.tuples(st.just("repeated_header"), st.none()),
    st.tuples(st.just("subtotal"), st.booleans()),
), max_size=40)


def _money(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):.2f}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(LINES)
def test_accounts_among_any_other_lines_read_exactly(tmp_path: Path, lines: list) -> None:
    rows: list[list[str]] = [["Acme Pharmacy"], HEADER]
    expected: list[tuple[str, Decimal]] = []
    counts: Counter[str] = Counter({"title": 1})
    group = 0
    for kind, value in lines:
        if kind == "account":
            code = f"A{len(expected) + 1:04d}"
            total = sum(value)
            rows.append([code, f"Name {code}", "0821234567", *map(_money, value), _money(total)])
            expected.append((code, Decimal(total).scaleb(-2)))
            group += total
            continue
        if kind == "subtotal":
            if not group:
                continue  # an unlabelled line of zeros would add up nothing
            label = "Sub Total" if value else ""
            rows.append(["", label, "", "", "", "", _money(group)])
            counts["total"] += 1
            group = 0
            continue
        if kind == "heading":
            group = 0
        rows.append(list(HEADER) if kind == "repeated_header" else [] if value is None else [value])
        counts[kind] += 1
    if not expected:
        return
    path = tmp_path / "book.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_text(buffer.getvalue())
    with read_age_analysis(path) as reader:
        got = [(r.account, r.total_balance) for r in reader if isinstance(r, AccountRow)]
    assert got == expected
    assert reader.skipped == {k: v for k, v in counts.items() if v}
    with read_age_analysis(path) as reader:
        blocks = list(reader.blocks(3))
    assert [(r.account, r.total_balance) for b in blocks for r in b.rows()] == expected
    assert [e for b in blocks for e in b.errors] == []
    assert reader.skipped == {k: v for k, v in counts.items() if v}
