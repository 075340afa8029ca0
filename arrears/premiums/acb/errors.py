"""The error raised for bad ACB records, files and bank answers."""

from __future__ import annotations

from arrears.errors import ValidationFailed
from arrears.premiums.errors import PremiumErrorCode


class AcbFormatError(ValidationFailed, ValueError):
    """A record, file or value that does not fit the ACB layout.

    ``line`` is the 1-based line number in the file being parsed (None when writing), ``field``
    the layout field concerned, when there is one.
    """

    code = PremiumErrorCode.ACB_FORMAT_ERROR

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field}")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full, details={"line": line, "field": field} if where else None)
        self.line = line
        self.field = field
        self.reason = message
