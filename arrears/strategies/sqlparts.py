"""Three SQL expressions the two engines spell differently: days between two dates, months added to
a date (clamped to the month's last day, as arrears.accounts.ageing.add_months does) and the first
last six hex digits of a UUID as an integer, and the mix of the champion/challenger hash."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class days_between(FunctionElement[int]):  # noqa: N801 - SQL function style
    """later − earlier, in whole days (both dates)."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_pg(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"(CAST({compiler.process(later, **kw)} AS DATE) - CAST({compiler.process(earlier, **kw)} AS DATE))"


@compiles(days_between, "sqlite")
def _days_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)})"
            " AS INTEGER)")


class add_months(FunctionElement[Any]):  # noqa: N801
    """The same day `months` later, or that month's last day when it is shorter."""

    type = Date()
    inherit_cache = True


@compiles(add_months)
def _months_pg(element: Any, compiler: Any, **kw: Any) -> str:
    day, months = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(CAST({day} AS DATE) + make_interval(months => CAST({months} AS INTEGER)) AS DATE)"


@compiles(add_months, "sqlite")
def _months_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    day, months = (compiler.process(c, **kw) for c in element.clauses)
    # SQLite rolls 31 Jan + 1 month over into March: take the earlier of that and the month's last day.
    same = (f"date({day}, 'start of month', '+' || ({months}) || ' months', "
            f"'+' || (CAST(strftime('%d', {day}) AS INTEGER) - 1) || ' days')")
    last = f"date({day}, 'start of month', '+' || (({months}) + 1) || ' months', '-1 day')"
    return f"min({same}, {last})"


class hex6(FunctionElement[int]):  # noqa: N801
    """The last six hex digits of a UUID (its text form) as an integer, 0 … 16**6 − 1: the random
    tail of a version 4 id, the counter of the time-ordered ids the book gives accounts (their
    first digits are the time: the same for a whole book)."""

    type = Integer()
    inherit_cache = True


@compiles(hex6)
def _hex6_pg(element: Any, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"('x' || substr(CAST({value} AS TEXT), 31, 6))::bit(24)::int"


@compiles(hex6, "sqlite")
def _hex6_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    digits = [f"(instr('0123456789abcdef', lower(substr({value}, {i + 31}, 1))) - 1) * {16 ** (5 - i)}"
              for i in range(6)]
    return "(" + " + ".join(digits) + ")"


class floor_int(FunctionElement[int]):  # noqa: N801
    """floor(x) as an integer (x ≥ 0)."""

    type = Integer()
    inherit_cache = True


@compiles(floor_int)
def _floor_pg(element: Any, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor({value}) AS INTEGER)"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    # A hair above the value first: 0.3/0.1 is 2.9999999999999996 in floating point.
    return f"CAST(({value}) + 0.0000001 AS INTEGER)"


# The champion/challenger mix of a 24-bit integer (selection.mix24 is the same in Python): multiply,
# fold the high bits down, multiply again, fold again. Every bit of the input moves the top bits
# (the bucket), so two strategies' salts split the same accounts independently; a multiply alone
# made one strategy's split a rotation of another's.
MIX_A, MIX_B, MASK24 = 2654435761, 2246822507, (1 << 24) - 1


class mix24(FunctionElement[int]):  # noqa: N801
    """mix24(x XOR salt), x and salt 0 … 2**24 − 1: 0 … 2**24 − 1 (products stay below 2**56)."""

    type = Integer()
    inherit_cache = True


def _mix_sql(x: str, salt: str, xor: Any) -> str:
    h = f"(({xor(x, salt)} * {MIX_A}) & {MASK24})"
    h = f"(({xor(h, f'({h} >> 12)')} * {MIX_B}) & {MASK24})"
    return xor(h, f"({h} >> 11)")


@compiles(mix24)
def _mix24_pg(element: Any, compiler: Any, **kw: Any) -> str:
    x, salt = (compiler.process(c, **kw) for c in element.clauses)
    return _mix_sql(f"CAST({x} AS BIGINT)", f"CAST({salt} AS BIGINT)", lambda a, b: f"({a} # {b})")


@compiles(mix24, "sqlite")
def _mix24_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    x, salt = (compiler.process(c, **kw) for c in element.clauses)
    # SQLite has no XOR operator: a XOR b = (a | b) − (a & b)
    return _mix_sql(x, salt, lambda a, b: f"(({a} | {b}) - ({a} & {b}))")
