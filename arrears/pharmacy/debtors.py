"""The pharmacy face's debtors: the book's accounts of a pharmacy that its newest report lists
(settled ones are kept for their history but not listed), with the spec's filters.

The book keeps `d120` as 120 days and older (the AAMA's 120+ bracket) with `d150`/`d180` split
out beside it; the pharmacy's `d120` is the 120-day bucket alone, so it is `d120 - d150 - d180`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.debtors.models import DebtorAccount
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller

A = DebtorAccount
BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
ARREARS_BUCKETS = ("d60", "d90", "d120", "d150", "d180")  # "60+ day arrears", the default for amounts
# The spec lists `balance` beside the buckets: naming it means the whole balance.
SELECTABLE = (*BUCKETS, "balance")
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
MAX_SEARCH = 200
ZERO = Decimal("0.00")
# The largest amount a money column holds (Numeric(14, 2)); beyond it a filter is out of range.
MONEY_LIMIT = Decimal("1000000000000")

# Each bucket as SQL over the book's columns.
BUCKET_SQL: dict[str, Any] = {
    "current": A.current, "d30": A.d30, "d60": A.d60, "d90": A.d90,
    "d120": A.d120 - A.d150 - A.d180, "d150": A.d150, "d180": A.d180, "balance": A.total_balance,
}


def amount_sql(buckets: tuple[str, ...]) -> Any:
    """The amount a selection of buckets stands for: their sum, or the balance when it is named."""
    if "balance" in buckets:
        return A.total_balance
    return sum((BUCKET_SQL[b] for b in buckets[1:]), BUCKET_SQL[buckets[0]])


def amount_of(amounts: dict[str, Decimal], buckets: tuple[str, ...]) -> Decimal:
    """amount_sql over a debtor already read (bucket_amounts or debtor_view)."""
    if "balance" in buckets:
        return amounts["balance"]
    return sum((amounts[b] for b in buckets), ZERO)


# What debtor_view reads: enough to select plain rows instead of ORM objects for big answers.
VIEW_COLUMNS = (A.id, A.org_id, A.latest_report_id, A.account_code, A.customer_name, A.current, A.d30, A.d60,
                A.d90, A.d120, A.d150, A.d180, A.total_balance, A.email, A.telephone_raw, A.telephone,
                A.is_medical_aid_control, A.created_at, A.updated_at)


def bucket_amounts(account: Any) -> dict[str, Decimal]:
    return {"current": account.current, "d30": account.d30, "d60": account.d60, "d90": account.d90,
            "d120": account.d120 - account.d150 - account.d180, "d150": account.d150, "d180": account.d180,
            "balance": account.total_balance}


def debtor_view(account: Any) -> dict[str, Any]:
    """The spec's Debtor object of an account (or a row of VIEW_COLUMNS); amounts as Decimal,
    times as datetimes: the face writes them."""
    return {
        "id": account.id, "pharmacy_id": account.org_id, "report_id": account.latest_report_id,
        "acc_no": account.account_code, "name": account.customer_name, **bucket_amounts(account),
        "email": account.email or None,
        "phone": account.telephone_raw or (f"+{account.telephone}" if account.telephone else None),
        "is_medical_aid_control": bool(account.is_medical_aid_control),
        "created_at": account.created_at, "updated_at": account.updated_at,
    }


# ------------------------------------------------------------------ parsing the filters


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


def parse_int(value: Any, field: str, default: int, low: int, high: int | None = None) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise _bad(field, "must be a whole number")
    try:
        number = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise _bad(field, f"must be a whole number, not {value!r}") from None
    if number < low or (high is not None and number > high):
        span = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise _bad(field, f"must be {span}, not {number}")
    return number


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


@dataclass(frozen=True)
class DebtorFilter:
    min_balance: Decimal | None = None  # on the 60+ day arrears, or the sum of `ageing_buckets`
    ageing_buckets: tuple[str, ...] | None = None
    has_email: bool | None = None
    has_phone: bool | None = None
    search: str | None = None
    exclude_medical_aid: bool = True
    debtor_ids: tuple[int, ...] | None = None

    @classmethod
    def parse(cls, *, min_balance: Any = None, ageing_buckets: Any = None, has_email: Any = None,
              has_phone: Any = None, search: Any = None, exclude_medical_aid: Any = None,
              debtor_ids: Any = None) -> DebtorFilter:
        text = str(search).strip() if search is not None else ""
        if len(text) > MAX_SEARCH:
            raise _bad("search", f"must be at most {MAX_SEARCH} characters")
        exclude = parse_bool(exclude_medical_aid, "exclude_medical_aid")
        return cls(min_balance=parse_amount(min_balance, "min_balance"),
                   ageing_buckets=parse_buckets(ageing_buckets),
                   has_email=parse_bool(has_email, "has_email"), has_phone=parse_bool(has_phone, "has_phone"),
                   search=text or None, exclude_medical_aid=True if exclude is None else exclude,
                   debtor_ids=parse_ids(debtor_ids, required=False))

    @property
    def amount_buckets(self) -> tuple[str, ...]:
        return self.ageing_buckets or ARREARS_BUCKETS


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
        ids[item] = None
    if required and not ids:
        raise _bad(field, "must name at least one debtor")
    if len(ids) > limit:
        raise _bad(field, f"must name at most {limit} debtors")
    return tuple(ids)


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _blank(column: Any) -> ColumnElement[bool]:
    return or_(column.is_(None), column == "")


def listed(org_id: int) -> ColumnElement[bool]:
    """The pharmacy's current debtors: in the book, in a report, not settled."""
    return and_(A.org_id == org_id, A.latest_report_id.is_not(None), A.settled_at.is_(None))


def conditions(org_id: int, f: DebtorFilter) -> list[ColumnElement[bool]]:
    where = [listed(org_id)]
    if f.exclude_medical_aid:
        where.append(A.is_medical_aid_control.is_(False))
    if f.min_balance is not None:
        where.append(amount_sql(f.amount_buckets) >= f.min_balance)
    if f.ageing_buckets:
        where.append(or_(*[BUCKET_SQL[b] > 0 for b in f.ageing_buckets]))
    if f.has_email is not None:
        where.append(~_blank(A.email) if f.has_email else _blank(A.email))
    if f.has_phone is not None:
        no_phone = and_(_blank(A.telephone_raw), _blank(A.telephone))
        where.append(~no_phone if f.has_phone else no_phone)
    if f.search:
        pattern = _like(f.search)
        where.append(or_(*[func.lower(c).like(pattern, escape="\\")
                           for c in (A.account_code, A.customer_name, A.email, A.telephone_raw, A.telephone)]))
    if f.debtor_ids is not None:
        where.append(A.id.in_(f.debtor_ids) if f.debtor_ids else A.id.is_(None))
    return where


@dataclass
class DebtorPage:
    debtors: list[DebtorAccount]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.total else 0


async def list_debtors(session: AsyncSession, caller: Caller, f: DebtorFilter, *, page: Any = None,
                       per_page: Any = None) -> DebtorPage:
    number = parse_int(page, "page", 1, 1)
    size = parse_int(per_page, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    where = conditions(caller.org_id, f)
    total = await session.scalar(select(func.count()).select_from(A).where(*where)) or 0
    rows = (await session.scalars(select(A).where(*where).order_by(A.account_code, A.id)
                                  .offset((number - 1) * size).limit(size))).all()
    return DebtorPage(list(rows), int(total), number, size)


async def export_rows(session: AsyncSession, caller: Caller, f: DebtorFilter) -> list[dict[str, Any]]:
    """Every debtor the filter keeps, in the list's order, in the spec's shape (for downloads)."""
    rows = (await session.execute(select(*VIEW_COLUMNS).where(*conditions(caller.org_id, f))
                                  .order_by(A.account_code, A.id))).all()
    return [debtor_view(a) for a in rows]


async def statistics(session: AsyncSession, caller: Caller, *, exclude_medical_aid: Any = None
                     ) -> dict[str, Any]:
    f = DebtorFilter.parse(exclude_medical_aid=exclude_medical_aid)
    columns = [func.count(A.id), func.coalesce(func.sum(A.total_balance), 0),
               *[func.coalesce(func.sum(BUCKET_SQL[b]), 0) for b in BUCKETS]]
    row = (await session.execute(select(*columns).where(*conditions(caller.org_id, f)))).one()
    return {"total_accounts": int(row[0]), "total_outstanding": _money(row[1]),
            **{b: _money(v) for b, v in zip(BUCKETS, row[2:], strict=True)}}


def totals_of(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The statistics' shape over rows already read (a download's totals)."""
    out: dict[str, Any] = {"total_accounts": len(rows),
                           "total_outstanding": sum((r["balance"] for r in rows), ZERO)}
    for b in BUCKETS:
        out[b] = sum((r[b] for r in rows), ZERO)
    return out


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


async def get_accounts(session: AsyncSession, org_id: int, ids: Sequence[int]) -> dict[int, DebtorAccount]:
    """The pharmacy's accounts (settled ones too) among `ids`; others' ids are left out."""
    found: dict[int, DebtorAccount] = {}
    for i in range(0, len(ids), 900):
        rows = await session.scalars(select(A).where(A.org_id == org_id, A.id.in_(ids[i:i + 900])))
        found.update({a.id: a for a in rows})
    return found
