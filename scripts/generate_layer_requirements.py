"""Write shared/requirements.txt (what `sam build` installs into the Lambda layer) from requirements.lock.

The layer gets exactly the versions the tests ran with: every pin of the runtime lock, boto3 and botocore
included (pynamodb brings botocore into the layer anyway, and a layer's botocore paired with the runtime's
own boto3 of another release is the mismatch to avoid).

python scripts/generate_layer_requirements.py          # rewrite it (`make lock` does)
python scripts/generate_layer_requirements.py --check  # exit 1 if it is out of date (the tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from scripts.generated_file import write_or_check  # noqa: E402

LOCK = ROOT / "requirements.lock"
LAYER = ROOT / "shared" / "requirements.txt"
HEADER = """\
# The Lambda layer's dependencies, pinned: generated from requirements.lock by
# scripts/generate_layer_requirements.py (`make lock`); edit pyproject.toml, not this file.
"""


def pins(lock_text: str) -> list[str]:
    """The requirement lines of a uv/pip-tools lock, without its comments (markers kept)."""
    return [line for line in lock_text.splitlines() if line and not line[0].isspace() and line[0] != "#"]


def layer_text() -> str:
    return HEADER + "\n".join(pins(LOCK.read_text(encoding="utf-8"))) + "\n"


def main() -> int:
    return write_or_check(LAYER, layer_text, "lock", __doc__)


if __name__ == "__main__":
    sys.exit(main())
