"""Debtors Age Analysis PDFs drawn with reportlab, for the tests and the benchmark.

Each `Layout` prints the same kind of data the way a different practice or pharmacy system does:
ruled grids or whitespace-aligned monospace lines, contacts in columns or on a line of their own,
repeated headers, page footers and totals. The sample `Debtor` rows are the expected answer.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen.canvas import Canvas

BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
CENT = Decimal("0.01")

STANDARD = (
    ("Current", "current"), ("30 Days", "d30"), ("60 Days", "d60"), ("90 Days", "d90"),
    ("120 Days", "d120"), ("150 Days", "d150"), ("180 Days", "d180"),
)
# Shorter reports that lump the oldest debt into one "N+" bucket.
PLUS_180 = (("Current", "current"), ("30 Days", "d30"), ("60 Days", "d60"), ("90 Days", "d90"),
            ("120 Days", "d120"), ("150 Days", "d150"), ("180+", "d180"))
PLUS_150 = (("Current", "current"), ("30 Days", "d30"), ("60 Days", "d60"), ("90 Days", "d90"),
            ("120 Days", "d120"), ("150+", "d150"))


@dataclass(frozen=True)
class Debtor:
    """One row as printed; `printed_balance` forces a balance that does not add up."""

    acc_no: str
    name: str
    amounts: dict[str, Decimal] = field(default_factory=dict)
    email: str | None = None
    phone: str | None = None
    printed_balance: Decimal | None = None

    def amount(self, bucket: str) -> Decimal:
        return self.amounts.get(bucket, Decimal("0.00"))

    @property
    def balance(self) -> Decimal:
        if self.printed_balance is not None:
            return self.printed_balance
        return sum((self.amount(b) for b in BUCKETS), Decimal("0.00"))


@dataclass(frozen=True)
class Layout:
    buckets: tuple[tuple[str, str], ...] = STANDARD
    balance_label: str = "Balance"
    ruled: bool = True  # grid lines and proportional font; False: Courier lines padded with spaces
    contacts: str = "columns"  # "columns" | "second_line" | "none"
    thousands: str = ","  # "," or " "
    negatives: str = "minus"  # "minus" -> -45.00, "parens" -> (45.00)
    header_align: str = "right"  # "right" | "left" | "center" (amount cells are always right-aligned)
    rows_per_page: int = 30
    subtotals: bool = False  # "Page Total" under each page, "Grand Total" at the end
    header_every_page: bool = True  # False: only page 1 prints the column header
    zero_blank: bool = False  # print zero buckets as empty cells
    font_size: float = 7.0
    leading: float | None = None  # line pitch; font size + 3.2 when None
    title: str = "Debtors Age Analysis"


def fmt_amount(value: Decimal, layout: Layout) -> str:
    if value == 0 and layout.zero_blank:
        return ""
    q = abs(value).quantize(CENT)
    whole, cents = f"{q:.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = f"{layout.thousands.join(groups)}.{cents}"
    if value < 0:
        return f"({text})" if layout.negatives == "parens" else f"-{text}"
    return text


FIRST = ["John", "Thandi", "Pieter", "Ayesha", "Sipho", "Maria", "Johan", "Lerato", "Ahmed", "Nomsa",
         "Willem", "Precious", "David", "Zanele", "Hendrik", "Fatima"]
LAST = ["Smith", "Nkosi", "van der Merwe", "Patel", "Dlamini", "Botha", "Naidoo", "Mokoena", "O'Brien",
        "Khumalo", "Pretorius", "Govender", "Mahlangu", "du Plessis", "Jacobs", "Sithole"]
SCHEMES = ["DISCOVERY HEALTH", "Bonitas Medical Fund", "GEMS", "Momentum Health", "Medshield Medical Scheme",
           "Polmed", "Fedhealth", "Bestmed"]


def sample_debtors(n: int, *, buckets: Sequence[str] = BUCKETS, seed: int = 7,
                   medical_every: int = 17, negatives_every: int = 11) -> list[Debtor]:
    """Deterministic debtors with realistic mixes: zero buckets, credits, big balances, no contacts."""
    rnd = random.Random(seed)
    rows: list[Debtor] = []
    for i in range(n):
        amounts: dict[str, Decimal] = {}
        for b in buckets:
            if rnd.random() < 0.45:
                continue
            cents = rnd.randint(1, 250_000) if rnd.random() < 0.9 else rnd.randint(1_000_000, 12_000_000)
            amounts[b] = Decimal(cents) / 100
        if negatives_every and i % negatives_every == 3:
            amounts[buckets[0]] = -Decimal(rnd.randint(100, 90_000)) / 100  # a credit (overpayment)
        if medical_every and i % medical_every == 5:
            name = SCHEMES[(i // medical_every) % len(SCHEMES)]
            email = phone = None
        else:
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            name = f"{first} {last}" if i % 13 else f"{last} & Sons (Pty) Ltd"
            email = f"{first.lower()}.{last.split()[-1].lower().replace(chr(39), '')}{i}@example.co.za"
            email = email if i % 5 else None
            phone = f"08{rnd.randint(1, 4)} {rnd.randint(100, 999)} {rnd.randint(1000, 9999)}"
            phone = phone if i % 7 else (f"+27 {phone[1:]}" if i % 2 else None)
        rows.append(Debtor(acc_no=f"{'AC' if i % 3 else ''}{10_000 + i}", name=name, amounts=amounts,
                           email=email, phone=phone))
    return rows


# --- drawing ----------------------------------------------------------------------------------

@dataclass
class _Col:
    key: str
    label: str
    width: float
    numeric: bool


def _columns(layout: Layout) -> list[_Col]:
    cols = [_Col("acc_no", "Acc No", 48, False), _Col("name", "Name", 118, False)]
    cols += [_Col(f, label, 52, True) for label, f in layout.buckets]
    cols.append(_Col("balance", layout.balance_label, 56, True))
    if layout.contacts == "columns":
        cols += [_Col("email", "Email", 132, False), _Col("phone", "Phone", 68, False)]
    return cols


def _cell(d: Debtor, key: str, layout: Layout) -> str:
    if key == "balance":
        return fmt_amount(d.balance, layout)
    if key in BUCKETS:
        return fmt_amount(d.amount(key), layout)
    return getattr(d, key) or ""


def _contact_line(d: Debtor) -> str:
    parts = []
    if d.email:
        parts.append(f"Email: {d.email}")
    if d.phone:
        parts.append(f"Cell: {d.phone}")
    return "   ".join(parts)


class _Writer:
    """Draws rows top-down on a canvas; one instance per document."""

    def __init__(self, canvas: Canvas, layout: Layout, pages: int, company: str) -> None:
        self.c, self.layout, self.pages, self.company = canvas, layout, pages, company
        self.width, self.height = landscape(A4)
        self.cols = _columns(layout)
        self.lead = layout.leading or layout.font_size + 3.2
        self.mono_widths = [10, 32] + [13] * (len(layout.buckets) + 1) + ([36, 16] if layout.contacts == "columns" else [])

    # monospace text: the whole line is one string, aligned with spaces
    def _mono(self, cells: list[str], y: float, header: bool = False) -> None:
        parts = []
        for col, text, w in zip(self.cols, cells, self.mono_widths, strict=True):
            text = text[: w - 1]
            parts.append(text.rjust(w - 1) + " " if col.numeric else text.ljust(w))
        self.c.setFont("Courier-Bold" if header else "Courier", self.layout.font_size)
        self.c.drawString(30, y, "".join(parts).rstrip())

    def _ruled(self, cells: list[str], y: float, header: bool = False, height: float | None = None) -> None:
        c, x = self.c, 30.0
        c.setFont("Helvetica-Bold" if header else "Helvetica", self.layout.font_size)
        align = self.layout.header_align if header else "right"
        for col, text in zip(self.cols, cells, strict=True):
            if col.numeric and align == "right":
                c.drawRightString(x + col.width - 3, y, text)
            elif col.numeric and align == "center":
                c.drawCentredString(x + col.width / 2, y, text)
            elif text:
                c.drawString(x + 3, y, text)
            x += col.width
        row_h = height or self.lead
        top, bottom = y + self.lead - 2.5, y + self.lead - 2.5 - row_h
        c.setLineWidth(0.4)
        c.line(30, bottom, x, bottom)
        c.line(30, top, x, top)
        xx = 30.0
        c.line(xx, top, xx, bottom)
        for col in self.cols:
            xx += col.width
            c.line(xx, top, xx, bottom)

    def row(self, cells: list[str], y: float, header: bool = False, height: float | None = None) -> None:
        if self.layout.ruled:
            self._ruled(cells, y, header, height)
        else:
            self._mono(cells, y, header)

    def page_top(self, page_no: int) -> float:
        c, y = self.c, self.height - 36
        c.setFont("Helvetica-Bold", 12)
        c.drawString(30, y, self.layout.title)
        c.setFont("Helvetica", 8)
        c.drawRightString(self.width - 30, y, "Run date: 15/01/2025 10:30")
        y -= 14
        c.drawString(30, y, f"{self.company}   Age analysis as at 31/12/2024   All debtors, sorted by account")
        y -= 20
        if page_no == 1 or self.layout.header_every_page:
            self.row([col.label for col in self.cols], y, header=True)
        return y - self.lead

    def page_foot(self, page_no: int) -> None:
        self.c.setFont("Helvetica", 7)
        self.c.drawString(30, 22, "Printed by: ADMIN   Dispensary v4.2")
        self.c.drawRightString(self.width - 30, 22, f"Page {page_no} of {self.pages}")

    def totals(self, label: str, rows: Sequence[Debtor], y: float) -> None:
        cells = []
        for col in self.cols:
            if col.key == "name":
                cells.append(label)
            elif col.key == "balance":
                cells.append(fmt_amount(sum((d.balance for d in rows), Decimal(0)), self.layout))
            elif col.numeric:
                cells.append(fmt_amount(sum((d.amount(col.key) for d in rows), Decimal(0)), self.layout))
            else:
                cells.append("")
        self.row(cells, y, header=True)


def build_report(debtors: Sequence[Debtor], layout: Layout = Layout(), path: str | Path | None = None, *,
                 company: str = "Sunrise Pharmacy (Pty) Ltd", encrypt: StandardEncryption | None = None) -> bytes:
    """Draws the report; returns the PDF bytes and also writes them to `path` when given."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=landscape(A4), encrypt=encrypt, pageCompression=1)
    # Never draw past the footer: cap the rows to what fits between the header and the footer.
    lines_per_row = 2 if layout.contacts == "second_line" else 1
    fits = int((landscape(A4)[1] - 100 - 40) // ((layout.leading or layout.font_size + 3.2) * lines_per_row))
    per = max(1, min(layout.rows_per_page, fits))
    chunks = [list(debtors[i: i + per]) for i in range(0, len(debtors), per)] or [[]]
    w = _Writer(c, layout, len(chunks), company)
    for page_no, chunk in enumerate(chunks, start=1):
        y = w.page_top(page_no)
        for d in chunk:
            second = layout.contacts == "second_line"
            contact = _contact_line(d) if second else ""
            w.row([_cell(d, col.key, layout) for col in w.cols], y,
                  height=w.lead * 2 if second and layout.ruled else None)
            y -= w.lead
            if second:
                if contact:
                    c.setFont("Helvetica" if layout.ruled else "Courier", layout.font_size)
                    c.drawString(30 + 48 + 3 if layout.ruled else 30 + 6 * layout.font_size * 0.6, y, contact)
                y -= w.lead
        if layout.subtotals:
            w.totals("Page Total", chunk, y)
            y -= w.lead
            if page_no == len(chunks):
                w.totals("Grand Total", debtors, y)
                y -= w.lead * 1.5
                c.setFont("Helvetica", 8)
                c.drawString(30, y, f"Number of accounts: {len(debtors)}")
        w.page_foot(page_no)
        c.showPage()
    c.save()
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def simple_table(header: Sequence[str], rows: Sequence[Sequence[str] | str], *, font_size: float = 9) -> bytes:
    """A hand-laid table: two left-aligned text columns, then right-aligned amounts 70 pt apart.

    A row given as a plain string is a free line starting under the second column (contacts, notes).
    """
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=landscape(A4))
    c.setFont("Helvetica", font_size)
    text_x = (30, 110)

    def line(cells: Sequence[str], y: float) -> None:
        for i, cell in enumerate(cells):
            if i < 2:
                c.drawString(text_x[i], y, cell)
            else:
                c.drawRightString(330 + 70 * (i - 2), y, cell)

    y = 520.0
    line(header, y)
    for row in rows:
        y -= 14
        if isinstance(row, str):
            c.drawString(text_x[1], y, row)
        else:
            line(row, y)
    c.showPage()
    c.save()
    return buf.getvalue()


# --- files that are not readable reports ----------------------------------------------------

def encrypted_pdf(user_password: str = "secret") -> bytes:
    """A report locked with a user password: nothing can be read without it."""
    return build_report(sample_debtors(5), encrypt=StandardEncryption(user_password, ownerPassword="owner"))


def owner_only_encrypted_pdf() -> bytes:
    """Encrypted with an empty user password (print/copy restrictions only): readable as is."""
    return build_report(sample_debtors(5), encrypt=StandardEncryption("", ownerPassword="owner", canModify=0))


def scanned_pdf() -> bytes:
    """What a scanner produces: a picture of a page and no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader

    img = Image.new("L", (600, 400), 255)
    draw = ImageDraw.Draw(img)
    for row in range(20, 380, 18):  # grey bars where the printed lines were
        draw.rectangle((20, row, 20 + (row * 7) % 540, row + 8), fill=40)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=landscape(A4))
    c.drawImage(ImageReader(img), 30, 60, width=780, height=500)
    c.rect(30, 30, 200, 20, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def text_without_table_pdf() -> bytes:
    """A text PDF that is not an age analysis (a letter)."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    c.setFont("Helvetica", 11)
    for i, line in enumerate(["Dear customer,", "Thank you for your payment of R 450.00.",
                              "Kind regards, Sunrise Pharmacy"]):
        c.drawString(60, 760 - 16 * i, line)
    c.showPage()
    c.save()
    return buf.getvalue()


def broken_pdf() -> bytes:
    """Starts like a PDF, but the body is garbage (a download cut short and mangled)."""
    rnd = random.Random(3)
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(rnd.randrange(256) for _ in range(4000))
