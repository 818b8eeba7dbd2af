"""``Idempotency-Key`` on the creating POSTs: a client that retries after a timeout gets the first answer.

A route opts in with ``middlewares=[idempotent(router)]``. Without the header nothing changes (not one
request more). With it, Powertools Idempotency keeps the first successful answer (status and body) for
KEY_HOURS in the case table, one item per key (its own partition, as the queue consumers' records:
casework.adapters.consumer.own_partition_persistence), and:

- the same key and the same body (JSON compared as data, not as text) answer that first response again,
  with ``Idempotent-Replayed: true``, and create nothing;
- the same key with another body is 422 IDEMPOTENCY_KEY_REUSED; while the first request still runs, 409
  IDEMPOTENCY_KEY_IN_USE (send it again in a moment);
- keys are scoped per user and per path: two users (or one user on two cases) never share a key.

A refusal (4xx) is not kept: the record is removed, so the same request may be corrected or sent again.
Powertools and the persistence layer are imported on the first request that carries the header, so a cold
start without it costs nothing more.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import BadRequest, Conflict, ValidationFailed
from casework.http.api import caller

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
VALID_KEY = re.compile(r"[A-Za-z0-9._:/@+=-]{1,128}")  # a UUID, a ULID, or any opaque token of the client
KEY_HOURS = 24  # a client retries within minutes; a day covers an outage on its side too


def idempotent(router: Router) -> Callable[..., Response]:
    """The route middleware. ``router`` is the route's own Router (it knows the caller)."""

    def middleware(app: Any, next_middleware: Callable[..., Response]) -> Response:
        key = app.current_event.headers.get(HEADER)
        if key is None:
            return next_middleware(app)
        if not VALID_KEY.fullmatch(key):
            raise BadRequest(
                ErrorCode.INVALID_IDEMPOTENCY_KEY,
                f"The {HEADER} header must be 1 to 128 letters, digits or any of . _ : / @ + = -.",
            )
        request = {
            "user": caller(router),
            "path": app.current_event.path,
            "key": key,
            "body": _canonical(app.current_event.body),
        }
        return _once(request, lambda: next_middleware(app), app.lambda_context)

    return middleware


def _canonical(body: str | None) -> str:
    """The body as data: key order and spacing do not make another request."""
    try:
        return json.dumps(json.loads(body or "null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return body or ""


def _once(request: dict[str, Any], proceed: Callable[[], Response], context: Any) -> Response:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    once, config = _idempotent_call()
    if context is not None:
        config.register_lambda_context(context)
    try:
        answer = once(request=request, proceed=proceed)
    except IdempotencyValidationError:
        raise ValidationFailed(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"This {HEADER} was sent with another body; use a new key for a new request.",
            {"key": request["key"]},
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            ErrorCode.IDEMPOTENCY_KEY_IN_USE,
            f"The first request with this {HEADER} is still running; send it again in a moment.",
            {"key": request["key"]},
        ) from None
    headers = {"Content-Type": answer["content_type"]}
    if answer.get("replayed"):
        headers[REPLAYED] = "true"
    return Response(answer["status"], answer["content_type"], answer["body"], headers)


@cache
def _idempotent_call() -> tuple[Callable[..., dict[str, Any]], Any]:
    """The first answer's keeper, built on the first request with a key."""
    from aws_lambda_powertools.event_handler.openapi.encoders import jsonable_encoder
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    from casework.adapters.consumer import own_partition_persistence

    def run(request: dict[str, Any], proceed: Callable[[], Response]) -> dict[str, Any]:
        response = proceed()
        content_type = (response.headers or {}).get("Content-Type") or "application/json"
        if isinstance(content_type, list):
            content_type = content_type[0]
        return {
            "status": response.status_code,
            "content_type": content_type,
            "body": jsonable_encoder(response.body),
        }

    def replayed(response: Any, idempotent_data: Any) -> Any:  # Powertools' IdempotentHookFunction
        return {**response, "replayed": True}

    persistence = own_partition_persistence(os.environ["TABLE_NAME"])
    config = IdempotencyConfig(
        event_key_jmespath="[user, path, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=KEY_HOURS * 3600,
        hash_function="sha256",
        response_hook=replayed,
    )
    once = idempotent_function(
        data_keyword_argument="request", persistence_store=persistence, config=config, key_prefix="http"
    )(run)
    return once, config
