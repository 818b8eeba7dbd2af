"""The local gateway takes many connections at once: clients connecting while it is busy wait in its backlog
instead of being refused or reset (socketserver's default backlog is 5)."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from infra.local.gateway import DevTokens, make_server

CLIENTS = 40


def _request(sock: socket.socket, answers: list[Any]) -> None:
    try:
        sock.sendall(b"GET /_dev/ping HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        answers.append({"status": int(head.split()[1]), "body": json.loads(body)})
    except OSError as exc:  # reset, refused, timed out: what a client of a full backlog sees
        answers.append({"error": repr(exc)})


def test_forty_clients_connecting_at_once_are_all_served() -> None:
    server = make_server(
        "127.0.0.1",
        0,
        functions={},
        routes=[],
        tokens=DevTokens("test-secret"),
        dev_routes={("GET", "/_dev/ping"): lambda _body, _query: (200, {"pong": True})},
        quiet=True,
    )
    port = server.server_address[1]
    sockets: list[socket.socket] = []
    answers: list[Any] = []
    try:
        # Every client connects before the gateway accepts anything: they all wait in the listen backlog.
        for _ in range(CLIENTS):
            sock = socket.socket()
            sock.settimeout(3)
            sockets.append(sock)
            try:
                sock.connect(("127.0.0.1", port))
            except OSError as exc:
                answers.append({"error": repr(exc)})
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        threads = [threading.Thread(target=_request, args=(s, answers), daemon=True) for s in sockets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        for sock in sockets:
            sock.close()
        server.shutdown()
        server.server_close()
    assert [a for a in answers if a != {"status": 200, "body": {"pong": True}}] == []
    assert len(answers) == CLIENTS
