"""The suite caches bytecode, even where PYTHONDONTWRITEBYTECODE is set (as in some containers).

Without a cache every Python process compiles all it imports from source: each xdist worker, and
each server, worker and CLI process the tests start (several dozen), paid seconds of CPU for it —
more than half the start-up of a server. Set here, in the package pytest imports before any
conftest, so the test processes and every process they start (which inherit the environment)
read and write `__pycache__` as Python does by default."""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
