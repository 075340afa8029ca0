"""PDF layouts of the corpus: debtor reports drawn the way dispensing, practice-management and
accounting systems print them, each with exactly what reading it must give.

Every layout is a plan of printed lines, each line a list of text pieces at chosen x positions
(left- or right-aligned, as the real reports place them) and the reason a reader must skip it
(None for an account's own lines). The expected skipped counts are counted from that plan, the
expected accounts are written out by hand, and `build` only draws the plan with reportlab.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from tests.corpus.model import ZERO, Expected, Layout

D = Decimal
BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
AS_AT = dt.date(2026, 11, 30)


# --- money as the reports print it -------------------------------------------------------------

@dataclass(frozen=True)
class Money:
    thousands: str = ","
    decimal: str = "."
    negative: str = "minus"  # "minus" -45.00, "trail" 45.00-, "paren" (45.00)
    prefix: str = ""  # "R " or "R"
    zero: str = "0.00"  # how a zero prints: "0.00", "-" or "" (blank)

    def __call__(self, value: Decimal) -> str:
        if value == 0:
            return self.zero
        whole, cents = f"{abs(value):.2f}".split(".")
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        text = f"{self.prefix}{self.thousands.join([whole, *groups])}{self.decimal}{cents}"
        if value > 0:
            return text
        return {"minus": f"-{text}", "trail": f"{text}-", "paren": f"({text})"}[self.negative]


# --- the plan: pages of lines of positioned text -----------------------------------------------

@dataclass(frozen=True)
class Piece:
    x: float
    text: str
    right: bool = False  # right-aligned at x
    bold: bool = False


@dataclass
class PlanLine:
    pieces: list[Piece]
    skip: str | None = None  # the reason a reader skips the line; None: part of an account
    gap: float = 0.0  # extra space above the line


@dataclass
class Plan:
    pages: list[list[PlanLine]] = field(default_factory=list)
    font: str = "Helvetica"
    size: float = 8.0
    leading: float = 11.0
    portrait: bool = False

    def page(self) -> None:
        self.pages.append([])

    def line(self, *pieces: Piece, skip: str | None = None, gap: float = 0.0) -> None:
        self.pages[-1].append(PlanLine(list(pieces), skip, gap))

    def skipped(self) -> dict[str, int]:
        return dict(Counter(line.skip for page in self.pages for line in page if line.skip))

    def title_lines(self) -> list[str]:
        """Page 1's text above its header, as a reader gives it (words joined by one space)."""
        out = []
        for line in self.pages[0]:
            if line.skip != "title":
                break
            words = " ".join(p.text for p in sorted(line.pieces, key=lambda p: p.x)).split()
            out.append(" ".join(words))
        return out

    def draw(self, path: Path) -> Path:
        size = A4 if self.portrait else landscape(A4)
        canvas = Canvas(str(path), pagesize=size, pageCompression=1)
        for page in self.pages:
            y = size[1] - 36
            for line in page:
                y -= self.leading + line.gap
                for piece in line.pieces:
                    if not piece.text:
                        continue
                    font = self.font
                    if piece.bold:
                        font = "Courier-Bold" if font == "Courier" else f"{font}-Bold"
                    canvas.setFont(font, self.size)
                    if piece.right:
                        canvas.drawRightString(piece.x, y, piece.text)
                    else:
                        canvas.drawString(piece.x, y, piece.text)
            canvas.showPage()
        canvas.save()
        return path


def _layout(name: str, imitates: str, plan: Plan, filename: str, accounts: list[Expected], *,
            printed_total: Decimal | None, report_date: dt.date | None = AS_AT,
            warnings: tuple[str, ...] = ("matches the report's total",)) -> Layout:
    def build(directory: Path) -> Path:
        return plan.draw(directory / filename)

    layout = Layout(name=name, imitates=imitates, build=build, accounts=accounts, skipped=plan.skipped(),
                    printed_total=printed_total, report_date=report_date, warnings=warnings)
    PLANS[name] = plan
    return layout


PLANS: dict[str, Plan] = {}  # layout name -> its plan (the test reads the expected title lines)


# --- a table: columns at fixed positions -------------------------------------------------------

@dataclass(frozen=True)
class Col:
    key: str  # "acc", "name", "accname", "phone", "email", a bucket or "balance"
    label: str
    x: float  # left edge for text columns; right edge for amount columns
    label_right: bool | None = None  # None: as the column (amounts right, text left)
    label_x: float | None = None  # where the label is drawn, when not at x

    @property
    def amount(self) -> bool:
        return self.key in BUCKETS or self.key == "balance"


@dataclass(frozen=True)
class Row:
    """An account as printed: `name_lines` beyond the first wrap under the name; `under` are lines
    printed below the row (contacts), each a list of pieces."""

    exp: Expected
    printed: dict[str, str] = field(default_factory=dict)  # text columns as printed (phone, email)
    name_lines: tuple[str, ...] = ()
    under: tuple[tuple[Piece, ...], ...] = ()


class Table:
    def __init__(self, plan: Plan, cols: Sequence[Col], money: Money, acc_gap: str = "  ") -> None:
        self.plan, self.cols, self.money, self.acc_gap = plan, list(cols), money, acc_gap

    def header(self, skip: str | None) -> None:
        pieces = []
        for c in self.cols:
            right = c.amount if c.label_right is None else c.label_right
            pieces.append(Piece(c.label_x if c.label_x is not None else c.x, c.label, right, bold=True))
        self.plan.line(*pieces, skip=skip)

    def amounts(self, values: dict[str, Decimal]) -> list[Piece]:
        return [Piece(c.x, self.money(values.get(c.key, ZERO)), True) for c in self.cols if c.amount]

    def row(self, r: Row) -> None:
        e = r.exp
        pieces = []
        for c in self.cols:
            if c.key == "acc":
                pieces.append(Piece(c.x, e.code))
            elif c.key == "name":
                pieces.append(Piece(c.x, r.printed.get("name", e.name)))
            elif c.key == "accname":
                pieces.append(Piece(c.x, f"{e.code}{self.acc_gap}{r.printed.get('name', e.name)}"))
            elif c.key in ("phone", "email"):
                pieces.append(Piece(c.x, r.printed.get(c.key, "")))
        values = dict(e.buckets, balance=e.total)
        self.plan.line(*pieces, *self.amounts(values))
        name_x = next((c.x for c in self.cols if c.key == "name"), None)
        for more in r.name_lines:
            assert name_x is not None
            self.plan.line(Piece(name_x, more))
        for under in r.under:
            self.plan.line(*under)

    def total(self, label: str, label_x: float, rows: Sequence[Row], skip: str = "total", gap: float = 0.0) -> None:
        values = {b: sum((r.exp.bucket(b) for r in rows), ZERO) for b in BUCKETS}
        values["balance"] = sum((r.exp.total for r in rows), ZERO)
        pieces = [Piece(label_x, label, bold=True)] if label else []
        self.plan.line(*pieces, *self.amounts(values), skip=skip, gap=gap)


def E(code: str, name: str, total: str, phone: str | None = None, email: str | None = None,  # noqa: N802
      phone2: str | None = None, **buckets: str) -> Expected:
    amounts = {k: D(v) for k, v in buckets.items()}
    assert sum(amounts.values(), ZERO) == D(total), code
    return Expected(code=code, name=name, buckets=amounts, total=D(total), phone=phone, phone2=phone2, email=email)


def _sum(rows: Sequence[Row]) -> Decimal:
    return sum((r.exp.total for r in rows), ZERO)


def _pieces(*pairs: tuple[float, str]) -> tuple[Piece, ...]:
    return tuple(Piece(x, t) for x, t in pairs)


# ------------------------------------------------------------------------------------------------
# 1. Dispensing system, medical-aid groups, contacts on a second line, page and grand totals.

def _dispensing_medical_aid() -> Layout:
    plan = Plan()
    cols = [Col("acc", "Acc No", 30), Col("name", "Patient Name", 80), Col("current", "Current", 420),
            Col("d30", "30 Days", 480), Col("d60", "60 Days", 540), Col("d90", "90 Days", 600),
            Col("d120", "120 Days", 660), Col("d150", "150 Days", 720), Col("d180", "180+", 770),
            Col("balance", "Balance", 820)]
    t = Table(plan, cols, Money())
    groups = {
        "DISCOVERY HEALTH": [
            Row(E("100234", "DOE J MR", "1534.50", "27821234567", "jdoe@example.co.za",
                  current="1200.00", d30="334.50"),
                under=(_pieces((80, "Cell: 082 123 4567"), (200, "Email: jdoe@example.co.za")),)),
            Row(E("100301", "NAIDOO P MRS", "845.20", "27831112222", current="845.20"),
                under=(_pieces((80, "Cell: 083 111 2222")),)),
            Row(E("100377", "MOKOENA T", "3210.00", "27725556666", None, d60="1000.00", d90="1000.00",
                  d120="1210.00"),
                under=(_pieces((80, "Tel: 072 555 6666")),)),
        ],
        "BONITAS": [
            Row(E("100402", "SMITH A MS", "-150.00", None, "asmith@example.com", current="-150.00"),
                under=(_pieces((80, "Email: asmith@example.com")),)),
            Row(E("100455", "VAN WYK H", "640.75", "27845551234", None, d150="140.75", d180="500.00"),
                under=(_pieces((80, "Cell: 084 555 1234")),)),
        ],
        "PRIVATE (NO MEDICAL AID)": [
            Row(E("100510", "KHUMALO S", "99.99", "27761234567", "sk@example.net", d30="99.99"),
                under=(_pieces((80, "Cell: 076 123 4567   Email: sk@example.net")),)),
        ],
    }

    def top(page: int) -> None:
        plan.page()
        plan.line(Piece(30, "GREENSIDE PHARMACY", bold=True), skip="title")
        plan.line(Piece(30, "12 Gleneagles Road, Greenside, Johannesburg 2193"), skip="title")
        plan.line(Piece(30, "Tel: 011 486 1234   VAT No: 4123456789"), skip="title")
        plan.line(Piece(30, "DEBTORS AGE ANALYSIS as at 30/11/2026", bold=True),
                  Piece(820, f"Page {page} of 2", True), skip="title")
        t.header("repeated_header" if page > 1 else None)

    def foot() -> None:
        plan.line(Piece(30, "Printed by: PHARMACIST 01/12/2026 08:14"), Piece(820, "Dispensing System v9.2", True),
                  skip="footer", gap=12)

    all_rows: list[Row] = []
    top(1)
    page_rows: list[Row] = []
    for group in ("DISCOVERY HEALTH", "BONITAS"):
        plan.line(Piece(30, f"Medical Aid: {group}", bold=True), skip="heading")
        for r in groups[group]:
            t.row(r)
        t.total(f"Total {group}", 80, groups[group])
        page_rows += groups[group]
    t.total("Page Total", 30, page_rows, gap=4)
    foot()
    all_rows += page_rows
    top(2)
    group = "PRIVATE (NO MEDICAL AID)"
    plan.line(Piece(30, f"Medical Aid: {group}", bold=True), skip="heading")
    for r in groups[group]:
        t.row(r)
    t.total(f"Total {group}", 80, groups[group])
    t.total("Page Total", 30, groups[group], gap=4)
    all_rows += groups[group]
    t.total("GRAND TOTAL", 30, all_rows, gap=4)
    foot()
    return _layout("dispensing_medical_aid_groups",
                   "A dispensing system's Debtors Age Analysis grouped by medical aid: practice address block "
                   "and 'Page n of m' on each page, contacts on a line under the patient, group totals, page "
                   "totals, a grand total and a printed-by footer",
                   plan, "debtors.pdf", [r.exp for r in all_rows], printed_total=_sum(all_rows))


# 2. Account and name in one column, R amounts with space thousands, trailing minus.

def _acc_name_one_column() -> Layout:
    plan = Plan()
    cols = [Col("accname", "Account / Name", 30), Col("current", "Current", 400), Col("d30", "30 Days", 470),
            Col("d60", "60 Days", 540), Col("d90", "90 Days", 610), Col("d120", "120+", 680),
            Col("balance", "Outstanding", 780)]
    t = Table(plan, cols, Money(thousands=" ", negative="trail", prefix="R ", zero="-"))
    rows = [
        Row(E("100234", "DOE J MR", "12345.67", current="10000.00", d30="2345.67")),
        Row(E("100235", "VAN DER MERWE JOHANNES MR", "-45.00", current="-45.00")),
        Row(E("100236", "O'BRIEN M", "1000000.00", d120="1000000.00")),
        Row(E("100237", "PATEL R DR", "250.10", d30="100.00", d60="100.00", d90="50.10")),
        Row(E("A1002", "NKOSI Z", "77.70", current="77.70")),
    ]
    plan.page()
    plan.line(Piece(30, "Rosebank Family Pharmacy - Debtors Age Analysis", bold=True), skip="title")
    plan.line(Piece(30, "Ageing as at 30/11/2026"), skip="title")
    t.header(None)
    for r in rows:
        t.row(r)
    t.total("Totals", 30, rows, gap=4)
    plan.line(Piece(30, "Printed by: admin"), Piece(780, "Page 1", True), skip="footer", gap=10)
    return _layout("dispensing_account_and_name_one_column",
                   "A dispensing system's debtors list printing the account and the patient in one column "
                   "('100234  DOE J MR'), amounts as 'R 12 345.67' with credits as '45.00-', zeros as '-', "
                   "and a last '120+' column",
                   plan, "age_analysis.pdf", [r.exp for r in rows], printed_total=_sum(rows))


# 3. Practice-management age analysis: names wrapped, phone and e-mail in their own columns.

def _practice_wrapped_names() -> Layout:
    plan = Plan(size=7.5, leading=10)
    cols = [Col("acc", "Account", 30), Col("name", "Patient", 80), Col("phone", "Cell No", 200),
            Col("email", "E-mail", 270), Col("current", "Current", 470), Col("d30", "30 Days", 525),
            Col("d60", "60 Days", 580), Col("d90", "90 Days", 635), Col("d120", "120 Days", 690),
            Col("d150", "150 Days", 745), Col("balance", "Total", 810)]
    t = Table(plan, cols, Money(thousands=" ", negative="trail"))
    rows = [
        Row(E("GX0101", "VAN DER MERWE-SMITHSON JOHANNA MRS", "2500.00", "27821110000",
              "johanna.vdm@example.co.za", d30="2500.00"),
            printed={"name": "VAN DER MERWE-SMITHSON", "phone": "082 111 0000", "email": "johanna.vdm@example.co.za"},
            name_lines=("JOHANNA MRS",)),
        Row(E("GX0102", "DLAMINI B", "310.00", "27731234567", None, current="310.00"),
            printed={"phone": "073 123 4567"}),
        Row(E("GX0103", "BOTHA PIETER WILLEM JACOBUS MR", "-120.50", "27824443333", "pwj.botha@example.com",
              current="-120.50"),
            printed={"name": "BOTHA PIETER WILLEM", "phone": "082-444-3333", "email": "pwj.botha@example.com"},
            name_lines=("JACOBUS MR",)),
        Row(E("GX0104", "MOTSEPE K", "4400.00", "27795550000", "k.motsepe@example.org",
              d90="400.00", d120="1000.00", d150="3000.00"),
            printed={"phone": "+27 (0)79 555 0000", "email": "k.motsepe@example.org"}),
    ]
    plan.page()
    plan.line(Piece(30, "Dr A. Pillay Inc - Practice 0123456", bold=True), skip="title")
    plan.line(Piece(30, "Patient Age Analysis for period ending 30 November 2026"), skip="title")
    plan.line(Piece(30, "Report parameters: all debtors, balance <> 0"), skip="title")
    t.header(None)
    for r in rows:
        t.row(r)
    t.total("Report Total", 30, rows, gap=4)
    plan.line(Piece(30, "Page 1 of 1"), Piece(810, "Printed on 01/12/2026 07:55", True), skip="footer", gap=10)
    return _layout("practice_management_wrapped_names",
                   "A medical practice-management system's Patient Age Analysis: long names wrapped over two "
                   "lines, cell number and e-mail in their own columns, trailing-minus credits",
                   plan, "patient_age_analysis.pdf", [r.exp for r in rows], printed_total=_sum(rows))


# 4. Sage Pastel customer age analysis: area groups and area totals, brackets, printed-by.

def _sage_pastel() -> Layout:
    plan = Plan()
    cols = [Col("acc", "Code", 30), Col("name", "Description", 90), Col("phone", "Telephone", 260),
            Col("current", "Current", 430), Col("d30", "30 Days", 500), Col("d60", "60 Days", 570),
            Col("d90", "90 Days", 640), Col("d120", "120+ Days", 710), Col("balance", "Total", 790)]
    t = Table(plan, cols, Money(negative="paren"))
    areas = {
        "GAUTENG": [
            Row(E("ABC001", "ABC Trading (Pty) Ltd", "5750.00", "27118881234", current="5000.00", d30="750.00"),
                printed={"phone": "011 888 1234"}),
            Row(E("BRI002", "Brits Spares CC", "-120.00", "27125551111",
                  current="-120.00"),
                printed={"phone": "012 555 1111"}),
        ],
        "WESTERN CAPE": [
            Row(E("CAP010", "Cape Fresh Produce", "18900.45", "27214440000",
                  d60="900.45", d90="8000.00", d120="10000.00"),
                printed={"phone": "021 444 0000"}),
        ],
    }
    plan.page()
    plan.line(Piece(30, "Pastel Partner - Customer Age Analysis", bold=True), skip="title")
    plan.line(Piece(30, "Hillcrest Pharmacy (Pty) Ltd"), skip="title")
    plan.line(Piece(30, "Ageing as at: 30/11/2026"), Piece(790, "Sorted by area", True), skip="title")
    t.header(None)
    every: list[Row] = []
    for area, rows in areas.items():
        plan.line(Piece(30, f"Area: {area}", bold=True), skip="heading")
        for r in rows:
            t.row(r)
        t.total("Area Total", 90, rows)
        every += rows
    t.total("Grand Total", 30, every, gap=4)
    plan.line(Piece(30, "Printed by: Sarah on 01/12/2026 at 09:02"), Piece(790, "Page: 1", True), skip="footer",
              gap=10)
    return _layout("sage_pastel_customer_age_analysis",
                   "Sage Pastel Partner's Customer Age Analysis as PDF: area groups with area totals, credits in "
                   "brackets, a '120+ Days' last column, a grand total and a 'Printed by' footer",
                   plan, "Customer Age Analysis.pdf", [r.exp for r in every], printed_total=_sum(every))


# 5. Left-aligned labels over right-aligned amounts that run into the next column's label.

def _overlapping_amounts() -> Layout:
    plan = Plan(size=8, leading=11)
    # Labels start at the column's left edge (as a report designer's left-aligned header boxes);
    # amounts end 3 points into the next column's label.
    lefts = [330, 385, 440, 495, 550, 605, 660]
    keys = ["current", "d30", "d60", "d90", "d120", "d150", "d180"]
    labels = ["Current", "30 Days", "60 Days", "90 Days", "120 Days", "150 Days", "180 Days"]
    cols = [Col("acc", "Acc", 30), Col("name", "Name", 75)]
    for i, (k, lab) in enumerate(zip(keys, labels, strict=True)):
        right = (lefts[i + 1] if i + 1 < len(lefts) else 715) + 3
        cols.append(Col(k, lab, right, label_right=False, label_x=lefts[i]))
    cols.append(Col("balance", "Balance", 790, label_right=False, label_x=715))
    t = Table(plan, cols, Money(thousands=" "))
    rows = [
        Row(E("5001", "MABENA L", "5.00", current="5.00")),
        Row(E("5002", "FOURIE C", "123456.78", d30="123456.78")),
        Row(E("5003", "ISAACS N", "1.50", d60="0.50", d90="1.00")),
        Row(E("5004", "GOVENDER V", "9.99", d180="9.99")),
        Row(E("5005", "ZULU M", "60.00", d120="10.00", d150="50.00")),
    ]
    plan.page()
    plan.line(Piece(30, "Debtors ageing - 30 Nov 2026"), skip="title")
    t.header(None)
    for r in rows:
        t.row(r)
    t.total("Total", 30, rows, gap=4)
    return _layout("overlapping_right_aligned_amounts",
                   "A pharmacy debtors ageing printed with left-aligned labels ('Current  30 Days  60 Days') "
                   "whose right-aligned amounts run into the next column's label",
                   plan, "ageing.pdf", [r.exp for r in rows], printed_total=_sum(rows))


# 6. Courier text report (monospace), header on every page, page totals but no grand total.

def _courier_page_totals() -> Layout:
    plan = Plan(font="Courier", size=8, leading=10)
    cols = [Col("acc", "ACC NO", 30), Col("name", "NAME", 80), Col("current", "CURRENT", 380),
            Col("d30", "30 DAYS", 440), Col("d60", "60 DAYS", 500), Col("d90", "90 DAYS", 560),
            Col("d120", "120 DAYS", 620), Col("balance", "BALANCE", 700)]
    t = Table(plan, cols, Money(thousands=""))
    page1 = [
        Row(E("000101", "ADAMS T", "100.00", current="100.00")),
        Row(E("000102", "BEKKER S", "200.00", d30="200.00")),
        Row(E("000103", "CELE M", "300.00", d60="300.00")),
    ]
    page2 = [
        Row(E("000104", "DU PLESSIS A", "400.00", d90="400.00")),
        Row(E("000105", "ESSOP F", "1500.00", d120="1500.00")),
    ]
    for n, rows in enumerate((page1, page2), start=1):
        plan.page()
        plan.line(Piece(30, "MEDIPHARM DISPENSARY    DEBTORS AGE ANALYSIS    AS AT 30/11/2026"), skip="title")
        plan.line(Piece(30, f"PAGE {n}"), skip="title")
        t.header("repeated_header" if n > 1 else None)
        for r in rows:
            t.row(r)
        t.total("PAGE TOTAL", 80, rows, gap=2)
        plan.line(Piece(30, "*** CONTINUED ***" if n == 1 else "*** END OF REPORT ***"), skip="footer")
    every = page1 + page2
    return _layout("courier_text_page_totals",
                   "An older dispensing system's monospaced text report printed to PDF: upper-case header "
                   "repeated on each page, a page total per page and no grand total, 'continued' footers",
                   plan, "DEBTORS.PDF", [r.exp for r in every], printed_total=_sum(every))


# 7. Days past due ("1 - 30") beside Current, and a summary table after the list.

def _days_past_due_summary() -> Layout:
    plan = Plan()
    cols = [Col("acc", "Customer No", 30), Col("name", "Customer", 100), Col("current", "Current", 430),
            Col("d30", "1 - 30", 500), Col("d60", "31 - 60", 570), Col("d90", "61 - 90", 640),
            Col("d120", "91 and over", 720), Col("balance", "Total", 800)]
    t = Table(plan, cols, Money(prefix="R"))
    rows = [
        Row(E("C-1001", "Sunrise Clinic", "1234.56", current="1000.00", d30="234.56")),
        Row(E("C-1002", "Mr Bongani Mthembu", "880.00", d60="500.00", d90="380.00")),
        Row(E("C-1003", "Mrs Ayesha Khan", "2000.00", d120="2000.00")),
    ]
    plan.page()
    plan.line(Piece(30, "A/R Aging Summary", bold=True), skip="title")
    plan.line(Piece(30, "As of November 30, 2026"), skip="title")
    t.header(None)
    for r in rows:
        t.row(r)
    t.total("TOTAL", 30, rows, gap=4)
    plan.line(Piece(30, "Ageing summary", bold=True), skip="summary", gap=14)
    plan.line(Piece(30, "Bucket"), Piece(250, "Amount", True), Piece(320, "% of total", True), skip="summary")
    total = _sum(rows)
    for label, key in (("Current", "current"), ("1 - 30", "d30"), ("31 - 60", "d60"), ("61 - 90", "d90"),
                       ("91 and over", "d120")):
        amount = sum((r.exp.bucket(key) for r in rows), ZERO)
        plan.line(Piece(30, label), Piece(250, f"R{amount:,.2f}", True),
                  Piece(320, f"{amount / total * 100:.1f}%", True), skip="summary")
    return _layout("ar_aging_summary_days_past_due",
                   "A QuickBooks-style A/R Aging Summary as PDF: 'Current' then days past due ('1 - 30' ... "
                   "'91 and over'), R-prefixed amounts, and an ageing summary table after the list",
                   plan, "AR Aging Summary.pdf", [r.exp for r in rows], printed_total=total)


# 8. Contacts on a second line, two numbers, e-mail; header repeated; portrait page.

def _contacts_second_line() -> Layout:
    plan = Plan(portrait=True, size=7, leading=9.5)
    cols = [Col("acc", "Acc", 25), Col("name", "Debtor", 65), Col("current", "Current", 250),
            Col("d30", "30", 300), Col("d60", "60", 350), Col("d90", "90", 400), Col("d120", "120", 450),
            Col("d150", "150", 500), Col("balance", "Balance", 570)]
    t = Table(plan, cols, Money())
    rows = [
        Row(E("7001", "MOLEFE THABO", "450.00", "27824567890", "thabo@example.co.za", "27114561234",
              current="450.00"),
            under=(_pieces((65, "Tel: 011 456 1234  Cell: 082 456 7890  thabo@example.co.za")),)),
        Row(E("7002", "JACOBS ANNE", "1200.00", "27725550001", None, None,
              d30="1200.00"),
            under=(_pieces((65, "Cell: 072 555 0001")),)),
        Row(E("7003", "PILLAY DEV", "75.25", "27615550002", "dev.pillay@example.com", "27836660003",
              d150="75.25"),
            under=(_pieces((65, "Phone: 061 555 0002 / 083 666 0003")),
                   _pieces((65, "Email: dev.pillay@example.com")))),
        Row(E("7004", "MEDSHIELD MEDICAL SCHEME", "15000.00", None, None, None, current="15000.00")),
    ]
    plan.page()
    plan.line(Piece(25, "Kloof Pharmacy"), Piece(570, "Page 1 of 2", True), skip="title")
    plan.line(Piece(25, "Debtors Age Analysis"), skip="title")
    t.header(None)
    for r in rows[:2]:
        t.row(r)
    plan.page()
    plan.line(Piece(25, "Kloof Pharmacy"), Piece(570, "Page 2 of 2", True), skip="title")
    plan.line(Piece(25, "Debtors Age Analysis"), skip="title")
    t.header("repeated_header")
    for r in rows[2:]:
        t.row(r)
    t.total("Total Debtors", 65, rows, gap=4)
    return _layout("contacts_second_line_two_numbers",
                   "A pharmacy debtors report with each patient's numbers and e-mail on lines under the name "
                   "(two numbers: the mobile wins, the other is the second number), the header and page "
                   "title repeated on page 2; the date comes from the file name",
                   plan, "Debtors Age Analysis Nov 2026.pdf", [r.exp for r in rows], printed_total=_sum(rows))


# 9. Space thousands with decimal commas, R prefix, header labels centred, no balance column.

def _decimal_commas_no_balance() -> Layout:
    plan = Plan()
    cols = [Col("acc", "Rekening", 30), Col("name", "Naam / Name", 90), Col("current", "Current", 450),
            Col("d30", "30 Days", 530), Col("d60", "60 Days", 610), Col("d90", "90 Days", 690),
            Col("d120", "120 Days", 770)]
    t = Table(plan, cols, Money(thousands=" ", decimal=",", prefix="R ", negative="minus"))
    rows = [
        Row(E("AP001", "BOTHA J", "1234.56", current="1234.56")),
        Row(E("AP002", "VENTER K", "-80.00", d30="-80.00")),
        Row(E("AP003", "SWART L", "23456.00", d60="3456.00", d90="20000.00")),
        Row(E("AP004", "LOMBARD M", "10.00", d120="10.00")),
    ]
    plan.page()
    plan.line(Piece(30, "Apteek Paarl - Debiteure-ouderdomsanalise / Debtors Age Analysis"), skip="title")
    plan.line(Piece(30, "Datum / Date: 30/11/2026"), skip="title")
    t.header(None)
    for r in rows:
        t.row(r)
    plan.line(Piece(30, "Printed by: Apteek Paarl"), Piece(770, "Page 1 of 1", True), skip="footer", gap=10)
    return _layout("decimal_commas_no_balance_column",
                   "An Afrikaans-English pharmacy report with 'R 1 234,56' amounts (space thousands, decimal "
                   "comma), no balance column and no printed total",
                   plan, "debiteure.pdf", [r.exp for r in rows], printed_total=None, warnings=())


# 10. Unlabelled total lines (figures under a rule, no label) and rep headings.

def _unlabelled_totals_rep_groups() -> Layout:
    plan = Plan()
    cols = [Col("acc", "Account No", 30), Col("name", "Account Name", 100), Col("current", "Current", 430),
            Col("d30", "30 Days", 500), Col("d60", "60 Days", 570), Col("d90", "90 Days+", 640),
            Col("balance", "Balance", 720)]
    t = Table(plan, cols, Money())
    reps = {
        "Rep: 01 - NORTH": [
            Row(E("N100", "Northcliff Old Age Home", "3000.00", current="3000.00")),
            Row(E("N101", "Dr K Mabuza", "150.00", d90="150.00")),
        ],
        "Rep: 02 - SOUTH": [
            Row(E("S200", "Southgate Clinic", "990.10", d30="990.10")),
        ],
    }
    plan.page()
    plan.line(Piece(30, "Debtors Age Analysis by Representative"), skip="title")
    plan.line(Piece(30, "Period: November 2026"), skip="title")
    t.header(None)
    every: list[Row] = []
    for rep, rows in reps.items():
        plan.line(Piece(30, rep, bold=True), skip="heading")
        for r in rows:
            t.row(r)
        t.total("", 0, rows, gap=2)  # figures only: a group total without a label
        every += rows
    t.total("Total", 100, every, gap=6)
    return _layout("unlabelled_group_totals_by_rep",
                   "An accounting package's age analysis grouped by representative, each group closed by an "
                   "unlabelled line of figures, then 'Total'; 'Period: November 2026' in the title",
                   plan, "age.pdf", [r.exp for r in every], printed_total=_sum(every))


# 11. A report whose printed total disagrees with its accounts: the reading must say by how much.

def _total_mismatch() -> Layout:
    plan = Plan()
    cols = [Col("acc", "Acc No", 30), Col("name", "Name", 80), Col("current", "Current", 420),
            Col("d30", "30 Days", 490), Col("d60", "60 Days", 560), Col("d90", "90 Days", 630),
            Col("balance", "Balance", 720)]
    t = Table(plan, cols, Money())
    rows = [
        Row(E("9001", "ALPHA A", "100.00", current="100.00")),
        Row(E("9002", "BETA B", "200.00", d30="200.00")),
    ]
    plan.page()
    plan.line(Piece(30, "Debtors Age Analysis as at 30/11/2026"), skip="title")
    t.header(None)
    for r in rows:
        t.row(r)
    # The system's total includes an account it did not print (hidden as a staff account).
    printed = {"current": D("150.00"), "d30": D("200.00"), "balance": D("350.00")}
    plan.line(Piece(30, "Grand Total", bold=True), *t.amounts(printed), skip="total", gap=4)
    return _layout("grand_total_differs",
                   "A dispensing system's report whose grand total includes an account it does not list: "
                   "the reading must name the difference",
                   plan, "debtors_total.pdf", [r.exp for r in rows], printed_total=D("350.00"),
                   warnings=("add up to 300.00", "total is 350.00", "difference 50.00"))


# 12. Practice management, wide practice block, name column wrapping, e-mail in its own column
#     under the phone ("contact" column of two lines), 180 Days+ and finer buckets.

def _practice_contact_column() -> Layout:
    plan = Plan(size=7, leading=9)
    cols = [Col("acc", "Acc #", 25), Col("name", "Account Holder", 70), Col("phone", "Contact", 210),
            Col("current", "Current", 420), Col("d30", "30 Days", 470), Col("d60", "60 Days", 520),
            Col("d90", "90 Days", 570), Col("d120", "120 Days", 620), Col("d150", "150 Days", 670),
            Col("d180", "180 Days+", 730), Col("balance", "Amount Due", 800)]
    t = Table(plan, cols, Money(negative="minus"))
    rows = [
        Row(E("P-0001", "NDLOVU SIPHO MR", "820.00", "27826667777", "sipho.n@example.co.za",
              current="20.00", d180="800.00"),
            printed={"phone": "082 666 7777"}, under=(_pieces((210, "sipho.n@example.co.za")),)),
        Row(E("P-0002", "ROSSOUW ELIZABETH CATHARINA MRS", "64.00", "27731110000", None,
              d30="64.00"),
            printed={"name": "ROSSOUW ELIZABETH", "phone": "073 111 0000"}, name_lines=("CATHARINA MRS",)),
        Row(E("P-0003", "GEMS - CONTROL ACCOUNT", "7300.00", None, None, d60="7300.00")),
        Row(E("P-0004", "HARTLEY SIMON", "-20.00", "27845550000", "simon@example.org", current="-20.00"),
            printed={"phone": "0027 84 555 0000"}, under=(_pieces((210, "simon@example.org")),)),
    ]
    for n, chunk in enumerate((rows[:2], rows[2:]), start=1):
        plan.page()
        plan.line(Piece(25, "SUNNINGHILL MEDICAL CENTRE", bold=True), Piece(800, "Tel 011 803 0000", True),
                  skip="title")
        plan.line(Piece(25, "Suite 4, 12 Edison Crescent, Sunninghill"), Piece(800, "PR No 0987654", True),
                  skip="title")
        plan.line(Piece(25, "Age Analysis at 30 November 2026"), Piece(800, f"Page {n} of 2", True), skip="title")
        t.header("repeated_header" if n > 1 else None)
        for r in chunk:
            t.row(r)
        t.total("Page Total", 25, chunk, gap=3)
        plan.line(Piece(25, "Confidential - practice use only"), skip="footer", gap=6)
    return _layout("practice_contact_column_page_totals",
                   "A practice-management age analysis with the practice block and 'Page n of 2' on each page, "
                   "phone and e-mail stacked in one Contact column, a wrapped name, '180 Days+' and page "
                   "totals summed for the report's total",
                   plan, "practice_age.pdf", [r.exp for r in rows], printed_total=_sum(rows))


# 13. Coarser ageing: Current, 30, 60, 90, 120+ in a dispensing report with medical aid groups
#     printed as bare headings (a scheme name alone on its line).

def _coarse_ageing_bare_groups() -> Layout:
    plan = Plan()
    cols = [Col("acc", "Account", 30), Col("name", "Patient", 90), Col("current", "Current", 450),
            Col("d30", "30", 520), Col("d60", "60", 590), Col("d90", "90", 660), Col("d120", "120+", 730),
            Col("balance", "Balance", 800)]
    t = Table(plan, cols, Money(thousands=" ", negative="paren"))
    groups = {
        "GEMS": [Row(E("20001", "MAHLANGU P", "4100.00", d120="4100.00"))],
        "MEDSHIELD": [Row(E("20002", "KRUGER E", "55.55", current="55.55")),
                      Row(E("20003", "SITHOLE N", "-10.00", d30="-10.00"))],
    }
    plan.page()
    plan.line(Piece(30, "Westville Pharmacy"), skip="title")
    plan.line(Piece(30, "Debtors by Medical Aid as at 30/11/2026"), skip="title")
    t.header(None)
    every: list[Row] = []
    for group, rows in groups.items():
        plan.line(Piece(30, group, bold=True), skip="heading")
        for r in rows:
            t.row(r)
        t.total(f"{group} Total", 90, rows)
        every += rows
    t.total("Grand Total", 30, every, gap=4)
    return _layout("coarse_ageing_120_plus_scheme_headings",
                   "A dispensing system's debtors by medical aid with coarser ageing (a last '120+' column: "
                   "d120, with d150 and d180 zero), each scheme's name alone on a line as its heading",
                   plan, "debtors_by_aid.pdf", [r.exp for r in every], printed_total=_sum(every))


# 14. Monospaced dispensing report: the account and the name under one "ACCOUNT" label, the phone
#     in its own column, numbers that lost their leading zero or carry the country code.

def _courier_shared_column_phone() -> Layout:
    plan = Plan(font="Courier", size=7.5, leading=10)
    cols = [Col("accname", "ACCOUNT", 30), Col("phone", "TELEPHONE", 250), Col("current", "CURRENT", 440),
            Col("d30", "30 DAYS", 500), Col("d60", "60 DAYS", 560), Col("d90", "90+ DAYS", 620),
            Col("balance", "BALANCE", 700)]
    t = Table(plan, cols, Money(thousands="", negative="trail"))
    rows = [
        Row(E("100234", "DOE J MR", "310.00", "27821234567", current="310.00"),
            printed={"phone": "821234567"}),
        Row(E("100240", "VAN DER WESTHUIZEN A MRS", "42.50", "27731234567", d30="42.50"),
            printed={"phone": "27 73 123 4567"}),
        Row(E("100251", "SEBOLA K", "-5.00", None, current="-5.00")),
        Row(E("100266", "ABRAHAMS Y", "1900.00", "27825550000", None, "27114441111", d60="400.00", d90="1500.00"),
            printed={"phone": "011 444 1111 / 082 555 0000"}),
    ]
    plan.page()
    plan.line(Piece(30, "WELLNESS PHARMACY CC"), skip="title")
    plan.line(Piece(30, "DEBTORS AGE ANALYSIS AS AT 30/11/2026"), Piece(700, "PAGE 1 OF 1", True), skip="title")
    t.header(None)
    for r in rows:
        t.row(r)
    t.total("TOTAL", 30, rows, gap=2)
    plan.line(Piece(30, "USER: CLERK1  PRINTED 01/12/2026 08:00"), skip="footer", gap=8)
    return _layout("courier_account_and_name_under_one_label",
                   "A monospaced dispensing-system report printing '100234  DOE J MR' under a single ACCOUNT "
                   "label beside a TELEPHONE column (numbers without their leading zero, with 27, two in one "
                   "cell: the mobile wins)",
                   plan, "debtors_wellness.pdf", [r.exp for r in rows], printed_total=_sum(rows))


LAYOUTS: list[Layout] = [
    _dispensing_medical_aid(),
    _acc_name_one_column(),
    _practice_wrapped_names(),
    _sage_pastel(),
    _overlapping_amounts(),
    _courier_page_totals(),
    _days_past_due_summary(),
    _contacts_second_line(),
    _decimal_commas_no_balance(),
    _unlabelled_totals_rep_groups(),
    _total_mismatch(),
    _practice_contact_column(),
    _coarse_ageing_bare_groups(),
    _courier_shared_column_phone(),
]

__all__ = ["LAYOUTS", "PLANS"]
