"""The `arrears` CLI run inside the test process: the same entry point as the installed script
(`arrears.cli.main.main`, its ConfigError to exit 2 included), without paying Python's start-up and
imports on every command. For tests about what a command does; process death, signals and the
installed script keep their real subprocesses (tests/foundation/test_cli.py).

Each command starts as a process would: its own environment (a whole one when given), settings
read afresh, the system clock, and a state of its own (no engine or object of the test's: those
belong to the test's event loop, and the command's `run` closes all it finds at its end); the
test's state is put back afterwards. Called from inside a running loop, use `arrears_async`: the command gets a
thread, hence a loop, of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Mapping

from click.testing import CliRunner

from arrears import config
from arrears.clock import SYSTEM
from arrears.state import state

# One command at a time: sys.argv, sys.stdout/err and os.environ are the process's.
_lock = threading.Lock()


def arrears(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`arrears ARGS` with `env` as its whole environment (the test's own when None)."""
    from arrears.cli.common import console
    from arrears.cli.main import main

    overrides: dict[str, str | None] = {}
    if env is not None:
        overrides = {k: None for k in os.environ if k not in env}
        overrides.update(env)
    runner = CliRunner()
    with _lock, runner.isolation(env=overrides) as (out, err, _):
        argv = sys.argv
        sys.argv = ["arrears", *args]
        config.reset_settings()
        # The console was made at import: its width from this command's COLUMNS, as at a start.
        width, columns = console._width, os.environ.get("COLUMNS", "")
        console._width = int(columns) if columns.isdigit() else None
        saved = (state.engines, state.objects, state.rate_limit_storages, state.clock)
        state.engines, state.objects, state.rate_limit_storages, state.clock = {}, {}, {}, SYSTEM
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            if state.engines or state.objects:  # a command that failed before its `run`
                asyncio.run(state.close())
            state.engines, state.objects, state.rate_limit_storages, state.clock = saved
            sys.argv = argv
            console._width = width
            sys.stdout.flush()
            sys.stderr.flush()
            config.reset_settings()  # the test's own settings again
        stdout = out.getvalue().decode()
        stderr = err.getvalue().decode() if err is not None else ""
    return subprocess.CompletedProcess(["arrears", *args], code, stdout, stderr)


async def arrears_async(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The same from inside an event loop: the command runs its own loop in a thread."""
    return await asyncio.to_thread(arrears, *args, env=env)
