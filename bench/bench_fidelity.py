"""Benchmark (not a test): how exactly the readers read the corpus of real-world layouts (issue 21).

    uv run --frozen python bench/bench_fidelity.py [--only NAME] [--verbose] [--self-check]

Imports the corpus modules tests/corpus/spreadsheets.py and tests/corpus/pdfs.py (each defines
`LAYOUTS: list[Layout]`, tests/corpus/model.py; a module that is absent is skipped with a note),
builds each layout's file in a temporary folder and reads it as an upload would: spreadsheets with
`read_age_analysis` (every row), PDFs with `arrears.debtors.pdf.extract_debtors`. For each layout
it prints the accounts read exactly (code, name, every bucket, total, phones, e-mail) against the
accounts expected, the accounts read that the layout does not list (stored but not accounts), and
whether the skipped lines per reason match; a layout is exact when all three hold. Then the rate
overall: accounts read exactly / expected, and layouts exact / layouts (goal: 100 %).

--self-check runs the same machinery on a tiny CSV layout defined here (one account read right,
one with a wrong expectation), to show that the bench counts what it should.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.corpus.model import ZERO, Expected, Layout  # noqa: E402

CORPORA = {"spreadsheets": "tests.corpus.spreadsheets", "pdfs": "tests.corpus.pdfs"}
BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
OLDER = {"d150": 150, "d180": 180}


@dataclass
class Read:
    """An account as a reader gave it, in the corpus's terms."""

    code: str
    name: str
    buckets: dict[str, Decimal]
    total: Decimal
    phone: str | None
    phone2: str | None
    email: str | None
    has_phone2: bool  # the reader reports a second number at all
    has_email: bool


@dataclass
class Outcome:
    layout: Layout
    kind: str
    exact: int = 0
    wrong: list[str] = field(default_factory=list)  # what differs, per account
    missing: list[str] = field(default_factory=list)  # expected, not read
    unexpected: list[str] = field(default_factory=list)  # read, not expected (stored but not an account)
    failed: int = 0  # rows the reader reported as failed
    skipped: Mapping[str, int] | None = None  # per reason, as the reader counted (None: not reported)
    error: str | None = None

    @property
    def expected(self) -> int:
        return len(self.layout.accounts)

    @property
    def skipped_match(self) -> bool:
        want = {k: v for k, v in self.layout.skipped.items() if v}
        got = {k: v for k, v in (self.skipped or {}).items() if v}
        return want == got

    @property
    def is_exact(self) -> bool:
        return (self.error is None and self.exact == self.expected and not self.unexpected
                and self.skipped_match)


# ------------------------------------------------------------------ reading, in the corpus's terms


def _skipped_of(*sources: Any) -> Mapping[str, int] | None:
    """The reader's skipped lines per reason, under the name the upload detail gives them."""
    for source in sources:
        for name in ("skipped_reasons", "skipped"):
            value = getattr(source, name, None)
            if isinstance(value, Mapping):
                return {str(k): int(v) for k, v in value.items()}
    return None


def _second(row: Any) -> tuple[bool, str | None]:
    for name in ("phone2", "telephone2", "second_phone"):
        if hasattr(row, name):
            return True, getattr(row, name) or None
    return False, None


def read_spreadsheet(path: Path) -> tuple[list[Read], int, Mapping[str, int] | None]:
    from arrears.debtors.reading import AccountRow, read_age_analysis

    accounts: list[Read] = []
    failed = 0
    with read_age_analysis(path) as reader:
        for row in reader:
            if not isinstance(row, AccountRow):
                failed += 1
                continue
            # d120 holds 120 days and every older bucket together (so does the corpus's), the older
            # buckets are kept apart too (extra_buckets: {150: ...}).
            older = {f"d{days}": amount for days, amount in row.extra_buckets.items()}
            buckets = {"current": row.current, "d30": row.d30, "d60": row.d60, "d90": row.d90, "d120": row.d120,
                       **older}
            has2, phone2 = _second(row)
            accounts.append(Read(row.account, row.name, buckets, row.total_balance,
                                 row.telephone if row.phone_valid else None, phone2, getattr(row, "email", None),
                                 has2, hasattr(row, "email")))
        skipped = _skipped_of(reader, reader.header)
    return accounts, failed, skipped


def read_pdf(path: Path) -> tuple[list[Read], int, Mapping[str, int] | None]:
    from arrears.debtors.pdf import extract_debtors

    found = extract_debtors(path)
    accounts = []
    for debtor in found.debtors:
        has2, phone2 = _second(debtor)
        accounts.append(Read(debtor.acc_no, debtor.name, {b: getattr(debtor, b) for b in BUCKETS}, debtor.balance,
                             debtor.phone_normalised, phone2, debtor.email, has2, True))
    return accounts, len(found.issues), _skipped_of(found)


def differences(want: Expected, got: Read) -> list[str]:
    out = []
    if got.name != want.name:
        out.append(f"name {got.name!r} (expected {want.name!r})")
    for bucket in sorted(set(BUCKETS) | set(want.buckets) | set(got.buckets)):
        if got.buckets.get(bucket, ZERO) != want.bucket(bucket):
            out.append(f"{bucket} {got.buckets.get(bucket, ZERO)} (expected {want.bucket(bucket)})")
    if got.total != want.total:
        out.append(f"total {got.total} (expected {want.total})")
    if got.phone != want.phone:
        out.append(f"phone {got.phone} (expected {want.phone})")
    if want.phone2 is not None or got.phone2 is not None:
        if not got.has_phone2:
            out.append(f"second phone not read (expected {want.phone2})")
        elif got.phone2 != want.phone2:
            out.append(f"second phone {got.phone2} (expected {want.phone2})")
    if want.email is not None or got.email is not None:
        if not got.has_email:
            out.append(f"e-mail not read (expected {want.email})")
        elif got.email != want.email:
            out.append(f"e-mail {got.email} (expected {want.email})")
    return out


def measure(layout: Layout, kind: str, folder: Path) -> Outcome:
    outcome = Outcome(layout, kind)
    try:
        path = layout.build(folder)
        accounts, outcome.failed, outcome.skipped = (read_pdf if kind == "pdfs" else read_spreadsheet)(path)
    except Exception as exc:  # noqa: BLE001 - a layout the reader refuses scores 0, with the reason
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.missing = [e.code for e in layout.accounts]
        return outcome
    read = {}
    for account in accounts:
        if account.code in read or account.code not in {e.code for e in layout.accounts}:
            outcome.unexpected.append(account.code)
        else:
            read[account.code] = account
    for want in layout.accounts:
        got = read.get(want.code)
        if got is None:
            outcome.missing.append(want.code)
            continue
        problems = differences(want, got)
        if problems:
            outcome.wrong.append(f"{want.code}: {'; '.join(problems)}")
        else:
            outcome.exact += 1
    return outcome


# ------------------------------------------------------------------ the report


def load(corpora: Iterable[str]) -> list[tuple[str, Layout]]:
    layouts: list[tuple[str, Layout]] = []
    for kind in corpora:
        module = CORPORA[kind]
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name not in (module, module.rsplit(".", 1)[0]):
                raise
            print(f"note: {module} is not there yet; its layouts are skipped")
            continue
        layouts += [(kind, layout) for layout in found.LAYOUTS]
    return layouts


def report(outcomes: list[Outcome], verbose: bool) -> tuple[int, int, int]:
    print(f"{'layout':40s} {'kind':12s} {'exact':>11s} {'rate':>7s} {'unexp.':>6s} {'failed':>6s}  skipped")
    for o in outcomes:
        rate = o.exact / o.expected if o.expected else 1.0
        skipped = ("match" if o.skipped_match else
                   f"got {dict(o.skipped)} expected {o.layout.skipped}" if o.skipped is not None else
                   f"not reported (expected {o.layout.skipped})")
        mark = "" if o.is_exact else "  <-"
        print(f"{o.layout.name[:40]:40s} {o.kind:12s} {o.exact:5d}/{o.expected:<5d} {rate:7.1%} "
              f"{len(o.unexpected):6d} {o.failed:6d}  {skipped}{mark}")
        if o.error:
            print(f"    refused: {o.error}")
        if verbose or not o.is_exact:
            for line in (o.wrong[:5] if not verbose else o.wrong):
                print(f"    wrong   {line}")
            if o.missing:
                print(f"    missing {', '.join(o.missing[:10])}{' …' if len(o.missing) > 10 else ''}")
            if o.unexpected:
                print(f"    not accounts, read as accounts: {', '.join(o.unexpected[:10])}"
                      f"{' …' if len(o.unexpected) > 10 else ''}")
    exact = sum(o.exact for o in outcomes)
    expected = sum(o.expected for o in outcomes)
    layouts_exact = sum(o.is_exact for o in outcomes)
    for kind in sorted({o.kind for o in outcomes}):
        mine = [o for o in outcomes if o.kind == kind]
        e, n = sum(o.exact for o in mine), sum(o.expected for o in mine)
        print(f"{kind}: accounts exact {e}/{n} ({e / n if n else 1:.1%}); layouts exact "
              f"{sum(o.is_exact for o in mine)}/{len(mine)}")
    print(f"overall: accounts exact {exact}/{expected} ({exact / expected if expected else 1:.1%}); layouts exact "
          f"{layouts_exact}/{len(outcomes)} ({layouts_exact / len(outcomes) if outcomes else 1:.1%})  (goal 100 %)")
    return exact, expected, layouts_exact


def _self_check() -> int:
    """A tiny CSV layout, read once as it is and once with one wrong expectation."""
    import datetime as dt

    def build(folder: Path) -> Path:
        path = folder / "self-check.csv"
        path.write_text("Debtors age analysis\nAccount,Name,Cell,Current,30 Days,60 Days,90 Days,120 Days,Total\n"
                        "A1,Jane Doe,082 123 4567,10.00,5.00,0,0,0,15.00\n"
                        "A2,John Roe,,0,0,0,0,7.50,7.50\n", encoding="utf-8")
        return path

    right = [Expected("A1", "Jane Doe", {"current": Decimal("10.00"), "d30": Decimal("5.00")}, Decimal("15.00"),
                      "27821234567"),
             Expected("A2", "John Roe", {"d120": Decimal("7.50")}, Decimal("7.50"))]
    wrong = [right[0], Expected("A2", "John Roe", {"d90": Decimal("7.50")}, Decimal("7.50"))]
    from tests.debtors.pdf.make_pdfs import Debtor, build_report

    printed = [Debtor("10001", "Jane Doe", {"current": Decimal("120.00"), "d60": Decimal("30.50")},
                      email="jane@example.co.za", phone="082 123 4567"),
               Debtor("10002", "John Roe", {"d180": Decimal("99.99")}, phone="083 765 4321")]

    def build_pdf(folder: Path) -> Path:
        path = folder / "self-check.pdf"
        build_report(printed, path=path)
        return path

    pdf = [Expected("10001", "Jane Doe", {"current": Decimal("120.00"), "d60": Decimal("30.50")},
                    Decimal("150.50"), "27821234567", email="jane@example.co.za"),
           Expected("10002", "John Roe", {"d180": Decimal("99.99")}, Decimal("99.99"), "27837654321")]
    with tempfile.TemporaryDirectory() as folder:
        good = measure(Layout("self_check", "a tiny CSV", build, right, report_date=dt.date(2026, 11, 30)),
                       "spreadsheets", Path(folder))
        bad = measure(Layout("self_check_wrong", "a tiny CSV", build, wrong), "spreadsheets", Path(folder))
        good_pdf = measure(Layout("self_check_pdf", "a tiny PDF", build_pdf, pdf), "pdfs", Path(folder))
    report([good, bad, good_pdf], verbose=True)
    ok = (good.exact == 2 and good.is_exact and bad.exact == 1 and not bad.is_exact and len(bad.wrong) == 1
          and good_pdf.is_exact)
    print("self-check:", "the bench counts as it should" if ok else "FAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="layouts whose name contains this")
    parser.add_argument("--kind", choices=sorted(CORPORA), help="one corpus only")
    parser.add_argument("--verbose", action="store_true", help="every difference of every layout")
    parser.add_argument("--self-check", action="store_true", help="check the bench on a layout of its own")
    args = parser.parse_args()
    if args.self_check:
        return _self_check()
    layouts = load([args.kind] if args.kind else CORPORA)
    if args.only:
        layouts = [(k, lay) for k, lay in layouts if args.only in lay.name]
    if not layouts:
        print("no layouts to read")
        return 0
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="arrears-fidelity-") as folder:
        for index, (kind, layout) in enumerate(layouts):
            here = Path(folder) / f"{index:03d}"
            here.mkdir()
            try:
                outcomes.append(measure(layout, kind, here))
            except Exception:  # noqa: BLE001 - the bench's own failure on one layout, shown, not fatal
                traceback.print_exc()
    report(outcomes, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
