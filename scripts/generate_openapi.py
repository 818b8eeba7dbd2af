"""Write docs/openapi.json: the OpenAPI document the docs function serves, from the routes themselves.

Checked in so that a change of the API shows in review as a change of its contract (and client generators
need no running stack). The test suite fails when the code's document and the file differ.

python scripts/generate_openapi.py          # rewrite docs/openapi.json (`make docs`)
python scripts/generate_openapi.py --check  # exit 1 if docs/openapi.json is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

OPENAPI_FILE = ROOT / "docs" / "openapi.json"


def document() -> dict[str, Any]:
    """The merged document of every API function, as GET /openapi.json serves it."""
    from functions.docs.app import app

    return json.loads(app.get_openapi_json_schema())


def text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is out of date")
    args = parser.parse_args()
    wanted = text(document())
    if args.check:
        if not OPENAPI_FILE.exists() or OPENAPI_FILE.read_text(encoding="utf-8") != wanted:
            print(f"{OPENAPI_FILE.relative_to(ROOT)} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OPENAPI_FILE.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
