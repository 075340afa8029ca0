"""`arrears letters print …`: one PDF of many letters, to print and post.

Each letter is also stored (as `arrears.letters.service.create_letters` makes them: source `cli`,
one `letter.created` event each), so the account's history shows what was posted. The command
acts as a user of the organisation (`--user`, default: its first active admin) with that user's
rights. `--step STEP_ID [--date]` prints instead the letters a strategy's letter step made that day
and did not e-mail (stored when the step fired; nothing is made again).
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import typer

from arrears.cli.common import console, ensure_schema, fail, run

app = typer.Typer(help="Letters: PDF letters to accounts owed", no_args_is_help=True)


@app.command("print")
def print_(org: int = typer.Option(..., "--org", help="organisation id"),
           template: str | None = typer.Option(None, "--template", help="a letter template's name or id "
                                               "(built-ins: reminder, final_demand, letter_of_demand, section_129)"),
           account: list[str] = typer.Option([], "--account", help="an account id (UUID); repeat for more; "
                                              "default: every active account you see"),
           output: Path = typer.Option(..., "-o", "--output", help="the PDF to write"),
           reply_by: str | None = typer.Option(None, "--reply-by", help="YYYY-MM-DD (default: in 14 days)"),
           user: str | None = typer.Option(None, "--user", help="act as this username (default: the "
                                           "organisation's first active admin)"),
           step: str | None = typer.Option(None, "--step", help="a strategy's letter step (its id): print the "
                                           "letters it made on --date and did not e-mail, instead of making "
                                           "letters"),
           day: str | None = typer.Option(None, "--date", help="with --step: YYYY-MM-DD (default: the "
                                          "organisation's today)"),
           ) -> None:
    """Make letters for accounts and write them as one PDF (each letter from a new page)."""
    from sqlalchemy import select

    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.models import Membership, User
    from arrears.letters import service as letters
    from arrears.letters.templates import find_template

    if step is not None and (template is not None or account):
        fail("--step prints the letters the step made: give neither --template nor --account with it")
    if step is None and template is None:
        fail("name a --template (or a strategy's letter --step)")
    if day is not None and step is None:
        fail("--date goes with --step")
    on: date | None = None
    if day is not None:
        try:
            on = date.fromisoformat(day)
        except ValueError:
            fail(f"--date {day!r} is not a date (YYYY-MM-DD)")
    if reply_by is not None:
        try:
            date.fromisoformat(reply_by)
        except ValueError:
            fail(f"--reply-by {reply_by!r} is not a date (YYYY-MM-DD)")
    ensure_schema()

    async def go() -> dict[str, object]:
        async with transaction() as s:
            await identity.get_org(s, org)
            if user is not None:
                found = await identity.find_user(s, user)
                if found is None:
                    fail(f"no user {user!r}")
                user_id = found.id
            else:
                first = await s.scalar(select(User.id).join(Membership, Membership.user_id == User.id)
                                       .where(Membership.org_id == org, User.role == "admin", User.is_active)
                                       .order_by(User.id))
                if first is None:
                    fail(f"organisation {org} has no active admin; name one with --user")
                user_id = first
            caller = await identity.caller_for_user(s, user_id, org)
            if caller.org_id != org:
                fail(f"user {user or user_id} is not a member of organisation {org}")
            if step is not None:
                from arrears.promises.calendar import org_today
                from arrears.strategies.letter_step import step_letters

                printed = await step_letters(s, caller, step, on or await org_today(s, org))
                await asyncio.to_thread(output.write_bytes, printed.pdf)
                return {"output": str(output), "letters": printed.letters, "pages": printed.pages,
                        "step": step, "emailed": printed.emailed, "bytes": len(printed.pdf)}
            assert template is not None
            chosen = await find_template(s, caller, template)
            ids = list(account) or await letters.active_accounts(s, caller)
            if not ids:
                fail("no accounts to write to")
            done = await letters.print_letters(s, caller, ids, chosen.id, reply_by=reply_by, source="cli")
            # Written before the letters commit: a file that cannot be written records nothing.
            await asyncio.to_thread(output.write_bytes, done.pdf)
            return {"output": str(output), "letters": len(done.letter_ids), "pages": done.pages,
                    "template": chosen.name, "bytes": len(done.pdf)}

    out = run(go)
    console.print(f"wrote {out['letters']} letter(s), {out['pages']} page(s), to {out['output']}")
    print(json.dumps(out))
