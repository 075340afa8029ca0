"""Spreadsheet layouts of debtor age analyses as packages and people export them (issue 21).

Every file is written here (openpyxl, xlwt, the csv module, tests/corpus/ods.py and xlsb.py), never
taken from elsewhere. Each layout names the export it imitates and lists exactly what reading it must give:
the accounts, the lines skipped per reason, the printed total and the report's date.

Counting rules for `skipped` (every line of the sheet the accounts are on is either a header row,
an account, a failed row or one skipped line): lines above the header are `title` (or `blank`);
below it, blank lines are `blank`, area/rep/branch lines `heading`, subtotal/page/grand total lines
`total`, each line of a repeated header `repeated_header`, page titles `title`, printed-by and page
number lines `footer`, and every line after the grand total that is not blank or a footer `summary`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import xlwt

from tests.corpus.model import Expected, Layout
from tests.corpus.ods import write_ods
from tests.corpus.xlsb import write_xlsb

D = Decimal
ZERO = D("0.00")
Row = list[Any]
OLDER = ("d150", "d180", "d210")


@dataclass(frozen=True)
class Debtor:
    """One account as a file writes it: its phone cell as typed, and what it must read as."""

    code: str
    name: str
    phone_cell: Any
    phone: str | None
    phone2: str | None = None


PEOPLE: list[Debtor] = [
    Debtor("MOK001", "Mokoena T", "082 123 4567", "27821234567"),
    Debtor("VDM002", "Van der Merwe Pharmacy", 821234567.0, "27821234567"),
    Debtor("NAI003", "Naidoo R & Sons", "082-555-0101", "27825550101"),
    Debtor("DLA004", "Dlamini B", "+27 (0)83 555 0202", "27835550202"),
    Debtor("SMI005", "Smith, John", "0027 72 111 2233", "27721112233"),
    Debtor("BOT006", "Botha Boerdery", "27 60 333 4444", "27603334444"),
    Debtor("KHU007", "Khumalo N", "082 555 0101 / 011 555 1234", "27825550101", "27115551234"),
    Debtor("PIL008", "Pillay Motors CC", "011 555 1234; 083 555 0202", "27835550202", "27115551234"),
    Debtor("JAC009", "Jacobs M", "0764443322", "27764443322"),
    Debtor("NDL010", "Ndlovu Trading", "021 444 5555", "27214445555"),
    Debtor("FOU011", "Fourie A", "084 555 6677", "27845556677"),
    Debtor("MAB012", "Mabaso Z", "", None),
    Debtor("ERA013", "Erasmus Spares", "073 123 9876", "27731239876"),
    Debtor("GOV014", "Govender P", "011 987 6543", "27119876543"),
]


def _amounts(seed: int, columns: int, rows: int) -> list[tuple[Decimal, ...]]:
    """Deterministic amounts: most cells filled, some zero, some accounts in credit."""
    out = []
    for r in range(rows):
        line = []
        for c in range(columns):
            k = (seed * 7919 + r * 104729 + c * 1299709) % 1000003
            if k % 5 == 0:
                line.append(ZERO)
                continue
            cents = (k * 37) % 400000 + 1
            line.append(D(cents).scaleb(-2))
        if r % 6 == 5:  # a credit balance: every bucket negative
            line = [-x for x in line]
        out.append(tuple(line))
    return out


def expect(person: Debtor, fields: Sequence[str], amounts: Sequence[Decimal], total: Decimal | None = None,
           code: str | None = None, name: str | None = None) -> Expected:
    """The account a line must read as: older buckets (d150 ...) are also added into d120."""
    buckets: dict[str, Decimal] = {}
    for field_name, amount in zip(fields, amounts, strict=True):
        targets = (field_name, "d120") if field_name in OLDER else (field_name,)
        for target in targets:
            buckets[target] = buckets.get(target, ZERO) + amount
    buckets = {k: v for k, v in buckets.items() if v}
    return Expected(code or person.code, name or person.name, buckets,
                    sum(amounts, ZERO) if total is None else total, person.phone, person.phone2)


# --- cell renderings -----------------------------------------------------------------------------


def num(x: Decimal) -> float:
    return float(x)


def noisy(x: Decimal) -> float:
    """The float an old .xls holds after a sum: a few units off in the last place."""
    if not x:
        return 0.0
    return math.nextafter(math.nextafter(float(x), math.inf), math.inf)


def _group(whole: int, sep: str) -> str:
    return f"{whole:,}".replace(",", sep)


def r_space_comma(x: Decimal) -> str:  # R 1 234,56 ; negative -R 45,00
    whole, frac = divmod(abs(x) * 100, 100)
    text = f"R {_group(int(whole), ' ')},{int(frac):02d}"
    return "-" + text if x < 0 else text


def r_comma_point(x: Decimal) -> str:  # R1,234.56 ; negative (R45.00)... written
    text = f"R{abs(x):,.2f}"
    return f"({text})" if x < 0 else text


def space_point(x: Decimal) -> str:  # 1 234.56 ; negative 45.00-
    text = f"{abs(x):,.2f}".replace(",", " ")
    return text + "-" if x < 0 else text


def brackets(x: Decimal) -> str:  # 1,234.56 ; (45.00) ; zero "-"
    if not x:
        return "-"
    text = f"{abs(x):,.2f}"
    return f"({text})" if x < 0 else text


def decimal_comma(x: Decimal) -> str:  # 1234,56 ; -45,00 ; zero 0,00
    return f"{x:.2f}".replace(".", ",")


def blank_zero(render: Callable[[Decimal], Any]) -> Callable[[Decimal], Any]:
    return lambda x: "" if not x else render(x)


# --- writers -------------------------------------------------------------------------------------


def _xlsx(path: Path, sheets: dict[str, list[Row]], merges: dict[str, list[str]] | None = None,
          formulas: dict[str, dict[str, tuple[str, float]]] | None = None) -> Path:
    """An .xlsx; `formulas[sheet][cell] = (formula, cached value)` are written as Excel saves them."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for ref in (merges or {}).get(name, []):
            sheet.merge_cells(ref)
        for ref, (formula, _) in (formulas or {}).get(name, {}).items():
            sheet[ref] = "=" + formula
    book.save(path)
    if formulas:  # openpyxl writes no cached value (<v />): put Excel's in, as a saved workbook has
        parts = {f"xl/worksheets/sheet{i}.xml": name for i, name in enumerate(sheets, 1)}
        with zipfile.ZipFile(path) as zf:
            members = {item.filename: zf.read(item.filename) for item in zf.infolist()}
        for part, name in parts.items():
            xml = members[part].decode()
            for ref, (formula, value) in formulas.get(name, {}).items():
                xml = xml.replace(f'<c r="{ref}"><f>{formula}</f><v /></c>',
                                  f'<c r="{ref}"><f>{formula}</f><v>{value!r}</v></c>')
            members[part] = xml.encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in members.items():
                zf.writestr(member, data)
    return path


def _xls(path: Path, sheets: dict[str, list[Row]]) -> Path:
    book = xlwt.Workbook(encoding="utf-8")
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None and value != "":
                    sheet.write(r, c, value)
    book.save(str(path))
    return path


def _csv(path: Path, rows: list[Row], delimiter: str = ",", bom: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8"))
    return path


def _col(index: int) -> str:
    return openpyxl.utils.get_column_letter(index + 1)


LAYOUTS: list[Layout] = []


def layout(name: str, imitates: str, build: Callable[[Path], Path], accounts: list[Expected], **kw: Any) -> None:
    LAYOUTS.append(Layout(name, imitates, build, accounts, **kw))


def _sums(lines: Sequence[Sequence[Decimal]]) -> list[Decimal]:
    return [sum(column, ZERO) for column in zip(*lines, strict=True)]


NOV_30 = dt.date(2026, 11, 30)

# 1. QuickBooks Online A/R Aging Summary, customised with account and phone columns: title block,
# buckets by days past due beside Current, a TOTAL line of formulas with cached values.
_F1 = ("current", "d30", "d60", "d90", "d120")
_P1 = PEOPLE[:6]
_A1 = _amounts(1, 5, len(_P1))


def _build_quickbooks(directory: Path) -> Path:
    rows: list[Row] = [["Acme Trading (Pty) Ltd"], ["AR Aging Summary"], ["As of November 30, 2026"], [],
                       ["Customer", "Account No", "Phone", "Current", "1 - 30", "31 - 60", "61 - 90",
                        "91 and over", "Total"]]
    for person, amounts in zip(_P1, _A1, strict=True):
        rows.append([person.name, person.code, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    first, last = 6, 5 + len(_P1)
    totals = [*_sums(_A1), sum(map(sum, _A1), ZERO)]
    rows.append(["TOTAL", "", ""])
    formulas = {f"{_col(3 + i)}{last + 1}": (f"ROUND(SUM({_col(3 + i)}{first}:{_col(3 + i)}{last}),5)", float(t))
                for i, t in enumerate(totals)}
    return _xlsx(directory / "AR Aging Summary.xlsx", {"AR Aging Summary": rows}, formulas={"AR Aging Summary": formulas})


layout("quickbooks_ar_aging_summary", "QuickBooks Online A/R Aging Summary (Excel export, with account and phone)",
       _build_quickbooks, [expect(p, _F1, a) for p, a in zip(_P1, _A1, strict=True)],
       skipped={"title": 3, "blank": 1, "total": 1}, printed_total=sum(map(sum, _A1), ZERO), report_date=NOV_30,
       warnings=("matches the report's total",))

# 2. Xero Aged Receivables Summary: month columns, no Current column (aged by invoice date).
_F2 = ("current", "d30", "d60", "d90", "d120")
_P2 = PEOPLE[2:9]
_A2 = _amounts(2, 5, len(_P2))


def _build_xero(directory: Path) -> Path:
    rows: list[Row] = [["Aged Receivables Summary"], ["Demo Company (ZA)"], ["As at 30 November 2026"],
                       ["Ageing by invoice date"], [],
                       ["Contact", "Account Number", "Phone", "< 1 Month", "1 Month", "2 Months", "3 Months",
                        "Older", "Total"]]
    for person, amounts in zip(_P2, _A2, strict=True):
        rows.append([person.name, person.code, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    rows.append(["Total", "", "", *map(num, _sums(_A2)), num(sum(map(sum, _A2), ZERO))])
    rows.append([])
    rows.append(["Printed by Demo User on 1 Dec 2026"])
    return _xlsx(directory / "Aged_Receivables_Summary.xlsx", {"Aged Receivables Summary": rows})


layout("xero_aged_receivables", "Xero Aged Receivables Summary (month columns '< 1 Month' ... 'Older')",
       _build_xero, [expect(p, _F2, a) for p, a in zip(_P2, _A2, strict=True)],
       skipped={"title": 4, "blank": 2, "total": 1, "footer": 1}, printed_total=sum(map(sum, _A2), ZERO),
       report_date=NOV_30)

# 3. Odoo Aged Receivable: "Not due", "1-30" ... "91-120", "Older" (past 120 days: d150, into d120).
_F3 = ("current", "d30", "d60", "d90", "d120", "d150")
_P3 = PEOPLE[:8]
_A3 = _amounts(3, 6, len(_P3))


def _build_odoo(directory: Path) -> Path:
    rows: list[Row] = [["Aged Receivable"], ["As of: 30/11/2026"], ["Target Moves: All Posted Entries"], [],
                       ["Partner", "Reference", "Phone", "Not due", "1-30", "31-60", "61-90", "91-120", "Older",
                        "Total"]]
    for person, amounts in zip(_P3, _A3, strict=True):
        rows.append([person.name, person.code, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    rows.append(["Total", "", "", *map(num, _sums(_A3)), num(sum(map(sum, _A3), ZERO))])
    return _xlsx(directory / "aged_receivable.xlsx", {"Aged Receivable": rows})


layout("odoo_aged_receivable", "Odoo Accounting Aged Receivable (Not due, 1-30 ... 91-120, Older)",
       _build_odoo, [expect(p, _F3, a) for p, a in zip(_P3, _A3, strict=True)],
       skipped={"title": 3, "blank": 1, "total": 1}, printed_total=sum(map(sum, _A3), ZERO), report_date=NOV_30)

# 4. Sage Pastel Partner Customer Age Analysis (.xls): area groups with area totals, a grand total,
# "Printed by" and page footers; float noise of an old .xls; credit balances.
_F4 = ("current", "d30", "d60", "d90", "d120")
_AREAS4 = {"GAUTENG": PEOPLE[0:4], "KWAZULU-NATAL": PEOPLE[4:7], "WESTERN CAPE": PEOPLE[7:10]}
_A4 = {area: _amounts(40 + i, 5, len(people)) for i, (area, people) in enumerate(_AREAS4.items())}
_ALL4 = [a for lines in _A4.values() for a in lines]


def _build_pastel(directory: Path) -> Path:
    rows: list[Row] = [["ACME WHOLESALE (PTY) LTD"], ["Customer Age Analysis"],
                       ["Period: 30/11/2026   Ageing: Monthly"], [],
                       ["Account", "Name", "Telephone", "Current", "30 Days", "60 Days", "90 Days", "120 Days+",
                        "Balance"]]
    for area, people in _AREAS4.items():
        rows.append([f"Area: {area}"])
        for person, amounts in zip(people, _A4[area], strict=True):
            rows.append([person.code, person.name, person.phone_cell, *map(noisy, amounts),
                         noisy(sum(amounts, ZERO))])
        rows.append(["", "Area Total", "", *map(noisy, _sums(_A4[area])), noisy(sum(map(sum, _A4[area]), ZERO))])
        rows.append([])
    rows.append(["", "Grand Total", "", *map(noisy, _sums(_ALL4)), noisy(sum(map(sum, _ALL4), ZERO))])
    rows.append([])
    rows.append(["Printed by: ADMIN  01/12/2026 08:15"])
    rows.append(["Page 1 of 1"])
    return _xls(directory / "CUSTAGE.xls", {"Customer Age Analysis": rows})


layout("sage_pastel_customer_age_analysis", "Sage Pastel Partner Customer Age Analysis (.xls, area groups, "
       "area totals, Printed by)", _build_pastel,
       [expect(p, _F4, a) for area, people in _AREAS4.items() for p, a in zip(people, _A4[area], strict=True)],
       skipped={"title": 3, "blank": 5, "heading": 3, "total": 4, "footer": 2},
       printed_total=sum(map(sum, _ALL4), ZERO), report_date=NOV_30)

# 5 and 6. Sage Business Cloud Accounting "Aged Debtors" CSV: semicolons, decimal commas; once with
# a byte-order mark and once without.
_F5 = ("current", "d30", "d60", "d90", "d120")
_P5 = PEOPLE[3:12]
_A5 = _amounts(5, 5, len(_P5))


def _sage_cloud_rows() -> list[Row]:
    rows: list[Row] = [["Customer Code", "Customer Name", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
                        "120 Days +", "Total"]]
    for person, amounts in zip(_P5, _A5, strict=True):
        rows.append([person.code, person.name, person.phone_cell if isinstance(person.phone_cell, str)
                     else "821234567", *map(decimal_comma, amounts), decimal_comma(sum(amounts, ZERO))])
    rows.append(["Total", "", "", *map(decimal_comma, _sums(_A5)), decimal_comma(sum(map(sum, _A5), ZERO))])
    return rows


layout("sage_business_cloud_csv", "Sage Business Cloud Accounting Aged Debtors CSV (semicolons, decimal commas)",
       lambda d: _csv(d / "AgedDebtors.csv", _sage_cloud_rows(), ";"),
       [expect(p, _F5, a) for p, a in zip(_P5, _A5, strict=True)],
       skipped={"total": 1}, printed_total=sum(map(sum, _A5), ZERO))
layout("sage_business_cloud_csv_bom", "Sage Business Cloud Accounting Aged Debtors CSV saved with a UTF-8 BOM",
       lambda d: _csv(d / "Age Analysis Nov 2026.csv", _sage_cloud_rows(), ";", bom=True),
       [expect(p, _F5, a) for p, a in zip(_P5, _A5, strict=True)],
       skipped={"total": 1}, printed_total=sum(map(sum, _A5), ZERO), report_date=NOV_30)

# 7. A two-row header: "Ageing (days)" merged over the bucket labels; other labels merged down.
_F7 = ("current", "d30", "d60", "d90", "d120")
_P7 = PEOPLE[:10]
_A7 = _amounts(7, 5, len(_P7))


def _build_two_row(directory: Path) -> Path:
    rows: list[Row] = [["Debtors Age Analysis as at 30 November 2026"], [],
                       ["Acc No", "Debtor", "Cell", "Ageing (days)", None, None, None, None, "Balance"],
                       [None, None, None, "Current", 30, 60, 90, "120+", None]]
    for person, amounts in zip(_P7, _A7, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    merges = {"Debtors": ["D3:H3", "A3:A4", "B3:B4", "C3:C4", "I3:I4"]}
    return _xlsx(directory / "debtors.xlsx", {"Debtors": rows}, merges=merges)


layout("two_row_ageing_header", "A hand-made workbook with a merged 'Ageing (days)' label over the bucket labels",
       _build_two_row, [expect(p, _F7, a) for p, a in zip(_P7, _A7, strict=True)],
       skipped={"title": 1, "blank": 1}, report_date=NOV_30)

# 8. Labels split over two rows ("Account" over "No", "30" over "Days"), as a narrow-column export.
_F8 = ("current", "d30", "d60", "d90", "d120")
_P8 = PEOPLE[4:12]
_A8 = _amounts(8, 5, len(_P8))


def _build_split(directory: Path) -> Path:
    rows: list[Row] = [["Account", "Customer", "Cell", "Current", "30", "60", "90", "120", "Total"],
                       ["No", "Name", "Number", "", "Days", "Days", "Days", "Days+", "Balance"]]
    for person, amounts in zip(_P8, _A8, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    return _xls(directory / "ageing.xls", {"Sheet1": rows})


layout("split_two_row_labels", "An accounting package's narrow-column export: each label split over two rows",
       _build_split, [expect(p, _F8, a) for p, a in zip(_P8, _A8, strict=True)])

# 9. A cover/summary sheet before the accounts sheet, whose header sits far down.
_F9 = ("current", "d30", "d60", "d90", "d120")
_P9 = PEOPLE[:7]
_A9 = _amounts(9, 5, len(_P9))


def _build_cover(directory: Path) -> Path:
    sums = _sums(_A9)
    cover: list[Row] = [["Debtors Summary"], ["Bucket", "Amount"], *[[label, num(v)] for label, v in zip(
        ("Current", "30 Days", "60 Days", "90 Days", "120 Days"), sums, strict=True)], ["Total", num(sum(sums, ZERO))]]
    detail: list[Row] = [["Bellville Pharmacy"], ["14 Voortrekker Road"], ["Bellville 7530"], [],
                         ["Debtors Age Analysis"], ["As at: 30/11/2026"], ["Branch: All"], ["Sorted by: Account"], [],
                         ["Account Code", "Account Name", "Contact Number", "Current", "30 Days", "60 Days",
                          "90 Days", "120 Days", "Total Due"]]
    for person, amounts in zip(_P9, _A9, strict=True):
        detail.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    return _xlsx(directory / "debtors_nov.xlsx", {"Summary": cover, "Detail": detail})


layout("cover_sheet_then_detail", "A dispensing system's workbook: a summary sheet first, then the detail with a "
       "long address block", _build_cover, [expect(p, _F9, a) for p, a in zip(_P9, _A9, strict=True)],
       skipped={"title": 7, "blank": 2}, report_date=NOV_30)

# 10. Days past due beside Current in an OpenDocument file: "1 - 30" ... "91 and over".
_F10 = ("current", "d30", "d60", "d90", "d120")
_P10 = PEOPLE[5:14]
_A10 = _amounts(10, 5, len(_P10))


def _build_past_due_ods(directory: Path) -> Path:
    rows: list[Row] = [["Customer Aging by Due Date"], ["Report date 30/11/2026"], [],
                       ["Customer ID", "Customer Name", "Telephone", "Current", "1 - 30", "31 - 60", "61 - 90",
                        "91 and over", "Balance Due"]]
    for person, amounts in zip(_P10, _A10, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    rows.append(["", "Report Total", "", *map(num, _sums(_A10)), num(sum(map(sum, _A10), ZERO))])
    return write_ods(directory / "aging.ods", {"Aging": rows})


layout("past_due_ods", "A LibreOffice (.ods) aging by due date: Current, 1 - 30 ... 91 and over",
       _build_past_due_ods, [expect(p, _F10, a) for p, a in zip(_P10, _A10, strict=True)],
       skipped={"title": 2, "blank": 1, "total": 1}, printed_total=sum(map(sum, _A10), ZERO), report_date=NOV_30)

# 11. Coarser ageing: a pharmacy report whose last column "90+ Days" holds everything from 90 days.
_F11 = ("current", "d30", "d60", "d90")
_P11 = PEOPLE[:9]
_A11 = _amounts(11, 4, len(_P11))


def _build_coarse(directory: Path) -> Path:
    rows: list[Row] = [["Account", "Patient Name", "Cell No", "Current", "30 Days", "60 Days", "90+ Days",
                        "Total Balance"]]
    for person, amounts in zip(_P11, _A11, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    return _xlsx(directory / "pharmacy_debtors.xlsx", {"Debtors": rows})


layout("coarse_pharmacy_90_plus", "A pharmacy system's debtors list with coarser ageing (last column 90+ Days)",
       _build_coarse, [expect(p, _F11, a) for p, a in zip(_P11, _A11, strict=True)])

# 12. Finer ageing: 150 and 180+ day columns, added into 120 (and kept as d150, d180).
_F12 = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
_P12 = PEOPLE[2:12]
_A12 = _amounts(12, 7, len(_P12))


def _build_fine(directory: Path) -> Path:
    rows: list[Row] = [["Acc", "Name", "Tel", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "150 Days",
                        "180+", "Total"]]
    for person, amounts in zip(_P12, _A12, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    return _xlsx(directory / "aged_debtors_detail.xlsx", {"Aged": rows})


layout("fine_ageing_to_180", "A medical practice system's aged debtors with 150 and 180+ day columns",
       _build_fine, [expect(p, _F12, a) for p, a in zip(_P12, _A12, strict=True)])

# 13. Days since invoice with day ranges from 0: 0-30 is current; "Over 150" is d150.
_F13 = ("current", "d30", "d60", "d90", "d120", "d150")
_P13 = PEOPLE[:8]
_A13 = _amounts(13, 6, len(_P13))


def _build_since_invoice(directory: Path) -> Path:
    rows: list[Row] = [["Debtor Code", "Debtor Name", "Phone No", "0-30", "31-60", "61-90", "91-120", "121-150",
                        "Over 150", "Total Outstanding"]]
    for person, amounts in zip(_P13, _A13, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(noisy, amounts), noisy(sum(amounts, ZERO))])
    return _xls(directory / "debtors.xls", {"Debtors": rows})


layout("since_invoice_day_ranges", "An older .xls debtors report aged by invoice date: 0-30 ... 121-150, Over 150",
       _build_since_invoice, [expect(p, _F13, a) for p, a in zip(_P13, _A13, strict=True)])

# 14. Amounts typed as text in a comma CSV, in every form people write them.
_F14 = ("current", "d30", "d60", "d90", "d120")
_P14 = PEOPLE[:12]
_A14 = _amounts(14, 5, len(_P14))
_RENDER14 = [r_space_comma, r_comma_point, space_point, brackets, decimal_comma, blank_zero(brackets)]


def _build_text_csv(directory: Path) -> Path:
    rows: list[Row] = [["Debtors list"], ["Account", "Name", "Cell", "Current", "30 Days", "60 Days", "90 Days",
                                          "120 Days", "Balance"]]
    for i, (person, amounts) in enumerate(zip(_P14, _A14, strict=True)):
        render = _RENDER14[i % len(_RENDER14)]
        phone = person.phone_cell if isinstance(person.phone_cell, str) else "821234567"
        rows.append([person.code, person.name, phone, *map(render, amounts), render(sum(amounts, ZERO))])
    return _csv(directory / "debtors.csv", rows)


layout("text_amounts_csv", "A CSV typed by hand: R 1 234,56, R1,234.56, 1 234.56, (45.00), 45.00-, -45,00, - and "
       "blanks", _build_text_csv, [expect(p, _F14, a) for p, a in zip(_P14, _A14, strict=True)],
       skipped={"title": 1})

# 15. Amounts as text cells in a workbook; the report's date only in the file name.
_F15 = ("current", "d30", "d60", "d90", "d120")
_P15 = PEOPLE[2:14]
_A15 = _amounts(15, 5, len(_P15))


def _build_text_xlsx(directory: Path) -> Path:
    rows: list[Row] = [["Acc No", "Client", "Mobile", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
                        "Total"]]
    for i, (person, amounts) in enumerate(zip(_P15, _A15, strict=True)):
        render = _RENDER14[(i + 3) % len(_RENDER14)]
        rows.append([person.code, person.name, person.phone_cell, *map(render, amounts), render(sum(amounts, ZERO))])
    return _xlsx(directory / "Age Analysis Nov 2026.xlsx", {"Sheet1": rows})


layout("text_amounts_xlsx", "A workbook pasted from a PDF: every amount a text cell; the date in the file name",
       _build_text_xlsx, [expect(p, _F15, a) for p, a in zip(_P15, _A15, strict=True)], report_date=NOV_30)

# 16. Formula cells with Excel's cached values: each row's total is =SUM(...), as is the grand total.
_F16 = ("current", "d30", "d60", "d90", "d120")
_P16 = PEOPLE[:8]
_A16 = _amounts(16, 5, len(_P16))


def _build_formulas(directory: Path) -> Path:
    rows: list[Row] = [["Age analysis 30/11/2026"], ["Account", "Name", "Telephone", "Current", "30 Days", "60 Days",
                                                     "90 Days", "120 Days", "Total"]]
    formulas: dict[str, tuple[str, float]] = {}
    for r, (person, amounts) in enumerate(zip(_P16, _A16, strict=True), start=3):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts)])
        formulas[f"I{r}"] = (f"SUM(D{r}:H{r})", float(sum(amounts, ZERO)))
    last = 2 + len(_P16)
    rows.append(["Grand Total"])
    for i, t in enumerate([*_sums(_A16), sum(map(sum, _A16), ZERO)]):
        formulas[f"{_col(3 + i)}{last + 1}"] = (f"SUM({_col(3 + i)}3:{_col(3 + i)}{last})", float(t))
    return _xlsx(directory / "age_analysis.xlsx", {"Age Analysis": rows}, formulas={"Age Analysis": formulas})


layout("formula_cells_cached", "An Excel workbook whose totals are formulas (=SUM) with cached values",
       _build_formulas, [expect(p, _F16, a) for p, a in zip(_P16, _A16, strict=True)],
       skipped={"title": 1, "total": 1}, printed_total=sum(map(sum, _A16), ZERO), report_date=NOV_30)

# 17. A printed report saved to Excel: page title "page N of 3" and the header at every page, page
# totals (no grand total: the printed total is their sum), a page-number footer.
_F17 = ("current", "d30", "d60", "d90", "d120")
_PAGES17 = [PEOPLE[0:5], PEOPLE[5:10], PEOPLE[10:14]]
_A17 = [_amounts(170 + i, 5, len(page)) for i, page in enumerate(_PAGES17)]
_HEADER17 = ["Acc No", "Name", "Tel No", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "Balance"]


def _build_pages(directory: Path) -> Path:
    rows: list[Row] = []
    for n, (page, lines) in enumerate(zip(_PAGES17, _A17, strict=True), start=1):
        rows.append([f"Debtors Age Analysis as at 30/11/2026 - page {n} of 3"])
        rows.append(list(_HEADER17))
        for person, amounts in zip(page, lines, strict=True):
            rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
        rows.append(["Page Total", "", "", *map(num, _sums(lines)), num(sum(map(sum, lines), ZERO))])
        rows.append([f"Page {n}"])
        rows.append([])
    return _xlsx(directory / "print_to_excel.xlsx", {"Report": rows})


layout("printed_pages_repeated_header", "A report printed to Excel: page titles, the header on every page, page "
       "totals and page numbers", _build_pages,
       [expect(p, _F17, a) for page, lines in zip(_PAGES17, _A17, strict=True)
        for p, a in zip(page, lines, strict=True)],
       skipped={"title": 3, "repeated_header": 2, "total": 3, "footer": 3, "blank": 2},  # no line after the last page
       printed_total=sum((sum(map(sum, lines), ZERO) for lines in _A17), ZERO), report_date=NOV_30)

# 18. Rep groups with unlabelled subtotals (amounts only, adding up the group) and an unlabelled
# grand total at the end.
_F18 = ("current", "d30", "d60", "d90", "d120")
_REPS18 = {"Rep: Sipho": PEOPLE[0:4], "Rep: Anele": PEOPLE[4:9]}
_A18 = {rep: _amounts(180 + i, 5, len(people)) for i, (rep, people) in enumerate(_REPS18.items())}
_ALL18 = [a for lines in _A18.values() for a in lines]


def _build_unlabelled(directory: Path) -> Path:
    rows: list[Row] = [["Code", "Customer", "Cell", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "Total"]]
    for rep, people in _REPS18.items():
        rows.append([rep])
        for person, amounts in zip(people, _A18[rep], strict=True):
            rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
        rows.append(["", "", "", *map(num, _sums(_A18[rep])), num(sum(map(sum, _A18[rep]), ZERO))])
    rows.append(["", "", "", *map(num, _sums(_ALL18)), num(sum(map(sum, _ALL18), ZERO))])
    return _xlsx(directory / "by_rep.xlsx", {"By Rep": rows})


layout("rep_groups_unlabelled_totals", "A sales-rep grouped export whose subtotal and total lines carry no label",
       _build_unlabelled, [expect(p, _F18, a) for rep, people in _REPS18.items()
                           for p, a in zip(people, _A18[rep], strict=True)],
       skipped={"heading": 2, "total": 3}, printed_total=sum(map(sum, _ALL18), ZERO))

# 19. A summary table after the list (ageing percentages and counts), below a grand total.
_F19 = ("current", "d30", "d60", "d90", "d120")
_P19 = PEOPLE[1:11]
_A19 = _amounts(19, 5, len(_P19))


def _build_summary(directory: Path) -> Path:
    sums = _sums(_A19)
    total = sum(sums, ZERO)
    rows: list[Row] = [["Account", "Name", "Phone", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "Total"]]
    for person, amounts in zip(_P19, _A19, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    rows.append(["Grand Total", "", "", *map(num, sums), num(total)])
    rows.append([])
    rows.append(["Ageing Summary"])
    rows.append(["", "% of total", "", *[f"{v / total * 100:.1f}%" for v in sums], "100%"])
    rows.append(["", "Number of accounts", "", 10, 9, 8, 7, 6, 10])
    rows.append(["Current", "", "", num(sums[0])])
    return _xlsx(directory / "debtors_with_summary.xlsx", {"Debtors": rows})


layout("summary_table_after_list", "A debtors export with an ageing summary table below the grand total",
       _build_summary, [expect(p, _F19, a) for p, a in zip(_P19, _A19, strict=True)],
       skipped={"total": 1, "blank": 1, "summary": 4}, printed_total=sum(map(sum, _A19), ZERO))

# 20. Branch groups in a dispensing system's .ods: the heading in the name column, branch totals
# labelled in the phone column, medical-aid subgroup headings.
_F20 = ("current", "d30", "d60", "d90", "d120")
_BRANCH20 = {"Branch: Sandton": PEOPLE[0:5], "Branch: Rosebank": PEOPLE[5:11]}
_A20 = {b: _amounts(200 + i, 5, len(people)) for i, (b, people) in enumerate(_BRANCH20.items())}
_ALL20 = [a for lines in _A20.values() for a in lines]


def _build_branches(directory: Path) -> Path:
    rows: list[Row] = [["MediDispense  Debtors Age Analysis"], ["Age analysis as at 30 November 2026"], [],
                       ["Account", "Patient", "Contact No", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
                        "Total Balance"]]
    for branch, people in _BRANCH20.items():
        rows.append(["", branch])
        rows.append(["", "Medical Aid: DISCOVERY"])
        for person, amounts in zip(people, _A20[branch], strict=True):
            rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
        rows.append(["", "", "Branch Total", *map(num, _sums(_A20[branch])), num(sum(map(sum, _A20[branch]), ZERO))])
    rows.append(["", "", "Grand Total", *map(num, _sums(_ALL20)), num(sum(map(sum, _ALL20), ZERO))])
    rows.append(["Printed on 01/12/2026 by PHARMACIST"])
    return write_ods(directory / "medidispense.ods", {"Debtors": rows})


layout("branch_medical_aid_groups_ods", "A dispensing system's .ods: branch and medical-aid headings, totals "
       "labelled in the phone column", _build_branches,
       [expect(p, _F20, a) for b, people in _BRANCH20.items() for p, a in zip(people, _A20[b], strict=True)],
       skipped={"title": 2, "blank": 1, "heading": 4, "total": 3, "footer": 1},
       printed_total=sum(map(sum, _ALL20), ZERO), report_date=NOV_30)

# 21. Every phone form in one list, with two numbers in a cell (the first mobile wins).
_F21 = ("current", "d30", "d60", "d90", "d120")
_A21 = _amounts(21, 5, len(PEOPLE))


def _build_phones(directory: Path) -> Path:
    rows: list[Row] = [["Account", "Name", "Telephone", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
                        "Total"]]
    for person, amounts in zip(PEOPLE, _A21, strict=True):
        rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    return _xls(directory / "phones.xls", {"Debtors": rows})


layout("phones_every_form", "A hand-kept .xls with phones typed every way (lost 0, dashes, +27 (0), 0027, two "
       "numbers in a cell)", _build_phones, [expect(p, _F21, a) for p, a in zip(PEOPLE, _A21, strict=True)])

# 22. Xero aged by due date: a Current column before the month columns shifts them one bucket.
_F22 = ("current", "d30", "d60", "d90", "d120", "d150")
_P22 = PEOPLE[6:13]
_A22 = _amounts(22, 6, len(_P22))


def _build_xero_due(directory: Path) -> Path:
    rows: list[Row] = [["Aged Receivables Summary"], ["Demo Company (ZA)"], ["As at 30 November 2026"],
                       ["Ageing by due date"], [],
                       ["Contact", "Account Number", "Phone", "Current", "< 1 Month", "1 Month", "2 Months",
                        "3 Months", "Older", "Total"]]
    for person, amounts in zip(_P22, _A22, strict=True):
        rows.append([person.name, person.code, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
    grand = sum(map(sum, _A22), ZERO)
    rows.append(["Total", "", "", *map(num, _sums(_A22)), num(grand + D("10.00"))])
    return _xlsx(directory / "Aged_Receivables_Summary_due.xlsx", {"Aged Receivables Summary": rows})


layout("xero_aged_by_due_date_total_off", "Xero Aged Receivables Summary by due date (Current, < 1 Month ... "
       "Older) whose printed total is R10 more than its accounts", _build_xero_due,
       [expect(p, _F22, a) for p, a in zip(_P22, _A22, strict=True)],
       skipped={"title": 4, "blank": 1, "total": 1}, printed_total=sum(map(sum, _A22), ZERO) + D("10.00"),
       report_date=NOV_30, warnings=("difference 10.00",))


# 23. A printed report saved as CSV: the title block and a two-row header at every page, "Continued"
# and page-number footers, credit notes written "45.00 CR" style by the package ("-45.00" here).
_F23 = ("current", "d30", "d60", "d90", "d120")
_PAGES23 = [PEOPLE[0:6], PEOPLE[6:12]]
_A23 = [_amounts(230 + i, 5, len(page)) for i, page in enumerate(_PAGES23)]
OCT_31 = dt.date(2026, 10, 31)


def _build_csv_pages(directory: Path) -> Path:
    rows: list[Row] = []
    for n, (page, lines) in enumerate(zip(_PAGES23, _A23, strict=True), start=1):
        rows += [["SUNRISE PHARMACY"], ["DEBTORS AGE ANALYSIS AS AT 31/10/2026"],
                 ["Account", "Debtor", "Cell", "Current", "30", "60", "90", "120+", "Total"],
                 ["Number", "Name", "Phone", "", "Days", "Days", "Days", "Days", "Due"]]
        for person, amounts in zip(page, lines, strict=True):
            phone = person.phone_cell if isinstance(person.phone_cell, str) else "821234567"
            rows.append([person.code, person.name, phone, *map(brackets, amounts), brackets(sum(amounts, ZERO))])
        if n < len(_PAGES23):
            rows.append(["Continued on next page"])
        rows.append([f"Page {n} of {len(_PAGES23)}"])
    all_lines = [a for lines in _A23 for a in lines]
    rows.append(["", "Grand Total", "", *map(brackets, _sums(all_lines)), brackets(sum(map(sum, all_lines), ZERO))])
    return _csv(directory / "DEBTAGE.CSV", rows)


layout("printed_csv_two_row_header_per_page", "A pharmacy system's printed age analysis saved as CSV: title block "
       "and two-row header on every page, Continued and page footers", _build_csv_pages,
       [expect(p, _F23, a) for page, lines in zip(_PAGES23, _A23, strict=True)
        for p, a in zip(page, lines, strict=True)],
       skipped={"title": 4, "repeated_header": 2, "footer": 3, "total": 1},
       printed_total=sum((sum(map(sum, lines), ZERO) for lines in _A23), ZERO), report_date=OCT_31)


# 24. Excel's "Unicode Text" (UTF-16, tabs): credit balances written "45.00 CR", a rep heading,
# labelled subtotals ("Total for Rep ...") and a report total.
_F24 = ("current", "d30", "d60", "d90", "d120")
_REPS24 = {"SALES REP: THANDI": PEOPLE[1:6], "SALES REP: PIETER": PEOPLE[6:13]}
_A24 = {rep: _amounts(240 + i, 5, len(people)) for i, (rep, people) in enumerate(_REPS24.items())}
_ALL24 = [a for lines in _A24.values() for a in lines]


def credit_cr(x: Decimal) -> str:
    return f"{abs(x):.2f} CR" if x < 0 else f"{x:.2f}"


def _build_unicode_text(directory: Path) -> Path:
    rows: list[Row] = [["Customer Ageing Report"], ["Run date: 01/12/2026"], [],
                       ["Cust No", "Customer Name", "Cellphone", "Current", "30 Days", "60 Days", "90 Days",
                        "120 Days", "Outstanding"]]
    for rep, people in _REPS24.items():
        rows.append([rep])
        for person, amounts in zip(people, _A24[rep], strict=True):
            phone = person.phone_cell if isinstance(person.phone_cell, str) else "821234567"
            rows.append([person.code, person.name, phone, *map(credit_cr, amounts), credit_cr(sum(amounts, ZERO))])
        name = rep.split(": ")[1].title()
        rows.append([f"Total for Rep {name}", "", "", *map(credit_cr, _sums(_A24[rep])),
                     credit_cr(sum(map(sum, _A24[rep]), ZERO))])
    rows.append(["Report Total", "", "", *map(credit_cr, _sums(_ALL24)), credit_cr(sum(map(sum, _ALL24), ZERO))])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", lineterminator="\r\n").writerows(rows)
    path = directory / "ageing.txt"
    path.write_bytes(buffer.getvalue().encode("utf-16"))
    return path


layout("unicode_text_tabs_cr_credits", "Excel 'Unicode Text' (UTF-16, tab-delimited) of a rep-grouped ageing "
       "report with credits written '45.00 CR'", _build_unicode_text,
       [expect(p, _F24, a) for rep, people in _REPS24.items() for p, a in zip(people, _A24[rep], strict=True)],
       skipped={"title": 2, "blank": 1, "heading": 2, "total": 3}, printed_total=sum(map(sum, _ALL24), ZERO))


# 25. Sage Pastel Evolution Customer Age Analysis saved as Excel Binary (.xlsb): a title block, area
# headings, "Total for Area" subtotals, a page break (page title and the header again), a 150-day
# column beyond the face's last bucket (added into d120), a grand total and the "Printed by" footer.
_F25 = ("current", "d30", "d60", "d90", "d120", "d150")
_AREAS25 = {"JOHANNESBURG": PEOPLE[0:5], "PRETORIA": PEOPLE[5:11]}
_A25 = {area: _amounts(250 + i, 6, len(people)) for i, (area, people) in enumerate(_AREAS25.items())}
_ALL25 = [a for lines in _A25.values() for a in lines]
_HEADER25 = ["Code", "Customer Name", "Contact No", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
             "150 Days+", "Total Due"]


def _build_evolution_xlsb(directory: Path) -> Path:
    rows: list[Row] = [["ACME DISTRIBUTORS (PTY) LTD"], ["Customer Age Analysis - Detailed"],
                       ["As at 30/11/2026"], [], list(_HEADER25)]
    for page, (area, people) in enumerate(_AREAS25.items(), start=1):
        if page > 1:
            rows += [[f"Customer Age Analysis - Page {page} of 2"], list(_HEADER25)]
        rows.append([f"Area: {area}"])
        for person, amounts in zip(people, _A25[area], strict=True):
            rows.append([person.code, person.name, person.phone_cell, *map(num, amounts), num(sum(amounts, ZERO))])
        rows.append(["", f"Total for Area: {area}", "", *map(num, _sums(_A25[area])),
                     num(sum(map(sum, _A25[area]), ZERO))])
        rows.append([])
    rows.append(["", "Grand Total", "", *map(num, _sums(_ALL25)), num(sum(map(sum, _ALL25), ZERO))])
    rows.append([])
    rows.append(["Printed by: JOHANNES  01/12/2026 07:45"])
    rows.append(["Page 2 of 2"])
    return write_xlsb(directory / "Customer Age Analysis.xlsb", {"Age Analysis": rows})


layout("sage_evolution_age_analysis_xlsb", "Sage Pastel Evolution Customer Age Analysis saved as Excel Binary "
       "(.xlsb): area headings and totals, a page break, 150 Days+, Printed by", _build_evolution_xlsb,
       [expect(p, _F25, a) for area, people in _AREAS25.items() for p, a in zip(people, _A25[area], strict=True)],
       skipped={"title": 4, "blank": 4, "heading": 2, "total": 3, "repeated_header": 1, "footer": 2},
       printed_total=sum(map(sum, _ALL25), ZERO), report_date=NOV_30, warnings=("matches the report's total",))

# 26. A hand-made .xlsb: a summary sheet first, then the accounts under a two-row "Ageing (days)"
# header, amounts typed as text in places ("R 1 234,56", "(45.00)", "-").
_F26 = ("current", "d30", "d60", "d90", "d120")
_P26 = PEOPLE[2:12]
_A26 = _amounts(26, 5, len(_P26))


def _build_cover_xlsb(directory: Path) -> Path:
    sums = _sums(_A26)
    cover: list[Row] = [["Debtors Summary"], ["Bucket", "Amount"], *[[label, num(v)] for label, v in zip(
        ("Current", "30 Days", "60 Days", "90 Days", "120 Days"), sums, strict=True)], ["Total", num(sum(sums, ZERO))]]
    detail: list[Row] = [["Debtors Age Analysis as at 30 November 2026"], [],
                         ["Acc No", "Debtor", "Cell", "Ageing (days)", None, None, None, None, "Balance"],
                         [None, None, None, "Current", 30, 60, 90, "120+", None]]
    for i, (person, amounts) in enumerate(zip(_P26, _A26, strict=True)):
        render = (num, r_space_comma, brackets)[i % 3]
        detail.append([person.code, person.name, person.phone_cell, *map(render, amounts),
                       render(sum(amounts, ZERO))])
    return write_xlsb(directory / "debtors.xlsb", {"Summary": cover, "Debtors": detail})


layout("cover_sheet_two_row_header_xlsb", "A hand-made Excel Binary workbook: a summary sheet, then a two-row "
       "'Ageing (days)' header and amounts typed as text", _build_cover_xlsb,
       [expect(p, _F26, a) for p, a in zip(_P26, _A26, strict=True)],
       skipped={"title": 1, "blank": 1}, report_date=NOV_30)


def build_all(directory: Path) -> dict[str, Path]:
    """Every layout's file written into `directory` (one sub-folder each): name -> path."""
    out = {}
    for item in LAYOUTS:
        sub = directory / item.name
        sub.mkdir(parents=True, exist_ok=True)
        out[item.name] = item.build(sub)
    return out


assert len({item.name for item in LAYOUTS}) == len(LAYOUTS)
assert not [item.name for item in LAYOUTS if re.search(r"[^a-z0-9_]", item.name)]
