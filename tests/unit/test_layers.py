"""The arrows point down: domain <- services <- adapters/http. Read from the source (every import, lazy ones
inside functions included), so a shortcut upwards fails here before it confuses a reader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "casework"

# layer -> the layers it must not import. Adapters implement the services' ports (casework.services.ports),
# the one place they meet; nothing else of the services.
FORBIDDEN = {
    "domain": ("casework.services", "casework.adapters", "casework.http"),
    "services": ("casework.adapters", "casework.http"),
    "adapters": ("casework.services", "casework.http"),
}
ALLOWED = {"adapters": ("casework.services.ports",)}
# Port types two services still declare beside themselves rather than in casework.services.ports (the write
# a directory store takes; the ERP event contract its store records). Only these names: anything else from
# those modules fails like any other upward import. Moving them into the ports empties this list.
PORTS_ELSEWHERE = {
    "casework.services.directory_admin": {"DirectoryWrite"},
    "casework.services.erp": {"EVENT_TYPES", "ErpDetail", "Outcome", "UnknownEventType", "problems"},
}


def imports_of(path: Path) -> list[tuple[int, str, frozenset[str]]]:
    """Every absolute import: its line, the module, and the names taken from it (none for ``import m``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, frozenset()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, frozenset(a.name for a in node.names)))
    return found


def crossings(layer: str) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, module, names in imports_of(path):
            upward = any(module == f or module.startswith(f + ".") for f in FORBIDDEN[layer])
            allowed = any(module == a or module.startswith(a + ".") for a in ALLOWED.get(layer, ()))
            if layer == "adapters" and names and names <= PORTS_ELSEWHERE.get(module, set()):
                allowed = True
            if upward and not allowed:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_one_above_it(layer: str) -> None:
    assert crossings(layer) == []


def test_the_walk_sees_a_lazy_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from casework.services.cases import CaseService\n")
    assert imports_of(module) == [(2, "casework.services.cases", frozenset({"CaseService"}))]
