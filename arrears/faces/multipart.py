"""The one reader of multipart uploads, for every upload route: the body is streamed, the part
named `file` (with a filename) goes to the route's sink chunk by chunk as it arrives, the small
text fields beside it are kept (each at most MAX_FIELD bytes; `fields=` narrows them to the names a
route reads), and every other part is skipped without being kept. Nothing is buffered whole here; the sink decides where
the bytes go (disk for spreadsheets, memory for PDFs and CSVs) and refuses past its limit.

Each face says what went wrong in its own words: this module raises `UploadProblem` with a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Generic, Protocol, TypeVar

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_PARTS = 32  # a form with a file and a few fields; more is not an upload
MAX_PART_HEADERS = 16 * 1024  # the headers of one part, in bytes
MAX_FIELD = 64 * 1024  # a text field beside the file (a date, a flag, a JSON mapping), in bytes


class Sink(Protocol):
    def write(self, chunk: bytes) -> None: ...

    def discard(self) -> None: ...


S = TypeVar("S", bound=Sink)


class UploadProblem(Exception):
    NOT_MULTIPART = "not_multipart"  # another content type (or no boundary)
    MALFORMED = "malformed"  # the body is not valid multipart
    NO_FILE = "no_file"  # no part named `file` with a filename

    def __init__(self, kind: str, message: str, values: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.values = values or {}  # the text fields read (NO_FILE: the whole form's)


class MemorySink:
    """The file's bytes in memory, refused with `too_large()` once they pass `limit`."""

    def __init__(self, limit: int | None = None, too_large: Callable[[], Exception] | None = None) -> None:
        self.limit = limit
        self.too_large = too_large
        self.size = 0
        self._chunks: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            self._chunks.clear()
            raise self.too_large() if self.too_large else ValueError("file too large")
        self._chunks.append(chunk)

    def discard(self) -> None:
        self._chunks.clear()

    @property
    def data(self) -> bytes:
        return b"".join(self._chunks)


class _Parts(Generic[S]):
    """python-multipart's callbacks: which part is being read, and where its bytes go."""

    def __init__(self, field: str, sink_for: Callable[[str], S], fields: Collection[str] = ()) -> None:
        self.field, self.sink_for = field, sink_for
        self.wanted = frozenset(fields)  # empty: every text field
        self.header_field = b""
        self.header_value = b""
        self.header_bytes = 0
        self.headers: dict[str, bytes] = {}
        self.parts = 0
        self.sink: S | None = None  # the file's sink, once its part began
        self.filename = ""
        self.current: S | None = None
        self.done = False
        # Text fields (parts without a file name), kept up to MAX_FIELD bytes each.
        self.fields: dict[str, str] = {}
        self._field: str | None = None
        self._value = bytearray()

    def callbacks(self) -> Any:  # python-multipart's MultipartCallbacks
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end}

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadProblem(UploadProblem.MALFORMED, f"More than {MAX_PARTS} parts in the form")
        self.headers, self.header_bytes = {}, 0

    def _count(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > MAX_PART_HEADERS:
            raise UploadProblem(UploadProblem.MALFORMED, "A part's headers are too long")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.decode("latin-1").lower()] = self.header_value
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self.current = None
        if name == self.field and self.sink is None and b"filename" in options:
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.sink = self.current = self.sink_for(self.filename)
        elif (b"filename" not in options and name and name != self.field and name not in self.fields
              and (not self.wanted or name in self.wanted)):
            self._field, self._value = name, bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is not None:
            self.current.write(data[start:end])
        elif self._field is not None:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD:
                raise UploadProblem(UploadProblem.MALFORMED, f"The field {self._field!r} is longer than {MAX_FIELD} bytes")

    def on_part_end(self) -> None:
        if self.current is not None:
            self.done = True
        elif self._field is not None:
            self.fields[self._field] = self._value.decode("utf-8", "replace")
        self.current, self._field = None, None


async def receive_file(request: Request, sink_for: Callable[[str], S], *, field: str = "file"
                       ) -> tuple[str, S]:
    """(filename, sink) of the body's `field` part, streamed into `sink_for(filename)`. The sink is
    discarded when anything fails; a limit the sink raises passes through as it was raised."""
    filename, sink, _ = await receive_form(request, sink_for, field=field)
    return filename, sink


async def receive_form(request: Request, sink_for: Callable[[str], S], *, field: str = "file",
                       fields: Collection[str] = ()) -> tuple[str, S, dict[str, str]]:
    """receive_file, and the text fields sent beside the file, whichever side of it they come
    (name → value; the first of a name wins; only those in `fields` when it names any)."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadProblem(UploadProblem.NOT_MULTIPART, "The body is not multipart/form-data")
    parts: _Parts[S] = _Parts(field, sink_for, fields)
    try:
        parser = MultipartParser(boundary, parts.callbacks())  # refuses an absurd boundary
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:  # MultipartParseError, or a boundary past 256 bytes
        if parts.sink is not None:
            parts.sink.discard()
        raise UploadProblem(UploadProblem.MALFORMED, str(exc) or "Malformed multipart body") from None
    except BaseException:
        if parts.sink is not None:
            parts.sink.discard()
        raise
    if not parts.done or parts.sink is None:
        if parts.sink is not None:
            parts.sink.discard()
        raise UploadProblem(UploadProblem.NO_FILE, f"No part named {field!r} with a file", parts.fields)
    return parts.filename, parts.sink, parts.fields
