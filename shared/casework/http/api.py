"""One place where HTTP meets the domain: app construction, identity, and error mapping.

Every domain error becomes ``{"error": {"code", "message", "details"}}`` with the status its kind implies;
malformed requests get 400/422 in the same shape. A client mistake never becomes a 500.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths

from casework import correlation
from casework import settings as environment
from casework.domain.errors import (
    RETRY_AFTER_SECONDS,
    THROTTLING_CODES,
    DomainError,
    ErrorKind,
    Unauthenticated,
    busy,
)
from casework.observability import entry_point, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

STATUS_FOR = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.GONE: 410,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.UNAVAILABLE: 503,
}
MAX_JSON_DEPTH = 32  # objects and arrays nested deeper than this are refused (400 JSON_TOO_DEEP)
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)  # the email-link pages' forms
INVALID_JSON = "The request body is not valid JSON."
API_TITLE = "casework"
API_VERSION = "1.0.0"


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return Response(status, content_types.APPLICATION_JSON, json.dumps(body, default=str), headers)


def _throttled(exc: BaseException | None) -> bool:
    """Was ``exc`` (or what caused it) DynamoDB throttling us after the SDK's retries? Read by duck typing
    (botocore's ``response``, PynamoDB's ``cause_response_code``): the HTTP layer imports neither."""
    seen = 0
    while exc is not None and seen < 10:
        code = getattr(exc, "cause_response_code", None) or (getattr(exc, "response", None) or {}).get(
            "Error", {}
        ).get("Code")
        if code in THROTTLING_CODES:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def json_depth(text: str) -> int:
    """How deeply objects and arrays nest in a JSON text (strings do not count), without parsing it."""
    skeleton = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for char in skeleton:
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def refuse_body(event: dict[str, Any]) -> Response | None:
    """Bodies casework cannot read get a clear 4xx before any route sees them: a type other than JSON (or a
    form, which only the email-link pages read) is 415; JSON nested deeper than MAX_JSON_DEPTH is 400. So the
    resolver never meets a content type it cannot parse, nor JSON deep enough to exhaust the stack."""
    body = event.get("body")
    if not body:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media_type = (headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        return None
    if media_type not in JSON_TYPES:
        return error_response(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the body as JSON (Content-Type: application/json).",
            {"content_type": media_type},
        )
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "INVALID_JSON", INVALID_JSON)
    if json_depth(body) > MAX_JSON_DEPTH:
        return error_response(
            400,
            "JSON_TOO_DEEP",
            f"JSON bodies may nest objects and arrays {MAX_JSON_DEPTH} levels deep at most.",
            {"max_depth": MAX_JSON_DEPTH},
        )
    return None


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "location": ".".join(str(p) for p in err.get("loc", ())),
            "message": err.get("msg"),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]


def openapi_metadata() -> dict[str, Any]:
    """The API's OpenAPI metadata (title, version, security). Only the docs need it; importing the OpenAPI
    models costs ~200 ms of cold start, so the other functions never do."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return {
        "title": API_TITLE,
        "version": API_VERSION,
        "description": "Customer-care case lifecycles (CSR and more) run by one workflow engine.",
        "security_schemes": {
            "jwt": HTTPBearer(bearerFormat="JWT", description="The JWT authorizer's token.")
        },
        "security": [{"jwt": []}],
    }


def describe_api(app: APIGatewayHttpResolver) -> None:
    """Configure ``app``'s OpenAPI document with the API's metadata."""
    app.configure_openapi(**openapi_metadata())


def make_app(*routers: Router) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(DomainError)
    def on_domain_error(exc: DomainError) -> Response:
        status = STATUS_FOR[exc.kind]
        logger.info("request refused", extra={"code": exc.code, "status": status})
        return error_response(status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    def on_invalid_request(exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(400, "INVALID_JSON", INVALID_JSON)
        return error_response(
            422, "INVALID_REQUEST", "The request does not have the expected shape.", {"errors": details}
        )

    @app.not_found
    def on_not_found(_: Exception) -> Response:
        return error_response(404, "ROUTE_NOT_FOUND", "No such route.")

    @app.exception_handler(Exception)
    def on_unexpected(exc: Exception) -> Response:
        if _throttled(exc):
            logger.warning("throttled after retries", extra={"error": repr(exc)})
            return on_domain_error(busy())
        logger.exception("unexpected error")
        return error_response(500, "INTERNAL_ERROR", "Something went wrong on our side; it has been logged.")

    return app


def caller(router: Router) -> str:
    """The username the JWT authorizer vouched for. API Gateway refuses requests without a valid token before
    they reach us; this is the second line (and the local stack's)."""
    event = cast("APIGatewayProxyEventV2", router.current_event)  # an HTTP API's (payload format 2.0)
    claims = event.request_context.authorizer.jwt_claim or {}
    for claim in (environment.load().username_claim, "cognito:username", "username"):
        value = claims.get(claim)
        if isinstance(value, str) and value:
            return value
    raise Unauthenticated("UNAUTHENTICATED", "A valid bearer token is required.")


def _correlation_id(event: dict) -> str | None:
    """The client's ``x-correlation-id`` header, else API Gateway's request id. Raises ValueError for a
    header that is not an id (too long, or characters that have no place in one)."""
    headers = event.get("headers") or {}
    sent = next((v for k, v in headers.items() if k.lower() == correlation.HEADER), None)
    if sent is not None:
        if not correlation.VALID.fullmatch(sent):
            raise ValueError(sent)
        return sent
    return (event.get("requestContext") or {}).get("requestId")


def _lambda_response(response: Response) -> dict:
    """A refusal made before the resolver runs, shaped as the resolver shapes every response."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **(response.headers or {})},
        "body": response.body,
        "isBase64Encoded": False,
        "cookies": [],
    }


def _refused_correlation_id() -> dict:
    """The 400 for a malformed correlation header."""
    message = f"The {correlation.HEADER} header must be 1 to 128 letters, digits or any of . _ : / @ + = -."
    return _lambda_response(error_response(400, "INVALID_CORRELATION_ID", message))


def lambda_handler(app: APIGatewayHttpResolver) -> Callable[[dict, Any], dict]:
    """The Lambda entry point of an API function. The request's correlation id goes on every log line,
    every domain event the request raises (casework.correlation) and the response's ``x-correlation-id``
    header, so a client can quote it and a subscriber can trace an event back to it."""

    @entry_point(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict, context: Any) -> dict:
        try:
            correlation_id = _correlation_id(event)
        except ValueError:
            logger.info("request refused", extra={"code": "INVALID_CORRELATION_ID", "status": 400})
            return _refused_correlation_id()
        logger.set_correlation_id(correlation_id)
        refused = refuse_body(event)
        if refused is not None:
            response = _lambda_response(refused)
        else:
            with correlation.bound(correlation_id):
                response = app.resolve(event, context)
        if correlation_id:
            response.setdefault("headers", {})[correlation.HEADER] = correlation_id
        return response

    return handler
