"""The command line every generator of a checked-in file shares: write it, or --check that it is current."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_or_check(path: Path, wanted: Callable[[], str], make_target: str, doc: str | None) -> int:
    """Rewrite ``path`` with ``wanted()``; with --check, exit 1 (naming the make target) if it differs."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {path.name} is out of date")
    args = parser.parse_args()
    text = wanted()
    if args.check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"{path.relative_to(ROOT)} is out of date: run `make {make_target}`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


def changed(outputs: Mapping[Path, str], present: Iterable[Path]) -> list[Path]:
    """The generated files whose text differs from ``outputs``, then the files ``present`` that no output
    names any more (a removed event type, a removed module)."""
    out = [path for path, text in outputs.items() if not path.is_file() or path.read_text("utf-8") != text]
    return out + sorted(path for path in present if path not in outputs)


def sync_or_check(
    outputs: Mapping[Path, str],
    present: Iterable[Path],
    make_target: str,
    doc: str | None,
    argv: list[str] | None,
) -> int:
    """For a generator of several files: write what changed and remove what no output names; with --check,
    exit 1 naming each file that is out of date."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    args = parser.parse_args(argv)
    present = list(present)
    behind = changed(outputs, present)
    if args.check:
        for path in behind:
            print(f"out of date: {path.relative_to(ROOT)} (run `make {make_target}`)")
        return 1 if behind else 0
    for path in behind:
        if path in outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(outputs[path], encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        else:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
    return 0
