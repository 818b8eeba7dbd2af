"""An emailed link's token: the one lookup every kind of link goes through (``open_link``: unknown, used,
expired), and using it up. Light on purpose: the notify function mints links and imports only this.

There is no login behind a link: the link is the credential (random, >= 256 bits, stored hashed, bound to
person + case + step + round, single use, expiring).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from casework.domain.errors import Gone, NotFound, link_expired, link_used
from casework.domain.model import timestamp
from casework.services.ports import ApprovalToken, CaseRepository, Clock, ConsumeToken


def hash_token(raw: str) -> str:
    """Links carry >= 256 random bits, so a plain SHA-256 is enough: nothing to brute-force."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class LinkKind:
    """What a kind of link is for, and what its refusals say. ``holder_prefix``: whose links these are
    (a contact's are ``contact:<id>``); an approval token is unknown to acceptance pages and the other way
    round."""

    purpose: str
    unknown: str
    used: Callable[[dict[str, Any]], Gone]
    expired: Callable[[], Gone]
    holder_prefix: str = ""


APPROVAL_LINK = LinkKind("approval", "This approval link is not valid.", link_used, link_expired)
ACCEPTANCE_LINK = LinkKind(
    "acceptance",
    "This link is not valid.",
    lambda details: Gone("TOKEN_USED", "This link has already been used.", details),
    lambda: Gone("TOKEN_EXPIRED", "This link has expired. Contact us if you still need to answer."),
    holder_prefix="contact:",
)


def open_link(repo: CaseRepository, clock: Clock, raw_token: str, kind: LinkKind) -> ApprovalToken:
    """The link's token, if it is one of ``kind``, unused and unexpired (404 TOKEN_UNKNOWN, 410 TOKEN_USED,
    410 TOKEN_EXPIRED)."""
    token = repo.token(hash_token(raw_token)) if raw_token else None
    if token is None or token.purpose != kind.purpose or not token.approver.startswith(kind.holder_prefix):
        raise NotFound("TOKEN_UNKNOWN", kind.unknown)
    if token.used_at:
        raise kind.used({"used_at": token.used_at, "decision": token.decision})
    if token.expires_at <= int(clock().timestamp()):
        raise kind.expired()
    return token


def consume(token: ApprovalToken, decision: str, now: datetime) -> ConsumeToken:
    """Use the link up: committed with the decision, and refused by the table if it was used or expired
    meanwhile (by ``now``, the decision's time)."""
    return ConsumeToken(token.token_hash, timestamp(now), int(now.timestamp()), decision)
