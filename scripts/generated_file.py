"""The command line every generator of a checked-in file shares: write it, or --check that it is current."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
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
