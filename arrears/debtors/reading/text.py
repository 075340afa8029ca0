"""Delimited text: is it text, which encoding, which delimiter."""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections import Counter
from pathlib import Path

# The candidates and marks every CSV import uses; this module keeps its own streaming checks.
from arrears.csvfiles import DELIMITERS, UTF8_BOM, UTF16_BOMS

_CHUNK = 1024 * 1024
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1a")  # \x1a: DOS end-of-file marker some exports append


def looks_like_text(sample: bytes) -> bool:
    """True when `sample` (the start of a file) reads as human text in a supported encoding."""
    if sample.startswith(UTF16_BOMS):
        text = sample.decode("utf-16", errors="replace")
    elif b"\x00" in sample:
        return False
    else:
        try:
            # The sample may end inside a multi-byte character: decode it as a stream prefix.
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
        except UnicodeDecodeError:
            try:
                text = sample.decode("cp1252")
            except UnicodeDecodeError:
                return False
    controls = sum(1 for ch in text if ch < " " and ch not in _ALLOWED_CONTROLS or ch == "\x7f")
    return controls <= len(text) // 100


def detect_encoding(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Return (encoding, errors) to open the text file with.

    UTF-8 (with or without a BOM) when every byte of the file is valid UTF-8, UTF-16 when it
    starts with a UTF-16 BOM (Excel's "Unicode text"), else Windows-1252, the encoding of
    South African Excel on Windows. The check reads the file in chunks, never all at once.
    """
    with Path(path).open("rb") as fh:
        head = fh.read(4)
        if head.startswith(UTF16_BOMS):
            return "utf-16", "replace"
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = fh.read(_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252", "replace"
    return ("utf-8-sig" if head.startswith(UTF8_BOM) else "utf-8"), "strict"


def rank_delimiters(sample: str, max_records: int = 50) -> list[str]:
    """Candidate delimiters, most likely first.

    A delimiter scores by how many records split into the same number (>1) of fields; title
    rows above the header split into fewer and do not count. Ties go to more fields (a
    semicolon file with decimal commas also splits evenly on commas, into fewer fields).
    """
    # Drop a probably-partial last line so it cannot skew the field counts.
    cut = sample.rfind("\n")
    if cut > 0:
        sample = sample[:cut]
    scores: dict[str, tuple[int, int]] = {}
    for delimiter in DELIMITERS:
        counts: Counter[int] = Counter()
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        try:
            for index, record in enumerate(reader):
                if index >= max_records:
                    break
                if len(record) > 1:
                    counts[len(record)] += 1
        except csv.Error:
            pass
        if counts:
            width, agreeing = max(counts.items(), key=lambda item: (item[1], item[0]))
            scores[delimiter] = (agreeing, width)
        else:
            scores[delimiter] = (0, 0)
    return sorted(DELIMITERS, key=lambda d: scores[d], reverse=True)
