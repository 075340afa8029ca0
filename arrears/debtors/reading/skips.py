"""Lines below the header that are not accounts: which kind each is, counted per reason, and the
totals the report prints (issue 21).

Reasons: `blank`, `title` (a page title, the title block repeated), `heading` (area, rep, branch,
medical aid), `total` (subtotal, group, page and grand totals, labelled in any column or unlabelled
with amounts that add up the lines above), `repeated_header` (each line of the header printed again
at a page), `footer` (printed by, page numbers) and `summary` (everything after the grand total or
a "Summary" line that is not blank or a footer). A plain "Total" is the grand total when no
heading came before it (a group's total otherwise). A line that looks like an account and cannot be
read is none of these: it stays a row error.

Only the lines the row check cannot take as plain accounts come here (a missing or odd account
code, a blank name), so the import's fast path does not pay for them.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from arrears.debtors.reading.cells import Cell
from arrears.debtors.reading.labels import header_key
from arrears.debtors.reading.values import AmountError, format_amount, parse_amount, to_text

SKIP_REASONS = ("title", "heading", "total", "repeated_header", "footer", "blank", "summary")

_WORDS = re.compile(r"[a-z]+")
_KEY = re.compile(r"[^0-9a-z]+")
_FOOTER = re.compile(
    r"^(?:page\s*\d+(?:\s*(?:of|/)\s*\d+)?|printed\b.*|print\s*(?:date|time)\b.*|run\s*(?:date|time|on|by)\b.*"
    r"|(?:report\s*)?(?:generated|produced|created)\s*(?:on|by|at)\b.*|user\s*:.*|operator\s*:.*"
    r"|\**\s*end\s+of\s+(?:report|listing)\b.*|date\s*printed\b.*|continued\b.*)$")
_PAGE_TITLE = re.compile(r"\bpage\s*\d+\s*(?:of|/)\s*\d+\b")
_TOTAL_WORDS = frozenset({"total", "totals", "subtotal", "subtotals"})
_GRAND = re.compile(r"\b(?:grand\s*totals?|report\s*totals?|totals?\s*(?:for\s*)?(?:the\s*)?report|total\s*debtors"
                    r"|overall\s*totals?|final\s*totals?|total\s*all\b)")
_PAGE = re.compile(r"\b(?:page\s*totals?|totals?\s*(?:for\s*)?(?:this\s*)?page)\b")
_PLAIN_TOTAL = frozenset({"total", "totals", "totaal"})


def _key(text: str) -> str:
    return _KEY.sub("", text.lower())


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


class LineSorter:
    """Sorts the non-account lines under one header and keeps the running sums that recognise
    unlabelled totals: since the last heading or total (a group), since the last page break (a
    page) and since the header (the report)."""

    def __init__(self, header_cells: list[list[str]], title_lines: list[str], money: list[int],
                 total_column: int, name_column: int, account_column: int) -> None:
        self.skipped: Counter[str] = Counter()
        self.summary = False  # past a grand total named so (or a "Summary" line): not accounts
        self._headers = [[header_key(label) for label in row] for row in header_cells]
        self._titles = {_key(line) for line in title_lines if _key(line)}
        self._money = money  # the columns of amounts (buckets and total)
        self._total = total_column
        self._name = name_column
        self._account = account_column
        self.all_cents = 0  # every account read so far
        self._group = 0
        self._page = 0
        self._seen_heading = False
        self._grand: int | None = None
        self._plain_totals = 0  # plain "Total" lines with no heading before them
        self._pages: list[int] = []
        self._last_total: int | None = None  # the last total line, while no account follows it

    # --- the accounts read (by the row check or the block check) ---------------------------

    def add(self, cents: int) -> None:
        self.all_cents += cents
        self._group += cents
        self._page += cents
        self._last_total = None

    # --- sorting a line ----------------------------------------------------------------------

    def sort(self, cells: list[Cell], account: str) -> str | None:
        """The reason a line is not an account, or None when it is one (or a failed one). Counts it."""
        reason = self._sort(cells, account)
        if reason is not None:
            self.skipped[reason] += 1
        return reason

    def _sort(self, cells: list[Cell], account: str) -> str | None:
        texts = [(i, text) for i, text in enumerate(map(to_text, cells)) if text]
        if not texts:
            return "blank"
        amounts = self._amounts(cells)
        words = [(i, text) for i, text in texts if i not in self._money or self._not_amount(cells[i])]
        first = words[0][1].lower() if words else ""
        if words and _FOOTER.match(first) and not (amounts and any(amounts.values())):
            return "footer"
        if self.summary and not account:  # the row check passes an account it still reads
            return "summary"
        if self._repeats_header(cells, texts):
            self._page = 0
            return "repeated_header"
        # With an account code, only the code itself can say "total" (a name may be "Total Garage").
        label = account.lower() if account else " ".join(text.lower() for _, text in words)
        labelled = bool(_TOTAL_WORDS.intersection(_WORDS.findall(label))) or "subtotal" in _key(label)
        if self._all_money_blank(cells):
            # A code with digits and no amounts is an account with a zero balance; a code of words
            # alone ("GAUTENG", "Area: North") is a heading.
            maybe_account = bool(account) and not labelled and ":" not in account and (
                bool(self._name_text(cells)) or any(ch.isdigit() for ch in account))
            return self._without_amounts(words, labelled, maybe_account)
        if labelled:
            return self._labelled_total(label, amounts or {})
        if amounts is None:
            return None  # an amount that cannot be read: the row check says which
        if not words and self._adds_up(amounts):
            return "total"
        return None

    def _without_amounts(self, words: list[tuple[int, str]], labelled: bool, maybe_account: bool) -> str | None:
        text = " ".join(t for _, t in words)
        lowered = text.lower()
        if "summary" in _key(text):
            self.summary = True
            return "summary"
        if _PAGE_TITLE.search(lowered) or _key(text) in self._titles:
            self._page = 0
            return "title"
        if labelled:
            return "total"  # a total line whose amounts are blank
        if maybe_account:
            return None
        self._seen_heading = True
        self._group = 0
        return "heading"

    def _labelled_total(self, label: str, amounts: dict[int, int]) -> str:
        total = amounts.get(self._total)
        words = _WORDS.findall(label)
        grand = _GRAND.search(label)
        if grand:
            self._grand = total
            self.summary = True
        elif words and set(words) <= _PLAIN_TOTAL and not self._seen_heading:
            # A plain "Total" is the grand total, unless several follow groups without headings:
            # then only one that adds up every account so far is (lines after it are still read).
            self._plain_totals += 1
            self._grand = total if self._plain_totals == 1 or total == self.all_cents else None
        elif _PAGE.search(label):
            if total is not None:
                self._pages.append(total)
            self._page = 0
        self._group = 0
        self._last_total = total
        return "total"

    def _adds_up(self, amounts: dict[int, int]) -> bool:
        total = amounts.get(self._total)
        if total is None or total not in (self._group, self._page, self.all_cents) or not self.all_cents:
            return False
        self._group = 0
        self._last_total = total
        return True

    # --- helpers -----------------------------------------------------------------------------

    def _amounts(self, cells: list[Cell]) -> dict[int, int] | None:
        """Cents of each money column that holds an amount; None when one holds something else."""
        out: dict[int, int] = {}
        for index in self._money:
            raw = cells[index] if index < len(cells) else ""
            if raw == "" or raw is None:
                continue
            try:
                out[index] = _cents(parse_amount(raw))
            except AmountError:
                return None
        return out

    def _all_money_blank(self, cells: list[Cell]) -> bool:
        return all(index >= len(cells) or to_text(cells[index]) in ("", "-") for index in self._money)

    def _not_amount(self, raw: Cell) -> bool:
        try:
            parse_amount(raw)
        except AmountError:
            return True
        return False

    def _name_text(self, cells: list[Cell]) -> str:
        return to_text(cells[self._name]) if self._name < len(cells) else ""

    def _repeats_header(self, cells: list[Cell], texts: list[tuple[int, str]]) -> bool:
        """Every cell is the header's label in its column, or the account and name cells are."""
        a, n = self._account, self._name
        code, name = header_key(to_text(cells[a])), header_key(to_text(cells[n]))
        for row in self._headers:
            if all(i < len(row) and row[i] and row[i] == header_key(text) for i, text in texts):
                return True
            if code and name and max(a, n) < len(row) and (row[a], row[n]) == (code, name):
                return True
        return False

    # --- the report's own totals -------------------------------------------------------------

    @property
    def printed_cents(self) -> int | None:
        """The grand total the report prints, else the sum of its page totals, else its last
        unlabelled total when nothing follows it and it adds up the report."""
        if self._grand is not None:
            return self._grand
        if self._pages:
            return sum(self._pages)
        if self._last_total is not None and self._last_total == self.all_cents:
            return self._last_total
        return None

    def printed_total(self) -> Decimal | None:
        cents = self.printed_cents
        return None if cents is None else Decimal(cents).scaleb(-2)

    def total_warning(self) -> str | None:
        printed = self.printed_total()
        if printed is None:
            return None
        stored = Decimal(self.all_cents).scaleb(-2)
        if printed == stored:
            return f"The accounts add up to {format_amount(stored)}: this matches the report's total."
        return (f"The accounts add up to {format_amount(stored)} but the report's total is "
                f"{format_amount(printed)} (difference {format_amount(abs(printed - stored))}).")
