"""Builds the services from the environment once per process (Lambda reuses it across invocations)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache

from casework.services.cases import CaseService


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    # uuid7 would sort by time; uuid4 keeps ids unguessable, and lists sort on created_at anyway.
    return uuid.uuid4().hex


@cache
def case_service() -> CaseService:
    from casework.adapters.dynamo import DynamoCaseRepository, DynamoDirectory, DynamoWorkflowStore

    return CaseService(
        repo=DynamoCaseRepository(),
        directory=DynamoDirectory(),
        workflows=DynamoWorkflowStore(),
        clock=now,
        new_id=new_id,
    )
