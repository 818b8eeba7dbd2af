"""Resources and bookings on the single table (casework.services.ports.BookingStore).

    RESOURCE#<id>              / RESOURCE          the resource as an Admin wrote it, ``version``
    RESOURCES#<unit>#<service> / RES#<id>          listing: the resource (with its calendar) under each
                                                   (unit, service) it provides: availability is one Query
    RESOURCE#<id>              / SLOT#<granule>    a held granule (UTC, 30 min) and the booking holding it
    BOOKING#<id>               / BOOKING           a booking, ``version``

Every key is bounded by one resource, one booking or one unit's providers of one service: no partition is
shared by the whole table. A booking's granules are claimed by conditional Puts in the transaction that
writes the booking and the activity's change (version check + history/outbox item, the same items as any
case change), so two overlapping bookings cannot both commit, and a booking is never half-written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from casework.adapters.codec import plain
from casework.adapters.dynamo import (
    DynamoCaseRepository,
    Item,
    _tx_connection,
    case_transaction,
    item_body,
    partition_page,
)
from casework.domain.errors import Conflict
from casework.domain.model import Change
from casework.domain.resources import iso
from casework.services.ports import Page


class ResourceItem(Item, discriminator="resource"):
    version = NumberAttribute(null=True)


class ResourceListingItem(Item, discriminator="resource_listing"):
    pass


class SlotItem(Item, discriminator="slot"):
    booking_id = UnicodeAttribute()


class BookingItem(Item, discriminator="booking"):
    version = NumberAttribute()


def resource_key(resource_id: str) -> tuple[str, str]:
    return f"RESOURCE#{resource_id}", "RESOURCE"


def listing_key(unit: str, service: str, resource_id: str) -> tuple[str, str]:
    return f"RESOURCES#{unit}#{service}", f"RES#{resource_id}"


def slot_key(resource_id: str, granule: datetime) -> tuple[str, str]:
    return f"RESOURCE#{resource_id}", f"SLOT#{iso(granule)}"


def booking_key(booking_id: str) -> tuple[str, str]:
    return f"BOOKING#{booking_id}", "BOOKING"


class DynamoBookingStore:
    def resource(self, resource_id: str) -> tuple[dict[str, Any], int] | None:
        try:
            item = ResourceItem.get(*resource_key(resource_id), consistent_read=True)
        except (DoesNotExist, ValueError):
            return None
        return plain(item.body.as_dict()), int(item.version or 1)

    def save_resource(self, resource: dict[str, Any], previous: dict[str, Any] | None, version: int) -> None:
        pk, sk = resource_key(resource["id"])
        condition = ResourceItem.pk.does_not_exist() if version == 1 else ResourceItem.version == version - 1
        listed = {(resource["unit"], s) for s in resource["services"]}
        was = {(previous["unit"], s) for s in previous["services"]} if previous else set()
        try:
            with TransactWrite(connection=_tx_connection()) as tx:
                for unit, service in sorted(was - listed):
                    tx.delete(ResourceListingItem(*listing_key(unit, service, resource["id"])))
                tx.save(ResourceItem(pk=pk, sk=sk, body=resource, version=version), condition=condition)
                for unit, service in sorted(listed):
                    tx.save(ResourceListingItem(*listing_key(unit, service, resource["id"]), body=resource))
        except TransactWriteError as exc:
            reasons = getattr(exc, "cancellation_reasons", None) or []
            if any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons):
                if version == 1:
                    raise Conflict(
                        "RESOURCE_EXISTS", f"Resource {resource['id']!r} exists already."
                    ) from None
                raise Conflict("STALE_VERSION", "The resource has changed since you read it.") from None
            raise

    def resources_for(self, unit: str, service: str, cursor: str | None, limit: int) -> Page:
        return partition_page(ResourceListingItem, f"RESOURCES#{unit}#{service}", "RES#", cursor, limit)

    def taken(self, resource_id: str, start: datetime, end: datetime) -> list[datetime]:
        pk, low = slot_key(resource_id, start)
        _, high = slot_key(resource_id, end)
        items = SlotItem.query(pk, range_key_condition=SlotItem.sk.between(low, high), consistent_read=True)
        return [
            datetime.fromisoformat(i.sk.removeprefix("SLOT#").replace("Z", "+00:00"))
            for i in items
            if i.sk < high
        ]

    def booking(self, booking_id: str) -> dict[str, Any] | None:
        return item_body(BookingItem, *booking_key(booking_id), consistent=True)

    def book(self, booking: dict[str, Any], granules: list[datetime], change: Change) -> None:
        with case_transaction() as (tx, meanings):
            # the activity's change: the same case and history/outbox items as any other change
            DynamoCaseRepository._write_change(tx, change, meanings)
            for granule in granules:
                tx.save(
                    SlotItem(*slot_key(booking["resource_id"], granule), booking_id=booking["id"]),
                    condition=SlotItem.pk.does_not_exist(),
                )
                meanings["put"].append(
                    ("SLOT_TAKEN", f"{booking['resource_name']} is booked at {iso(granule)} already.")
                )
            tx.save(
                BookingItem(*booking_key(booking["id"]), body=booking, version=booking["version"]),
                condition=BookingItem.pk.does_not_exist(),
            )
            meanings["put"].append(("BOOKING_EXISTS", "A booking with this id exists already."))

    def settle(self, booking: dict[str, Any], release: list[datetime], change: Change) -> None:
        with case_transaction() as (tx, meanings):
            DynamoCaseRepository._write_change(tx, change, meanings)
            for granule in release:
                tx.delete(
                    SlotItem(*slot_key(booking["resource_id"], granule)),
                    condition=SlotItem.booking_id == booking["id"],
                )
                meanings["delete"].append(("BOOKING_CHANGED", "The booking changed meanwhile; reload."))
            tx.save(
                BookingItem(*booking_key(booking["id"]), body=booking, version=booking["version"]),
                condition=BookingItem.version == booking["version"] - 1,
            )
            meanings["put"].append(("BOOKING_CHANGED", "The booking changed meanwhile; reload."))
