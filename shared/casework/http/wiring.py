"""Builds the services from the environment once per process (Lambda reuses it across invocations)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from casework.services.cases import CaseService

if TYPE_CHECKING:
    from casework.services.acceptance import AcceptanceLinks
    from casework.services.booking import BookingService
    from casework.services.care import CareService
    from casework.services.customers import CustomerService
    from casework.services.directory_admin import DirectoryAdmin
    from casework.services.erp import ErpReader
    from casework.services.feedback_summary import FeedbackSummary
    from casework.services.imports import ImportService


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    # uuid7 would sort by time; uuid4 keeps ids unguessable, and lists sort on created_at anyway.
    return uuid.uuid4().hex


@cache
def case_service() -> CaseService:
    from casework.adapters.approvals import DynamoDelegations
    from casework.adapters.dynamo import (
        DynamoCaseRepository,
        DynamoConfigStore,
        DynamoDirectory,
        DynamoWorkflowStore,
    )

    configs = DynamoConfigStore()
    return CaseService(
        repo=DynamoCaseRepository(),
        directory=DynamoDirectory(),
        workflows=DynamoWorkflowStore(configs=configs),
        clock=now,
        new_id=new_id,
        configs=configs,
        delegations=DynamoDelegations(),
    )


def care_service() -> CareService:
    """Cheap to build; it shares case_service()'s adapters and caches."""
    from casework.services.care import CareService

    cases = case_service()
    assert cases.configs is not None
    return CareService(cases=cases, configs=cases.configs)


def acceptance_links() -> AcceptanceLinks:
    """Cheap to build; it shares case_service()'s adapters and caches (so it is as cached as that is)."""
    from casework.services.acceptance import AcceptanceLinks

    cases = case_service()
    return AcceptanceLinks(repo=cases.repo, directory=cases.directory, workflows=cases.workflows, clock=now)


def erp_reader() -> ErpReader:
    """Cheap to build (the store holds no state); the caller and case checks are case_service()'s."""
    from casework.adapters.erp import DynamoErpStore
    from casework.services.erp import ErpReader

    cases = case_service()
    return ErpReader(store=DynamoErpStore(), actor=cases.actor, case=cases.get)


@cache
def customer_service() -> CustomerService:
    """Customers and contacts (API, ERP ingest, imports). Shares case_service()'s directory cache."""
    from casework.adapters.customers import DynamoCustomerStore
    from casework.services.customers import CustomerService

    return CustomerService(
        store=DynamoCustomerStore(), directory=case_service().directory, clock=now, new_id=new_id
    )


@cache
def import_service() -> ImportService:
    """Import jobs: the import bucket and queue from the environment (IMPORT_BUCKET, IMPORT_QUEUE_URL)."""
    import os

    from casework.adapters.imports import DynamoJobStore, S3Files, SqsJobQueue
    from casework.services.imports import ImportService

    return ImportService(
        files=S3Files(),
        jobs=DynamoJobStore(),
        queue=SqsJobQueue(),
        customers=customer_service(),
        cases=case_service(),
        clock=now,
        new_id=new_id,
        bucket=os.environ["IMPORT_BUCKET"],
        chunk_rows=int(os.environ.get("IMPORT_CHUNK_ROWS", "100")),
        reserve_seconds=float(os.environ.get("IMPORT_RESERVE_SECONDS", "30")),
    )


def directory_admin() -> DirectoryAdmin:
    """Cheap to build; the caller's identity comes from case_service()'s (cached) directory, and a change
    drops that cache so this process sees it on its next request (others within the cache's 60 s)."""
    from casework.adapters.directory_admin import DynamoDirectoryAdmin
    from casework.services.directory_admin import DirectoryAdmin
    from casework.workflows import module_templates, shipped

    directory = case_service().directory
    return DirectoryAdmin(
        store=DynamoDirectoryAdmin(),
        directory=directory,
        clock=now,
        case_types=lambda: sorted({*shipped(), *module_templates()}),
        on_change=getattr(directory, "forget", lambda: None),
    )


def booking_service() -> BookingService:
    """Cheap to build; it shares case_service()'s adapters and caches."""
    from casework.adapters.booking import DynamoBookingStore
    from casework.services.booking import BookingService

    cases = case_service()
    assert cases.configs is not None
    return BookingService(
        store=DynamoBookingStore(),
        repo=cases.repo,
        directory=cases.directory,
        workflows=cases.workflows,
        configs=cases.configs,
        clock=now,
        new_id=new_id,
    )


def feedback_summary() -> FeedbackSummary:
    """Cheap to build; the caller's identity comes from case_service()'s (cached) directory."""
    from casework.adapters.feedback_summary import DynamoFeedbackSummaryStore
    from casework.services.feedback_summary import FeedbackSummary

    return FeedbackSummary(store=DynamoFeedbackSummaryStore(), directory=case_service().directory)
