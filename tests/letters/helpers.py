"""Builders shared by the letters tests: accounts (a book account from an uploaded CSV, loans
through the API), images made here, PDFs read back with pypdfium2."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from PIL import Image
from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.letters.builtins import FINAL_DEMAND, LETTER_OF_DEMAND, REMINDER, SECTION_129  # noqa: F401
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.faces.repaysync.conftest import Tenant
from tests.partners.fixtures import Partner

BOOK = [["K1", "Kappa Traders", "Kim", "082 123 4567", "10.00", "40.00", "60.00", "0", "0", "110.00"]]


async def loan_account(t: Tenant, role: str = "admin", **customer: Any) -> tuple[dict[str, Any], str]:
    c = await t.customer(role=role, **customer)
    loan = await t.loan(c["id"], role=role)
    async with transaction() as s:
        account = (await s.scalars(select(Account).where(Account.loan_id == loan["id"]))).one()
    return loan, str(account.id)


async def book_account(t: Tenant, tmp_path: Path, rows: list[list[Any]] | None = None) -> str:
    path = write_book(tmp_path / f"book{t.org.id}.csv", [HEADER, *(rows or BOOK)])
    await import_file(t.client, await t.h("manager"), path)
    async with transaction() as s:
        return str((await s.scalars(select(Account.id).where(Account.org_id == t.org.id, Account.kind == "book")
                                    .order_by(Account.created_at))).first())


async def key(t: Tenant, scopes: list[str]) -> dict[str, str]:
    p = Partner(t.client, t.world)
    p.org, p.headers = t.org, await t.h("admin")
    c = await p.create_client(scopes=scopes)
    return p.key_headers((await p.create_key(c["id"], scopes=scopes))["key"])


def png(width: int = 240, height: int = 90, colour: tuple[int, int, int] = (20, 80, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def jpeg(width: int = 200, height: int = 100) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text."""
    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data)).replace("\r", "")


def pdf_images(data: bytes) -> int:
    """How many image objects the first page draws."""
    doc = pdfium.PdfDocument(data)
    try:
        import pypdfium2.raw as raw

        return sum(1 for _ in doc[0].get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE]))
    finally:
        doc.close()
