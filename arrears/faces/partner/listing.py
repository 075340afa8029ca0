"""The spec's common list parameters (partner-api-ecosystem.md, "Filtering", "Sorting") read from
the query string into the domain's `ListQuery`; every bad one is named in one 400."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta

from fastapi import Query

from arrears.errors import ValidationFailed
from arrears.faces.openapi import JsonSchemaExtra, date_or_datetime, one_of
from arrears.partners.service import ListQuery, ListRule

DATE_HELP = ("ISO 8601 date (2024-01-31) or date-time (2024-01-31T23:59:59Z; UTC when no zone "
             "is given); both bounds are inclusive, and a date-only dateTo includes that whole day.")
ORDER_HELP = "asc or desc (default desc)."
# What the parameters accept, for /openapi.json (list_query reads the text and answers 400).
DATE_SCHEMA = date_or_datetime()
ORDER_SCHEMA = one_of(("asc", "desc"), default="desc")


def sort_schema(rule: ListRule) -> JsonSchemaExtra:
    return one_of(rule.names, default=rule.default)


def sort_help(rule: ListRule) -> str:
    return f"Sort field: one of {', '.join(rule.names)} (default {rule.default}); ties keep id order."


def _instant(value: str, *, end_of_day: bool) -> datetime:
    text = value.strip()
    if "T" not in text and " " not in text:
        day = date.fromisoformat(text)
        if end_of_day:  # the whole day: up to its last microsecond
            return datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)
        return datetime.combine(day, time(), UTC)
    dt = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def list_query(rule: ListRule, *, status: str | None = None, date_from: str | None = None,
               date_to: str | None = None, search: str | None = None, sort_by: str | None = None,
               sort_order: str | None = None) -> ListQuery:
    errors: dict[str, list[str]] = {}
    bounds: dict[str, datetime | None] = {"dateFrom": None, "dateTo": None}
    for name, raw in (("dateFrom", date_from), ("dateTo", date_to)):
        if raw is None or not raw.strip():
            continue
        try:
            bounds[name] = _instant(raw, end_of_day=name == "dateTo")
        except ValueError:
            errors[name] = [f"Not an ISO 8601 date or date-time: {raw!r}."]
    sort_name = None
    if sort_by is not None and sort_by.strip():
        wanted = sort_by.strip().replace("_", "").lower()
        sort_name = next((n for n in rule.names if n.lower() == wanted), None)
        if sort_name is None:
            errors["sortBy"] = [f"Must be one of {', '.join(rule.names)}."]
    order = (sort_order or "desc").strip().lower() or "desc"
    if order not in ("asc", "desc"):
        errors["sortOrder"] = ["Must be asc or desc."]
    if errors:
        raise ValidationFailed("Invalid list parameters: " + ", ".join(errors), field_errors=errors)
    return ListQuery(status=status, date_from=bounds["dateFrom"], date_to=bounds["dateTo"],
                     search=search, sort_by=sort_name, descending=order == "desc")


def list_params(rule: ListRule, *, statuses: Iterable[str], status_help: str, search_help: str | None = None,
                date_help: str = "") -> Callable[..., ListQuery]:
    """The list's filter and sort parameters as one dependency (`Depends(list_params(...))`), so each
    list route declares only its own extras; `date_help` prefixes the date bounds' description."""
    status_q = Query(None, description=status_help, json_schema_extra=one_of(tuple(statuses)))
    from_q = Query(None, alias="dateFrom", json_schema_extra=DATE_SCHEMA, description=date_help + DATE_HELP)
    to_q = Query(None, alias="dateTo", json_schema_extra=DATE_SCHEMA, description=date_help + DATE_HELP)
    sort_q = Query(None, alias="sortBy", json_schema_extra=sort_schema(rule), description=sort_help(rule))
    order_q = Query(None, alias="sortOrder", json_schema_extra=ORDER_SCHEMA, description=ORDER_HELP)

    if search_help is None:
        def without_search(status: str | None = status_q, date_from: str | None = from_q,
                           date_to: str | None = to_q, sort_by: str | None = sort_q,
                           sort_order: str | None = order_q) -> ListQuery:
            return list_query(rule, status=status, date_from=date_from, date_to=date_to, sort_by=sort_by,
                              sort_order=sort_order)
        return without_search

    search_q = Query(None, description=search_help)

    def with_search(status: str | None = status_q, search: str | None = search_q, date_from: str | None = from_q,
                    date_to: str | None = to_q, sort_by: str | None = sort_q,
                    sort_order: str | None = order_q) -> ListQuery:
        return list_query(rule, status=status, date_from=date_from, date_to=date_to, search=search,
                          sort_by=sort_by, sort_order=sort_order)
    return with_search
