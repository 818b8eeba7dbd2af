"""Packed attributes: compact JSON, raw deflate with a fixed preset dictionary, behind a leading byte that
names the dictionary. For what DynamoDB never reads by its parts (a case's body, a history item's events):
a transactional write costs 2 write units per started KB of the item, so a few hundred bytes saved keep an
item under 1 KB. Light (json, zlib, base64 only): the publisher imports it.

Never edit a dictionary: items packed with it can only be read with it. A new one gets a new leading byte,
and the old one stays for the items written with it.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

_compact = {"separators": (",", ":"), "ensure_ascii": False}

# a case's body without its list row (adapters/dynamo.py): the names and shapes every body repeats
CASE_BODY_V1 = b"\x01"
# a history item's events: the envelope (the event catalogue's) and the data most events carry
EVENTS_V1 = b"\x02"

_DICTIONARIES = {
    CASE_BODY_V1: json.dumps(
        {
            "workflow_version": 1, "description": "", "updated_by": "", "fields": {},
            "related_counts": {"products": 0, "accounts": 0, "service_requests": 0, "activity": 0},
            "key_dates": [
                {"status": "", "entered_at": "2026-01-01T00:00:00.000Z", "entered_by": "", "left_at": "2026-",
                 "left_by": ""}
            ],
            "approval": {
                "step": "", "round": 1, "mode": "all", "decisions": {}, "requested_at": "2026-",
                "delegates": {}, "decided_by": {}, "submitted_by": "", "submitted_from": "",
            },
            "acceptance": {}, "approval_rounds": 0, "config_version": 1, "parent_type": "",
            "acceptance_rounds": 0,
        },
        separators=(",", ":"),
    ).encode(),
    EVENTS_V1: json.dumps(
        [
            {"type": "ApprovalRequested"}, {"type": "ApprovalDecided"}, {"type": "CaseAssigned"},
            {"type": "CaseRegistered"}, {"type": "AcceptanceRequested"}, {"type": "CaseUpdated"},
            {"type": "RelatedItemAdded"},
            {
                "id": "", "type": "CaseTransitioned", "schema_version": 1, "case_id": "", "case_type": "csr",
                "case_version": 1, "workflow_version": 1, "occurred_at": "2026-01-01T00:00:00.000Z",
                "actor": "",
                "data": {
                    "status": "", "state": "in_progress", "from_status": "", "to_status": "", "by": "",
                    "assignee": "", "previous_assignee": "", "reason": "entered ", "step": "", "round": 1,
                    "approver": "", "decision": "approve", "outcome": "approve", "comment": "",
                    "via": "email", "changes": {"from": "", "to": ""},
                },
                "subtype": "", "config_version": 1, "correlation_id": "",
            },
        ],
        separators=(",", ":"),
    ).encode(),
}  # fmt: skip


def pack(value: Any, dictionary: bytes) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_DICTIONARIES[dictionary])
    return dictionary + deflate.compress(json.dumps(value, **_compact).encode()) + deflate.flush()  # type: ignore[arg-type]


def unpack(packed: bytes | str) -> Any:
    """A packed value back; ``packed`` may be base64 text, as a Lambda stream record carries a binary."""
    raw = base64.b64decode(packed) if isinstance(packed, str) else bytes(packed)
    if raw[:1] not in _DICTIONARIES:
        raise ValueError(f"unknown packing {raw[:1]!r}")
    inflate = zlib.decompressobj(-15, zdict=_DICTIONARIES[raw[:1]])
    return json.loads(inflate.decompress(raw[1:]) + inflate.flush())
