"""Hostile spreadsheets, CSVs and PDFs sent to a real server (a subprocess with its in-process
worker): each gets its face's answer, the server keeps answering /healthz, and its own peak memory
stays under 300 MiB plus ARREARS_PARSE_MEMORY_MB. The parsers run in the server's child process."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.security import hostile
from tests.security.conftest import Server, StartServer, launch, sign_in, stop

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]  # a real server per test


async def _aama_upload(server: Server, path: Path) -> dict[str, Any]:
    data = await asyncio.to_thread(path.read_bytes)
    async with server.client() as c:
        r = await c.post("/api/uploads", headers=server.headers, files={"file": (path.name, data)})
    assert r.status_code == 202, r.text
    return await server.wait_upload(r.json()["upload"]["id"])


async def _pharmacy_upload(server: Server, org_id: int, data: bytes) -> Any:
    async with server.client() as c:
        return await c.post(f"/pharmacies/{org_id}/debtors/upload", headers=server.headers,
                            files={"file": ("report.pdf", data, "application/pdf")})


# One server serves the tests below that take it with its default limits (a server start was most
# of each test's time): they share its database, each with an organisation and a user of its own,
# and each checks the server is alive and its peak memory (over all the files it has taken so
# far) under the bound. A test that needs other limits starts its own (`start_server`).


@pytest.fixture(scope="module")
def module_db(template_db: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    if template_db["kind"] == "sqlite":
        target = tmp_path_factory.mktemp("hostile") / "data" / "arrears.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(template_db["path"], target)
        return f"sqlite+aiosqlite:///{target}"
    return str(template_db["url"])  # PostgreSQL: the worker's database, emptied per test as always


@pytest.fixture
def db_url(request: pytest.FixtureRequest, template_db: dict[str, Any], tmp_path: Path) -> str:
    """The database of a test on the shared server is the server's (its `env` points at it); a test
    with a server of its own gets a fresh one, as everywhere else."""
    if "shared_servers" in request.fixturenames:
        return str(request.getfixturevalue("module_db"))
    if template_db["kind"] == "sqlite":
        target = tmp_path / "data" / "arrears.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(template_db["path"], target)
        return f"sqlite+aiosqlite:///{target}"
    return str(template_db["url"])


# The module's shared server, once a test has started it (not a fixture's own list: `own_server`
# stops it without asking for `shared_servers`, which would give its test the module's database).
_SHARED: list[Server] = []


@pytest.fixture(scope="module")
async def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[Server]]:
    servers = _SHARED  # started by the first test that asks, in its environment
    yield servers
    for server in servers:
        stop(server)
    servers.clear()


@pytest.fixture
def own_server(start_server: StartServer) -> StartServer:
    """`start_server`, with the shared server stopped first (a later test starts it again). On
    PostgreSQL both servers' workers take jobs from the one database's queue, and the shared one
    (another data folder) could take this test's upload and fail it FILE_MISSING."""
    for server in _SHARED:
        stop(server)
    _SHARED.clear()
    return start_server


async def _shared(servers: list[Server], tmp_path_factory: pytest.TempPathFactory) -> Server:
    if not servers:
        servers.append(await launch(tmp_path_factory.mktemp("hostile-server")))
    return servers[0]


@pytest.fixture
async def aama(shared_servers: list[Server], tmp_path_factory: pytest.TempPathFactory, world: Any) -> Server:
    org = await world.org("Hostile Files Ltd")
    server = await _shared(shared_servers, tmp_path_factory)
    await sign_in(server, world, org.id)
    return server


@pytest.fixture
async def pharmacy(shared_servers: list[Server], tmp_path_factory: pytest.TempPathFactory,
                   world: Any) -> tuple[Server, int]:
    org = await world.org("Hostile Pharmacy", kind="pharmacy")
    server = await _shared(shared_servers, tmp_path_factory)
    await sign_in(server, world, org.id)
    return server, org.id


async def test_a_far_cell_workbook_is_imported_through_the_streaming_reader(aama: Server, tmp_path: Path) -> None:
    # calamine would ask for 1,048,576 x 16,384 cells (550 GB) and abort its process.
    upload = await _aama_upload(aama, hostile.far_cell_xlsx(tmp_path / "solver.xlsx", count=20))
    assert upload["status"] == "completed", upload
    assert upload["records_processed"] == 20
    await aama.healthy()


async def test_a_zip_bomb_workbook_fails_with_a_clear_message(aama: Server, tmp_path: Path) -> None:
    upload = await _aama_upload(aama, hostile.zip_bomb_xlsx(tmp_path / "bomb.xlsx", inflated_mb=64))
    assert upload["status"] == "failed"
    assert upload["error_code"] == "FILE_TOO_COMPLEX"
    assert "unpacks" in upload["error_message"]
    await aama.healthy()


async def test_a_huge_one_line_csv_fails_with_a_clear_message(aama: Server, tmp_path: Path) -> None:
    upload = await _aama_upload(aama, hostile.one_line_csv(tmp_path / "line.csv", megabytes=24))
    assert upload["status"] == "failed"
    assert upload["error_code"] == "FILE_TOO_COMPLEX"
    assert "ARREARS_PARSE_MAX_LINE_KB" in upload["error_message"]
    await aama.healthy()


async def test_a_parser_that_dies_fails_the_upload_once_and_for_all(own_server: StartServer, world: Any,
                                                                     tmp_path: Path) -> None:
    # With the cell limit lifted, the far cell reaches python-calamine, which dies in the child.
    org = await world.org("Poison Ltd")
    server = await own_server(ARREARS_PARSE_MAX_CELLS=str(10**15))
    await sign_in(server, world, org.id)
    upload = await _aama_upload(server, hostile.far_cell_xlsx(tmp_path / "solver.xlsx"))
    assert upload["status"] == "failed"
    assert upload["error_code"] == "PARSE_FAILED"
    assert "ARREARS_PARSE_MEMORY_MB" in upload["error_message"]
    await server.healthy()
    await asyncio.sleep(3)  # a retry, were there one, would have started by now

    from arrears.db import transaction
    from arrears.debtors.models import DebtorReport
    from arrears.jobs.models import Job

    async with transaction(readonly=True) as s:
        report = await s.scalar(select(DebtorReport).where(DebtorReport.uuid == uuid.UUID(upload["id"])))
        jobs = (await s.scalars(select(Job).where(Job.kind == "debtors.import"))).all()
    assert report is not None and report.status == "failed" and report.attempts == 1
    assert [(j.attempts, j.status in ("queued", "running")) for j in jobs] == [(1, False)]
    await server.healthy()


async def test_the_self_drawing_form_pdf_is_a_400(pharmacy: tuple[Server, int]) -> None:
    server, org_id = pharmacy
    data = hostile.self_drawing_form_pdf()
    assert len(data) < 1024
    r = await _pharmacy_upload(server, org_id, data)
    assert r.status_code == 400, r.text
    assert r.json()["detail"]
    await server.healthy()


async def test_an_inflated_content_stream_pdf_is_a_400(pharmacy: tuple[Server, int]) -> None:
    server, org_id = pharmacy
    r = await _pharmacy_upload(server, org_id, hostile.inflated_content_pdf(inflated_mb=512))
    assert r.status_code == 400, r.text
    assert r.json()["detail"]
    await server.healthy()


async def test_a_page_tree_of_100000_references_is_a_400(pharmacy: tuple[Server, int]) -> None:
    server, org_id = pharmacy
    r = await _pharmacy_upload(server, org_id, hostile.page_tree_pdf(100_000))
    assert r.status_code == 400, r.text
    assert "ARREARS_PARSE_MAX_PDF_PAGES" in r.json()["detail"]
    await server.healthy()
