"""The layer's build (shared/Makefile, what `sam build` runs for SharedLayer) ships the bytecode of casework,
made by the runtime's Python, so that a cold start on Lambda (where /opt is read-only) compiles nothing.

Run here with this interpreter standing in for the runtime's Python (the Makefile's LAYER_PYTHON); the
dependencies' half (pip for the runtime's platform, then the same compileall) is not run: it downloads."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
UNCHECKED_HASH = 0b01  # PEP 552: hash-based, source not checked


def make(*targets: str, **variables: str) -> subprocess.CompletedProcess[str]:
    assignments = [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT / "shared"), *targets, *assignments],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("layer")
    built = make(
        "layer-package",
        ARTIFACTS_DIR=str(artifacts),
        LAYER_PYTHON=sys.executable,
        LAYER_PYTHON_VERSION=VERSION,
    )
    assert built.returncode == 0, built.stderr
    return artifacts / "python"


def test_every_module_of_casework_ships_its_bytecode_trusted_without_its_source(layer: Path) -> None:
    sources = sorted((layer / "casework").rglob("*.py"))
    assert len(sources) > 100  # the whole package, not a part of it
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        assert compiled.exists(), source
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == UNCHECKED_HASH, source


def test_the_layer_imports_from_its_bytecode_alone(layer: Path) -> None:
    """Every source is replaced by one that fails: the API's modules still import, from the bytecode."""
    for source in (layer / "casework").rglob("*.py"):
        source.write_text("raise SystemExit('compiled from source')\n")
    env = {**os.environ, "PYTHONPATH": str(layer), "TABLE_NAME": "t", "MAIL_FROM": "m@example.com"}
    run = subprocess.run(
        [sys.executable, "-c", "import casework.http.read_routes, casework.adapters.consumer; print('ok')"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_bytecode_of_another_python_than_the_runtimes_is_refused(tmp_path: Path) -> None:
    refused = make(
        "layer-package", ARTIFACTS_DIR=str(tmp_path), LAYER_PYTHON=sys.executable, LAYER_PYTHON_VERSION="3.99"
    )
    assert refused.returncode != 0
    assert f"LAYER_PYTHON is Python {VERSION}" in refused.stderr
    assert "must be made by Python 3.99" in refused.stderr
    assert not (tmp_path / "python").exists()  # nothing built
