"""Form helpers: read fields, and turn a service's ValidationFailed into messages beside fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from arrears import validation
from arrears.errors import DomainError


@dataclass
class FormState:
    """What a form shows: the values as typed and the errors by field (`__all__` for the form)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, form: FormData, *names: str) -> FormState:
        return cls({n: str(form.get(n) or "") for n in names} if names else
                   {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"})

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def error(self, exc: DomainError, aliases: dict[str, str] | None = None) -> FormState:
        """Put the service's field errors beside the fields (renamed by `aliases`), and its
        message at the top when no field carries it."""
        aliases = aliases or {}
        if exc.field_errors:
            for name, messages in exc.field_errors.items():
                for m in messages:
                    self.add(aliases.get(name, name), str(m))
        else:
            self.add("__all__", exc.message)
        return self

    def get(self, name: str, default: str = "") -> Any:
        return self.values.get(name, default)

    @property
    def ok(self) -> bool:
        return not self.errors


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def many(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def pydantic_errors(exc: Any) -> dict[str, list[str]]:
    """A pydantic ValidationError as {field: [message]} under the names the form used (aliases);
    a blank required text reads as missing."""
    return validation.field_errors(exc.errors(), top_level=True, blank_is_missing=True)
