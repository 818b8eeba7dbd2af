"""Prints how long each function's module takes to import in a fresh interpreter (the part of a Lambda cold
start that is ours), as the median of several runs, next to a bare interpreter's start-up.

    .venv/bin/python scripts/cold_start.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "TABLE_NAME": "casework",
    "EVENT_BUS_NAME": "casework",
    "MAIL_FROM": "casework@casework.example",
    "PUBLIC_BASE_URL": "https://example.invalid",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": "casework",
    "PYTHONPATH": str(ROOT / "shared"),
    "PATH": "/usr/bin:/bin",
}
LOAD = (
    "import importlib.util,sys; spec=importlib.util.spec_from_file_location('app', sys.argv[1]); "
    "m=importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.handler"
)


def timed(args: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, env=ENV, cwd=ROOT, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    bare = timed([sys.executable, "-c", "pass"], runs)
    print(f"bare interpreter start-up: {bare:6.0f} ms (median of {runs})\n")
    print(f"{'function':12} {'start + import':>15} {'ours':>8}")
    for app in sorted(ROOT.glob("functions/*/app.py")):
        total = timed([sys.executable, "-c", LOAD, str(app)], runs)
        print(f"{app.parent.name:12} {total:12.0f} ms {total - bare:5.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
