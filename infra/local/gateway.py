"""An HTTP server on 127.0.0.1 that does what API Gateway (HTTP API) does for casework: match the route,
check the bearer token as the JWT authorizer would (answering 401 {"message": "Unauthorized"} itself), turn
the request into a payload-format-2.0 event, invoke the function and write its response back.

Local-only routes live under /_dev: tokens for the demo users, and the mail SES "sent".
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt

from infra.local.functions import Cors, HttpRoute, LocalFunction, _path_pattern

_dev_pattern = _path_pattern  # dev routes take {placeholders} as the template's routes do

ISSUER = "https://casework.local/dev"
AUDIENCE = "casework"
TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")
MAX_BODY = 1024 * 1024


class DevTokens:
    """Signs and checks the local stack's JWTs: HS256 with a dev-only secret (a harness, not an IdP)."""

    def __init__(self, secret: str, ttl_seconds: int = 12 * 3600) -> None:
        self.secret = secret
        self.ttl = ttl_seconds

    def issue(self, username: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": username,
            "username": username,
            "iat": now,
            "exp": now + self.ttl,
            "token_use": "access",
        }
        return {"token": jwt.encode(claims, self.secret, algorithm="HS256"), "expires_at": claims["exp"]}

    def verify(self, authorization: str | None) -> dict[str, str] | None:
        """The claims as API Gateway passes them (every value a string), or None when it would answer 401."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        try:
            claims = jwt.decode(
                authorization[7:].strip(),
                self.secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in claims.items()}


def api_event(
    route: HttpRoute,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    claims: dict[str, str] | None,
    source_ip: str,
) -> dict[str, Any]:
    parts = urlsplit(url)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    content_type = headers.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in TEXT_TYPES)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": {k: unquote(v) for k, v in route.pattern.match(parts.path).groupdict().items()},
        "isBase64Encoded": not is_text,
    }
    if query:
        event["queryStringParameters"] = query
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if body:
        event["body"] = body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()
    return event


class GatewayServer(ThreadingHTTPServer):
    """One thread per connection, as many connections waiting as a browser and a test client open at once
    (socketserver's default backlog of 5 resets the 6th). Requests still run one at a time per function
    (infra.local.functions.INVOKE_LOCK), as on one warm container."""

    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True


def make_server(
    host: str,
    port: int,
    *,
    functions: dict[str, LocalFunction],
    routes: list[HttpRoute],
    tokens: DevTokens,
    dev_routes: dict[tuple[str, str], Callable[[dict, dict], tuple[int, Any]]],
    quiet: bool = False,
    cors: Cors | None = None,
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "casework-local"

        def log_message(self, fmt: str, *args: Any) -> None:
            if not quiet:
                super().log_message(fmt, *args)

        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            cookies: list[str] | None = None,
        ) -> None:
            self.send_response(status)
            headers = {k.lower(): v for k, v in (headers or {}).items()}
            headers.setdefault("content-type", "application/json")
            origin = self.headers.get("origin")
            if cors is not None and origin and status != 204:  # API Gateway adds these to every response
                headers["access-control-allow-origin"] = cors.allow_origin(origin)
                if cors.expose:
                    headers["access-control-expose-headers"] = ", ".join(cors.expose)
            for key, value in headers.items():
                if key not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            for cookie in cookies or ():
                self.send_header("set-cookie", cookie)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _preflight(self, headers: dict[str, str]) -> None:
            """API Gateway answers a CORS preflight itself (no route, no function): 204, with the allow
            headers when the configuration allows the origin, method and headers asked for, else without."""
            assert cors is not None
            origin = headers.get("origin", "")
            method = headers["access-control-request-method"]
            asked = [
                h.strip() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()
            ]
            answer: dict[str, str] = {}
            if cors.allows(origin, method, asked):
                answer = {
                    "access-control-allow-origin": cors.allow_origin(origin),
                    "access-control-allow-methods": ", ".join(cors.methods),
                    "access-control-allow-headers": ", ".join(cors.headers),
                }
                if cors.max_age is not None:
                    answer["access-control-max-age"] = str(cors.max_age)
            self._send(204, b"", answer)

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(payload, default=str).encode(), headers)

        def _handle(self) -> None:
            method = self.command.upper()
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self._json(413, {"message": "Request Entity Too Large"})
                return
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = urlsplit(self.path).path
            if method == "OPTIONS" and cors is not None and "access-control-request-method" in headers:
                self._preflight(headers)
                return
            dev = dev_routes.get((method, path))
            path_params: dict[str, str] = {}
            if dev is None:  # a dev route with a {placeholder}: /_dev/schedules/{name}/run
                for (dev_method, dev_path), candidate in dev_routes.items():
                    match = _dev_pattern(dev_path).match(path) if "{" in dev_path else None
                    if dev_method == method and match:
                        dev, path_params = candidate, {k: unquote(v) for k, v in match.groupdict().items()}
                        break
            if dev is not None:
                try:
                    payload = json.loads(body) if body else {}
                except json.JSONDecodeError:
                    self._json(400, {"message": "body is not JSON"})
                    return
                query = dict(parse_qsl(urlsplit(self.path).query)) | path_params
                status, result = dev(payload, query)
                self._json(status, result)
                return
            candidates = [r for r in routes if r.pattern.match(path)]
            route = next((r for r in candidates if r.method == method), None)
            if route is None:
                self._json(404, {"message": "Not Found"})
                return
            claims = None
            if route.authorized:
                claims = tokens.verify(headers.get("authorization"))
                if claims is None:
                    self._json(401, {"message": "Unauthorized"}, {"www-authenticate": "Bearer"})
                    return
            event = api_event(route, method, self.path, headers, body, claims, self.client_address[0])
            try:
                result = functions[route.function].invoke(event)
            except Exception as exc:  # what API Gateway does when the function itself fails
                self.log_error("function %s failed: %r", route.function, exc)
                self._json(500, {"message": "Internal Server Error"})
                return
            self._respond(result)

        def _respond(self, result: Any) -> None:
            if not isinstance(result, dict) or "statusCode" not in result:  # payload 2.0 shorthand
                self._json(200, result)
                return
            raw = result.get("body") or ""
            body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
            headers = dict(result.get("headers") or {})
            for key, values in (result.get("multiValueHeaders") or {}).items():
                headers[key] = ", ".join(values)
            self._send(int(result["statusCode"]), body, headers, result.get("cookies"))

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = _handle

    return GatewayServer((host, port), Handler)
