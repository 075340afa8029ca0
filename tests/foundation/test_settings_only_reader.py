"""`arrears.config.Settings` is the only reader of the environment (issue 18, point 5): no module
of arrears/ reads `os.environ` or `os.getenv` itself. Writing a variable for a child process's
libraries (the parse child's single-threaded switches) is not reading one."""

from __future__ import annotations

import ast
from pathlib import Path

import arrears

ROOT = Path(arrears.__file__).parent
ALLOWED = {ROOT / "config.py"}


def _reads(tree: ast.AST) -> list[int]:
    """Lines that read the environment: os.getenv(...), os.environ.get(...), os.environ[...] loaded,
    os.environ passed or copied whole."""
    written = {id(t) for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
            if node.attr == "getenv":
                lines.append(node.lineno)
        if isinstance(node, ast.Subscript) and id(node) not in written and _is_environ(node.value):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_environ(node.func.value):
            lines.append(node.lineno)  # os.environ.get / .copy / .items …
    return sorted(set(lines))


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)
            and node.value.id == "os")


def test_no_module_but_the_settings_reads_the_environment():
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path in ALLOWED:
            continue
        lines = _reads(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            found[str(path.relative_to(ROOT.parent))] = lines
    assert found == {}, f"read the setting through arrears.config.get_settings() instead: {found}"


def test_the_check_sees_each_way_of_reading():
    source = "import os\na = os.getenv('X')\nb = os.environ.get('Y')\nc = os.environ['Z']\nos.environ['W'] = '1'\n"
    assert _reads(ast.parse(source)) == [2, 3, 4]
