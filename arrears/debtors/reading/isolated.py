"""The reading layer run in the parse pool's child process: the import's way in.

    with open_isolated(path, aliases, on_progress) as reader:   # ReadError, as read_age_analysis
        reader.header                                            # HeaderInfo
        for block in reader.blocks():                            # AccountBlocks, made in the child
            ...

The child reads the file (header, values, checks, phones) and sends each block of rows back
through the pipe while the parent stores the previous one. A parse that dies or passes a limit
raises ReadError here (PARSE_FAILED, or SHEET_TOO_LARGE for a workbook calamine cannot hold):
the file is refused, and the import fails for good.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from arrears.debtors.reading.blocks import AccountBlock
from arrears.debtors.reading.errors import PARSE_FAILED, SHEET_TOO_LARGE, ReadError
from arrears.debtors.reading.formats import FileFormat, detect_format
from arrears.debtors.reading.reader import (
    DEFAULT_BLOCK_ROWS,
    HeaderFacts,
    HeaderInfo,
    ReadSummary,
    read_age_analysis,
)
from arrears.sandbox import ParseFailed, get_pool

ProgressCallback = Callable[[int], None]


def read_blocks(path: str, aliases: Mapping[str, list[str]] | None, block_rows: int,
                mapping: dict[int, str | None] | None = None) -> Iterator[HeaderInfo | AccountBlock | ReadSummary]:
    """Runs in the child: the header first, then the blocks, then the summary of the lines skipped."""
    from arrears.debtors.gcpause import collector_paused

    with read_age_analysis(path, aliases, mapping=mapping) as reader, collector_paused():
        yield reader.header
        yield from reader.blocks(block_rows)
        yield reader.summary()


def refusal(failure: ParseFailed, file_format: FileFormat | None) -> ReadError:
    """The ReadError that tells the uploader why their file's parse was stopped."""
    if failure.reason == "memory" and file_format in (FileFormat.XLS, FileFormat.XLSB, FileFormat.ODS):
        return ReadError(
            SHEET_TOO_LARGE,
            f"The workbook could not be read: {failure.message}. A sheet's used range is too large to read "
            f"as .{file_format.value}; save the workbook as .xlsx (which is read as a stream) and upload that.",
            {"reason": failure.reason})
    return ReadError(PARSE_FAILED, f"The file could not be read: {failure.message}. It was refused; "
                                   "check the file, save it again and upload the new copy.",
                     {"reason": failure.reason})


class IsolatedReader(HeaderFacts):
    """An age analysis read in the parse pool's child; `.header`, then `.blocks()` once."""

    def __init__(self, path: str | os.PathLike[str], extra_aliases: Mapping[str, Iterable[str]] | None = None,
                 on_progress: ProgressCallback | None = None, progress_every: int = 1000,
                 block_rows: int = DEFAULT_BLOCK_ROWS, mapping: Mapping[int, str | None] | None = None) -> None:
        self.path = Path(path)
        self._format = detect_format(self.path)  # cheap, Python only: refuses non-spreadsheets here
        aliases = {k: list(v) for k, v in extra_aliases.items()} if extra_aliases else None
        self._stream = get_pool().stream(read_blocks, str(self.path), aliases, block_rows,
                                         dict(mapping) if mapping else None)
        self._summary: ReadSummary | None = None
        self._on_progress = on_progress
        self._progress_every = progress_every
        first = self._next()
        if not isinstance(first, HeaderInfo):
            raise ReadError(PARSE_FAILED, "The file could not be read: its reader answered out of turn.")
        self.header = first

    def _done(self) -> ReadSummary:
        if self._summary is None:
            raise RuntimeError("the skipped lines and the printed total are known once every block is read")
        return self._summary

    @property
    def skipped(self) -> dict[str, int]:
        return self._done().skipped

    @property
    def printed_total(self) -> Decimal | None:
        return self._done().printed_total

    @property
    def warnings(self) -> list[str]:
        return self._done().warnings

    def _next(self) -> HeaderInfo | AccountBlock | ReadSummary | None:
        try:
            return next(self._stream, None)
        except ParseFailed as exc:
            raise refusal(exc, self._format) from None

    def blocks(self) -> Iterator[AccountBlock]:
        report, every = self._on_progress, self._progress_every
        rows_read = reported = 0
        while (block := self._next()) is not None:
            if isinstance(block, ReadSummary):
                self._summary = block
                continue
            assert isinstance(block, AccountBlock)
            rows_read += block.rows_read
            yield block
            if report is not None and rows_read - reported >= every:
                report(rows_read)
                reported = rows_read
        if report is not None and rows_read != reported:
            report(rows_read)

    def close(self) -> None:
        self._stream.close()  # a stream left early stops its child

    def __enter__(self) -> IsolatedReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_isolated(path: str | os.PathLike[str], extra_aliases: Mapping[str, Iterable[str]] | None = None,
                  on_progress: ProgressCallback | None = None, progress_every: int = 1000,
                  block_rows: int = DEFAULT_BLOCK_ROWS, mapping: Mapping[int, str | None] | None = None
                  ) -> IsolatedReader:
    return IsolatedReader(path, extra_aliases, on_progress, progress_every, block_rows, mapping)
