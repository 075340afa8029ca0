"""A column mapping for a PDF report: the header's columns as the reader read them, indexed left to
right from 0 (the PDF preview's `columns`), and the fields a person says they hold instead.

The fields carry the spreadsheet mapping's names where the two mean the same (account, name,
telephone, current … d120, total_balance), plus the PDF's own: email, d150, d180 and account_name
(one column holding the account and the name, "100234  DOE J MR"); null ignores a column. The
mapping is checked against the report's first header and then laid over every page's header.
Pure: runs in the parse child with the extractor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from arrears.debtors.pdf.header import ACC, ACC_NAME, BALANCE, EMAIL, NAME, OTHER, PHONE, Column
from arrears.debtors.pdf.model import BUCKETS

# field (the mapping's word) -> column kind (the extractor's)
KIND_OF: dict[str, str] = {"account": ACC, "account_name": ACC_NAME, "name": NAME, "telephone": PHONE,
                           "email": EMAIL, **{b: b for b in BUCKETS}, "total_balance": BALANCE}
FIELD_OF: dict[str, str] = {kind: name for name, kind in KIND_OF.items()}
FIELDS: tuple[str, ...] = tuple(KIND_OF)
LABELS: dict[str, str] = {"account": "Account", "account_name": "Account and name", "name": "Name",
                          "telephone": "Telephone", "email": "E-mail", "current": "Current",
                          **{b: f"{b[1:]} Days" for b in BUCKETS[1:]}, "total_balance": "Balance"}

PdfMapping = Mapping[int, str | None]


def field_label(field: str) -> str:
    return LABELS.get(field, field)


def field_of(column: Column) -> str | None:
    return FIELD_OF.get(column.kind)


def check(columns: Sequence[Column], mapping: PdfMapping) -> list[dict[str, Any]]:
    """Every problem of `mapping` against the header's columns, each named: a column not in the
    header, an unknown field, two columns on one field, no account column or no amount column left.
    Columns the mapping leaves out keep what the header said."""
    problems: list[dict[str, Any]] = []
    for index, target in sorted(mapping.items()):
        if not 0 <= index < len(columns):
            problems.append({"code": "unknown_column", "column": index,
                             "message": f"Column {index} is not in the report's header (its columns are 0 to "
                                        f"{len(columns) - 1})."})
        if target is not None and target not in KIND_OF:
            problems.append({"code": "unknown_field", "column": index, "field": target,
                             "message": f"Column {index}: {target!r} is not a field; use one of "
                                        f"{', '.join(FIELDS)}, or null."})
    fields = effective(columns, mapping)
    by_field: dict[str, list[int]] = {}
    for index, target in enumerate(fields):
        if target is not None:
            by_field.setdefault(target, []).append(index)
    for target, indexes in by_field.items():
        # A line's words under two columns of one field would be one cell read twice or dropped.
        if len(indexes) > 1:
            problems.append({"code": "duplicate_field", "field": target, "columns": indexes,
                             "message": f"Columns {' and '.join(str(i) for i in indexes)} both map to {target}; "
                                        "map one of them."})
    if "account" not in by_field and "account_name" not in by_field:
        problems.append({"code": "missing_field", "field": "account",
                         "message": "The required field account (or account_name) is not mapped to any column."})
    if not any(b in by_field for b in BUCKETS):
        problems.append({"code": "missing_field", "field": "current",
                         "message": "No ageing bucket (current, d30 … d180) is mapped to any column."})
    return problems


def effective(columns: Sequence[Column], mapping: PdfMapping) -> list[str | None]:
    """Each column's field once `mapping` is laid over the header's own (unknown fields aside)."""
    out: list[str | None] = []
    for index, column in enumerate(columns):
        target = mapping[index] if index in mapping else field_of(column)
        out.append(target if target in KIND_OF else None)  # an unknown field is its own problem
    return out


def apply(columns: list[Column], mapping: PdfMapping) -> list[Column]:
    """The header's columns with the mapped ones re-labelled (a mapping checked on the first
    header; a later page's header with fewer columns takes the indexes it has)."""
    out = []
    for index, column in enumerate(columns):
        if index in mapping:
            target = mapping[index]
            kind = KIND_OF.get(target, column.kind) if target is not None else OTHER
            column = Column(kind, column.label, column.x0, column.x1)
        out.append(column)
    return out


def describe(read: Sequence[Column], mapping: PdfMapping | None) -> list[dict[str, Any]]:
    """The header's columns for a preview or an answer: index, label, field, the field the header
    alone gives (`read`), and why."""
    fields = effective(read, mapping or {})
    out = []
    for index, (column, target) in enumerate(zip(read, fields, strict=True)):
        if mapping and index in mapping:
            reason = "your mapping"
        elif target is None:
            reason = "not a column we read"
        else:
            reason = f"the header says {column.label!r}"
        out.append({"index": index, "label": column.label, "field": target, "read": field_of(column),
                    "reason": reason})
    return out
