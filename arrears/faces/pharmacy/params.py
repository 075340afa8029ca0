"""The pharmacy face's query strings and JSON bodies read into the domain's typed arguments:
filters, buckets, debtor ids and the page. Every bad value is a 400 "<field>: <what is wrong>"."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from arrears.errors import ValidationFailed
from arrears.paging import PageRequest
from arrears.pharmacy.debtors import MAX_SEARCH, MONEY_LIMIT, PAGES, SELECTABLE, DebtorFilter


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", field_errors={field: [message]})


def parse_bool(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise _bad(field, f"must be true or false, not {value!r}")


def parse_amount(value: Any, field: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _bad(field, "must be a number")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _bad(field, f"must be a number, not {value!r}") from None
    if not amount.is_finite():
        raise _bad(field, f"must be a number, not {value!r}")
    if amount < 0 or amount >= MONEY_LIMIT:
        raise _bad(field, f"must be between 0 and 999999999999.99, not {value}")
    return amount


def parse_buckets(value: Any, field: str = "ageing_buckets") -> tuple[str, ...] | None:
    """`"d60,d90"` or `["d60", "d90"]` → ("d60", "d90") in the spec's order; None when not given."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise _bad(field, f"must name buckets ({', '.join(SELECTABLE)}), not {part!r}")
        name = part.strip().lower()
        if not name:
            continue
        if name not in SELECTABLE:
            raise _bad(field, f"unknown bucket {part.strip()!r}; use any of {', '.join(SELECTABLE)}")
        names.append(name)
    if not names:
        if isinstance(value, str):
            return None  # "?ageing_buckets=" is the same as leaving it out
        raise _bad(field, f"must name at least one of {', '.join(SELECTABLE)}")
    return tuple(b for b in SELECTABLE if b in names)


def parse_ids(value: Any, *, required: bool, field: str = "debtor_ids", limit: int = 10_000
              ) -> tuple[int, ...] | None:
    """Debtor ids as given (repeats dropped, order kept)."""
    if value is None:
        if required:
            raise _bad(field, "is required")
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _bad(field, "must be a list of debtor ids")
    ids: dict[int, None] = {}
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise _bad(field, f"must be a list of integer debtor ids, not {item!r}")
        if not -(2**63) <= item < 2**63:
            raise _bad(field, "must be a list of 64-bit integer debtor ids")
        if 0 < item < 2**31:  # ids past the id column's range name no debtor (PostgreSQL would refuse them)
            ids[item] = None
    if required and not ids:
        raise _bad(field, "must name at least one debtor")
    if len(ids) > limit:
        raise _bad(field, f"must name at most {limit} debtors")
    return tuple(ids)


def debtor_filter(*, min_balance: Any = None, ageing_buckets: Any = None, has_email: Any = None,
                  has_phone: Any = None, search: Any = None, exclude_medical_aid: Any = None,
                  debtor_ids: Any = None) -> DebtorFilter:
    """The list's (or a download's) filter from the values as given."""
    text = str(search).strip() if search is not None else ""
    if len(text) > MAX_SEARCH:
        raise _bad("search", f"must be at most {MAX_SEARCH} characters")
    exclude = parse_bool(exclude_medical_aid, "exclude_medical_aid")
    return DebtorFilter(min_balance=parse_amount(min_balance, "min_balance"),
                        ageing_buckets=parse_buckets(ageing_buckets),
                        has_email=parse_bool(has_email, "has_email"), has_phone=parse_bool(has_phone, "has_phone"),
                        search=text or None, exclude_medical_aid=True if exclude is None else exclude,
                        debtor_ids=parse_ids(debtor_ids, required=False))


def page_request(page: str | None = None, per_page: str | None = None) -> PageRequest:
    """`page` ≥ 1 and `per_page` 1–1000 (default 100), by the core's paging."""
    return PAGES.check(page, per_page)
