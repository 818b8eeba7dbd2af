"""The local stack under a day's worth of clicking: its memory after N mixed requests (with refusals, which
used to make moto copy the table each time) and how long it takes to stop. Prints figures; asserts nothing.

    python scripts/bench_local_stack.py [--requests 2000] [--clients 4]
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, user: str, **kwargs: Any) -> requests.Response:
        if user not in self.tokens:
            r = self.http.post(f"{self.base}/_dev/token", json={"username": user}, timeout=30)
            self.tokens[user] = r.json()["token"]
        headers = {"authorization": f"Bearer {self.tokens[user]}"}
        return self.http.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kwargs)


def _one_round(client: Client, n: int) -> list[int]:
    """Ten requests a user would make around one CSR: create, read, list, refused moves, a real move."""
    statuses = []
    created = client.call(
        "POST",
        "/cases",
        "mary",
        json={"type": "csr", "title": f"Bench {n}", "description": "load", "account_id": "ACC-1001"},
    )
    statuses.append(created.status_code)
    if created.status_code != 201:
        return statuses
    case = created.json()["id"]
    moves = [
        ("GET", f"/cases/{case}", "mary", {}),
        ("GET", "/cases?assignee=me&limit=10", "mary", {}),
        ("POST", f"/cases/{case}/transitions", "mary", {"json": {"to": "Approval Pending"}}),  # 409
        ("POST", f"/cases/{case}/transitions", "mary", {"json": {"to": "Pending Pre-Approval"}}),  # 422
        ("POST", f"/cases/{case}/products", "mary", {"json": {"product_code": "P-100"}}),
        ("POST", f"/cases/{case}/products", "mary", {"json": {"product_code": "P-100"}}),  # 409 twice
        ("POST", f"/cases/{case}/transitions", "mary", {"json": {"to": "Pending Pre-Approval"}}),
        ("POST", f"/cases/{case}/notes", "mary", {"json": {"text": "bench"}}),
        ("GET", f"/cases/{case}/history", "mary", {}),
    ]
    for method, path, user, kwargs in moves:
        statuses.append(client.call(method, path, user, **kwargs).status_code)
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    port, moto_port = _free_port(), _free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--port", str(port), "--moto-port", str(moto_port), "--quiet"],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if requests.get(f"{base}/_dev/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
        if process.poll() is not None or time.monotonic() - started > 120:
            print("local stack did not start", file=sys.stderr)
            return 1
    up = time.monotonic() - started
    rss_start = _rss_mb(process.pid)
    rounds = max(1, args.requests // 10)
    counter = itertools.count()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        client = Client(base)
        while (n := next(counter)) < rounds:
            got = _one_round(client, n)
            with lock:
                statuses.update(got)

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    sent = sum(statuses.values())
    rss_end = _rss_mb(process.pid)
    stop_began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
        stopped = f"{time.monotonic() - stop_began:.2f} s"
    except subprocess.TimeoutExpired:
        process.kill()
        stopped = "> 120 s (killed)"
    print(f"local stack, {time.strftime('%Y-%m-%d')}: {sent} requests from {args.clients} clients")
    print(f"  started in            {up:.1f} s")
    print(f"  requests              {sent} in {elapsed:.1f} s ({sent / elapsed:.0f}/s)")
    print(f"  statuses              {dict(sorted(statuses.items()))}")
    print(f"  memory (RSS)          {rss_start:.0f} MB at start, {rss_end:.0f} MB after")
    print(f"  stop (SIGTERM->exit)  {stopped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
