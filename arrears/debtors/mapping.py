"""Column mappings: which field each column of a spreadsheet's header fills, as the reader found it
or as a person confirmed it (an import profile), and the header's signature that keys a profile.

A mapping is {column index: field or None (ignore the column)}. The reader (issue 21's reader)
takes one as `mapping=` and exposes `.columns` (ColumnInfo: index, label, field, reason); until
then the columns come from `HeaderInfo` and a mapping is applied through the alias table (a
confirmed column wins its field; a column can then not be made ignored, and the preview says so).
Pure: runs in the parse child as well as in the server.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from arrears.debtors.errors import DebtorErrorCode
from arrears.debtors.reading import AgeAnalysisReader, ReadError, read_age_analysis
from arrears.debtors.reading.headers import (
    CANONICAL_FIELDS,
    FIELD_LABELS,
    MAX_BUCKET_DAYS,
    REQUIRED_FIELDS,
    bucket_days,
    bucket_field,
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
    """The header's columns as the reader understood them."""
    found = getattr(reader, "columns", None)
    if found:
        return [Column(int(c.index), str(c.label), c.field, str(c.reason)) for c in found]
    header = reader.header
    by_label: dict[str, str] = {}
    for target, label in header.mapping.items():
        by_label.setdefault(label, target)
    out = []
    for index, label in enumerate(header.found_headers):
        target = by_label.pop(label, None)
        if target is None:
            reason = "no field has this heading"
        elif header_key(label) == header_key(field_label(target)):
            reason = f"named {field_label(target)}"
        elif bucket_days(label) is not None and bucket_field(bucket_days(label) or 0) == target:
            reason = f"a {bucket_days(label)}-day ageing heading"
        else:
            reason = f"a known name for {field_label(target)}"
        out.append(Column(index, label, target, reason))
    return out


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
        if len(indexes) > 1 and not is_bucket(target):
            problems.append({"code": "duplicate_field", "field": target, "columns": indexes,
                             "message": f"Columns {' and '.join(str(i) for i in indexes)} both map to "
                                        f"{target}; map one of them."})
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


# ------------------------------------------------------------------ opening with a mapping


def reader_takes_mapping() -> bool:
    return "mapping" in inspect.signature(read_age_analysis).parameters


def _aliases_for(columns: list[Column], mapping: Mapping[int, str | None],
                 aliases: Mapping[str, list[str]] | None) -> dict[str, list[str]]:
    """A mapping as alias-table entries (a reader without `mapping=`): each confirmed column's
    heading becomes an organisation alias of its field, which beats every other alias."""
    labels = {c.index: c.label for c in columns}
    chosen: dict[str, list[str]] = {}
    for index, target in mapping.items():
        if target is not None and index in labels:
            chosen.setdefault(target, []).append(labels[index])
    kept = {k: list(v) for k, v in (aliases or {}).items() if k not in chosen}
    return kept | chosen


@dataclass
class Opened:
    reader: Any  # AgeAnalysisReader
    columns: list[Column]
    signature: str
    mapping: ColumnMapping | None  # what was laid over the header (the request's or the profile's)
    source: str | None  # "request" | "profile" | None
    warnings: list[str]


def open_mapped(path: str, aliases: Mapping[str, list[str]] | None, mapping: ColumnMapping | None,
                profiles: Mapping[str, Mapping[str, str | None]] | None) -> Opened:
    """The reader of `path` with `mapping` laid over its header, or else the saved profile whose
    signature matches the header's. Raises ReadError as read_age_analysis does."""
    reader = read_age_analysis(path, aliases)
    columns = columns_of(reader)
    sig = signature(c.label for c in columns)
    source = "request" if mapping is not None else None
    if mapping is None and profiles and sig in profiles:
        mapping, source = from_json(profiles[sig]), "profile"
    if mapping is None:
        return Opened(reader, columns, sig, None, None, [])
    if check_mapping(columns, mapping):
        if source == "profile":  # a profile this reader cannot apply any more: read by the headings
            return Opened(reader, columns, sig, None, None,
                          ["The mapping saved for these columns does not fit this file; it was read by its headings."])
        return Opened(reader, columns, sig, mapping, source, [])  # the caller reports the problems
    reader.close()
    warnings: list[str] = []
    if reader_takes_mapping():
        reader = read_age_analysis(path, aliases, mapping=mapping)  # type: ignore[call-arg]
    else:
        reader = read_age_analysis(path, _aliases_for(columns, mapping, aliases))
    wanted = effective(columns, mapping)
    now = {c.index: c.field for c in columns_of(reader)}
    why = "your saved mapping" if source == "profile" else "your mapping"
    out = []
    for c in columns:
        target = now.get(c.index)
        if c.index in mapping and target == wanted[c.index]:
            out.append(Column(c.index, c.label, target, why))
        else:
            out.append(Column(c.index, c.label, target, c.reason if target == c.field else "the header"))
        if target != wanted[c.index]:
            warnings.append(f"Column {c.index} ('{c.label}') is read as {target or 'nothing'}, not as "
                            f"{wanted[c.index] or 'ignored'}: this reader cannot apply that part of the mapping.")
    return Opened(reader, out, sig, mapping, source, warnings)


def mapping_refused(opened: Opened) -> ReadError | None:
    """The ReadError of a requested mapping the file cannot take (the import's last word on it)."""
    problems = check_mapping(opened.columns, opened.mapping) if opened.mapping is not None else []
    if not problems:
        return None
    return ReadError(DebtorErrorCode.INVALID_MAPPING,
                     "The column mapping does not fit this file: " + " ".join(p["message"] for p in problems),
                     {"problems": problems})
