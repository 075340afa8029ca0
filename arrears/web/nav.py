"""The main menu: one entry per page group whose domain is available, shown to the roles that use it."""

from __future__ import annotations

from dataclasses import dataclass

from arrears.identity.caller import Caller

ALL_ROLES = ("admin", "manager", "collection_officer", "calling_agent", "field_officer")
OFFICE = ("admin", "manager", "collection_officer")


@dataclass(frozen=True)
class Item:
    group: str  # the page module that provides it
    label: str
    href: str
    roles: tuple[str, ...] = ALL_ROLES
    admin_only: bool = False


ITEMS: tuple[Item, ...] = (
    Item("home", "Home", "/app/"),
    Item("books", "Debtor books", "/app/books", OFFICE),
    Item("messaging", "Messaging", "/app/messaging", OFFICE),
    Item("strategies", "Strategies", "/app/strategies"),  # agents read; managers and admins write
    Item("letters", "Letters", "/app/letters", OFFICE),
    Item("pharmacy", "Pharmacy", "/app/pharmacy", OFFICE),
    Item("agents", "Work queue", "/app/queue"),
    Item("agents", "Customers", "/app/customers"),
    Item("figures", "Agents", "/app/agents"),
    Item("collections", "Payments", "/app/payments", OFFICE),
    Item("premiums", "Premiums", "/app/premiums", ("admin", "manager")),
    Item("partners", "Partners", "/app/partners", ("admin",), admin_only=True),
    Item("settings", "Settings", "/app/settings"),
)

_enabled: set[str] = set()


def reset() -> None:
    _enabled.clear()


def enable(group: str) -> None:
    _enabled.add(group)


def enabled(group: str) -> bool:
    return group in _enabled


def items_for(caller: Caller) -> list[Item]:
    return [i for i in ITEMS if i.group in _enabled and caller.role in i.roles
            and (not i.admin_only or caller.is_admin)]
