"""Write docs/openapi.json: the OpenAPI document the docs function serves, from the routes themselves.

Checked in so that a change of the API shows in review as a change of its contract (and client generators
need no running stack). The test suite fails when the code's document and the file differ.

python scripts/generate_openapi.py          # rewrite docs/openapi.json (`make docs`)
python scripts/generate_openapi.py --check  # exit 1 if docs/openapi.json is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from scripts.generated_file import write_or_check  # noqa: E402

OPENAPI_FILE = ROOT / "docs" / "openapi.json"


def document() -> dict[str, Any]:
    """The merged document of every API function, as GET /openapi.json serves it."""
    from functions.docs.app import openapi_document

    return json.loads(openapi_document())


def text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    return write_or_check(OPENAPI_FILE, lambda: text(document()), "docs", __doc__)


if __name__ == "__main__":
    sys.exit(main())
