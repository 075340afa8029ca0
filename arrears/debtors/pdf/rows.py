"""One line of a debtors table split into its columns, by position against the header labels.

Amounts are right-aligned under their labels, whatever way the label itself is aligned, so an
amount belongs to the label it overlaps most or, when it overlaps none, to the last label that
starts left of the amount's right edge. Text is left-aligned and read in phrases (words a
space apart), each going to the label it overlaps or the nearest one.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal

from arrears.debtors.pdf.amounts import is_nil, joins, parse_amount
from arrears.debtors.pdf.header import ACC, BALANCE, EMAIL, NAME, OTHER, PHONE, Column
from arrears.debtors.pdf.model import BUCKETS
from arrears.debtors.pdf.reader import Line, Word

# Words closer than this many line heights are one phrase ("Maria Patel", "082 123 4567").
PHRASE_GAP = 0.7
_AMOUNT_START = frozenset("0123456789-(Rr\u2212\u2013\u2014nN")
_JOIN_END = frozenset("0123456789Rr")


@dataclass(slots=True)
class Cells:
    text: dict[str, list[str]] = field(default_factory=dict)  # column kind -> phrases
    amounts: dict[str, Decimal] = field(default_factory=dict)  # bucket or balance -> amount
    real_amounts: int = 0  # amounts with digits (not "-" or "nil")
    nil_amounts: int = 0
    unreadable: list[str] = field(default_factory=list)  # text with digits under an amount column

    def get(self, kind: str) -> str:
        return " ".join(self.text.get(kind, ()))

    @property
    def is_amount_row(self) -> bool:
        return self.real_amounts > 0 or self.nil_amounts >= 2


class TableLayout:
    """The columns of one header, and the rule that puts a line's words under them."""

    def __init__(self, columns: list[Column]) -> None:
        self.columns = sorted(columns, key=lambda c: c.x0)
        self.buckets = tuple(c.kind for c in self.columns if c.kind in BUCKETS)
        self.has = {c.kind for c in self.columns}
        self.numeric_left = min(c.x0 for c in self.columns if c.numeric)
        self.numeric_right = max(c.x1 for c in self.columns if c.numeric)
        # Text under no label and outside the amounts (an unlabelled notes or contact column) is
        # kept aside as "other" instead of being taken for a broken amount.
        self._outside = Column(OTHER, "", 0.0, 0.0)
        self._x0s = [c.x0 for c in self.columns]
        # Labels do not overlap each other, so the furthest right label end seen so far bounds the
        # search to the left: only a few labels are ever looked at per word.
        self._reach = []
        reach = float("-inf")
        for c in self.columns:
            reach = max(reach, c.x1)
            self._reach.append(reach)

    def _overlapping(self, x0: float, x1: float) -> Column | None:
        best, best_overlap = None, 0.0
        cols, reach = self.columns, self._reach
        j = bisect_right(self._x0s, x1) - 1
        while j >= 0 and reach[j] > x0:
            c = cols[j]
            overlap = (x1 if x1 < c.x1 else c.x1) - (x0 if x0 > c.x0 else c.x0)
            if overlap > best_overlap:
                best, best_overlap = c, overlap
            j -= 1
        return best

    def _amount_column(self, w: Word) -> Column | None:
        col = self._overlapping(w.x0, w.x1)
        if col is None:
            # Right-aligned: the last label that starts before the amount ends.
            j = bisect_right(self._x0s, w.x1) - 1
            col = self.columns[j] if j >= 0 else None
        return col

    def _nearest(self, x0: float, x1: float) -> Column:
        return min(self.columns, key=lambda c: max(c.x0 - x1, x0 - c.x1, 0.0))

    def split(self, line: Line) -> Cells:
        gap = PHRASE_GAP * line.height
        cells = Cells()
        phrase: list[Word] = []
        for w in _merge_amount_pieces(line.words, gap):
            text = w.text
            if text[0] in _AMOUNT_START and (value := parse_amount(text)) is not None:
                col = self._amount_column(w)
                nil = is_nil(text)
                if col is not None and col.numeric and not (nil and w.x1 < self.numeric_left):
                    cells.amounts[col.kind] = cells.amounts.get(col.kind, Decimal(0)) + value
                    if nil:
                        cells.nil_amounts += 1
                    else:
                        cells.real_amounts += 1
                    if phrase:
                        self._place(phrase, cells)
                        phrase = []
                    continue
                if col is not None and col.kind == OTHER and not nil:
                    if phrase:
                        self._place(phrase, cells)
                        phrase = []
                    continue  # an amount in a column we do not read (credit limit, last payment)
            if phrase and w.x0 - phrase[-1].x1 >= gap:
                self._place(phrase, cells)
                phrase = []
            phrase.append(w)
        if phrase:
            self._place(phrase, cells)
        return cells

    def _place(self, phrase: list[Word], cells: Cells) -> None:
        owners = {id(c): c for w in phrase if (c := self._overlapping(w.x0, w.x1)) is not None}
        if len(owners) <= 1:
            col = next(iter(owners.values())) if owners else self._nearest(phrase[0].x0, phrase[-1].x1)
            if not owners and col.numeric and (phrase[0].x0 > self.numeric_right
                                               or phrase[-1].x1 < self.numeric_left):
                col = self._outside
            self._put(col, " ".join(w.text for w in phrase), cells)
            return
        # A phrase across two labels (columns one space apart): word by word, a word over no label
        # continuing the column of the word before it.
        prev: Column | None = None
        for w in phrase:
            prev = self._overlapping(w.x0, w.x1) or prev or self._nearest(w.x0, w.x1)
            self._put(prev, w.text, cells)

    @staticmethod
    def _put(col: Column, text: str, cells: Cells) -> None:
        if col.numeric:
            if any(ch.isdigit() for ch in text):
                cells.unreadable.append(text)
            return
        if col.kind in (ACC, NAME, EMAIL, PHONE):
            cells.text.setdefault(col.kind, []).append(text)
        elif col.kind == OTHER:
            cells.text.setdefault(OTHER, []).append(text)


def _merge_amount_pieces(words: list[Word], gap: float) -> list[Word]:
    """Rejoin amounts the PDF prints with spaces inside: '12 345.67', 'R 45.00', '45.00 CR'."""
    out: list[Word] = []
    prev: Word | None = None
    for w in words:
        if (prev is not None and w.x0 - prev.x1 < gap
                and (prev.text[-1] in _JOIN_END or w.text in ("CR", "DR", "Cr", "Dr"))
                and joins(prev.text, w.text)):
            prev = Word(f"{prev.text} {w.text}", prev.x0, w.x1, min(prev.bottom, w.bottom), max(prev.top, w.top))
            out[-1] = prev
            continue
        out.append(w)
        prev = w
    return out


__all__ = ["ACC", "BALANCE", "EMAIL", "NAME", "PHONE", "Cells", "TableLayout"]
