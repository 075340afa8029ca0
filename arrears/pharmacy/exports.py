"""Debtor downloads for the pharmacy face: the spec's CSV and a printable PDF report.

Both take plain mappings (a debtor's spec fields) so the service can feed them straight from a
query, and neither touches the database. The CSV is streamed in chunks; the PDF is drawn on a
reportlab canvas directly (platypus tables re-measure every row on each split, which is far too
slow for a 7,000-debtor book).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.pdfgen import canvas

from arrears.downloads import formula_safe

BUCKETS: tuple[str, ...] = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
BUCKET_LABELS: dict[str, str] = {
    "current": "Current",
    "d30": "30 Days",
    "d60": "60 Days",
    "d90": "90 Days",
    "d120": "120 Days",
    "d150": "150 Days",
    "d180": "180 Days",
}
# The spec lists `balance` among the ageing buckets; it is always a column, so selecting it adds
# nothing but is not an error.
SELECTABLE: frozenset[str] = frozenset((*BUCKETS, "balance"))

CSV_COLUMNS: tuple[str, ...] = (
    "Account No",
    "Name",
    *(BUCKET_LABELS[b] for b in BUCKETS),
    "Balance",
    "Email",
    "Phone",
)
CSV_CHUNK_ROWS = 500

_CENT = Decimal("0.01")


def check_buckets(buckets: Sequence[str]) -> tuple[str, ...]:
    """The selected bucket names in the book's order; ValueError names any unknown one."""
    unknown = [b for b in buckets if b not in SELECTABLE]
    if unknown:
        raise ValueError(
            f"unknown ageing bucket(s): {', '.join(map(str, unknown))}; "
            f"use {', '.join((*BUCKETS, 'balance'))}"
        )
    chosen = set(buckets)
    return tuple(b for b in BUCKETS if b in chosen)


def _money(value: Any) -> Decimal | None:
    if type(value) is Decimal:
        return value
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # a float from JSON: its shortest repr is the intended value
        return Decimal(repr(value))
    return Decimal(str(value))


def _csv_amount(value: Any) -> str:
    """Two decimals, plain digits, sign kept: never prefixed, never rounded away."""
    amount = _money(value)
    if amount is None:
        return ""
    fixed = amount.quantize(_CENT)
    if fixed != amount:
        # Money is stored to the cent; a finer value means a bug upstream, not a rounding choice.
        raise ValueError(f"amount {amount} has more than two decimals")
    return f"{fixed:f}"


def _csv_row(row: Mapping[str, Any]) -> list[str]:
    return [
        formula_safe(row.get("acc_no")),
        formula_safe(row.get("name")),
        *(_csv_amount(row.get(b)) for b in BUCKETS),
        _csv_amount(row.get("balance")),
        formula_safe(row.get("email")),
        formula_safe(row.get("phone"), phone=True),
    ]


def debtors_csv(rows: Iterable[Mapping[str, Any]], buckets: Sequence[str]) -> Iterator[bytes]:
    """The spec's CSV (UTF-8, header first), yielded in chunks of rows.

    The columns are fixed by the spec whatever is selected: `buckets` is checked (ValueError for
    an unknown name) but the choice of rows — `debtor_ids`, `min_balance` over the selected
    buckets — is the service's, made before the rows arrive here.
    """
    check_buckets(buckets)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    pending = 0
    for row in rows:
        writer.writerow(_csv_row(row))
        pending += 1
        if pending >= CSV_CHUNK_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")


# ------------------------------------------------------------------------------------------ PDF
#
# The debtor lines are written as raw PDF text operators (canvas.addLiteral): reportlab's
# drawString builds a text object per cell in pure Python, about ten times slower, which is seconds
# for a 7,000-debtor book. Headers, footers and the summary use the ordinary canvas calls.

PAGE = landscape(A4)
MARGIN = 28.0
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
BODY_SIZE = 7.0
ROW_HEIGHT = 11.0
TITLE = "Debtors Age Analysis"
_ELLIPSIS = "\u2026"
# The standard fonts use WinAnsiEncoding, which is cp1252; anything else prints as "?".
_ENCODING = "cp1252"


def _pdf_amount(value: Any) -> str:
    amount = _money(value)
    return "" if amount is None else f"{amount.quantize(_CENT):,.2f}"


class _Ink:
    """Text of one font and size as PDF string operands, with widths from the font's metrics."""

    def __init__(self, font: str, size: float) -> None:
        self.font, self.size = font, size
        self._widths = [w * size / 1000 for w in getFont(font).widths]
        self._ellipsis = self.width(_ELLIPSIS.encode(_ENCODING))

    @staticmethod
    def encode(text: str) -> bytes:
        return text.encode(_ENCODING, errors="replace")

    def width(self, raw: bytes) -> float:
        return sum(map(self._widths.__getitem__, raw))

    def fit(self, text: str, room: float) -> bytes:
        """Cut text to the column with an ellipsis, so a long name never runs into the next."""
        raw = self.encode(text)
        if self.width(raw) <= room:
            return raw
        used, keep = self._ellipsis, 0
        for w in map(self._widths.__getitem__, raw):  # the whole text is too wide: this stops
            if used + w > room:
                break
            used += w
            keep += 1
        return raw[:keep].rstrip() + _ELLIPSIS.encode(_ENCODING)

    @staticmethod
    def operand(raw: bytes) -> str:
        # A hex string needs no escaping of parentheses, backslashes or non-ASCII bytes.
        return "<" + raw.hex() + ">"


class _Column:
    __slots__ = ("key", "label", "width", "numeric", "x")

    def __init__(self, key: str, label: str, width: float, numeric: bool) -> None:
        self.key, self.label, self.width, self.numeric = key, label, width, numeric
        self.x = 0.0


def _columns(selected: tuple[str, ...]) -> list[_Column]:
    cols = [_Column("acc_no", "Account No", 56.0, False), _Column("name", "Name", 120.0, False)]
    cols += [_Column(b, BUCKET_LABELS[b], 52.0, True) for b in selected]
    if 1 < len(selected) < len(BUCKETS):  # all seven add up to the balance already
        cols.append(_Column("_selected", "Selected", 56.0, True))
    cols.append(_Column("balance", "Balance", 56.0, True))
    cols.append(_Column("phone", "Phone", 70.0, False))
    used = sum(c.width for c in cols)
    cols.append(_Column("email", "Email", PAGE[0] - 2 * MARGIN - used, False))
    x = MARGIN
    for c in cols:
        c.x = x
        x += c.width
    return cols


def _text_ops(ink: _Ink, cols: list[_Column], cells: list[str], y: float) -> list[str]:
    """Tm/Tj operators for one line: text cells left-aligned, amounts right-aligned."""
    ops = []
    for c, text in zip(cols, cells, strict=True):
        if not text:
            continue
        if c.numeric:
            raw = ink.encode(text)
            x = c.x + c.width - 3 - ink.width(raw)
        else:
            raw = ink.fit(text, c.width - 5)
            x = c.x + 2
        ops.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm {ink.operand(raw)} Tj")
    return ops


def _row_cells(row: Mapping[str, Any], cols: list[_Column], selected: tuple[str, ...]) -> list[str]:
    out = []
    for c in cols:
        if c.key == "_selected":
            total = sum((_money(row.get(b)) or Decimal(0) for b in selected), Decimal(0))
            out.append(_pdf_amount(total))
        elif c.numeric:
            out.append(_pdf_amount(row.get(c.key)))
        else:
            value = row.get(c.key)
            out.append("" if value is None else str(value))
    return out


def _totals_cells(cols: list[_Column], shown: Mapping[str, Any], selected_total: Decimal) -> list[str]:
    cells = []
    for c in cols:
        if c.key == "acc_no":
            cells.append("Totals")
        elif c.key == "name":
            cells.append(f"{shown['total_accounts']} accounts")
        elif c.key == "_selected":
            cells.append(_pdf_amount(selected_total))
        elif c.key == "balance":
            cells.append(_pdf_amount(shown["total_outstanding"]))
        elif c.numeric:
            cells.append(_pdf_amount(shown[c.key]))
        else:
            cells.append("")
    return cells


def _sum_rows(data: list[Mapping[str, Any]]) -> dict[str, Any]:
    sums = {k: Decimal(0) for k in (*BUCKETS, "balance")}
    for row in data:
        for k in sums:
            sums[k] += _money(row.get(k)) or Decimal(0)
    return {"total_outstanding": sums.pop("balance"), **sums}


def debtors_pdf(
    rows: Iterable[Mapping[str, Any]],
    *,
    pharmacy_name: str,
    generated_at: datetime,
    buckets: Sequence[str],
    totals: Mapping[str, Any],
) -> bytes:
    """A landscape A4 report: title, pharmacy, date (UTC), selected buckets, totals, one line
    per debtor and "Page n of N" on every page.

    `buckets` picks the bucket columns (empty: all seven; ValueError for an unknown name); with
    two to six, a "Selected" column adds them up. `totals` carries the figures to print
    (`total_accounts`, `total_outstanding`, bucket sums, as the statistics endpoint gives them);
    a key it lacks is summed from the rows. Text outside cp1252 prints as "?": the standard PDF
    fonts carry no other glyphs.
    """
    selected = check_buckets(buckets) or BUCKETS
    data = list(rows)
    cols = _columns(selected)
    when = generated_at.astimezone(UTC) if generated_at.tzinfo else generated_at.replace(tzinfo=UTC)
    stamp = when.strftime("%Y-%m-%d %H:%M UTC")
    summed = _sum_rows(data)
    shown: dict[str, Any] = {k: totals.get(k, summed[k]) for k in summed}
    shown["total_accounts"] = totals.get("total_accounts", len(data))
    selected_total = sum((_money(shown[b]) or Decimal(0) for b in selected), Decimal(0))

    width, height = PAGE
    top = height - MARGIN
    first_table_top, next_table_top = top - 74, top - 34  # page 1 also carries the summary
    bottom = MARGIN + 16
    per_first = int((first_table_top - ROW_HEIGHT - bottom) // ROW_HEIGHT)
    per_next = int((next_table_top - ROW_HEIGHT - bottom) // ROW_HEIGHT)
    lines = len(data) + 1  # the totals line closes the table
    pages = 1 if lines <= per_first else 1 + -(-(lines - per_first) // per_next)

    body, bold = _Ink(FONT, BODY_SIZE), _Ink(BOLD, BODY_SIZE)
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=PAGE, pageCompression=1)
    pdf.setTitle(f"{TITLE} - {pharmacy_name}")
    pdf.setAuthor("Arrears")
    pdf.setCreator("Arrears")
    for font in (FONT, BOLD):  # registers both fonts before their internal names are used
        pdf.setFont(font, BODY_SIZE)
    names = {f: pdf._doc.getInternalFontName(f) for f in (FONT, BOLD)}
    bucket_names = ", ".join(BUCKET_LABELS[b] for b in selected)
    header = [c.label for c in cols]

    index = 0
    for page in range(1, pages + 1):
        _page_header(pdf, pharmacy_name, stamp, bucket_names)
        if page == 1:
            _summary(pdf, top - 40, shown, selected, selected_total)
        table_top, capacity = (first_table_top, per_first) if page == 1 else (next_table_top, per_next)
        y = table_top - ROW_HEIGHT + 3
        shading, ops = [], [f"BT {names[BOLD]} {BODY_SIZE} Tf", *_text_ops(bold, cols, header, y)]
        ops.append(f"ET BT {names[FONT]} {BODY_SIZE} Tf")
        rules = [y - 3]
        for _ in range(capacity):
            y -= ROW_HEIGHT
            if index < len(data):
                if index % 2:
                    shading.append(f"{MARGIN:.2f} {y - 3:.2f} {width - 2 * MARGIN:.2f} {ROW_HEIGHT} re")
                ops += _text_ops(body, cols, _row_cells(data[index], cols, selected), y)
                index += 1
            elif index == len(data):
                rules.append(y + ROW_HEIGHT - 3)
                ops.append(f"ET BT {names[BOLD]} {BODY_SIZE} Tf")
                ops += _text_ops(bold, cols, _totals_cells(cols, shown, selected_total), y)
                index += 1
                break
        ops.append("ET")
        graphics = ["q 0.94 g", *shading, "f Q"] if shading else []
        graphics += [
            "q 0.6 w",
            *(f"{MARGIN:.2f} {r:.2f} m {width - MARGIN:.2f} {r:.2f} l S" for r in rules),
            "Q",
        ]
        pdf.addLiteral("\n".join(["q 0 g", *graphics, *ops, "Q"]))
        pdf.setFont(FONT, 7)
        pdf.setFillGray(0.3)
        pdf.drawString(MARGIN, MARGIN, _clip(f"{pharmacy_name} - {stamp}", FONT, 7, 420))
        pdf.drawRightString(width - MARGIN, MARGIN, f"Page {page} of {pages}")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _clip(text: str, font: str, size: float, room: float) -> str:
    return _Ink(font, size).fit(text, room).decode(_ENCODING)


def _page_header(pdf: canvas.Canvas, pharmacy_name: str, stamp: str, bucket_names: str) -> None:
    width, height = PAGE
    top = height - MARGIN
    pdf.setFillGray(0)
    pdf.setFont(BOLD, 14)
    pdf.drawString(MARGIN, top - 10, TITLE)
    pdf.setFont(FONT, 9)
    pdf.drawRightString(width - MARGIN, top - 10, f"Generated {stamp}")
    pdf.setFont(BOLD, 9)
    pdf.drawString(MARGIN, top - 24, _clip(pharmacy_name, BOLD, 9, 420))
    pdf.setFont(FONT, 8)
    pdf.drawRightString(width - MARGIN, top - 24, f"Buckets: {bucket_names}")


def _summary(
    pdf: canvas.Canvas,
    y: float,
    shown: Mapping[str, Any],
    selected: tuple[str, ...],
    selected_total: Decimal,
) -> None:
    pdf.setFont(BOLD, 8)
    pdf.drawString(MARGIN, y, f"Accounts: {shown['total_accounts']}")
    pdf.drawString(MARGIN + 120, y, f"Total outstanding: {_pdf_amount(shown['total_outstanding'])}")
    pdf.drawString(MARGIN + 320, y, f"Selected buckets total: {_pdf_amount(selected_total)}")
    x = MARGIN
    for b in BUCKETS:
        label = f"{BUCKET_LABELS[b]}: {_pdf_amount(shown[b])}"
        pdf.setFont(BOLD if b in selected else FONT, 8)  # the selected buckets stand out
        pdf.drawString(x, y - 14, label)
        x += stringWidth(label, BOLD, 8) + 16
