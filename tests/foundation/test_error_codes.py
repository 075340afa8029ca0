"""Error codes are members of one StrEnum per domain (issue 18 point 7), never string literals.

The source scan reads `arrears/` with `ast`: a `code="…"` keyword argument, a class attribute
`code = "…"` on a DomainError subclass, or `….code == "…"` is a literal that belongs in an enum.
"""

from __future__ import annotations

import ast
import importlib
import json
import pickle
import re
from enum import StrEnum
from pathlib import Path

import pytest

import arrears
from arrears.errors import DomainError, ErrorCode

SOURCE = Path(arrears.__file__).parent
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")

# Every domain's enum, by module: a renamed or removed one fails here.
EXPECTED = {
    "arrears.errors": {"ErrorCode"},
    "arrears.identity.errors": {"IdentityErrorCode"},
    "arrears.premiums.errors": {"PremiumErrorCode"},
    "arrears.messaging.errors": {"MessagingErrorCode"},
    "arrears.partners.errors": {"PartnerErrorCode"},
    "arrears.debtors.errors": {"DebtorErrorCode", "RowErrorCode"},
    "arrears.customers.errors": {"CustomerErrorCode"},
    "arrears.pharmacy.errors": {"PharmacyErrorCode"},
    "arrears.accounts.errors": {"AccountErrorCode"},
    "arrears.tasks.errors": {"TaskErrorCode"},
    "arrears.promises.errors": {"PromiseErrorCode"},
    "arrears.payments.errors": {"PaymentErrorCode"},
    "arrears.letters.errors": {"LetterErrorCode"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def code_enums() -> dict[str, type[StrEnum]]:
    """Every StrEnum named *ErrorCode defined in an `errors.py` of arrears/."""
    found: dict[str, type[StrEnum]] = {}
    for path in sorted(SOURCE.rglob("errors.py")):
        module = importlib.import_module(_module_name(path))
        for name, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, StrEnum) and name.endswith("ErrorCode")
                    and value.__module__ == module.__name__):
                found[f"{module.__name__}.{name}"] = value
    return found


def _is_str(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def domain_error_classes(trees: dict[str, ast.Module]) -> set[str]:
    """Names of the classes that derive from DomainError, directly or not (by name, to a fixpoint)."""
    names = {"DomainError"}
    classes = [n for tree in trees.values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if c.name not in names and any(_base_name(b) in names for b in c.bases)}
        if not more:
            return names
        names |= more


def code_literals(trees: dict[str, ast.Module]) -> list[str]:
    """Where a code is written as a string literal: `file:line: what`."""
    errors = domain_error_classes(trees)
    found: list[str] = []
    for where, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "code" and _is_str(node.value):
                found.append(f"{where}:{node.value.lineno}: code={node.value.value!r}")  # type: ignore[attr-defined]
            elif isinstance(node, ast.ClassDef) and node.name in errors:
                for stmt in node.body:
                    targets = (stmt.targets if isinstance(stmt, ast.Assign)
                               else [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
                    if any(isinstance(t, ast.Name) and t.id == "code" for t in targets) and _is_str(stmt.value):
                        found.append(f"{where}:{stmt.lineno}: class {node.name} code = {stmt.value.value!r}")  # type: ignore[union-attr]
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if (any(isinstance(s, ast.Attribute) and s.attr == "code" for s in sides)
                        and any(_is_str(s) for s in sides)):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def parse(sources: dict[str, str]) -> dict[str, ast.Module]:
    return {where: ast.parse(text, where) for where, text in sources.items()}


def test_every_domain_has_its_enum() -> None:
    enums = code_enums()
    for module, names in EXPECTED.items():
        for name in names:
            assert f"{module}.{name}" in enums, f"{module}.{name} is missing"


@pytest.mark.parametrize("name", sorted(code_enums()))
def test_enum_values_are_unique_upper_snake_and_named_as_their_value(name: str) -> None:
    enum = code_enums()[name]
    # A repeated value makes an alias: it is in __members__ but not in the iteration.
    assert list(enum.__members__) == [m.name for m in enum], f"{name} repeats a value"
    for member in enum:
        assert UPPER_SNAKE.match(member.value), f"{name}.{member.name} = {member.value!r}"
        assert member.name == member.value, f"{name}.{member.name} = {member.value!r}"


def test_no_code_is_defined_by_two_enums() -> None:
    owners: dict[str, list[str]] = {}
    for name, enum in code_enums().items():
        for member in enum:
            owners.setdefault(member.value, []).append(name)
    assert {code: names for code, names in owners.items() if len(names) > 1} == {}


@pytest.mark.slow
def test_no_code_literal_remains_in_the_source() -> None:
    trees = parse({str(p.relative_to(SOURCE.parent)): p.read_text(encoding="utf-8")
                   for p in sorted(SOURCE.rglob("*.py"))})
    assert code_literals(trees) == []


def test_the_scan_finds_each_kind_of_literal() -> None:
    """The scan above would pass on an empty list of findings: show it finds each kind."""
    trees = parse({
        "base.py": "class DomainError(Exception):\n    code = ErrorCode.ERROR\n",
        "a.py": (
            "from base import DomainError\n"
            "class Gone(DomainError):\n    code = 'GONE'\n"
            "class Deeper(Gone):\n    code: str = 'DEEPER'\n"
            "class Other:\n    code = 'NOT_AN_ERROR'\n"  # not a DomainError: allowed
            "raise Gone('x', code='GONE_AGAIN')\n"
            "if exc.code == 'GONE':\n    pass\n"
            "raise Gone('x', code=ErrorCode.NOT_FOUND)\n"  # an enum member: allowed
        ),
    })
    assert sorted(code_literals(trees)) == [
        "a.py:3: class Gone code = 'GONE'",
        "a.py:5: class Deeper code = 'DEEPER'",
        "a.py:8: code='GONE_AGAIN'",
        "a.py:9: exc.code == 'GONE'",
    ]


def test_every_loaded_domain_error_class_takes_its_code_from_an_enum() -> None:
    import arrears.app  # noqa: F401 - loads the faces, the domains and their error classes
    import arrears.cli  # noqa: F401

    enums = tuple(code_enums().values())
    seen, todo = [], [DomainError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
        if "code" in vars(cls):
            assert isinstance(vars(cls)["code"], enums), f"{cls.__module__}.{cls.__qualname__}.code"
    assert len(seen) > 20  # the walk did reach the domains' classes


def test_a_member_renders_as_its_plain_string() -> None:
    from arrears.debtors.errors import DebtorErrorCode
    from arrears.debtors.pdf import PdfReadError
    from arrears.debtors.reading import ReadError
    from arrears.identity.errors import IdentityErrorCode

    err = DomainError("no", code=IdentityErrorCode.TOKEN_INVALID)
    assert json.dumps({"code": err.code}) == '{"code": "TOKEN_INVALID"}'
    assert (str(err.code), f"{err.code}", err.code) == ("TOKEN_INVALID", "TOKEN_INVALID", "TOKEN_INVALID")
    assert json.dumps({"error": ErrorCode.RATE_LIMIT_EXCEEDED}) == '{"error": "RATE_LIMIT_EXCEEDED"}'
    # The parse sandbox pickles these errors from its child process to the parent.
    read = pickle.loads(pickle.dumps(ReadError(DebtorErrorCode.CORRUPT_FILE, "bad", {"sheet": "S"})))
    assert (read.code, read.message, read.details) == ("CORRUPT_FILE", "bad", {"sheet": "S"})
    assert repr(read) == "ReadError('CORRUPT_FILE', 'bad')"
    pdf = pickle.loads(pickle.dumps(PdfReadError(DebtorErrorCode.NO_TEXT)))
    assert (pdf.code, pdf.status) == (DebtorErrorCode.NO_TEXT, 400)
