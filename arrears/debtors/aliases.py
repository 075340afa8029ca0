"""The organisation's own header names (its `column_aliases` setting), and the error of an import
that cannot succeed: shared by the import job and the preview, neither importing the other."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from arrears.debtors.errors import DebtorErrorCode
from arrears.debtors.reading import AliasTable

ALIASES_SETTING = "column_aliases"


class ImportFailed(Exception):
    """An import that cannot succeed (bad file); the report is marked failed."""

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})



def org_aliases(value: Any) -> dict[str, list[str]] | None:
    """The organisation's `column_aliases` setting: JSON text or a mapping, field -> header(s)."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ImportFailed(DebtorErrorCode.INVALID_SETTINGS, "The organisation setting column_aliases is not "
                               'valid JSON (expected {"telephone": ["Sel Nr"]}).') from exc
    if not isinstance(value, Mapping):
        raise ImportFailed(DebtorErrorCode.INVALID_SETTINGS, "The organisation setting column_aliases must map "
                           'fields to header names, e.g. {"telephone": ["Sel Nr"]}.')
    aliases = {str(k): ([v] if isinstance(v, str) else [str(x) for x in v]) for k, v in value.items()}
    try:
        AliasTable(aliases)
    except ValueError as exc:
        raise ImportFailed(DebtorErrorCode.INVALID_SETTINGS, f"The organisation setting column_aliases is wrong: {exc}.") from exc
    return aliases


__all__ = ["ALIASES_SETTING", "ImportFailed", "org_aliases"]
