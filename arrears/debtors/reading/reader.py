"""read_age_analysis: a spreadsheet in, a stream of AccountRow | RowError out."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from types import TracebackType

from arrears.debtors.reading.blocks import AccountBlock, BlockCount, BlockValidator
from arrears.debtors.reading.errors import NO_DATA_ROWS, ReadError
from arrears.debtors.reading.formats import FileFormat, detect_format
from arrears.debtors.reading.headers import AliasTable, ColumnInfo, FoundHeader, find_header
from arrears.debtors.reading.rows import NumberedRow, Sheet, csv_sheet, open_sheets, text_layout
from arrears.debtors.reading.skips import SKIP_REASONS
from arrears.debtors.reading.validation import AccountRow, RowError, RowValidator

ProgressCallback = Callable[[int], None]
DEFAULT_PROGRESS_EVERY = 1000
DEFAULT_BLOCK_ROWS = 5000
# A count's stretches: a thousand rows' cells stay in the processor's cache while they are checked
# (a fifth less time than 5,000 for the preview's pass over 200,000 rows).
TALLY_BLOCK_ROWS = 1000


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """Where the data is and how its columns were understood."""

    file_format: FileFormat
    sheet_name: str
    header_row: int  # 1-based sheet row of the header
    found_headers: list[str]  # every non-blank header cell, in file order
    mapping: dict[str, str]  # field (account ... total_balance, d150 ...) -> header as written
    extra_buckets: dict[int, str]  # days (> 120) -> header as written
    unmapped_headers: list[str]  # headers we ignore
    last_row: int | None  # last sheet row, when the format knows it before reading (not CSV)
    delimiter: str | None = None  # CSV only
    encoding: str | None = None  # CSV only
    header_rows: list[int] = field(default_factory=list)  # every header row, 1-based (one or two)
    columns: list[ColumnInfo] = field(default_factory=list)  # each column: the field it fills and why
    title_lines: list[str] = field(default_factory=list)  # the text of each line above the header
    header_warnings: list[str] = field(default_factory=list)  # e.g. a bucket-like column left unread

    @property
    def rows_estimate(self) -> int | None:
        """Rows below the header (blank and total rows included), for a progress bar's total."""
        return None if self.last_row is None else max(self.last_row - self.header_row, 0)


class HeaderFacts:
    """What a reader knows once its header is found, read off its `header` (the plain reader and
    the one in the parse child expose the same names)."""

    header: HeaderInfo

    @property
    def sheet_name(self) -> str:
        return self.header.sheet_name

    @property
    def header_rows(self) -> list[int]:
        return self.header.header_rows

    @property
    def columns(self) -> list[ColumnInfo]:
        return self.header.columns

    @property
    def title_lines(self) -> list[str]:
        return self.header.title_lines


@dataclass(frozen=True, slots=True)
class ReadSummary:
    """What is known once every row is read: the lines skipped per reason, the total the report
    prints, and the warnings (unread bucket columns, the accounts against the printed total)."""

    skipped: dict[str, int]
    printed_total: Decimal | None
    warnings: list[str]


@dataclass(slots=True)
class Tally:
    """A whole read counted (AgeAnalysisReader.tally): the rows read, the accounts and their
    total balances' sum in whole cents, the failed rows, and the first accounts and errors."""

    rows_read: int = 0
    account_count: int = 0
    total_cents: int = 0
    failed_count: int = 0
    accounts: list[AccountRow] = field(default_factory=list)
    failed: list[RowError] = field(default_factory=list)


class AgeAnalysisReader(HeaderFacts, Iterator[AccountRow | RowError]):
    """Streams the rows of one age analysis; one pass, rows are never all held in memory.

    Every fatal problem (unsupported or corrupt file, missing columns, no data rows) is raised
    as ReadError by the constructor, before the first row is yielded. Workbooks are decoded by
    calamine sheet by sheet (a sheet's cells live in Rust memory); Python objects are made per row.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        extra_aliases: Mapping[str, Iterable[str]] | None = None,
        on_progress: ProgressCallback | None = None,
        progress_every: int = DEFAULT_PROGRESS_EVERY,
        mapping: Mapping[int, str | None] | None = None,
    ) -> None:
        if progress_every < 1:
            raise ValueError("progress_every must be at least 1")
        self.path = Path(path)
        file_format = detect_format(self.path)
        found = find_header(_candidate_sheets(self.path, file_format), AliasTable(extra_aliases, mapping))
        self.header = _header_info(file_format, found)
        self._validator = RowValidator(found.match, header_cells=found.header_cells, title_lines=found.title_lines)
        # The lines above the header: its title block, and blank lines.
        lines = self._validator.lines
        titles = len(found.title_lines)
        lines.skipped["title"] += titles
        lines.skipped["blank"] += max(found.header_rows[0] - 1 - titles, 0)
        self._rows = found.rows
        self._pending = found.pending
        self._first_rows = self._peek_first_data_row()
        self._on_progress = on_progress
        self._progress_every = progress_every
        self._results = self._generate()

    def _peek_first_data_row(self) -> list[NumberedRow]:
        # Read up to the first data row now, so that "no data" is a fatal error, not an empty stream.
        peeked: list[NumberedRow] = []
        for number, cells in chain(self._pending, self._rows):
            peeked.append((number, cells))
            if self._validator.is_data(cells):
                return peeked
        raise ReadError(
            NO_DATA_ROWS,
            f"The header was found on row {self.header.header_row} of sheet '{self.header.sheet_name}', "
            "but no account rows follow it.",
            {"sheet": self.header.sheet_name, "row": self.header.header_row},
        )

    def _generate(self) -> Generator[AccountRow | RowError, None, None]:
        rows_read = 0
        report, every = self._on_progress, self._progress_every
        for number, cells in chain(self._first_rows, self._rows):
            rows_read += 1
            result = self._validator.check(number, cells)
            if result is not None:
                yield result
            if report is not None and rows_read % every == 0:
                report(rows_read)
        if report is not None and rows_read % every:
            report(rows_read)  # the final count, so a progress bar reaches its end

    def blocks(self, size: int = DEFAULT_BLOCK_ROWS) -> Iterator[AccountBlock]:
        """The rows as AccountBlocks of up to `size` rows each (the import's fast path): the same
        accounts and errors as iterating, column by column. Read the rows one way or the other."""
        checker = BlockValidator(self._validator)
        for first, cells in self._reported(self._stretches(size)):
            yield checker.check_cells(first, cells) if first is not None else checker.check_block(cells)

    def tally(self, sample: int, size: int = TALLY_BLOCK_ROWS) -> Tally:
        """Every row read as blocks() reads it (the same accounts, errors and skipped lines), the
        first `sample` accounts and errors kept whole and the rest counted: a count skips what
        only a kept account needs (its phones, contact and row). The preview's pass."""
        checker = BlockValidator(self._validator)
        out = Tally()
        for first, cells in self._reported(self._stretches(size)):
            if len(out.accounts) < sample:
                block = checker.check_cells(first, cells) if first is not None else checker.check_block(cells)
                out.accounts.extend(block.row(index) for index in range(min(len(block), sample - len(out.accounts))))
                counted = BlockCount(len(block), sum(block.cents[5]), block.errors, block.rows_read)
            else:
                counted = checker.count_cells(first, cells) if first is not None else checker.count_block(cells)
            out.rows_read += counted.rows_read
            out.account_count += counted.accounts
            out.total_cents += counted.total_cents
            out.failed_count += len(counted.errors)
            out.failed.extend(counted.errors[:max(sample - len(out.failed), 0)])
        return out

    def _reported(self, stretches: Iterator[tuple[int | None, list]]) -> Iterator[tuple[int | None, list]]:
        """The stretches, with on_progress called every `progress_every` rows or so, and at the end."""
        report, every = self._on_progress, self._progress_every
        rows_read = reported = 0
        for first, cells in stretches:
            yield first, cells
            rows_read += len(cells)
            if report is not None and rows_read - reported >= every:
                report(rows_read)
                reported = rows_read
        if report is not None and rows_read != reported:
            report(rows_read)

    def _stretches(self, size: int) -> Iterator[tuple[int | None, list]]:
        """The rows to check, `size` at a time: (first row number, cells) for a workbook's
        consecutive rows, (None, numbered rows) otherwise."""
        take = getattr(self._rows, "take", None)
        if take is None:  # delimited text: row numbers may skip (a quoted cell across lines)
            rows = chain(self._first_rows, self._rows)
            while chunk := list(islice(rows, size)):
                yield None, chunk
            return
        # A workbook: the rows read while finding the first data row, then stretches of cells.
        first, cells = take(max(size - len(self._first_rows), 1))
        yield None, [*self._first_rows, *enumerate(cells, first)]
        while True:
            first, cells = take(size)
            if not cells:
                return
            yield first, cells

    def summary(self) -> ReadSummary:
        """The skipped lines, the printed total and the warnings: complete once every row is read."""
        lines = self._validator.lines
        skipped = {reason: lines.skipped[reason] for reason in SKIP_REASONS if lines.skipped[reason]}
        warnings = list(self.header.header_warnings)
        total = lines.total_warning()
        if total is not None:
            warnings.append(total)
        return ReadSummary(skipped, lines.printed_total(), warnings)

    @property
    def skipped(self) -> dict[str, int]:
        return self.summary().skipped

    @property
    def printed_total(self) -> Decimal | None:
        return self.summary().printed_total

    @property
    def warnings(self) -> list[str]:
        return self.summary().warnings

    def __iter__(self) -> AgeAnalysisReader:
        return self

    def __next__(self) -> AccountRow | RowError:
        return next(self._results)

    def close(self) -> None:
        """Release the file early (the end of iteration releases it too)."""
        self._results.close()
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> AgeAnalysisReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_age_analysis(
    path: str | os.PathLike[str],
    extra_aliases: Mapping[str, Iterable[str]] | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every: int = DEFAULT_PROGRESS_EVERY,
    mapping: Mapping[int, str | None] | None = None,
) -> AgeAnalysisReader:
    """Open an age analysis (xlsx, xlsm, xlsb, xls, ods, csv/tsv) and stream its rows.

    Returns an iterator of AccountRow | RowError whose `.header` is a HeaderInfo. Raises
    ReadError at once when the file cannot be imported at all. `extra_aliases` holds an
    organisation's own header names: {"telephone": ["Sel Nr"], "d150": ["5 Months"]}.
    `on_progress(rows_read)` is called every `progress_every` rows, and once at the end.
    `mapping` (column index -> field, None to ignore the column) overrides the header's own.
    After the rows: `.skipped`, `.printed_total`, `.warnings` (and `.sheet_name`, `.header_rows`,
    `.columns`, `.title_lines` from the start).
    """
    return AgeAnalysisReader(path, extra_aliases, on_progress, progress_every, mapping)


def _candidate_sheets(path: Path, file_format: FileFormat) -> Iterator[Sheet]:
    if file_format.is_workbook:
        yield from open_sheets(path, file_format)
        return
    # Delimited text: the header decides the delimiter when the sniffer's favourite finds none.
    layout = text_layout(path)
    for rank, delimiter in enumerate(layout.delimiters):
        yield csv_sheet(path, delimiter, layout, alternative=rank > 0)


def _header_info(file_format: FileFormat, found: FoundHeader) -> HeaderInfo:
    match = found.match
    return HeaderInfo(
        file_format=file_format,
        sheet_name=found.sheet.name,
        header_row=found.row_number,
        found_headers=match.found_headers,
        mapping=match.mapping,
        extra_buckets={days: match.labels[index] for days, index in match.extra_buckets.items()},
        unmapped_headers=match.unmapped_headers,
        last_row=found.sheet.last_row,
        delimiter=found.sheet.delimiter,
        encoding=found.sheet.encoding,
        header_rows=found.header_rows,
        columns=match.column_infos(),
        title_lines=found.title_lines,
        header_warnings=[f"The column '{label}' looks like an ageing bucket but is not read: map it or check "
                         "the file." for label in match.unread_buckets()],
    )
