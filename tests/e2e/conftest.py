"""Starts the local stack (the same `python -m infra.local` that `make run` starts) once per test session."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https?://[^\s\"'<>]+/approvals/([A-Za-z0-9_\-]+)")
LINKS = re.compile(r"https?://[^\s\"'<>]+/(approvals|acceptances)/([A-Za-z0-9_\-]+)")
REGION = "eu-west-1"  # what infra/local/stack.py gives boto3, with its "local" credentials


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

    def mail_about(self, to: str, about: str) -> list[dict[str, Any]]:
        """Mail to ``to`` whose subject or text mentions ``about`` (a business's own communications may
        name the case only in the subject), oldest first."""
        items = self.http.get(f"{self.base}/_dev/mail", params={"to": to}, timeout=10).json()["items"]
        return [m for m in items if about in m["subject"] or about in m["text"]]

    def wait_mail_about(self, to: str, about: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            messages = self.mail_about(to, about)
            if len(messages) >= count or time.monotonic() > deadline:
                return messages
            time.sleep(0.1)

    def link(self, to: str, about: str, kind: str = "acceptances", count: int = 1) -> str:
        """The path (``/<kind>/<token>``) of the link in the ``count``-th mail to ``to`` that mentions
        ``about`` and carries a ``kind`` link (``approvals`` or ``acceptances``); waits for it."""
        deadline = time.monotonic() + 20.0
        while True:
            found = [
                match.group(2)
                for m in self.mail_about(to, about)
                for match in [LINKS.search(m["text"])]
                if match and match.group(1) == kind
            ]
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        subjects = [m["subject"] for m in self.mail_about(to, about)]
        assert len(found) >= count, f"expected {count} mails to {to} with a /{kind}/ link, got {subjects}"
        return f"/{kind}/{found[count - 1]}"

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


class Moto:
    """boto3 against the stack's moto server, as the functions see it: for what a test can only check or
    do on the AWS side (e.g. deliver an event to the bus again, as EventBridge may)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def bus_name(self) -> str:
        """The stack's own bus (``casework-<stage>``, from template.yaml)."""
        names = [b["Name"] for b in self.client("events").list_event_buses()["EventBuses"]]
        return next(n for n in names if n.startswith("casework-"))

    def table_name(self) -> str:
        names = self.client("dynamodb").list_tables()["TableNames"]
        return next(n for n in names if n.startswith("casework-"))

    def queue_url(self, suffix: str) -> str:
        """The queue whose name ends with ``suffix`` (``-ConvertQueue``, ``-NotifyQueue``, ...)."""
        urls = self.client("sqs").list_queues()["QueueUrls"]
        return next(u for u in urls if u.endswith(suffix))

    def queue_depth(self, suffix: str) -> int:
        """Messages waiting in, or being processed from, the queue."""
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url(suffix),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def wait_drained(self, suffix: str, timeout: float = 20.0) -> bool:
        """True once the queue is empty and nothing from it is in flight (the dispatcher handled it)."""
        deadline = time.monotonic() + timeout
        while self.queue_depth(suffix):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


@pytest.fixture(scope="session")
def local_stack() -> tuple[str, str]:
    """(API base URL, moto URL) of the session's stack."""
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
    # Keep reading what the stack prints (warnings, tracebacks): a full pipe would block the stack.
    tail: deque[str] = deque(maxlen=200)
    threading.Thread(target=tail.extend, args=(process.stdout,), name="stack-output", daemon=True).start()
    yield base, f"http://127.0.0.1:{moto_port}"
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def stack_url(local_stack: tuple[str, str]) -> str:
    return local_stack[0]


@pytest.fixture(scope="session")
def moto(local_stack: tuple[str, str]) -> Moto:
    return Moto(local_stack[1])


@pytest.fixture
def api(stack_url: str) -> Api:
    return Api(stack_url)
