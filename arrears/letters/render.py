"""Letters drawn on A4 with reportlab: the letterhead (logo, name, address, registration and VAT
numbers, contact details), the date, the addressee, the account's reference, the subject, the
body's paragraphs with the ageing table among them, and a footer with the page of the letter.

Pure: no database, no clock (the date comes in as text), and deterministic (`invariant`: no
creation time or random document id in the file), so the same letter renders to the same bytes.
One `PdfWriter` writes one letter or many (each starting on a new page: one PDF to print).
Every value is escaped before reportlab's paragraph markup sees it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, Paragraph, Spacer, Table, TableStyle

from arrears.letters.placeholders import TableMark

PAGE_W, PAGE_H = A4
MARGIN = 20 * mm
LOGO_MAX_W, LOGO_MAX_H = 45 * mm, 22 * mm
FOOTER_H = 12 * mm
MAX_LINE = 90  # letterhead lines are cut here: they share the top of the page with the logo

BODY = ParagraphStyle("letter-body", fontName="Helvetica", fontSize=10, leading=13.5, spaceAfter=7,
                      alignment=TA_LEFT)
SUBJECT = ParagraphStyle("letter-subject", parent=BODY, fontName="Helvetica-Bold", fontSize=11, leading=14,
                         spaceBefore=4, spaceAfter=10)
ADDRESS = ParagraphStyle("letter-address", parent=BODY, spaceAfter=0)
TABLE_STYLE = TableStyle([
    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
    ("FONT", (0, 1), (-1, -1), "Helvetica", 9.5),
    ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf1")),
    ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#8a94a3")),
    ("TOPPADDING", (0, 0), (-1, -1), 3),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
])


@dataclass(frozen=True)
class Head:
    """The letterhead as printed."""

    name: str
    address: tuple[str, ...] = ()
    registration_number: str | None = None
    vat_number: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    logo: bytes | None = None  # a checked PNG or JPEG (arrears.letters.logo)

    def contact_lines(self) -> list[str]:
        contact = " | ".join(x for x in (f"Tel: {self.phone}" if self.phone else "",
                                         f"Email: {self.email}" if self.email else "") if x)
        numbers = " | ".join(x for x in (f"Reg. No: {self.registration_number}" if self.registration_number else "",
                                         f"VAT No: {self.vat_number}" if self.vat_number else "") if x)
        return [line[:MAX_LINE] for line in (*self.address, contact, self.website or "", numbers) if line]


@dataclass(frozen=True)
class AgeingTable:
    headings: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class LetterContent:
    """One letter, every value filled in."""

    date_text: str
    addressee: tuple[str, ...]  # the name first, then the address lines
    reference: str  # "Account: K1"
    subject: str
    blocks: tuple[str | TableMark, ...]  # paragraphs, and where the ageing table goes
    table: AgeingTable


def _markup(text: str) -> str:
    return escape(text).replace("\n", "<br/>")


def table_flowable(table: AgeingTable, width: float) -> Table:
    cols = max(len(table.headings), 1)
    t = Table([list(table.headings), list(table.values)], colWidths=[width / cols] * cols, hAlign="LEFT")
    t.setStyle(TABLE_STYLE)
    return t


class LayoutProblem(ValueError):
    """A block of a letter that fits no page (cannot happen with paragraphs and the table)."""


class PdfWriter:
    """Letters into one PDF, each starting on a new page."""

    def __init__(self, head: Head) -> None:
        self.head = head
        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=A4, invariant=1, pageCompression=1)
        self.canvas.setTitle(f"Letters from {head.name}"[:200])
        self.canvas.setAuthor(head.name[:200])
        self.logo = ImageReader(io.BytesIO(head.logo)) if head.logo else None
        self.head_lines = head.contact_lines()
        self.letters = 0
        self.width = PAGE_W - 2 * MARGIN

    # ---------------------------------------------------------------- page furniture

    def _letterhead(self) -> float:
        """The full letterhead at the top of a letter's first page; returns where the text starts."""
        c, top = self.canvas, PAGE_H - 16 * mm
        lowest = top
        if self.logo is not None:
            iw, ih = self.logo.getSize()
            scale = min(LOGO_MAX_W / iw, LOGO_MAX_H / ih)
            c.drawImage(self.logo, MARGIN, top - ih * scale, iw * scale, ih * scale, mask="auto")
            lowest = top - ih * scale
        right = PAGE_W - MARGIN
        y = top - 12
        c.setFont("Helvetica-Bold", 14)
        c.drawRightString(right, y, self.head.name[:60])
        c.setFont("Helvetica", 8.5)
        for line in self.head_lines:
            y -= 11
            c.drawRightString(right, y, line)
        lowest = min(lowest, y - 3)
        rule = lowest - 4 * mm
        c.setStrokeColor(colors.HexColor("#8a94a3"))
        c.setLineWidth(0.7)
        c.line(MARGIN, rule, PAGE_W - MARGIN, rule)
        return rule - 6 * mm

    def _continuation(self, reference: str) -> float:
        c, top = self.canvas, PAGE_H - 16 * mm
        c.setFont("Helvetica-Bold", 10)
        c.drawString(MARGIN, top - 10, self.head.name[:60])
        c.setFont("Helvetica", 8.5)
        c.drawRightString(PAGE_W - MARGIN, top - 10, f"{reference} (continued)"[:MAX_LINE])
        c.line(MARGIN, top - 16, PAGE_W - MARGIN, top - 16)
        return top - 16 - 6 * mm

    def _footer(self, page: int) -> None:
        c = self.canvas
        c.setFont("Helvetica", 7.5)
        c.setFillColor(colors.HexColor("#55606e"))
        c.drawString(MARGIN, MARGIN - 8, self.head.name[:80])
        c.drawRightString(PAGE_W - MARGIN, MARGIN - 8, f"Page {page}")
        c.setFillColor(colors.black)

    def _frame(self, top: float) -> Frame:
        bottom = MARGIN + FOOTER_H - 8
        return Frame(MARGIN, bottom, self.width, top - bottom, leftPadding=0, rightPadding=0,
                     topPadding=0, bottomPadding=0, showBoundary=0)

    # ---------------------------------------------------------------- letters

    def flowables(self, letter: LetterContent) -> list[Flowable]:
        out: list[Flowable] = [Paragraph(_markup(letter.date_text), BODY), Spacer(1, 4 * mm)]
        if letter.addressee:
            name, *rest = letter.addressee
            out.append(Paragraph("<b>" + _markup(name) + "</b>" + "".join("<br/>" + _markup(x) for x in rest),
                                 ADDRESS))
            out.append(Spacer(1, 6 * mm))
        out.append(Paragraph("<b>" + _markup(letter.reference) + "</b>", BODY))
        out.append(Paragraph(_markup(letter.subject), SUBJECT))
        for block in letter.blocks:
            if isinstance(block, TableMark):
                out.append(table_flowable(letter.table, self.width))
                out.append(Spacer(1, 4 * mm))
            else:
                out.append(Paragraph(_markup(block), BODY))
        return out

    def add(self, letter: LetterContent) -> int:
        """Draw one letter from a new page; returns how many pages it took."""
        c = self.canvas
        if self.letters:
            c.showPage()
        self.letters += 1
        page = 1
        frame, fresh = self._frame(self._letterhead()), True
        pending = self.flowables(letter)
        while pending:
            item = pending.pop(0)
            if frame.add(item, c, trySplit=0):
                fresh = False
                continue
            parts = frame.split(item, c)
            if len(parts) > 1 and frame.add(parts[0], c, trySplit=0):
                pending[0:0] = parts[1:]
                fresh = False
                continue
            if fresh:
                raise LayoutProblem("A block of the letter does not fit on a page.")
            self._footer(page)
            c.showPage()
            page += 1
            frame, fresh = self._frame(self._continuation(letter.reference)), True
            pending.insert(0, item)
        self._footer(page)
        return page

    def finish(self) -> bytes:
        if not self.letters:
            self.canvas.setFont("Helvetica", 10)
            self.canvas.drawString(MARGIN, PAGE_H - MARGIN, "No letters.")
        self.canvas.save()
        return self.buffer.getvalue()


def render(head: Head, letters: Sequence[LetterContent]) -> tuple[bytes, list[int]]:
    """One PDF of these letters, and the pages each took."""
    writer = PdfWriter(head)
    pages = [writer.add(letter) for letter in letters]
    return writer.finish(), pages


def render_each(head: Head, letters: Sequence[LetterContent]) -> list[tuple[bytes, int]]:
    """One PDF per letter (as stored and e-mailed), with its page count."""
    out: list[tuple[bytes, int]] = []
    for letter in letters:
        pdf, pages = render(head, [letter])
        out.append((pdf, pages[0]))
    return out
