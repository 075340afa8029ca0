"""Pharmacy pages: the debtors list with the spec's filters and statistics, reminders with the
answer per debtor (simulation mode), CSV and PDF downloads, a debtor's communication history,
read-only members and another pharmacy's debtors."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal as D
from typing import Any

import pypdfium2 as pdfium

from arrears.db import transaction
from arrears.identity.caller import Caller
from tests.debtors.pdf.make_pdfs import Debtor, build_report
from tests.web.conftest import confirm_preview

ROWS = [
    Debtor("A1", "Ann Smith", {"current": D("10.00"), "d60": D("100.00"), "d120": D("20.00")},
           email="ann@example.com", phone="082 123 4567"),
    Debtor("A2", "Ben Jones", {"d90": D("50.00")}),  # no contacts
    Debtor("A3", "=Cai Wong", {"d30": D("30.00")}, email="cai@example.com", phone="083 555 1234"),
    Debtor("A4", "Discovery Health Medical Scheme", {"d60": D("900.00")}),  # medical-aid control
]


async def _pharmacy(world: Any, people: Any, *, name: str = "Sunrise Pharmacy", **settings: str) -> tuple[Any, Any]:
    from arrears.identity import service as identity

    org = await world.org(name, kind="pharmacy")
    async with transaction() as s:
        o = await identity.get_org(s, org.id)
        await identity.set_org_settings(s, Caller.system(o.id), o, {"contact_hours": "off", "contact_cap": "0", **settings})
    ui, _ = await people(org.id, role="manager")
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token},
                        files={"file": ("age-analysis.pdf", build_report(ROWS), "application/pdf")})
    assert r.status_code == 200, r.text  # the report's preview: stored once confirmed
    r = await confirm_preview(ui, r.text)
    assert r.status_code == 303, r.text
    return org, ui


async def _ids(org_id: int) -> dict[str, int]:
    from sqlalchemy import select

    from arrears.debtors.models import DebtorAccount

    async with transaction(readonly=True) as s:
        rows = (await s.execute(select(DebtorAccount.account_code, DebtorAccount.id)
                                .where(DebtorAccount.org_id == org_id))).all()
    return dict(rows)


def _accounts_listed(html: str) -> list[str]:
    return re.findall(r'<a href="/app/pharmacy/debtors/\d+">([^<]+)</a>', html)


async def test_list_filters_and_statistics(people, world):
    org, ui = await _pharmacy(world, people)
    r = await ui.get("/app/pharmacy")
    assert r.status_code == 200
    assert _accounts_listed(r.text) == ["A1", "A2", "A3"]  # the medical-aid account is left out
    assert 'data-testid="stat-accounts"><span class="label">Debtors</span><span class="value">3<' in r.text
    assert "R\u00a0210.00" in r.text  # 130 + 50 + 30 outstanding
    r = await ui.get("/app/pharmacy?include_medical_aid=1")
    assert _accounts_listed(r.text) == ["A1", "A2", "A3", "A4"] and "medical aid</span>" in r.text
    r = await ui.get("/app/pharmacy?search=WONG")
    assert _accounts_listed(r.text) == ["A3"]
    r = await ui.get("/app/pharmacy?has_email=false")
    assert _accounts_listed(r.text) == ["A2"]
    r = await ui.get("/app/pharmacy?ageing_buckets=d90&ageing_buckets=d30")
    assert _accounts_listed(r.text) == ["A2", "A3"]
    r = await ui.get("/app/pharmacy?min_balance=100")  # on the 60+ day arrears: Ann's 120
    assert _accounts_listed(r.text) == ["A1"]
    r = await ui.get("/app/pharmacy?min_balance=25&ageing_buckets=d30")
    assert _accounts_listed(r.text) == ["A3"]
    r = await ui.get("/app/pharmacy?min_balance=lots")
    assert r.status_code == 400 and 'id="min_balance-error"' in r.text and _accounts_listed(r.text) == []
    r = await ui.get("/app/pharmacy?per_page=2&ageing_buckets=d60&ageing_buckets=d90&page=2")
    assert _accounts_listed(r.text) == ["A1", "A2"]  # past the end: the last page
    r = await ui.get("/app/pharmacy?per_page=1&include_medical_aid=1&ageing_buckets=d60&ageing_buckets=d90")
    assert _accounts_listed(r.text) == ["A1"]
    # The pager keeps both ticked buckets.
    assert "ageing_buckets=d60&amp;ageing_buckets=d90" in r.text and "page=2" in r.text


async def test_downloads_follow_the_filter(people, world):
    org, ui = await _pharmacy(world, people)
    r = await ui.c.get("/app/pharmacy/debtors.csv?include_medical_aid=1&ageing_buckets=d30&ageing_buckets=d60")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f"attachment; filename=debtors_{org.id}.csv"
    table = list(csv.reader(io.StringIO(r.content.decode())))
    assert table[0][:3] == ["Account No", "Name", "Current"] and table[0][-2:] == ["Email", "Phone"]
    assert [row[0] for row in table[1:]] == ["A1", "A3", "A4"]
    assert table[2][1:] == ["'=Cai Wong", "0.00", "30.00", "0.00", "0.00", "0.00", "0.00", "0.00", "30.00",
                            "cai@example.com", "083 555 1234"]
    r = await ui.c.get("/app/pharmacy/debtors.pdf?ageing_buckets=d60")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f"attachment; filename=debtors_{org.id}.pdf"
    doc = pdfium.PdfDocument(r.content)
    text = doc[0].get_textpage().get_text_range()
    doc.close()
    assert "Debtors Age Analysis" in text and "Sunrise Pharmacy" in text and "Buckets: 60 Days" in text
    assert "Accounts: 1" in text and "Page 1 of 1" in text and "Ann Smith" in text
    r = await ui.c.get("/app/pharmacy/debtors.csv?min_balance=-5")
    assert r.status_code == 400


async def test_email_reminders_and_history(people, world):
    org, ui = await _pharmacy(world, people, sendgrid_api_key="SG.test", sendgrid_from_email="shop@example.com")
    ids = await _ids(org.id)
    r = await ui.get("/app/pharmacy")
    assert "E-mail the ticked debtors" in r.text
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', r.text).group(1)
    form = {"channel": "email", "debtor_ids": [ids["A1"], ids["A2"], ids["A3"]], "nonce": nonce}
    r = await ui.post("/app/pharmacy/remind", form)
    assert r.status_code == 200, r.text
    assert "1 sent, 2 not sent" in r.text
    assert "No email address" in r.text and "Nothing owed in d60, d90, d120, d150, d180" in r.text
    # The same form again (a reload) sends nothing more.
    r = await ui.post("/app/pharmacy/remind", form)
    assert r.status_code == 200 and "1 sent, 2 not sent" in r.text
    r = await ui.get(f"/app/pharmacy/debtors/{ids['A1']}")
    assert r.status_code == 200 and "Communication history" in r.text
    assert r.text.count('data-testid="comm-status"') == 1 and "ann@example.com" in r.text
    # A reminder that could not go is in the history too, failed, with the reason.
    r = await ui.get(f"/app/pharmacy/debtors/{ids['A2']}")
    assert r.text.count('data-testid="comm-status"') == 1 and "badge-failed" in r.text
    r = await ui.get(f"/app/pharmacy/debtors/{ids['A4']}")
    assert "No messages yet." in r.text and "medical aid</span>" in r.text
    # With the 30-day bucket asked for, Cai is reminded too.
    r = await ui.post("/app/pharmacy/remind", {"channel": "email", "debtor_ids": [ids["A3"]],
                                               "ageing_buckets": ["d30"], "nonce": "x"})
    assert "1 sent, 0 not sent" in r.text and "30 Days" in r.text


async def test_reminders_need_credentials_and_write_access(people, world):
    org, ui = await _pharmacy(world, people)
    ids = await _ids(org.id)
    r = await ui.post("/app/pharmacy/remind", {"channel": "sms", "debtor_ids": [ids["A1"]]})
    assert r.status_code == 400 and "SMS Portal credentials not configured" in r.text
    r = await ui.post("/app/pharmacy/remind", {"channel": "email", "debtor_ids": []})
    assert r.status_code == 400 and "Tick the debtors" in r.text
    reader, _ = await people(org.id, role="manager", access="read")
    r = await reader.get("/app/pharmacy")
    assert r.status_code == 200 and _accounts_listed(r.text) == ["A1", "A2", "A3"]
    assert "E-mail the ticked debtors" not in r.text and 'name="debtor_ids"' not in r.text
    r = await reader.post("/app/pharmacy/remind", {"channel": "email", "debtor_ids": [ids["A1"]]})
    assert r.status_code == 403
    assert (await reader.c.get("/app/pharmacy/debtors.csv")).status_code == 200  # reading is allowed


async def test_another_pharmacys_debtors_are_not_found(people, world):
    org, ui = await _pharmacy(world, people)
    other, other_ui = await _pharmacy(world, people, name="Other Pharmacy",
                                      sendgrid_api_key="SG.x", sendgrid_from_email="o@example.com")
    ids = await _ids(org.id)
    assert (await other_ui.get(f"/app/pharmacy/debtors/{ids['A1']}")).status_code == 404
    r = await other_ui.post("/app/pharmacy/remind", {"channel": "email", "debtor_ids": [ids["A1"]]})
    assert r.status_code == 404
    r = await other_ui.c.get("/app/pharmacy/debtors.csv")
    assert r.status_code == 200 and len(r.text.splitlines()) == 4  # its own three debtors, no more
    r = await other_ui.get("/app/pharmacy?search=Ann")
    assert f"/app/pharmacy/debtors/{ids['A1']}" not in r.text
