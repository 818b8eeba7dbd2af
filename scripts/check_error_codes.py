"""Every error code written in the code is an ErrorCode member, raised with a kind that gives its status.

Reads the source (no import of it): every call of an error class (DomainError, its subclasses, PoisonMessage),
of ``error_response(status, code, ...)`` and of the local stack's ``dev_error(status, code, ...)`` whose code
is a string literal (positional or ``code=``) must name a member of casework.domain.error_codes.ErrorCode,
and the status its class (or its status argument) gives must be one of the member's statuses. Call sites
that pass ``ErrorCode.X`` are checked by the type checker and by Python itself (a typo is an
AttributeError at import).

python scripts/check_error_codes.py   # exit 1 and a list of problems, if any (the tests run it too)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared")]

from casework.domain.error_codes import ErrorCode  # noqa: E402

SOURCES = ("shared/casework", "functions", "infra/local")
# The HTTP status each error class answers with (casework.http.api.STATUS_FOR of its kind); None: not HTTP.
STATUS_OF_CLASS: dict[str, int | None] = {
    "DomainError": 422,
    "ValidationFailed": 422,
    "NotFound": 404,
    "Forbidden": 403,
    "Conflict": 409,
    "Gone": 410,
    "Unauthenticated": 401,
    "BadRequest": 400,
    "Unavailable": 503,
    "PoisonMessage": None,  # a queue message that can never succeed: logged, then the dead-letter queue
}
STATUS_FIRST = ("error_response", "dev_error")  # (status, code, message, ...)


@dataclass(frozen=True)
class CodeUse:
    path: str
    line: int
    code: str
    status: int | None

    def problem(self) -> str | None:
        where = f"{self.path}:{self.line}"
        if self.code not in ErrorCode.__members__:
            return f"{where}: {self.code} is not an ErrorCode (add it to casework/domain/error_codes.py)"
        member = ErrorCode(self.code)
        if self.status is not None and self.status not in member.statuses:
            return f"{where}: {self.code} is raised as {self.status}; ErrorCode says {member.statuses}"
        return None


def _subclasses(tree: ast.Module, known: dict[str, int | None]) -> None:
    """Classes defined in the file on top of a known error class answer as their base does."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in known and node.name not in known:
                    known[node.name] = known[base.id]


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def uses_in(path: Path, classes: dict[str, int | None]) -> Iterator[CodeUse]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    _subclasses(tree, classes)
    relative = str(path.relative_to(ROOT))
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        name = _name(call)
        keyword = next((k.value for k in call.keywords if k.arg == "code"), None)
        if name in STATUS_FIRST and len(call.args) >= 2:
            code, status_node = _literal(call.args[1]), call.args[0]
            status = status_node.value if isinstance(status_node, ast.Constant) else None
        elif name in classes:
            code, status = _literal(call.args[0] if call.args else keyword), classes[name]
        else:
            continue
        if code is not None:
            yield CodeUse(relative, call.lineno, code, status if isinstance(status, int) else None)


def code_uses() -> list[CodeUse]:
    classes = dict(STATUS_OF_CLASS)
    # Two passes: a subclass defined in one file may be raised in another.
    paths = sorted(p for source in SOURCES for p in (ROOT / source).rglob("*.py"))
    for path in paths:
        _subclasses(ast.parse(path.read_text(encoding="utf-8")), classes)
    return [use for path in paths for use in uses_in(path, classes)]


def problems() -> list[str]:
    return [problem for use in code_uses() if (problem := use.problem()) is not None]


def main() -> int:
    found = problems()
    for problem in found:
        print(problem)
    print(f"{len(code_uses())} literal error codes checked, {len(found)} problem(s)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
