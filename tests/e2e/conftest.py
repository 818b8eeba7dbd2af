"""Starts the local stack (the same `python -m infra.local` that `make run` starts) once per test session."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https?://[^\s\"'<>]+/approvals/([A-Za-z0-9_\-]+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A thin HTTP client for the tests: tokens per user, JSON in and out, and the dev mailbox."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            r = self.http.post(f"{self.base}/_dev/token", json={"username": username}, timeout=10)
            r.raise_for_status()
            self._tokens[username] = r.json()["token"]
        return self._tokens[username]

    def call(self, method: str, path: str, user: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if user:
            headers["authorization"] = f"Bearer {self.token(user)}"
        return self.http.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, user: str, status: int = 200, **kwargs: Any) -> dict[str, Any]:
        r = self.call(method, path, user, **kwargs)
        assert r.status_code == status, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json()

    def error(self, method: str, path: str, user: str | None, status: int, code: str, **kwargs: Any) -> dict:
        r = self.call(method, path, user, **kwargs)
        assert r.status_code == status, f"{method} {path} -> {r.status_code} {r.text}"
        body = r.json()["error"]
        assert body["code"] == code, body
        assert body["message"]
        return body

    def mail(self, to: str, about: str) -> list[dict[str, Any]]:
        """Mail to ``to`` that mentions ``about`` (each test's case has a unique title), oldest first."""
        items = self.http.get(f"{self.base}/_dev/mail", params={"to": to}, timeout=10).json()["items"]
        return [m for m in items if about in m["text"]]

    def wait_mail(self, to: str, about: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Mail goes out asynchronously (stream -> EventBridge -> SQS -> notify): wait for it."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.mail(to, about)
            if len(messages) >= count or time.monotonic() > deadline:
                return messages
            time.sleep(0.1)

    def approval_link(self, to: str, about: str, count: int = 1) -> str:
        messages = self.wait_mail(to, about, count)
        assert len(messages) >= count, (
            f"expected {count} mails to {to}, got {[m['subject'] for m in messages]}"
        )
        match = LINK.search(messages[count - 1]["text"])
        assert match, messages[count - 1]["text"]
        return f"/approvals/{match.group(1)}"

    # --- story helpers ---

    def new_csr(self, user: str = "mary", **overrides: Any) -> dict[str, Any]:
        body = {
            "type": "csr",
            "title": f"Antistatic grade for conveyor belts {uuid.uuid4().hex[:8]}",
            "description": "Acme needs an antistatic PA66 for its belt rollers.",
            "account_id": "ACC-1001",
            "fields": {"requirement_category": "Product Specification"},
            **overrides,
        }
        return self.ok("POST", "/cases", user, 201, json=body)

    def submitted_csr(self) -> dict[str, Any]:
        case = self.new_csr()
        self.ok("POST", f"/cases/{case['id']}/products", "mary", 201, json={"product_code": "P-100"})
        return self.ok(
            "POST", f"/cases/{case['id']}/transitions", "mary", json={"to": "Pending Pre-Approval"}
        )


@pytest.fixture(scope="session")
def stack_url() -> str:
    port, moto_port = _free_port(), _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--port", str(port), "--moto-port", str(moto_port), "--quiet"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{base}/_dev/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"local stack did not start:\n{process.stdout.read()}")
        time.sleep(0.2)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def api(stack_url: str) -> Api:
    return Api(stack_url)
