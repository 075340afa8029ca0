"""Who may move a captive's money: the rules the debit-order services apply to their `Caller`
(the CLI, the daily job and set-up pass the system caller, an admin with every scope).

- The ACB user and the nominated (payee) account decide where collected money goes: only the
  captive's admins with write access change the settings (and so the daily schedule); no API key
  does, whatever its scopes.
- Runs, reconciliation and settling move collections' states: a manager or an admin with write
  access, or an API key with `collections:write`."""

from __future__ import annotations

from arrears.errors import Forbidden
from arrears.identity.caller import Caller

MONEY_SCOPE = "collections:write"
MONEY_ROLES = ("admin", "manager")


def may_change_settings(caller: Caller) -> None:
    if caller.kind == "api_key":
        raise Forbidden("Debit-order settings (the ACB user and the nominated account) are changed by "
                        "the captive's admins only, never with an API key")
    if not caller.is_admin:
        raise Forbidden("Only the captive's admins can change the debit-order settings")
    caller.require_write()


def may_move_money(caller: Caller) -> None:
    """Start a run, import or resolve the bank's answer, settle."""
    if caller.kind != "user":
        if not caller.has_scope(MONEY_SCOPE):
            raise Forbidden(f"This API key lacks the {MONEY_SCOPE} permission")
        return
    if caller.role not in MONEY_ROLES:
        raise Forbidden("Only a manager or an admin can run debit orders, reconcile or settle")
    caller.require_write()
