"""One PDF of many letters: the CLI `arrears letters print` (in-process) and the service, page
counts (each letter from a new page, long letters over several pages), letters stored with it;
the set-based facts agree with accounts.service.figures. Both databases."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from arrears.accounts import service as accounts
from arrears.accounts.models import Account
from arrears.db import transaction, utcnow
from arrears.letters import facts
from arrears.letters.models import Letter
from tests.faces.repaysync.conftest import RS
from tests.inprocess_cli import arrears_async
from tests.letters.helpers import book_account, loan_account, pdf_pages


async def test_cli_prints_many_letters_into_one_pdf(rs: RS, tmp_path):
    t = await rs.tenant()
    admin = await t.member("admin")
    names = ["Ayanda One", "Bongani Two", "Chen Three"]
    accs = [(await loan_account(t, name=n))[1] for n in names]
    out = tmp_path / "letters.pdf"
    p = await arrears_async("letters", "print", "--org", str(t.org.id), "--template", "letter_of_demand",
                            "--account", accs[0], "--account", accs[2], "-o", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["letters"] == 2 and summary["template"] == "Letter of demand"
    pages = pdf_pages(out.read_bytes())
    assert len(pages) == summary["pages"] == 2
    assert "Ayanda One" in pages[0] and "Chen Three" in pages[1] and "Bongani Two" not in "".join(pages)
    async with transaction() as s:
        made = list(await s.scalars(select(Letter).order_by(Letter.created_at)))
    assert {str(x.account_id) for x in made} == {accs[0], accs[2]}
    assert {x.source for x in made} == {"cli"} and {x.created_by for x in made} == {f"user:{admin.id}"}

    # Without --account: every active account; a template of the organisation's own, by name, whose
    # letters run over several pages.
    long_body = "\n\n".join(f"Paragraph {i}: [CustomerName] owes R[TotalBalance]. " + "More words here. " * 12
                            for i in range(40))
    r = await t.client.post("/api/v1/letter-templates", headers=admin.headers,
                            json={"name": "Long letter", "subject": "Long [AccountCode]", "body": long_body})
    assert r.status_code == 201, r.text
    p = await arrears_async("letters", "print", "--org", str(t.org.id), "--template", "Long letter",
                            "-o", str(out), "--reply-by", utcnow().date().isoformat())
    assert p.returncode == 0, p.stdout + p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    pages = pdf_pages(out.read_bytes())
    assert summary["letters"] == 3 and len(pages) == summary["pages"] > 3
    per_letter = len(pages) // 3
    assert per_letter >= 2 and len(pages) == 3 * per_letter  # the same letter length for each
    for i, name in enumerate(sorted(names, key=lambda n: n)):  # by reference: the loans in order made
        first = pages[i * per_letter]
        assert name in first and "Page 1" in first and t.org.name in first
        assert "(continued)" in pages[i * per_letter + 1] and "Page 2" in pages[i * per_letter + 1]

    p = await arrears_async("letters", "print", "--org", str(t.org.id), "--template", "letter_of_demand",
                            "--step", "3", "-o", str(out))
    # --step prints what a strategy's letter step made (tests/strategies): not with --template.
    assert p.returncode == 1 and "neither --template nor" in p.stdout + p.stderr
    p = await arrears_async("letters", "print", "--org", str(t.org.id), "--template", "nonesuch", "-o", str(out))
    assert p.returncode == 1 and "not found" in p.stdout + p.stderr


async def test_facts_agree_with_the_accounts_figures(rs: RS, tmp_path):
    t = await rs.tenant()
    book = await book_account(t, tmp_path)
    _, loan = await loan_account(t)
    today = utcnow().date()
    async with transaction() as s:
        found = await facts.load(s, t.org.id, [uuid.UUID(book), uuid.UUID(loan), uuid.uuid4()], today)
        assert set(found) == {uuid.UUID(book), uuid.UUID(loan)}
        for key, f in found.items():
            figures = await accounts.figures(s, (await s.get(Account, key)), today)
            assert (f.balance, f.days_past_due, f.reference) == (figures.balance, figures.days_past_due,
                                                                 figures.reference)
    assert found[uuid.UUID(book)].values()["OverdueAmount"] == "100.00"
    assert found[uuid.UUID(loan)].days_past_due > 0  # a 2025 loan with nothing paid
