"""`arrears serve` and `arrears worker`: the long-running processes."""

from __future__ import annotations

import asyncio

import typer

from arrears.cli.common import console, ensure_schema, run
from arrears.config import get_settings


def serve(host: str = "127.0.0.1", port: int = 8000,
          no_worker: bool = typer.Option(False, "--no-worker", help="Do not run a worker in-process")) -> None:
    """Serve the API, the UI and (unless --no-worker) a background worker."""
    import uvicorn

    from arrears.app import create_app

    ensure_schema()
    console.print(f"Arrears on http://{host}:{port}  (database: "
                  f"{'PostgreSQL' if get_settings().is_postgres else 'SQLite under ' + str(get_settings().data_dir)})")
    uvicorn.run(create_app(run_worker=not no_worker), host=host, port=port, log_level="warning",
                proxy_headers=False)


def worker(concurrency: int = 4,
           lease_seconds: float = typer.Option(30.0, help="How long a claimed job is held without a "
                                                "heartbeat before another worker may take it")) -> None:
    """Run a background worker until interrupted."""
    import signal

    from arrears.ops import configure_logging
    from arrears.worker import Worker

    ensure_schema()
    configure_logging(get_settings().arrears_log_level)

    async def main() -> None:
        w = Worker(concurrency=concurrency, lease_seconds=lease_seconds)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, w.stop)
        await w.run()

    run(main)
