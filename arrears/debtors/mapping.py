"""Column mappings: which field each column of a spreadsheet's header fills, as the reader found it
or as a person confirmed it (an import profile), and the header's signature that keys a profile.

A mapping is {column index: field or None (ignore the column)}, indexes being the file's own
columns (blank ones counted). The reader takes one as `mapping=` and exposes `.columns`
(ColumnInfo: index, label, field, reason). A saved profile is looked up here, by the signature of
the header as its headings read it, before the reader is opened with the profile's mapping.
Pure: runs in the parse child as well as in the server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from arrears.debtors.reading import MISSING_COLUMNS, AgeAnalysisReader, ReadError, read_age_analysis
from arrears.debtors.reading.headers import (
    CANONICAL_FIELDS,
    FIELD_LABELS,
    MAX_BUCKET_DAYS,
    REQUIRED_FIELDS,
    header_key,
)

ColumnMapping = dict[int, str | None]
BUCKET_TARGETS = ("current", "d30", "d60", "d90", "d120")
EXTRA_BUCKETS = tuple(f"d{days}" for days in range(150, MAX_BUCKET_DAYS + 1, 30))
FIELDS: tuple[str, ...] = (*CANONICAL_FIELDS, *EXTRA_BUCKETS)
MAX_MAPPING_TEXT = 64 * 1024  # the form field's JSON, in characters


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the header: where it is, what it says, the field it fills and why."""

    index: int
    label: str
    field: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "field": self.field, "reason": self.reason}


def field_label(field: str) -> str:
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    return f"{field[1:]} Days" if field in EXTRA_BUCKETS else field


def is_bucket(field: str) -> bool:
    return field in BUCKET_TARGETS or field in EXTRA_BUCKETS


def signature(labels: Iterable[str]) -> str:
    """A stable hash of the header's normalised labels (case, spacing and punctuation aside), in
    column order: the same layout exported again has the same signature."""
    keys = [header_key(label) for label in labels]
    return hashlib.sha256("\x1f".join(k for k in keys if k).encode()).hexdigest()


def columns_of(reader: AgeAnalysisReader | Any) -> list[Column]:
    """The header's columns as the reader understood them (its real column indexes)."""
    return [Column(int(c.index), str(c.label), c.field, str(c.reason)) for c in reader.columns]


# ------------------------------------------------------------------ checking a mapping


def parse_mapping(text: str | None) -> tuple[ColumnMapping | None, list[str]]:
    """The `mapping` form field (JSON {"0": "account", "3": null}) -> (mapping, problems)."""
    if text is None or not text.strip():
        return None, []
    if len(text) > MAX_MAPPING_TEXT:
        return None, ["The mapping is too long."]
    try:
        raw = json.loads(text)
    except ValueError:
        return None, ['The mapping must be JSON: {"column index": "field" or null}.']
    if not isinstance(raw, dict):
        return None, ['The mapping must be a JSON object: {"column index": "field" or null}.']
    mapping: ColumnMapping = {}
    problems: list[str] = []
    for key, value in raw.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            problems.append(f"Column {key!r} is not a column index (0, 1, 2 ...).")
            continue
        if value is not None and not isinstance(value, str):
            problems.append(f"Column {index}: the field must be a field name or null.")
            continue
        mapping[index] = value or None
    return mapping, problems


def check_mapping(columns: list[Column], mapping: Mapping[int, str | None]) -> list[dict[str, Any]]:
    """Every problem of `mapping` against the file's columns, each named: an unknown field, a
    column not in the file, two columns on one field that is not a bucket, a required field left
    unmapped. The columns the mapping leaves out keep the field the header gave them."""
    problems: list[dict[str, Any]] = []
    known = {c.index for c in columns}
    for index, target in sorted(mapping.items()):
        if index not in known:
            problems.append({"code": "unknown_column", "column": index,
                             "message": f"Column {index} is not in the file (its columns are "
                                        f"{', '.join(str(i) for i in sorted(known))})."})
        if target is not None and target not in FIELDS:
            problems.append({"code": "unknown_field", "column": index, "field": target,
                             "message": f"Column {index}: {target!r} is not a field; use one of "
                                        f"{', '.join(FIELDS[:10])}, d150 ... d{MAX_BUCKET_DAYS}, or null."})
    result = effective(columns, mapping)
    by_field: dict[str, list[int]] = {}
    for index, target in sorted(result.items()):
        if target is not None and target in FIELDS:
            by_field.setdefault(target, []).append(index)
    for target, indexes in by_field.items():
        # The reader reads one column per field, a bucket too: a second one would be dropped unsaid.
        if len(indexes) > 1:
            also = " (a bucket is read from one column: map the other to another bucket)" if is_bucket(target) else ""
            problems.append({"code": "duplicate_field", "field": target, "columns": indexes,
                             "message": f"Columns {' and '.join(str(i) for i in indexes)} both map to "
                                        f"{target}; map one of them{also}."})
    for target in REQUIRED_FIELDS:
        if target not in by_field:
            problems.append({"code": "missing_field", "field": target,
                             "message": f"The required field {target} ({field_label(target)}) is not mapped "
                                        "to any column."})
    return problems


def effective(columns: list[Column], mapping: Mapping[int, str | None]) -> ColumnMapping:
    """Every column's field once `mapping` is laid over the header's own."""
    return {c.index: mapping[c.index] if c.index in mapping else c.field for c in columns}


def as_json(mapping: Mapping[int, str | None]) -> dict[str, str | None]:
    return {str(k): v for k, v in sorted(mapping.items())}


def from_json(stored: Mapping[str, str | None]) -> ColumnMapping:
    return {int(k): v for k, v in stored.items()}


# ------------------------------------------------------------------ the header, and the mapping laid over it


@dataclass
class Layout:
    """The file's header as its headings read it: every column, the signature, the required fields
    no heading names (the reader refused the file for them; a mapping can still name their columns)."""

    columns: list[Column]
    signature: str
    missing: list[str]
    reader: AgeAnalysisReader | None  # open, when the headings alone make a complete header
    sheet_name: str
    header_rows: list[int]


def read_layout(path: str, aliases: Mapping[str, list[str]] | None) -> Layout:
    """Runs in the parse child. Raises ReadError as read_age_analysis does, except for missing
    columns: then the columns of the row that came closest are listed, with the fields missing."""
    try:
        reader = read_age_analysis(path, aliases)
    except ReadError as exc:
        found = (exc.details or {}).get("columns") if exc.code == MISSING_COLUMNS else None
        if found is None:
            raise
        columns = [Column(int(c["index"]), str(c["label"]), c["field"], str(c["reason"])) for c in found]
        named = {c.field for c in columns}
        details = exc.details or {}
        return Layout(columns, signature(c.label for c in columns), [f for f in REQUIRED_FIELDS if f not in named],
                      None, str(details.get("sheet", "")), [int(details["row"])] if "row" in details else [])
    columns = columns_of(reader)
    return Layout(columns, signature(c.label for c in columns), [], reader, reader.sheet_name,
                  list(reader.header_rows))


@dataclass
class Choice:
    """The mapping to open the reader with: the request's, the saved profile's, or none."""

    mapping: ColumnMapping | None
    source: str | None  # "request" | "profile" | None
    problems: list[dict[str, Any]]  # a requested mapping's, each named
    warnings: list[str]


PROFILE_UNFIT = "The mapping saved for these columns does not fit this file; it was read by its headings."


def choose(layout: Layout, mapping: ColumnMapping | None,
           profiles: Mapping[str, Mapping[str, str | None]] | None) -> Choice:
    """The request's mapping (checked against the file's columns), or else the saved profile of
    the header's signature when it still fits (a profile that does not is left aside, said)."""
    if mapping is not None:
        return Choice(mapping, "request", check_mapping(layout.columns, mapping), [])
    saved = (profiles or {}).get(layout.signature)
    if saved is None:
        return Choice(None, None, [], [])
    candidate = from_json(saved)
    if check_mapping(layout.columns, candidate):
        return Choice(None, None, [], [PROFILE_UNFIT])
    return Choice(candidate, "profile", [], [])


def saved_mapping(path: str, aliases: Mapping[str, list[str]] | None,
                  profiles: Mapping[str, Mapping[str, str | None]]) -> tuple[ColumnMapping | None, list[str]]:
    """Runs in the parse child, before the import opens its reader: the saved profile's mapping for
    this file's header, if one fits, and what was said about it."""
    layout = read_layout(path, aliases)
    if layout.reader is not None:
        layout.reader.close()
    choice = choose(layout, None, profiles)
    return choice.mapping, choice.warnings
