"""RowValidator.check reads the usual cells inline (text account codes, float and blank
amounts) for speed: whatever a cell holds, it must agree with the general functions."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.debtors.reading import AccountRow, AliasTable, RowError, account_code, parse_amount
from arrears.debtors.reading.errors import ReadError
from arrears.debtors.reading.headers import find_header, header_key
from arrears.debtors.reading.phones import normalise_phone
from arrears.debtors.reading.rows import Sheet
from arrears.debtors.reading.skips import _FOOTER
from arrears.debtors.reading.validation import RowValidator
from arrears.debtors.reading.values import AmountError, to_text

HEADER = ["Account", "Name", "Cell No", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "150 Days",
          "Total Balance"]  # fmt: skip


def validator() -> RowValidator:
    rows = iter([(1, list(HEADER)), (2, ["A1", "x", "", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])])
    return RowValidator(find_header([Sheet("s", rows, 2)], AliasTable(None)).match)


amounts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda f: round(f, 3)),
    st.sampled_from(["", "-", " ", "R 1 234.50", "(45.00)", "45.00-", "abc", "1.005", "-0.004"]),
    st.integers(min_value=-10**13, max_value=10**13),
    st.booleans(),
    st.none(),
)
codes = st.one_of(st.text(max_size=12), st.floats(allow_nan=False, allow_infinity=False), st.integers(),
                  st.sampled_from(["ACC001", "Total", "TOTAL", "Grand Total", "account", "0042", "1001.0"]))


def reference(cells: list) -> tuple[str, object]:
    """What the row must give, from the general functions alone."""
    code = account_code(cells[0])
    if not code:
        return ("skip-or-missing", None)
    key = header_key(code)
    if key in {"total", "totals", "grandtotal", "subtotal", "reporttotal", "totaldebtors"}:
        return ("skip", None)
    if key == "account" and header_key(to_text(cells[1])) == "name":
        return ("skip", None)
    words = set(re.findall("[a-z]+", code.lower()))
    if words & {"total", "totals", "subtotal", "subtotals"} or "subtotal" in key or _FOOTER.match(code.lower()):
        return ("skip", None)  # a total line, a footer (issue 21)
    money_blank = all(to_text(raw) in ("", "-") for raw in cells[3:10])
    if money_blank and not to_text(cells[1]) and (":" in code or not any(ch.isdigit() for ch in code)):
        return ("skip", None)  # a heading: words alone, no name, no amounts (issue 21)
    values = []
    for raw in cells[3:10]:
        try:
            values.append(parse_amount(raw))
        except AmountError:
            return ("INVALID_AMOUNT", None)
    return ("ok", (code, values))


@settings(max_examples=400, deadline=None)
@given(code=codes, name=st.sampled_from(["Name", "Jo", ""]), cells=st.lists(amounts, min_size=7, max_size=7))
def test_check_agrees_with_the_general_functions(code, name, cells) -> None:
    row = [code, name, "082 123 4567", *cells]
    kind, expected = reference(row)
    try:
        result = validator().check(7, row)
    except ReadError:  # pragma: no cover - check never raises
        raise
    if kind == "skip":
        assert result is None
    elif kind == "skip-or-missing":
        assert result is None or (isinstance(result, RowError) and result.code == "MISSING_ACCOUNT")
    elif kind == "INVALID_AMOUNT":
        assert isinstance(result, RowError) and result.code == "INVALID_AMOUNT"
    else:
        code_text, values = expected  # type: ignore[misc]
        current, d30, d60, d90, d120, d150, total = values
        if isinstance(result, RowError):
            assert result.code == "BALANCE_MISMATCH"
            assert abs(current + d30 + d60 + d90 + d120 + d150 - total) > max(abs(total) / 100, Decimal("0.01"))
            return
        assert isinstance(result, AccountRow)
        assert result.account == code_text
        got = (result.current, result.d30, result.d60, result.d90, result.d120, result.total_balance)
        assert got == (current, d30, d60, d90, d120 + d150, total)
        assert [str(v) for v in got] == [str(v) for v in (current, d30, d60, d90, d120 + d150, total)]
        assert result.extra_buckets == {150: d150}
        assert (result.telephone, result.phone_valid) == normalise_phone("082 123 4567")
        assert result.telephone_raw == "082 123 4567"


def test_the_usual_cells_and_their_edges() -> None:
    check = validator().check
    row = check(5, ["ACC1", " Jo ", 821234567, 1.005, 0.0, -0.0, "", -0.004, 0.0, 1.0])
    assert isinstance(row, AccountRow)
    assert (row.current, row.d30, row.d60, row.d90, row.d120) == (Decimal("1.01"), 0, 0, 0, 0)
    assert str(row.d60) == "0.00" and str(row.d120) == "0.00"  # no "-0.00"
    assert (row.name, row.telephone, row.telephone_raw) == ("Jo", "27821234567", "821234567")
    assert check(6, ["Total", "", "", 1.0, 0, 0, 0, 0, 0, 1.0]) is None
    assert check(7, ["Account", "Name", "", "", "", "", "", "", "", ""]) is None  # header repeated
    bad = check(8, ["ACC2", "x", "", float("nan"), 0, 0, 0, 0, 0, 0])
    assert isinstance(bad, RowError) and bad.code == "INVALID_AMOUNT" and bad.column == "Current"
    assert check(9, ["ACC3", "x", "", 1e16, 0, 0, 0, 0, 0, 1e16]).current == Decimal("1E+16").quantize(
        Decimal("0.01"))
    dup = check(10, ["ACC1", "again", "", 0, 0, 0, 0, 0, 0, 0])
    assert isinstance(dup, RowError) and dup.code == "DUPLICATE_ACCOUNT"
