"""Remake tests/file_seconds.txt from a whole run's JUnit XML:

    uv run --frozen pytest -n 2 --dist loadfile -p no:cacheprovider --junitxml=/tmp/run.xml
    uv run --frozen python -m tests.file_seconds /tmp/run.xml "2026-12-07, load 2"
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

TABLE = Path(__file__).with_name("file_seconds.txt")


def main(junit_xml: str, when: str) -> None:
    seconds: Counter[str] = Counter()
    for case in ET.parse(junit_xml).iter("testcase"):
        seconds[case.get("classname", "").replace(".", "/") + ".py"] += float(case.get("time") or 0)
    lines = ["# Seconds each test file took (setup, call and teardown of its tests), read by conftest.py to",
             "# queue the long files first on the xdist workers. From a whole run's --junitxml",
             f"# ({when}; only the relative figures matter). Remake with tests/file_seconds.py.",
             *(f"{s:.1f} {path}" for path, s in sorted(seconds.items(), key=lambda kv: -kv[1]))]
    TABLE.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
