"""Domain errors with stable codes.

Entry points map ``kind`` to an HTTP status in one place (casework.http.api); the domain never
speaks HTTP. Codes are part of the public API: clients branch on them, so never rename one. Every code is a
member of casework.domain.error_codes.ErrorCode, with its status and meaning.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from casework.domain.error_codes import ErrorCode


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the request itself is malformed or incomplete (422)
    NOT_FOUND = "not_found"  # 404
    FORBIDDEN = "forbidden"  # 403
    CONFLICT = "conflict"  # the current state does not allow it (409)
    GONE = "gone"  # a used or expired link (410)
    UNAUTHENTICATED = "unauthenticated"  # 401
    BAD_REQUEST = "bad_request"  # the request cannot be read at all (400)
    UNAVAILABLE = "unavailable"  # the database is busy: safe to retry the same request (503, Retry-After)


class DomainError(Exception):
    kind: ErrorKind = ErrorKind.INVALID

    # ``str`` only while a few call sites still spell their code out (scripts/check_error_codes.py holds
    # those to the enum too); a member is its own string, so bodies and comparisons are the same either way.
    def __init__(self, code: ErrorCode | str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(DomainError):
    kind = ErrorKind.INVALID


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT


class Gone(DomainError):
    kind = ErrorKind.GONE


class Unauthenticated(DomainError):
    kind = ErrorKind.UNAUTHENTICATED


class BadRequest(DomainError):
    kind = ErrorKind.BAD_REQUEST


class Unavailable(DomainError):
    """Throttled after the SDK's retries. Nothing was written; the same request may be sent again."""

    kind = ErrorKind.UNAVAILABLE


def require_version_read(what: str, expected: int | None, current: int) -> None:
    """A change made on the version the client read: ``expected`` is that version (None: the client named
    none, the current one goes); any other than ``current`` is 409 STALE_VERSION with both in the details."""
    if expected is not None and expected != current:
        raise Conflict(
            ErrorCode.STALE_VERSION,
            f"The {what} has changed since you read it; reload and try again.",
            {"expected_version": expected, "current_version": current},
        )


def busy() -> Unavailable:
    return Unavailable(
        ErrorCode.RETRY_LATER,
        "casework is busy right now; nothing was changed. Send the same request again in a moment.",
        {"retry_after_seconds": RETRY_AFTER_SECONDS},
    )


RETRY_AFTER_SECONDS = 1
# What DynamoDB (and the SDK) call throttling, as error codes and transaction cancellation reasons.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "ThrottlingError",
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)


class InvalidDefinition(ValueError):
    """A workflow definition that cannot run. Raised when a definition is loaded, never at request time."""


def link_used(details: dict[str, Any] | None = None) -> Gone:
    return Gone(ErrorCode.TOKEN_USED, "This approval link has already been used.", details)


def link_expired() -> Gone:
    return Gone(ErrorCode.TOKEN_EXPIRED, "This approval link has expired. Open the case to decide.")
