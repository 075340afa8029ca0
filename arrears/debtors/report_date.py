"""A report's as-at date, read from its title block or its file name: pure, no database.

Age analyses print the date their balances stand at in the title ("as at 30/11/2026", "As at:
30 November 2026", "Period ending 2026-11-30", "Age Analysis Nov 2026"), and people name the
files after it ("debtors 2026-11-30.xlsx", "AgeAnalysis_Nov2026.pdf"). Dates are day-first
(South Africa) unless the year comes first; a month without a day stands for its last day.

Which date wins: one on a line that says what it is (as at, period ending, …) before one on any
other title line, a whole date before a month, the title before the file name. Dates on lines
that say when the report was printed or run are not the report's date, and a date after `today`
is no report's date (a misread, or a due date): both are passed over.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Sequence
from datetime import date

_MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): n for n, name in enumerate(calendar.month_abbr) if name}
_MONTHS["sept"] = 9
_MONTH = r"(?P<{}>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"

# Whole dates, in the order tried at each position.
_WHOLE = [
    # 2026-11-30, 2026/11/30, 2026.11.30
    re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    # 30/11/2026, 30-11-2026, 30.11.2026, 30/11/26 (day first)
    re.compile(r"(?<!\d)(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4}|\d{2})(?!\d)"),
    # 30 November 2026, 30-Nov-2026, 30 Nov, 2026, 30th November 2026
    re.compile(r"(?<!\d)(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s\-/]*" + _MONTH.format("mon")
               + r"[\s\-/,]*(?P<y>\d{4})(?!\d)", re.IGNORECASE),
    # November 30, 2026
    re.compile(r"(?<![a-z])" + _MONTH.format("mon") + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?!\d)",
               re.IGNORECASE),
    # 20261130 (file names)
    re.compile(r"(?<!\d)(?P<y>20\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)"),
]
# A month without its day: the month's last day.
_MONTH_ONLY = [
    re.compile(r"(?<![a-z])" + _MONTH.format("mon") + r"[\s\-_/,']*(?P<y>\d{4}|\d{2})(?!\d)", re.IGNORECASE),
    re.compile(r"(?<!\d)(?P<y>\d{4})[-_/.](?P<m>\d{1,2})(?![\d\-/.])"),  # 2026-11
    re.compile(r"(?<![\d/.\-])(?P<m>\d{1,2})[/.\-](?P<y>\d{4})(?!\d)"),  # 11/2026
]
# A line that says which date it holds.
_LABELLED = re.compile(r"\b(as\s+(?:at|of|on)|at\s+date|period\s+end(?:ing|ed)?|ending|ended|end\s+of|"
                       r"month\s+end|balances?\s+(?:at|as)|age(?:d|ing)?\s+(?:as\s+)?at|analys[ie]s\s+at|statement\s+date|"
                       r"report\s+date|cut[\s-]?off)\b", re.IGNORECASE)
# A line whose date is when the file was made, not what it reports.
_PRINTED = re.compile(r"\b(print(?:ed)?|run\s+(?:on|date|at)|generated|created|exported|page\s+\d)\b",
                      re.IGNORECASE)


def _year(text: str) -> int:
    year = int(text)
    return 2000 + year if year < 100 else year


def _month(match: re.Match[str]) -> int:
    if match.groupdict().get("mon"):
        return _MONTHS[match.group("mon").lower().rstrip(".")]
    return int(match.group("m"))


def _whole(text: str) -> Iterator[date]:
    for pattern in _WHOLE:
        for match in pattern.finditer(text):
            try:
                yield date(_year(match.group("y")), _month(match), int(match.group("d")))
            except ValueError:
                continue


def _month_end(text: str) -> Iterator[date]:
    for pattern in _MONTH_ONLY:
        for match in pattern.finditer(text):
            try:
                year, month = _year(match.group("y")), _month(match)
                yield date(year, month, calendar.monthrange(year, month)[1])
            except (ValueError, calendar.IllegalMonthError):
                continue


def _first(candidates: Iterator[date], today: date) -> date | None:
    # Years before 1990 are account numbers or amounts that look like dates, not report dates.
    return next((d for d in candidates if date(1990, 1, 1) <= d <= today), None)


def _file_stem(file_name: str) -> str:
    stem = re.split(r"[\\/]", file_name or "")[-1]
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", stem)
    # Underscores join words in file names; a regex word boundary does not see through them.
    return stem.replace("_", " ")


def find_report_date(title_lines: Sequence[str], file_name: str, *, today: date) -> date | None:
    """The report's as-at date from its title lines or its file name, or None."""
    lines = [line for line in title_lines if line and line.strip()]
    labelled = [line for line in lines if _LABELLED.search(line)]
    plain = [line for line in lines if not _LABELLED.search(line) and not _PRINTED.search(line)]
    for group in (labelled, plain):
        for line in group:
            # On a labelled line, the date after the label (a line may also say when it printed).
            label = _LABELLED.search(line)
            tail = line[label.end():] if label else line
            found = _first(_whole(tail), today) or _first(_month_end(tail), today)
            if found is not None:
                return found
    stem = _file_stem(file_name)
    return _first(_whole(stem), today) or _first(_month_end(stem), today)


__all__ = ["find_report_date"]
