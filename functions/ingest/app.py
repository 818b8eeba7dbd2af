"""ERP events (EventBridge, source ``erp`` -> SQS) -> customers, contacts, products and orders upserted.

Each SQS message is an EventBridge event from the ERP: detail-type CustomerUpserted | ContactUpserted |
ProductUpserted | OrderUpserted, detail {"event_id", "version" | "updated_at", "data"} (the contract:
casework.services.erp).
Exactly once in effect: Powertools idempotency keyed on the ERP's event_id drops redeliveries, and every write
is conditional on the record's source version, so an older update never overwrites a newer one ("stale": a
success that writes nothing). A malformed message, an unknown detail-type or invalid data is a batch item
failure with its reason logged: retried, then parked in the dead-letter queue, alone.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from casework.adapters.consumer import event_consumer
from casework.observability import logger

if TYPE_CHECKING:
    from casework.services.erp import ErpIngest


@cache
def ingest() -> ErpIngest:
    """Built on first use (the models and the table adapters are imported then, not at cold start); reused by
    warm invocations."""
    from casework.adapters.erp import DynamoErpStore
    from casework.http.wiring import customer_service
    from casework.services.erp import ErpIngest

    return ErpIngest(customers=customer_service(), store=DynamoErpStore())


def _read(body: str | None, message_id: str) -> dict[str, Any]:
    from casework.adapters.erp import erp_event

    return erp_event(body, message_id)


def _ingest(event: dict[str, Any]) -> dict[str, Any]:
    result = ingest().handle(event["detail_type"], event["detail"])
    logger.info("ERP event handled", extra={"event_id": event["event_id"], **result})
    return result


consumer = event_consumer(_ingest, key_prefix="ingest", read=_read, key="event_id")
handler = consumer.handler
