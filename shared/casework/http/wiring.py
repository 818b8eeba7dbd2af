"""Builds the services from the environment once per process (Lambda reuses it across invocations)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from casework.services.acceptance import AcceptanceLinks
    from casework.services.booking import BookingService
    from casework.services.care import CareService
    from casework.services.case_commands import CaseCommands
    from casework.services.case_feedback import CaseFeedback
    from casework.services.case_notes import CaseNotes
    from casework.services.case_queries import CaseQueries
    from casework.services.cases import CaseService
    from casework.services.customers import CustomerService
    from casework.services.delegation_settings import DelegationSettings
    from casework.services.directory_admin import DirectoryAdmin
    from casework.services.email_links import ApprovalLinks
    from casework.services.erp import ErpReader
    from casework.services.feedback_summary import FeedbackSummary
    from casework.services.imports import ImportService
    from casework.services.notify import Notifier
    from casework.services.rules import RuleRunner


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    # uuid7 would sort by time; uuid4 keeps ids unguessable, and lists sort on created_at anyway.
    return uuid.uuid4().hex


@cache
def case_service() -> CaseService:
    """Every use case on cases over the table's adapters, built once per process (the directory and the
    definitions are cached in these adapters). The accessors below hand out this one object as the single
    use case a route needs. The services and the domain come with the first request, not at init."""
    from casework.adapters.approvals import DynamoDelegations
    from casework.adapters.definitions import DynamoConfigStore, DynamoWorkflowStore
    from casework.adapters.directory import DynamoDirectory
    from casework.adapters.dynamo import DynamoCaseRepository
    from casework.services.cases import CaseService

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


def case_commands() -> CaseCommands:
    return case_service()


def case_queries() -> CaseQueries:
    return case_service()


def case_notes() -> CaseNotes:
    return case_service()


def case_feedback() -> CaseFeedback:
    return case_service()


def delegation_settings() -> DelegationSettings:
    return case_service()


def approval_links() -> ApprovalLinks:
    return case_service()


def care_service() -> CareService:
    """Cheap to build; it shares case_service()'s adapters and caches."""
    from casework.services.care import CareService

    cases = case_service()
    assert cases.configs is not None
    return CareService(cases=cases, configs=cases.configs)


def acceptance_links() -> AcceptanceLinks:
    """Cheap to build; it shares case_service()'s adapters and caches (so it is as cached as that is)."""
    from casework.services.acceptance import AcceptanceLinks

    return case_service().sharing(AcceptanceLinks)


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
    from casework import settings as environment
    from casework.adapters.imports import DynamoJobStore, S3Files, SqsJobQueue
    from casework.services.imports import ImportService

    settings = environment.load("TABLE_NAME", "IMPORT_BUCKET", "IMPORT_QUEUE_URL")
    return ImportService(
        files=S3Files(),
        jobs=DynamoJobStore(),
        queue=SqsJobQueue(),
        customers=customer_service(),
        cases=case_service(),
        clock=now,
        new_id=new_id,
        bucket=settings.import_bucket,
        chunk_rows=settings.import_chunk_rows,
        reserve_seconds=settings.import_reserve_seconds,
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


def notifier(*, with_ledger: bool = True) -> Notifier:
    """The notifier of the notify and remind functions, from the environment (MAIL_FROM required).
    ``with_ledger``: record what was sent, so a redelivered event mails nobody twice (notify)."""
    from casework import settings as environment
    from casework.adapters.definitions import DynamoWorkflowStore
    from casework.adapters.directory import DynamoDirectory
    from casework.adapters.dynamo import DynamoCaseRepository, DynamoSentLedger
    from casework.adapters.mailer import EmailRenderer, SesMailer
    from casework.adapters.sms import SnsSmsSender
    from casework.services.notify import Notifier

    settings = environment.load("TABLE_NAME", "MAIL_FROM")
    return Notifier(
        repo=DynamoCaseRepository(),
        directory=DynamoDirectory(),
        workflows=DynamoWorkflowStore(),
        mailer=SesMailer(settings.mail_from),
        renderer=EmailRenderer(),
        clock=now,
        public_base_url=settings.public_base_url.rstrip("/"),
        token_ttl_hours=settings.approval_token_ttl_hours,
        case_url_template=settings.case_url_template,
        ledger=DynamoSentLedger() if with_ledger else None,
        sms=SnsSmsSender(sender_id=settings.sms_sender_id or None),
    )


@cache
def rule_runner() -> RuleRunner:
    """The workflow rules, plan steps and overdue sweep's runner (functions rules, plans, overdue)."""
    from casework import settings as environment
    from casework.adapters.dynamo import DynamoSentLedger
    from casework.adapters.mailer import SesMailer
    from casework.adapters.rules import DynamoOverdueCases, DynamoRuleStore, EventBridgePlanScheduler
    from casework.adapters.sms import SnsSmsSender
    from casework.services.rules import RuleRunner

    settings = environment.load("TABLE_NAME", "MAIL_FROM")
    return RuleRunner(
        cases=case_service(),
        # how long a container trusts the latest rule set it read (the local stack: 0)
        rules=DynamoRuleStore(settings.rules_cache_seconds),
        mailer=SesMailer(settings.mail_from),
        sms=SnsSmsSender(sender_id=settings.sms_sender_id or None),
        ledger=DynamoSentLedger(),
        plans=EventBridgePlanScheduler(),
        overdue=DynamoOverdueCases(),
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
