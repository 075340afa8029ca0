"""read_age_analysis: a spreadsheet in, a stream of AccountRow | RowError out."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from types import TracebackType

from arrears.debtors.reading.blocks import AccountBlock, BlockValidator
from arrears.debtors.reading.errors import NO_DATA_ROWS, ReadError
from arrears.debtors.reading.formats import FileFormat, detect_format
from arrears.debtors.reading.headers import AliasTable, FoundHeader, find_header
from arrears.debtors.reading.rows import NumberedRow, Sheet, csv_sheet, open_sheets, text_layout
from arrears.debtors.reading.validation import AccountRow, RowError, RowValidator

ProgressCallback = Callable[[int], None]
DEFAULT_PROGRESS_EVERY = 1000
DEFAULT_BLOCK_ROWS = 5000


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

    @property
    def rows_estimate(self) -> int | None:
        """Rows below the header (blank and total rows included), for a progress bar's total."""
        return None if self.last_row is None else max(self.last_row - self.header_row, 0)


class AgeAnalysisReader(Iterator[AccountRow | RowError]):
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
    ) -> None:
        if progress_every < 1:
            raise ValueError("progress_every must be at least 1")
        self.path = Path(path)
        file_format = detect_format(self.path)
        found = find_header(_candidate_sheets(self.path, file_format), AliasTable(extra_aliases))
        self.header = _header_info(file_format, found)
        self._validator = RowValidator(found.match)
        self._rows = found.rows
        self._first_rows = self._peek_first_data_row()
        self._on_progress = on_progress
        self._progress_every = progress_every
        self._results = self._generate()

    def _peek_first_data_row(self) -> list[NumberedRow]:
        # Read up to the first data row now, so that "no data" is a fatal error, not an empty stream.
        peeked: list[NumberedRow] = []
        for number, cells in self._rows:
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
        report, every = self._on_progress, self._progress_every
        rows_read = reported = 0
        for block in self._checked_blocks(checker, size):
            rows_read += block.rows_read
            yield block
            if report is not None and rows_read - reported >= every:
                report(rows_read)
                reported = rows_read
        if report is not None and rows_read != reported:
            report(rows_read)

    def _checked_blocks(self, checker: BlockValidator, size: int) -> Iterator[AccountBlock]:
        take = getattr(self._rows, "take", None)
        if take is None:  # delimited text: row numbers may skip (a quoted cell across lines)
            rows = chain(self._first_rows, self._rows)
            while chunk := list(islice(rows, size)):
                yield checker.check_block(chunk)
            return
        # A workbook: the rows read while finding the first data row, then stretches of cells.
        first, cells = take(max(size - len(self._first_rows), 1))
        yield checker.check_block([*self._first_rows, *enumerate(cells, first)])
        while True:
            first, cells = take(size)
            if not cells:
                return
            yield checker.check_cells(first, cells)

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
) -> AgeAnalysisReader:
    """Open an age analysis (xlsx, xlsm, xlsb, xls, ods, csv/tsv) and stream its rows.

    Returns an iterator of AccountRow | RowError whose `.header` is a HeaderInfo. Raises
    ReadError at once when the file cannot be imported at all. `extra_aliases` holds an
    organisation's own header names: {"telephone": ["Sel Nr"], "d150": ["5 Months"]}.
    `on_progress(rows_read)` is called every `progress_every` rows, and once at the end.
    """
    return AgeAnalysisReader(path, extra_aliases, on_progress, progress_every)


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
    )
