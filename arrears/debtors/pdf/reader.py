"""PDF bytes to positioned words and lines, through PDFium's character boxes.

Speed is the point here (uploads are answered synchronously). PDFium already turns gaps
between glyphs into generated spaces and line breaks in the page text, so the page text is
read once, split on whitespace, and only the first and last character of each word are
asked for their boxes: about two box calls per word instead of one per character. A word
whose two ends do not fit its length (a gap PDFium did not mark, or glyphs out of order) is
split again character by character, by the gaps between their boxes.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator

import pypdfium2 as pdfium
import pypdfium2.raw as raw
from pypdfium2 import PdfiumError

from arrears.debtors.pdf.errors import BROKEN_PDF, ENCRYPTED_PDF, TOO_MANY_PAGES, PdfReadError, not_a_pdf
from arrears.sandbox.limits import get_parse_limits

_TOKEN = re.compile(r"\S+")
# Character gap (in line heights) that separates words when splitting one character at a time.
_CHAR_GAP = 0.2
# Fonts without ascent/descent metrics (Type 3) give flat loose boxes; the font size stands in.
_MIN_HEIGHT = 0.5


def _font_height(textpage: raw.FPDF_TEXTPAGE, index: int) -> float:
    return max(float(raw.FPDFText_GetFontSize(textpage, index)), 1.0)


class Word:
    """A run of glyphs without a gap. Coordinates in PDF points, y grows upwards."""

    __slots__ = ("text", "x0", "x1", "bottom", "top")

    def __init__(self, text: str, x0: float, x1: float, bottom: float, top: float) -> None:
        self.text, self.x0, self.x1, self.bottom, self.top = text, x0, x1, bottom, top

    def __repr__(self) -> str:
        return f"Word({self.text!r}, {self.x0:.1f}-{self.x1:.1f}, {self.bottom:.1f}/{self.top:.1f})"


class Line:
    """Words sharing a baseline, left to right."""

    __slots__ = ("words", "bottom", "top", "height")

    def __init__(self, words: list[Word], bottom: float, top: float, height: float) -> None:
        words.sort(key=_x0)
        self.words, self.bottom, self.top, self.height = words, bottom, top, height

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


# PDFium is not thread-safe, not even across different documents, and uploads may be read from a
# thread pool: every PDFium call of this package runs under this lock. It is held per page, so
# two uploads interleave page by page while the Python side of each works unlocked.
PDFIUM_LOCK = threading.RLock()


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    """Call with PDFIUM_LOCK held."""
    # PDF readers accept the header anywhere in the first kilobyte; so do we.
    if data.find(b"%PDF-", 0, 1024) < 0:
        raise not_a_pdf(data)
    try:
        return pdfium.PdfDocument(data)
    except PdfiumError as exc:
        if exc.err_code in (raw.FPDF_ERR_PASSWORD, raw.FPDF_ERR_SECURITY):
            raise PdfReadError(ENCRYPTED_PDF) from exc
        raise PdfReadError(BROKEN_PDF) from exc


class PdfWords:
    """An open PDF whose pages are read one at a time: iterate for each page's words, then close."""

    def __init__(self, data: bytes) -> None:
        with PDFIUM_LOCK:
            self._pdf = open_pdf(data)
            self.pages = len(self._pdf)
            limit = get_parse_limits().max_pdf_pages
            if self.pages > limit:  # before any page is loaded: a page tree can repeat one page
                self._pdf.close()
                raise PdfReadError(TOO_MANY_PAGES, f"The PDF has {self.pages:,} pages, more than the {limit:,} "
                                                   "allowed (ARREARS_PARSE_MAX_PDF_PAGES). Upload the report "
                                                   "in parts.")
        self._reader = _WordReader()

    def __enter__(self) -> PdfWords:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with PDFIUM_LOCK:
            self._pdf.close()

    def __iter__(self) -> Iterator[list[Word]]:
        for index in range(self.pages):
            with PDFIUM_LOCK:
                words = self._page_words(index)
            yield words

    def _page_words(self, index: int) -> list[Word]:
        page = raw.FPDF_LoadPage(self._pdf.raw, index)
        if not page:
            raise PdfReadError(BROKEN_PDF, f"Page {index + 1} of the PDF is damaged and cannot be read. "
                                           "Export or download the report again and upload the new file.")
        try:
            textpage = raw.FPDFText_LoadPage(page)
            if not textpage:
                raise PdfReadError(BROKEN_PDF, f"The text of page {index + 1} cannot be read. "
                                               "Export or download the report again and upload the new file.")
            try:
                return self._reader.words(textpage)
            finally:
                raw.FPDFText_ClosePage(textpage)
        finally:
            raw.FPDF_ClosePage(page)


def _x0(w: Word) -> float:
    return w.x0


def _centre2(w: Word) -> float:
    return -(w.bottom + w.top)


def group_lines(words: list[Word]) -> list[Line]:
    """Words into lines by their vertical centre, top of the page first."""
    words = sorted(words, key=_centre2)
    lines: list[Line] = []
    current: list[Word] = []
    anchor = bottom = top = height = 0.0
    for w in words:
        h = w.top - w.bottom
        centre2 = w.bottom + w.top  # twice the centre: no division per word
        if current and anchor - centre2 > 0.8 * h:
            lines.append(Line(current, bottom, top, height))
            current = []
        if current:
            bottom = w.bottom if w.bottom < bottom else bottom
            top = w.top if w.top > top else top
            height = h if h > height else height
        else:
            anchor, bottom, top, height = centre2, w.bottom, w.top, h
        current.append(w)
    if current:
        lines.append(Line(current, bottom, top, height))
    return lines


class _WordReader:
    """Holds one reusable rectangle so that no ctypes objects are created per word."""

    def __init__(self) -> None:
        self.rect = raw.FS_RECTF()
        self.ref = ctypes.byref(self.rect)

    def page_text(self, textpage: raw.FPDF_TEXTPAGE, count: int) -> str:
        buf = (ctypes.c_ushort * (count + 1))()
        written = raw.FPDFText_GetText(textpage, 0, count, buf)
        text = bytes(buf)[: 2 * max(written - 1, 0)].decode("utf-16-le", "replace")
        if len(text) == count and self._in_step(textpage, text):
            return text
        # Text and character list disagree (characters outside the BMP, dropped glyphs):
        # rebuild the text one character at a time so that indexes match again.
        return "".join(chr(raw.FPDFText_GetUnicode(textpage, i) or 32) for i in range(count))

    @staticmethod
    def _in_step(textpage: raw.FPDF_TEXTPAGE, text: str) -> bool:
        for i in (0, len(text) // 2, len(text) - 1):
            if not text[i].isspace() and raw.FPDFText_GetUnicode(textpage, i) != ord(text[i]):
                return False
        return True

    def words(self, textpage: raw.FPDF_TEXTPAGE) -> list[Word]:
        count = raw.FPDFText_CountChars(textpage)
        if count <= 0:
            return []
        text = self.page_text(textpage, count)
        box, rect = raw.FPDFText_GetLooseCharBox, self.rect
        ref = self.ref
        words: list[Word] = []
        append = words.append
        for m in _TOKEN.finditer(text):
            start, end = m.span()
            box(textpage, start, ref)
            x0, bottom, top = rect.left, rect.bottom, rect.top
            if top - bottom < _MIN_HEIGHT:
                top = bottom + _font_height(textpage, start)
            if end - start > 1:
                box(textpage, end - 1, ref)
                height = top - bottom
                if (rect.right < x0 or rect.right - x0 > (end - start) * height
                        or abs(rect.bottom - bottom) > 0.5 * height):
                    words.extend(self._split(textpage, text, start, end))
                    continue
            append(Word(m.group(), x0, rect.right, bottom, top))
        return words

    def _split(self, textpage: raw.FPDF_TEXTPAGE, text: str, start: int, end: int) -> list[Word]:
        """One character at a time: a new word where the gap to the previous glyph is wide, or the line changes."""
        box, rect, ref = raw.FPDFText_GetLooseCharBox, self.rect, self.ref
        out: list[Word] = []
        cur: Word | None = None
        for i in range(start, end):
            if text[i].isspace():
                cur = None
                continue
            box(textpage, i, ref)
            left, right, bottom, top = rect.left, rect.right, rect.bottom, rect.top
            if right - left <= 0 and top - bottom <= 0:
                continue  # a glyph without a box carries no position
            if top - bottom < _MIN_HEIGHT:
                top = bottom + _font_height(textpage, i)
            height = top - bottom
            if cur is not None and (left - cur.x1 > _CHAR_GAP * height or left < cur.x0
                                    or abs(bottom - cur.bottom) > 0.5 * height):
                cur = None
            if cur is None:
                cur = Word(text[i], left, right, bottom, top)
                out.append(cur)
            else:
                cur.text += text[i]
                cur.x1 = max(cur.x1, right)
                cur.bottom, cur.top = min(cur.bottom, bottom), max(cur.top, top)
        return out
