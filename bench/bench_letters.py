"""Benchmark (not a test): 1,000 letters rendered into one PDF (issue 23), against reportlab
drawing the same text without templates.

    uv run --frozen python bench/bench_letters.py [--letters 1000] [--rounds 3] [--template letter_of_demand]

Ours: for each of N accounts, the built-in template's paragraphs filled with the account's
values (`arrears.letters.service.content_for`: placeholders, dates, the ageing table) and drawn by
`arrears.letters.render.PdfWriter` (letterhead with a PNG logo, frame flow with page breaks,
paragraphs, the table as a reportlab Table, footer) into one PDF.

The baseline: the best a user could do with reportlab directly — the same A4 page setup (invariant,
compressed), the same logo and fonts, with every letter's text already filled in and escaped
before the clock starts: canvas.drawString for the letterhead, date, addressee and table cells,
and Paragraph(...).wrapOn/drawOn for the body paragraphs (the only way to wrap text), one
showPage per letter, no frames, no table object, no page-break logic.

Rounds alternate ours and the baseline in one process; the ratio is of the medians (and of the
best rounds). Goal: ours within 3x of the baseline.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.lib.utils import ImageReader  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402
from reportlab.platypus import Paragraph  # noqa: E402

from arrears.letters import builtins, placeholders  # noqa: E402
from arrears.letters.facts import BOOK_HEADINGS, AccountFacts  # noqa: E402
from arrears.letters.render import (  # noqa: E402
    BODY,
    MARGIN,
    AgeingTable,
    Head,
    LetterContent,
    PdfWriter,
    _markup,
)
from arrears.letters.service import content_for  # noqa: E402
from arrears.messaging.ageing import AgeBuckets  # noqa: E402
from arrears.messaging.templates import format_amount  # noqa: E402

PAGE_W, PAGE_H = A4


def logo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (480, 180), (20, 80, 160)).save(buf, "PNG")
    return buf.getvalue()


HEAD = Head("Acme Traders (Pty) Ltd", ("12 Long Street", "Cape Town 8001"), "2019/123456/07", "4123456789",
            "021 555 1234", "accounts@acme.example", "acme.example", logo())


def accounts(n: int) -> list[AccountFacts]:
    out = []
    for i in range(n):
        b = AgeBuckets(Decimal(i % 500) + Decimal("0.25"), Decimal(i % 300), Decimal(i % 200), Decimal(i % 90),
                       Decimal(i % 40))
        total = sum(b.bracket_amounts(), Decimal("0"))
        table = AgeingTable(BOOK_HEADINGS, tuple(format_amount(a) for a in (*b.bracket_amounts(), total)))
        out.append(AccountFacts(uuid.uuid4(), "book", i, i, f"ACC{i:06d}", f"Customer Number {i} & Sons",
                                (f"{i} Main Road", "Johannesburg 2001"), None, "082 000 0000", "", total,
                                Decimal("0"), 60, b, table))
    return out


def ours(template: builtins.Builtin, facts: list[AccountFacts], today: date) -> tuple[bytes, int]:
    view = type("T", (), {"body": template.body, "subject": template.subject})()
    writer = PdfWriter(HEAD)
    pages = 0
    for f in facts:
        pages += writer.add(content_for(view, HEAD, f, today, today + timedelta(days=14)))  # type: ignore[arg-type]
    return writer.finish(), pages


def prefill(template: builtins.Builtin, facts: list[AccountFacts], today: date) -> list[LetterContent]:
    """The baseline's input: every letter's text already filled in (outside the clock)."""
    view = type("T", (), {"body": template.body, "subject": template.subject})()
    return [content_for(view, HEAD, f, today, today + timedelta(days=14)) for f in facts]  # type: ignore[arg-type]


def baseline(letters: list[LetterContent]) -> tuple[bytes, int]:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    image = ImageReader(io.BytesIO(HEAD.logo or b""))
    iw, ih = image.getSize()
    scale = min(45 * mm / iw, 22 * mm / ih)
    lines = HEAD.contact_lines()
    width = PAGE_W - 2 * MARGIN
    # The markup escaped once, before the clock: a user would hold it ready too.
    # None marks where the ageing table goes.
    ready = [[_markup(b) if isinstance(b, str) else None for b in letter.blocks] for letter in letters]
    pages = 0
    for letter, paragraphs in zip(letters, ready, strict=True):
        top = PAGE_H - 16 * mm
        c.drawImage(image, MARGIN, top - ih * scale, iw * scale, ih * scale, mask="auto")
        c.setFont("Helvetica-Bold", 14)
        c.drawRightString(PAGE_W - MARGIN, top - 12, HEAD.name)
        c.setFont("Helvetica", 8.5)
        y = top - 12
        for line in lines:
            y -= 11
            c.drawRightString(PAGE_W - MARGIN, y, line)
        y = min(y, top - ih * scale) - 4 * mm
        c.line(MARGIN, y, PAGE_W - MARGIN, y)
        y -= 10 * mm
        c.setFont("Helvetica", 10)
        for text in (letter.date_text, "", *letter.addressee, "", letter.reference):
            c.drawString(MARGIN, y, text)
            y -= 13.5
        c.setFont("Helvetica-Bold", 11)
        c.drawString(MARGIN, y - 4, letter.subject)
        y -= 24
        for text in paragraphs:
            if text is None:  # the ageing table: headings and values in cells of a box
                col = width / len(letter.table.headings)
                c.setFont("Helvetica-Bold", 9)
                for i, head in enumerate(letter.table.headings):
                    c.drawRightString(MARGIN + (i + 1) * col - 3, y - 10, head)
                c.setFont("Helvetica", 9.5)
                for i, value in enumerate(letter.table.values):
                    c.drawRightString(MARGIN + (i + 1) * col - 3, y - 26, value)
                c.rect(MARGIN, y - 32, width, 32)
                y -= 44
                continue
            p = Paragraph(text, BODY)
            _, h = p.wrapOn(c, width, y)
            p.drawOn(c, MARGIN, y - h)
            y -= h + 7
        c.setFont("Helvetica", 7.5)
        c.drawString(MARGIN, MARGIN - 8, HEAD.name)
        c.drawRightString(PAGE_W - MARGIN, MARGIN - 8, "Page 1")
        c.showPage()
        pages += 1
    c.save()
    return buf.getvalue(), pages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--letters", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--template", default="letter_of_demand", choices=[b.key for b in builtins.BUILTINS])
    args = ap.parse_args()
    template = next(b for b in builtins.BUILTINS if b.key == args.template)
    assert placeholders.problems(template.subject, template.body) == {}
    facts = accounts(args.letters)
    today = date(2026, 12, 7)
    filled = prefill(template, facts, today)
    ours_t: list[float] = []
    base_t: list[float] = []
    for r in range(args.rounds):
        for name in (("ours", "base") if r % 2 == 0 else ("base", "ours")):
            start = time.perf_counter()
            if name == "ours":
                pdf, pages = ours(template, facts, today)
                ours_t.append(time.perf_counter() - start)
                ours_info = (len(pdf), pages)
            else:
                pdf, pages = baseline(filled)
                base_t.append(time.perf_counter() - start)
                base_info = (len(pdf), pages)
        print(f"round {r + 1}: ours {ours_t[-1]:.2f} s, baseline {base_t[-1]:.2f} s, "
              f"ratio {ours_t[-1] / base_t[-1]:.2f}", flush=True)
    print(f"letters: {args.letters} ({args.template}); ours {ours_info[1]} pages, {ours_info[0]:,} bytes; "
          f"baseline {base_info[1]} pages, {base_info[0]:,} bytes")
    med_o, med_b = statistics.median(ours_t), statistics.median(base_t)
    paired = statistics.median(o / b for o, b in zip(ours_t, base_t, strict=True))
    print(f"median: ours {med_o:.2f} s ({args.letters / med_o:.0f} letters/s), baseline {med_b:.2f} s; "
          f"ratio of the medians {med_o / med_b:.2f}, median of the paired rounds {paired:.2f}, best rounds "
          f"{min(ours_t) / min(base_t):.2f}; goal <= 3.00: {'met' if max(med_o / med_b, paired) <= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
