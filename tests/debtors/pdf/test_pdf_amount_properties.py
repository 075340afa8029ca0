"""Issue 21: any amount a report prints — R prefix, space or comma thousands, decimal point or comma,
minus, trailing minus or brackets — reads back as itself, also when the PDF splits it into words
at its spaces; and two numbers in one phone cell give the mobile first and the other second."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from arrears.debtors.pdf.amounts import parse_amount
from arrears.debtors.pdf.contacts import choose_phones, find_phones
from arrears.debtors.pdf.reader import Word
from arrears.debtors.pdf.rows import _merge_amount_pieces
from arrears.debtors.reading.phones import sms_reachable
from tests.corpus.pdfs import Money

amounts = st.decimals(min_value=Decimal("-9999999.99"), max_value=Decimal("9999999.99"), places=2).filter(
    lambda d: d != 0)
styles = st.builds(Money, thousands=st.sampled_from([",", " ", ""]), decimal=st.sampled_from([".", ","]),
                   negative=st.sampled_from(["minus", "trail", "paren"]), prefix=st.sampled_from(["", "R", "R "]))


def _words(text: str) -> list[Word]:
    """The text as a PDF gives it: words at their positions, 4.4 points per character."""
    out, x = [], 0.0
    for piece in text.split(" "):
        out.append(Word(piece, x, x + 4.4 * len(piece), 0.0, 8.0))
        x += 4.4 * (len(piece) + 1)
    return out


@given(amounts, styles)
def test_a_printed_amount_reads_back(value: Decimal, money: Money) -> None:
    if money.thousands == money.decimal:
        money = Money(thousands=" ", decimal=money.decimal, negative=money.negative, prefix=money.prefix)
    text = money(value)
    merged = _merge_amount_pieces(_words(text), gap=0.7 * 8.0)
    assert [w.text for w in merged] == [text]
    assert parse_amount(merged[0].text) == value


mobiles = st.from_regex(r"0[678][1-4][0-9]{7}", fullmatch=True)
# Fixed lines only: ZA's metadata files some numbers in these areas as mobile (021 492 …, 012 492 …),
# and a cell of two mobiles rightly gives the first of them.
landlines = st.from_regex(r"0(?:11|21|12|31)[0-9]{7}", fullmatch=True).filter(
    lambda n: not sms_reachable("27" + n[1:], True))


def _spaced(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


@given(mobiles, landlines, st.sampled_from([" / ", "; ", ", "]), st.booleans())
def test_two_numbers_in_a_cell_give_the_mobile_first(mobile: str, landline: str, sep: str,
                                                     landline_first: bool) -> None:
    cell = sep.join([_spaced(landline), _spaced(mobile)] if landline_first else [_spaced(mobile), _spaced(landline)])
    printed, phone, phone2 = choose_phones(find_phones(cell))
    assert (printed, phone, phone2) == (_spaced(mobile), "27" + mobile[1:], "27" + landline[1:])
