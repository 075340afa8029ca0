"""Which messages of the log a person may see. Admins and managers see every message of the
organisation; officers see the messages they sent themselves. An upload's log is the exception:
whoever may see the upload (the debtors service checks that) sees every message sent to its
accounts, as the AAMA face shows it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from arrears.identity.caller import Caller
from arrears.messaging.models import Message
from arrears.messaging.stats import message_log


def visible_log(caller: Caller, *, status: str | None = None, channel: str | None = None,
                upload_id: Any = None, search: str | None = None) -> Select[Any]:
    """The messages the caller may see, filtered, newest first. `upload_id` must name an upload
    the caller was allowed to see."""
    q = message_log(caller, status=status, channel=channel, upload_id=upload_id, search=search)
    if upload_id is None and not caller.is_manager_or_admin:
        q = q.where(Message.user_id == caller.user_id)
    return q
