"""POST /api/v1/payments/import and `arrears payments import`: payments CSVs and bank statement
exports written by the tests (title blocks, money in/out columns, signed amounts, decimal commas,
totals and balance lines), the preview, the same file twice, a mapping, and files that are refused
whole. Both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.payments.models import Payment, PaymentImport
from tests.faces.repaysync.conftest import RS, Tenant
from tests.inprocess_cli import arrears_async
from tests.payments.helpers import book_account, import_file, loan_account, upload_book, write_csv


async def _counts(t: Tenant) -> tuple[int, int]:
    async with transaction() as s:
        return (int(await s.scalar(select(func.count()).select_from(Payment).where(Payment.org_id == t.org.id)) or 0),
                int(await s.scalar(select(func.count()).select_from(PaymentImport)
                                   .where(PaymentImport.org_id == t.org.id)) or 0))


async def _setup(t: Tenant, tmp_path: Path) -> tuple[str, str, str]:
    await upload_book(t, tmp_path / "book.csv", [["B100", "Bravo", "", "0821234567", 100, 200, 0, 300, 0, 600]],
                      "2025-06-30")
    loan, acc = await loan_account(t, principal_amount="5000.00")
    return await book_account(t, "B100"), acc, loan["loan_account_number"]


async def test_plain_csv_preview_then_import_then_the_same_file_again(rs: RS, tmp_path):
    t = await rs.tenant()
    book, loan_acc, loan_no = await _setup(t, tmp_path)
    f = write_csv(tmp_path / "payments.csv", [
        ["Account Code", "Amount", "Payment Date", "Method", "Transaction Id"],
        ["B100", "250.00", "2025-07-03", "EFT", "T-1"],
        [loan_no, "1,000.00", "2025-07-04", "debit_order", "T-2"],
        ["NOPE-1", "75.25", "2025-07-05", "cash", "T-3"],
        ["B100", "abc", "2025-07-05", "", "T-4"],
        ["B100", "10.00", "31/02/2025", "", "T-5"],
        ["B100", "-40.00", "2025-07-06", "", "T-6"],
        ["", "", "", "", ""],
    ])
    pv = await import_file(t, f, preview=True)
    assert pv.status_code == 200, pv.text
    body = pv.json()
    assert body["mapping"] == {"reference": "Account Code", "amount": "Amount", "date": "Payment Date",
                               "method": "Method", "external_id": "Transaction Id"}
    assert body["counts"] | {"skippedReasons": None} == {
        "lines": 7, "payments": 3, "recorded": 2, "unmatched": 1, "duplicates": 0, "failed": 2, "skipped": 2,
        "skippedReasons": None, "amountRecorded": 1250, "amountUnmatched": 75.25}
    assert [(x["line"], x["outcome"]) for x in body["lines"]] == [(2, "recorded"), (3, "recorded"), (4, "unmatched")]
    assert body["lines"][0]["accountId"] == book and body["lines"][1]["accountId"] == loan_acc
    assert [e["line"] for e in body["errors"]] == [5, 6] and "amount" in body["errors"][0]["reason"]
    assert await _counts(t) == (0, 0)  # a preview writes nothing

    r = await import_file(t, f)
    assert r.status_code == 201, r.text
    imp = r.json()
    assert (imp["recorded"], imp["unmatched"], imp["duplicates"], imp["failed"], imp["skipped"]) == (2, 1, 0, 2, 2)
    assert imp["totalLines"] == 7 and [e["line"] for e in imp["errors"]] == [5, 6]
    h = await t.h("manager")
    assert (await t.client.get(f"/api/v1/accounts/{book}", headers=h)).json()["balance"] == 350
    assert (await t.client.get(f"/api/v1/accounts/{loan_acc}", headers=h)).json()["balance"] == 4000
    listed = (await t.client.get("/api/v1/payments", params={"importId": imp["id"]}, headers=h)).json()
    assert sorted((p["lineNumber"], p["status"], p["source"]) for p in listed["data"]) == [
        (2, "recorded", "import"), (3, "recorded", "import"), (4, "unmatched", "import")]
    # The same file again adds nothing.
    again = (await import_file(t, f)).json()
    assert (again["recorded"], again["unmatched"], again["duplicates"]) == (0, 0, 3)
    assert await _counts(t) == (3, 2)
    assert (await t.client.get(f"/api/v1/accounts/{book}", headers=h)).json()["balance"] == 350
    async with transaction() as s:
        ev = list(await s.scalars(select(DomainEvent).where(DomainEvent.type == "payments.imported",
                                                            DomainEvent.org_id == t.org.id)))
    assert len(ev) == 2 and ev[0].after["recorded"] == 2 and ev[0].actor.startswith("user:")


async def test_bank_exports_read_without_setup(rs: RS, tmp_path):
    t = await rs.tenant()
    book, loan_acc, loan_no = await _setup(t, tmp_path)
    # FNB-like: a title block, a signed amount, the balance, the description naming the account;
    # money out and the closing balance below are skipped.
    fnb = write_csv(tmp_path / "fnb.csv", [
        ["ACCOUNT TRANSACTION HISTORY"], ["Name:", "ACME LENDING"], ["Account:", "62012345678"], [],
        ["Date", "Amount", "Balance", "Description"],
        ["2025/07/02", "150.00", "10150.00", "ACB CREDIT B100 BRAVO"],
        ["2025/07/02", "-35.00", "10115.00", "MONTHLY FEE"],
        ["2025/07/03", "150.00", "10265.00", "ACB CREDIT B100 BRAVO"],
        ["", "", "10265.00", "Closing Balance"],
    ])
    body = (await import_file(t, fnb)).json()
    assert (body["recorded"], body["unmatched"], body["failed"], body["skipped"]) == (2, 0, 0, 2), body
    # Two identical lines are two payments; the same export again adds nothing.
    assert (await import_file(t, fnb)).json()["duplicates"] == 2
    # Capitec-like: money in / money out columns, the bank's own account in "Account".
    capitec = write_csv(tmp_path / "capitec.csv", [
        ["Nr", "Account", "Posting Date", "Transaction Date", "Description", "Original Description",
         "Parent Category", "Category", "Money In", "Money Out", "Fee", "Balance"],
        ["1", "1234567890", "2025-07-06", "2025-07-05", f"Payment {loan_no}", f"PMT {loan_no}", "Income", "Other",
         "500.00", "", "", "900.00"],
        ["2", "1234567890", "2025-07-06", "2025-07-06", "Groceries", "SHOP", "Food", "Groceries", "", "-50.00",
         "", "850.00"],
    ])
    body = (await import_file(t, capitec)).json()
    assert (body["recorded"], body["unmatched"], body["skipped"]) == (1, 0, 1), body
    assert body["mapping"]["date"] == "Transaction Date" and body["mapping"]["credit"] == "Money In"
    # Nedbank/Standard Bank-like: semicolons, decimal commas, day-first dates, debit and credit
    # columns, a totals line.
    path = tmp_path / "nedbank.csv"
    path.write_text("Statement;;;;\nTransactions from 01/07/2025 to 31/07/2025;;;;\n"
                    "Date;Description;Debit;Credit;Balance\n"
                    "07/07/2025;DEPOSIT B100;;1 000,50;2 000,50\n"
                    "08/07/2025;DEBIT ORDER INSURANCE;200,00;;1 800,50\n"
                    "09/07/2025;UNKNOWN PAYER;;99,99;1 900,49\n"
                    "Total;;200,00;1 100,49;\n", encoding="cp1252")
    body = (await import_file(t, path)).json()
    assert (body["recorded"], body["unmatched"], body["skipped"], body["failed"]) == (1, 1, 2, 0), body
    h = await t.h("manager")
    body = (await t.client.get(f"/api/v1/accounts/{book}", headers=h)).json()
    assert body["balance"] == -700.5 and body["status"] == "paid_up"  # 600 - 2 × 150 - 1000.50
    assert (await t.client.get(f"/api/v1/accounts/{loan_acc}", headers=h)).json()["balance"] == 4500


async def test_a_mapping_rescues_a_file_and_bad_files_are_refused_whole(rs: RS, tmp_path):
    t = await rs.tenant()
    await _setup(t, tmp_path)
    odd = write_csv(tmp_path / "odd.csv", [["When", "Who", "How much"], ["2025-07-01", "B100", "10.00"]])
    r = await import_file(t, odd)
    assert r.status_code == 400 and r.json()["details"]["code"] == "MISSING_COLUMNS", r.text
    assert "no payments header" in r.json()["message"] and "Date" in r.json()["message"] and [c["label"] for c in r.json()["details"]["columns"]] == ["When", "Who",
                                                                                                       "How much"]
    bad_mapping = await import_file(t, odd, mapping='{"0": "colour"}')
    assert bad_mapping.status_code == 400 and "mapping" in bad_mapping.json()["details"]
    assert (await import_file(t, odd, mapping="[1]")).status_code == 400
    ok = await import_file(t, odd, mapping='{"0": "date", "1": "reference", "2": "amount"}')
    assert ok.status_code == 201 and ok.json()["recorded"] == 1, ok.text
    before = await _counts(t)
    garbage = tmp_path / "x.csv"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    dates = write_csv(tmp_path / "dates.csv", [["Date", "Reference", "Amount"], ["soon", "B100", "1"],
                                               ["later", "B100", "2"]])
    for f, code in ((garbage, None), (empty, None), (dates, "NO_PAYMENT_LINES")):
        r = await import_file(t, f)
        assert r.status_code == 400, (f.name, r.text)
        if code:
            assert r.json()["details"]["code"] == code and "line 2" in r.json()["message"]
    r = await t.client.post("/api/v1/payments/import", headers=await t.h("manager"), data={"x": "1"})
    assert r.status_code == 400
    assert await _counts(t) == before  # nothing written by any of them


async def test_cli_preview_and_import(rs: RS, tmp_path):
    t = await rs.tenant()
    book, _, _ = await _setup(t, tmp_path)
    f = write_csv(tmp_path / "cli.csv", [["Date", "Reference", "Amount"], ["2025-07-01", "B100", "100.00"],
                                         ["2025-07-02", "Z9", "5.00"]])
    done = await arrears_async("payments", "import", str(f), "--org", str(t.org.id), "--preview")
    assert done.returncode == 0, done.stdout + done.stderr
    human = " ".join(done.stderr.split())  # the summary for people on stderr (wrapped), the JSON on stdout
    assert "1 would be recorded" in human and "Nothing was stored" in human and "B100" in human
    assert await _counts(t) == (0, 0)
    done = await arrears_async("payments", "import", str(f), "--org", str(t.org.id), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"recorded": 1' in done.stdout and '"unmatched": 1' in done.stdout
    again = await arrears_async("payments", "import", str(f), "--org", str(t.org.id))
    assert again.returncode == 0 and "2 duplicates (already imported)" in " ".join(again.stderr.split())
    assert (await t.client.get(f"/api/v1/accounts/{book}", headers=await t.h())).json()["balance"] == 500
    bad = await arrears_async("payments", "import", str(tmp_path / "missing.csv"), "--org", str(t.org.id))
    assert bad.returncode != 0
