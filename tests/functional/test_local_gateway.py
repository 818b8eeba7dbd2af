"""The local gateway takes many connections at once: clients connecting while it is busy wait in its backlog
instead of being refused or reset (socketserver's default backlog is 5)."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from infra.local.functions import Cors
from infra.local.gateway import DevTokens, GatewayServer, make_server

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


def _ping_server(cors: Cors | None = None) -> GatewayServer:
    """The gateway on a free port with one route, GET /_dev/ping, not yet serving."""
    return make_server(
        "127.0.0.1",
        0,
        functions={},
        routes=[],
        tokens=DevTokens("test-secret"),
        dev_routes={("GET", "/_dev/ping"): lambda _body, _query: (200, {"pong": True})},
        quiet=True,
        cors=cors,
    )


def test_forty_clients_connecting_at_once_are_all_served() -> None:
    server = _ping_server()
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


# --- CORS: a browser's preflight of every route, as API Gateway answers it ---------------------------------


def _raw(port: int, request: str) -> tuple[int, dict[str, str]]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), {k.lower(): v for k, v in headers.items()}


# Every header a client of the API sends: the preflight must allow each (a browser refuses the request else).
REQUEST_HEADERS = ("authorization", "content-type", "x-correlation-id", "idempotency-key")


def test_the_template_allows_and_exposes_the_headers_the_api_reads_and_writes() -> None:
    from casework import correlation
    from casework.http import idempotency
    from infra.local.functions import cors_of
    from infra.local.template import load_template

    cors = cors_of(load_template())
    assert cors is not None
    assert {h.lower() for h in cors.headers} >= {
        *REQUEST_HEADERS,
        correlation.HEADER,
        idempotency.HEADER.lower(),
    }
    exposed = {h.lower() for h in cors.expose}
    assert exposed >= {correlation.HEADER, "retry-after", idempotency.REPLAYED.lower()}


def test_every_routes_preflight_allows_its_method_and_responses_carry_the_origin() -> None:
    from infra.local.functions import cors_of
    from infra.local.template import load_template

    template = load_template()
    cors = cors_of(template)
    assert cors is not None
    routes = {
        f"{source['Properties']['Method'].upper()} {source['Properties']['Path']}"
        for res in template["Resources"].values()
        if res["Type"] == "AWS::Serverless::Function"
        for source in res["Properties"].get("Events", {}).values()
        if source["Type"] == "HttpApi"
    }
    assert {key.split(" ")[0] for key in routes} <= set(cors.methods)  # PUT /config/{module} was missing

    server = _ping_server(cors)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        origin = "https://crm.example.com"
        for key in sorted(routes):
            method, path = key.split(" ", 1)
            status, headers = _raw(
                port,
                f"OPTIONS {path} HTTP/1.1\r\nHost: local\r\nOrigin: {origin}\r\n"
                f"Access-Control-Request-Method: {method}\r\n"
                f"Access-Control-Request-Headers: {', '.join(REQUEST_HEADERS)}\r\n"
                "Connection: close\r\n\r\n",
            )
            assert status == 204, key
            assert method in headers["access-control-allow-methods"].split(", "), key
            assert headers["access-control-allow-origin"] == "*"
        refused_status, refused = _raw(
            port,
            f"OPTIONS /cases HTTP/1.1\r\nHost: local\r\nOrigin: {origin}\r\n"
            "Access-Control-Request-Method: TRACE\r\nConnection: close\r\n\r\n",
        )
        assert refused_status == 204 and "access-control-allow-origin" not in refused
        status, headers = _raw(
            port, f"GET /_dev/ping HTTP/1.1\r\nHost: local\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        )
        assert status == 200 and headers["access-control-allow-origin"] == "*"
        assert "X-Correlation-Id" in headers["access-control-expose-headers"]
    finally:
        server.shutdown()
        server.server_close()
