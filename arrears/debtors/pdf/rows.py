"""One line of a debtors table split into its columns, by position against the header labels.

Amounts are right-aligned under their labels, whatever way the label itself is aligned, so an
amount belongs to the label it overlaps most or, when it overlaps none, to the last label that
starts left of the amount's right edge. Text is left-aligned and read in phrases (words a
space apart), each going to the label it overlaps or the nearest one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from arrears.debtors.pdf.amounts import is_nil, joins, parse_amount
from arrears.debtors.pdf.header import ACC, ACC_NAME, BALANCE, EMAIL, NAME, OTHER, PHONE, Column
from arrears.debtors.pdf.model import BUCKETS
from arrears.debtors.pdf.reader import Line, Word

# Words closer than this many line heights are one phrase ("Maria Patel", "082 123 4567").
PHRASE_GAP = 0.7
_AMOUNT_START = frozenset("0123456789-(Rr\u2212\u2013\u2014nN")
_JOIN_END = frozenset("0123456789Rr")
# Right edges this close (points) are one place: a right-aligned column's figures.
_SAME_EDGE = 1.5


@dataclass(slots=True)
class Cells:
    text: dict[str, list[str]] = field(default_factory=dict)  # column kind -> phrases
    amounts: dict[str, Decimal] = field(default_factory=dict)  # bucket or balance -> amount
    real_amounts: int = 0  # amounts with digits (not "-" or "nil")
    nil_amounts: int = 0
    unreadable: list[str] = field(default_factory=list)  # text with digits under an amount column
    name_x0: float | None = None  # where the name starts: a wrapped name's next line starts there too

    def get(self, kind: str) -> str:
        return " ".join(self.text.get(kind, ()))

    @property
    def is_amount_row(self) -> bool:
        return self.real_amounts > 0 or self.nil_amounts >= 2


class TableLayout:
    """The columns of one header, and the rule that puts a line's words under them."""

    def __init__(self, columns: list[Column], sample: Sequence[Line] = ()) -> None:
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
        self._anchors = self._right_edges(sample)

    def _right_edges(self, sample: Sequence[Line]) -> list[tuple[float, Column]]:
        """Where each amount column's figures end, when the lines under the header show it plainly.

        Amounts are right-aligned, so a column's figures all end at one x. When the figures end at
        exactly as many places as there are amount columns, in the same order as the labels and each
        before the middle of the next label, the n-th place is the n-th column: labels that are left-
        aligned or centred over figures that run into the next label are then read as printed."""
        numeric = [c for c in self.columns if c.numeric]
        edges: list[float] = []
        for line in sample:
            for w in _merge_amount_pieces(line.words, PHRASE_GAP * line.height):
                if w.x1 > self.numeric_left and w.text[0] in _AMOUNT_START and parse_amount(w.text) is not None:
                    edges.append(w.x1)
        edges.sort()
        places: list[list[float]] = []
        for x in edges:
            if places and x - places[-1][-1] <= _SAME_EDGE:
                places[-1].append(x)
            else:
                places.append([x])
        if len(places) != len(numeric):
            return []
        anchors = [(sum(p) / len(p), c) for p, c in zip(places, numeric, strict=True)]
        for n, (x, col) in enumerate(anchors):
            nxt = numeric[n + 1] if n + 1 < len(numeric) else None
            if x < col.x0 or (nxt is not None and x > (nxt.x0 + nxt.x1) / 2):
                return []
        return anchors

    def text_right(self, x: float) -> float:
        """Where the column after the one that holds x begins: text that stays left of it is in that column."""
        j = bisect_right(self._x0s, x + 1.0)
        return self._x0s[j] if j < len(self._x0s) else self.numeric_left

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
        for x, anchor in self._anchors:
            if abs(w.x1 - x) <= _SAME_EDGE:
                return anchor
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
            self._put(col, phrase, cells)
            return
        # A phrase across two labels (columns one space apart): word by word, a word over no label
        # continuing the column of the word before it.
        prev: Column | None = None
        for w in phrase:
            prev = self._overlapping(w.x0, w.x1) or prev or self._nearest(w.x0, w.x1)
            self._put(prev, [w], cells)

    @staticmethod
    def _put(col: Column, words: list[Word], cells: Cells) -> None:
        text = " ".join(w.text for w in words)
        if col.numeric:
            if any(ch.isdigit() for ch in text):
                cells.unreadable.append(text)
            return
        if col.kind == NAME and cells.text.get(NAME) is None:
            cells.name_x0 = words[0].x0
        elif cells.name_x0 is None:
            if col.kind == NAME:
                cells.name_x0 = words[0].x0
            elif col.kind in (ACC, ACC_NAME) and len(words) > 1:
                cells.name_x0 = words[1].x0  # "100234  DOE J MR" under one label (a NAME column overrides)
        if col.kind in (ACC, ACC_NAME, NAME, EMAIL, PHONE):
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


__all__ = ["ACC", "ACC_NAME", "BALANCE", "EMAIL", "NAME", "PHONE", "Cells", "TableLayout"]
