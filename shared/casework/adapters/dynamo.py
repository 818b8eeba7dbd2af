"""The single DynamoDB table, through PynamoDB.

Item layout (pk / sk):
    CASE#<id>     / CASE                 the case: body, and listing (its list row, holding part of the case);
                                         gsi1..4 keys for the lists
    CASE#<id>     / HIST#<version:08d>   history entry + the events it raised (the outbox, via the stream)
    CASE#<id>     / NOTE#<at>#<id>       shared note + its NoteAdded event (outbox too)
    CASE#<id>     / COMM#<at>#<id>       an agent's email to the contact + its CommunicationRequested event
    CASE#<id>     / REL#<kind>#<key>     related list entry (products, accounts)
    TOKEN#<sha256>/ TOKEN                approval link (hash only; the raw token lives in one email)
    SENT#<event id> / <rule:recipient>   notify's ledger: this email of this event went out (7 days)
    USER#<name>   / PROFILE              directory: people
    UNIT#<code>   / UNIT                 directory: business units, members by role, rules
    ACCOUNT#<id>  / ACCOUNT, PRODUCT#<code> / PRODUCT   reference data
    WORKFLOW#<name> / V#<version:04d>    workflow definitions, immutable per version

Lists use one index each (gsi1 by business unit, sharded ``UNIT#<unit>#<0-3>``; gsi2v2 by assignee; gsi3v2
by account, sharded ``ACCOUNT#<id>#<0-1>``), all three sorted on the one attribute ``gsi1sk``
``<type>#<created_at>#<id>``: a type narrows by key condition, a status by filter, so a status change moves
no index entry. The indexes project only ``listing`` (the list row, ``list_row``, stored without its id and
its empty values: ``stored_row``) and ``kind``: a transition rewrites one small row per index, not the
whole case.
A caller's list Queries only the partitions of what they may see (their units' shards, their assignments) and
merges them in sort order (``list_cases``). No Scan anywhere.

One long module on purpose: the item classes, the key functions, the list rows and the stores share one
table layout, so a key or projection change (template.yaml says the same) is made and reviewed in one place.

Length (over ~600 lines): the single table's models, keys, indexes and the case repository live together
because their key layout is one design (see the table below); the other stores are in their own adapters.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import dataclasses
import hashlib
import hmac
import json
import secrets
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.session
from pynamodb.attributes import (
    BinaryAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.operand import Path
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from casework import settings as environment
from casework.adapters.codec import case_from_dict, case_to_dict, plain
from casework.adapters.packing import CASE_BODY_V1, EVENTS_V1, pack, unpack
from casework.correlation import stamp
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import (
    THROTTLING_CODES,
    BadRequest,
    Conflict,
    NotFound,
    busy,
    link_expired,
    link_used,
)
from casework.domain.model import Case, Change, DomainEvent
from casework.domain.views import CaseRow, case_row, history_view, list_row
from casework.domain.visibility import ListScope
from casework.services.ports import (
    ApprovalToken,
    CaseQuery,
    Communication,
    Feedback,
    Note,
    Page,
    SideWrites,
)

_SETTINGS = environment.load()
REGION = _SETTINGS.aws_region
# Empty when TABLE_NAME is not set: the first request then fails naming it (never a table by a default name).
TABLE_NAME = _SETTINGS.table_name


LISTED = ["kind", "listing"]  # what the list indexes gsi1-gsi4 project (template.yaml says the same)


def _index(name: str, hash_attr: str, range_attr: str) -> type[GlobalSecondaryIndex]:
    meta = type("Meta", (), {"index_name": name, "projection": IncludeProjection(LISTED)})
    attrs = {
        "Meta": meta,
        hash_attr: UnicodeAttribute(hash_key=True),
        range_attr: UnicodeAttribute(range_key=True),
    }
    return type(f"{name.capitalize()}Index", (GlobalSecondaryIndex,), attrs)


_session: botocore.session.Session | None = None


def _shared_session(connection: Connection) -> Connection:
    """PynamoDB gives every model class its own botocore session, and each new session re-reads the DynamoDB
    service model (~120 ms apiece in a cold container). One session serves them all; clients stay per model.
    """
    global _session
    if getattr(connection._local, "session", None) is None:
        if _session is None:
            _session = botocore.session.get_session()
        connection._local.session = _session
    return connection


class Item(Model):
    class Meta:
        table_name = TABLE_NAME
        region = REGION

    @classmethod
    def _get_connection(cls) -> TableConnection:
        if not cls.Meta.table_name:
            cls.Meta.table_name = environment.load("TABLE_NAME").table_name
        table = super()._get_connection()
        _shared_session(table.connection)
        return table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    body: MapAttribute[str, Any] = MapAttribute(
        null=True
    )  # the entity as a plain dict (readable in the console and the stream)


class PendingApprovalIndex(GlobalSecondaryIndex):
    """Cases waiting for an approval decision (the reminders read it), keys (and ``kind``, which PynamoDB
    filters a model's queries on) only: the reminder reads each case itself, consistently. Sharded by case id
    so approvals requested at once spread over partitions."""

    class Meta:
        index_name = "pending_approvals"
        projection = IncludeProjection(["kind"])

    remindpk = UnicodeAttribute(hash_key=True)
    remindsk = UnicodeAttribute(range_key=True)


APPROVAL_SHARDS = 16  # 8 would put 1/8 of the index's writes on each key (scripts/key_distribution.py)


def approval_shard(case_id: str) -> str:
    return f"APPROVALS#{int(hashlib.sha256(case_id.encode()).hexdigest(), 16) % APPROVAL_SHARDS}"


class CaseItem(Item, discriminator="case"):
    version = NumberAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    # the list sort key (_sort_key) of gsi1, gsi2v2 and gsi3v2: one copy, not one per index (a case item
    # under 1 KB costs 2 write units a commit, not 4)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    # the list row (list_row): all the list indexes hold of a case, and the part of the case it holds (IN_ROW)
    listing: MapAttribute[str, Any] = MapAttribute(null=True)
    # the rest of the case, compressed (pack_body): a case item under 1 KB costs 2 write units a commit, not 4
    zbody = BinaryAttribute(null=True, legacy_encoding=False)
    all_cases = _index("gsi1", "gsi1pk", "gsi1sk")()
    by_assignee = _index("gsi2v2", "gsi2pk", "gsi1sk")()
    by_account = _index("gsi3v2", "gsi3pk", "gsi1sk")()
    open_by_due = _index("gsi4", "gsi4pk", "gsi4sk")()  # sparse: open cases only, by expected completion
    # sparse: only cases waiting for an approval, in APPROVAL_SHARDS partitions, oldest request first
    remindpk = UnicodeAttribute(null=True)
    remindsk = UnicodeAttribute(null=True)
    pending_approvals = PendingApprovalIndex()


class CounterItem(Item, discriminator="counters"):
    """Per-case counters that other cases' commits change without touching the case itself: open children
    by type (``open_activity``) and references from other cases (``refs``)."""


class HistoryItem(Item, discriminator="history"):
    events: ListAttribute[Any] = ListAttribute(
        null=True
    )  # the outbox of items written before zevents (and of other writers)
    # the outbox, packed (casework.adapters.packing): the publisher reads it off the table stream. Packed,
    # a commit's events (1-3, ~300 bytes of envelope each) keep the history item under 1 KB: 2 write units
    zevents = BinaryAttribute(null=True, legacy_encoding=False)
    outbox = NumberAttribute(null=True)  # 1: the stream filter wakes the publisher for this item


class NoteItem(Item, discriminator="note"):
    events: ListAttribute[Any] = ListAttribute(null=True)
    outbox = NumberAttribute(null=True)  # 1: the stream filter wakes the publisher for this item


class RelatedItem(Item, discriminator="related"):
    pass


class CommunicationItem(Item, discriminator="communication"):
    events: ListAttribute[Any] = ListAttribute(null=True)  # CommunicationRequested: notify sends it
    outbox = NumberAttribute(null=True)  # 1: the stream filter wakes the publisher for this item


class TokenItem(Item, discriminator="token"):
    valid_until = NumberAttribute()
    used_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()  # TTL: kept 30 days past validity so late clicks still see "expired"


class DirectoryListIndex(GlobalSecondaryIndex):
    """Sparse lists of directory records (casework.adapters.customers): customers by name
    (``CUSTNAME#<first two characters of the name key>``) and a customer's contacts (``CONTACTS#<account>``),
    sorted ``<name key>#<id>``. Projects only the short ``listing`` the lists show."""

    class Meta:
        index_name = "directory"
        projection = IncludeProjection(["kind", "listing"])

    dirpk = UnicodeAttribute(hash_key=True)
    dirsk = UnicodeAttribute(range_key=True)


class SentItem(Item, discriminator="sent"):
    """One email of one event: claimed (``sending`` until ``lease_until``) before it is sent, ``sent`` once
    SES took it. Its own key per email; kept 7 days, longer than SQS keeps a message."""

    state = UnicodeAttribute(null=True)  # sending, sent (items written before claims: none, and sent)
    lease_until = NumberAttribute(null=True)
    expires_at = NumberAttribute()


class DynamoSentLedger:
    """notify's claims (casework.services.notify.SentLedger): one conditional PutItem before an email, one
    UpdateItem after it, and nothing else: a duplicate delivery is refused by the condition."""

    TTL_SECONDS = 7 * 86400
    # Longer than a send takes (a render and one SES call: well under the function's timeout), shorter than
    # the queue's visibility timeout, so the redelivery after a crash finds the dead holder's claim expired.
    LEASE_SECONDS = 60

    def claim(self, event_id: str, recipient: str) -> bool:
        now = int(time.time())
        claim = SentItem(
            pk=f"SENT#{event_id}",
            sk=recipient,
            state="sending",
            lease_until=now + self.LEASE_SECONDS,
            expires_at=now + self.TTL_SECONDS,
        )
        try:
            claim.save(
                condition=SentItem.pk.does_not_exist()
                | ((SentItem.state == "sending") & (SentItem.lease_until < now))
            )
            return True
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        held = SentItem.get(f"SENT#{event_id}", recipient, consistent_read=True)
        if held.state == "sending":
            from casework.services.ports import EmailInProgress

            raise EmailInProgress(f"another delivery is sending {recipient} of event {event_id}")
        return False

    def record(self, event_id: str, recipient: str, message_id: str) -> None:
        SentItem(pk=f"SENT#{event_id}", sk=recipient).update(
            actions=[
                SentItem.state.set("sent"),
                SentItem.body.set({"message_id": message_id}),
                SentItem.lease_until.remove(),
                # the rules' marks are recorded without a claim first: they get their expiry here
                SentItem.expires_at.set(SentItem.expires_at | int(time.time()) + self.TTL_SECONDS),
            ]
        )

    def sent(self, event_id: str, recipient: str) -> bool:
        """Whether it was recorded as done (the workflow rules' marks: recorded, never claimed)."""
        try:
            held = SentItem.get(f"SENT#{event_id}", recipient, consistent_read=True)
        except DoesNotExist:
            return False
        return held.state != "sending"

    def release(self, event_id: str, recipient: str) -> None:
        # not "sending" any more (expired and taken over, then sent): the new holder decides
        with contextlib.suppress(DeleteError):
            SentItem(pk=f"SENT#{event_id}", sk=recipient).delete(condition=SentItem.state == "sending")


class DirectoryItem(Item, discriminator="directory"):
    dirpk = UnicodeAttribute(null=True)
    dirsk = UnicodeAttribute(null=True)
    listing: MapAttribute[str, Any] = MapAttribute(null=True)
    directory_lists = DirectoryListIndex()


class WorkflowItem(Item, discriminator="workflow"):
    pass


class ConfigItem(Item, discriminator="config"):
    pass


class FeedbackItem(Item, discriminator="feedback"):
    events: ListAttribute[Any] = ListAttribute(null=True)
    outbox = NumberAttribute(null=True)  # 1: the stream filter wakes the publisher for this item


_connection: Connection | None = None


def _item_subclasses(cls: type[Item]) -> set[type[Item]]:
    return {sub for direct in cls.__subclasses__() for sub in (direct, *_item_subclasses(direct))}


def configure(table_name: str | None = None) -> None:
    """Point every model at ``table_name`` (and the current endpoint settings). For tests and the local stack;
    Lambda gets TABLE_NAME in its environment and never needs this."""
    global _connection
    models: set[type[Item]] = {Item, *_item_subclasses(Item)}
    for cls in models:  # every model, here and in other adapters (orders, jobs, ...)
        if table_name:
            cls.Meta.table_name = table_name
        cls.Meta.region = environment.load().aws_region
        cls._connection = None
    global _session
    _connection = _session = None


def explain_cancellation(
    exc: TransactWriteError,
    failed_condition: Callable[[int, Any], Exception | None],
    concurrent: Exception,
) -> Exception:
    """What a cancelled TransactWriteItems means to the client, the same way for every transaction: the
    first failed condition as ``failed_condition(index, reason)`` says (or None: look further); throttling
    past the SDK's retries 503 RETRY_LATER (nothing written, safe to resend); a conflicting transaction
    ``concurrent``; anything else stays a fault of ours (500)."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    for index, reason in enumerate(reasons):
        if reason is not None and reason.code == "ConditionalCheckFailed":
            meaning = failed_condition(index, reason)
            if meaning is not None:
                return meaning
    codes = {reason.code for reason in reasons if reason is not None}
    if codes & THROTTLING_CODES or exc.cause_response_code in THROTTLING_CODES:
        return busy()
    if "TransactionConflict" in codes or exc.cause_response_code == "TransactionConflictException":
        return concurrent
    return exc


Meaning = TypeVar("Meaning")
# PynamoDB sends a transaction's items grouped by kind, in this order, and DynamoDB reports the cancellation
# reasons in the order sent: a transaction keeps what each item's failed condition would mean, per kind.
SENT_ORDER = ("check", "delete", "put", "update")


def in_sent_order(meanings: Mapping[str, list[Meaning]]) -> list[Meaning]:
    """The meanings kept per kind, in the order DynamoDB gives the cancellation reasons."""
    return [meaning for kind in SENT_ORDER for meaning in meanings[kind]]


@contextlib.contextmanager
def case_transaction() -> Iterator[tuple[TransactWrite, dict[str, list[tuple[str, str]]]]]:
    """One TransactWriteItems that commits a case change and what goes with it: each item written adds what
    its failed condition means (code, message) under its kind; a cancelled transaction is raised as what the
    first failed condition means (DynamoCaseRepository._conflict)."""
    meanings: dict[str, list[tuple[str, str]]] = {kind: [] for kind in SENT_ORDER}
    try:
        with TransactWrite(connection=_tx_connection()) as tx:
            yield tx, meanings
    except TransactWriteError as exc:
        raise DynamoCaseRepository._conflict(exc, in_sent_order(meanings)) from None


def _tx_connection() -> Connection:
    global _connection
    if _connection is None:
        _connection = _shared_session(Connection(region=Item.Meta.region))
    return _connection


def _sort_key(case: Case) -> str:
    """Nothing in it changes after registration: a transition rewrites an index's row in place (one small
    write) instead of deleting and re-putting it under a new key."""
    return f"{case.type}#{case.created_at}#{case.id}"


# What the row holds exactly as the case's body would: stored once, in the row, and read back from it
IN_ROW = (
    "id", "type", "subtype", "title", "status", "state", "business_unit", "assignee", "account_id",
    "contact_id", "parent_id", "created_by", "created_at", "updated_at", "version", "dates", "involved",
    "units_seen",
)  # fmt: skip


# What a stored row leaves out (stored_row): values a row has when the case has none, and its id, which the
# item's key (projected into every index) says. read_row puts them back.
_ROW_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(("subtype", "title", "assignee", "account_id", "contact_id", "parent_id", "priority")),
    "related_products_count": 0,
    "dates": {},
    "involved": [],
    "units_seen": [],
    "awaiting": [],
}


def stored_row(row: dict[str, Any]) -> dict[str, Any]:
    """The list row (``list_row``) as the case item stores it: without its id and its default values, so a
    case item stays under 1 KB (2 write units a commit instead of 4). A filter on a left-out member reads
    it as absent, which no filter tells from None or empty: ``contains`` and ``=`` fail on both."""
    return {k: v for k, v in row.items() if k != "id" and not (k in _ROW_DEFAULTS and v == _ROW_DEFAULTS[k])}


def read_row(item: Item) -> dict[str, Any]:
    """The whole list row of a case item (or an index's copy of it), as ``list_row`` made it; rows stored
    whole (before ``stored_row``) read the same."""
    stored = plain(item.listing.as_dict()) if item.listing is not None else {}  # type: ignore[attr-defined]
    return {**copy.deepcopy(_ROW_DEFAULTS), "id": item.pk.removeprefix("CASE#"), **stored}


def _shown(item: Item) -> CaseRow:
    return case_row(read_row(item))


_CASE_DEFAULTS: dict[str, Any] = {
    **{f.name: f.default for f in dataclasses.fields(Case) if f.default is not dataclasses.MISSING},
    **{
        f.name: f.default_factory()
        for f in dataclasses.fields(Case)
        if not isinstance(f.default_factory, dataclasses._MISSING_TYPE)
    },
}


def pack_body(body: dict[str, Any]) -> bytes:
    """The case's body without the values the case has by default (None, 0, empty), packed
    (casework.adapters.packing). Nothing reads its parts in DynamoDB (no filter, index or update expression
    names them): the lists read ``listing``, everything else the whole case."""
    kept = {
        k: v
        for k, v in body.items()
        if not (k in _CASE_DEFAULTS and (tuple(v) if isinstance(v, list) else v) == _CASE_DEFAULTS[k])
    }
    return pack(kept, CASE_BODY_V1)


def _stored_case(item: CaseItem) -> Case:
    """The case from its item: the body, and what the row holds instead of the body (items written before the
    row existed carry everything in the body, which wins; items written before compression a plain body)."""
    row = read_row(item)
    body = unpack(item.zbody) if item.zbody is not None else item.body.as_dict()
    return case_from_dict({**{k: row[k] for k in IN_ROW if k in row}, **body})


OPEN_STATES_LAST = "9999"  # open cases without an expected completion sort after every dated one


def _case_item(case: Case, is_open: bool) -> CaseItem:
    sort = _sort_key(case)
    due = case.dates.get("expected_completion_date") or OPEN_STATES_LAST
    waiting = (
        is_open and case.approval is not None and any(d is None for d in case.approval.decisions.values())
    )
    row = list_row(case, is_open)
    return CaseItem(
        pk=f"CASE#{case.id}",
        sk="CASE",
        version=case.version,
        # the row's part of the case is stored once, the rest compressed: a case item under 1 KB costs 2 write
        # units a commit (in a transaction), a 1.1-2 KB one 4
        zbody=pack_body({k: v for k, v in case_to_dict(case).items() if k not in IN_ROW}),
        gsi1pk=unit_key(case.business_unit, unit_shard(case.id)),
        gsi1sk=sort,
        gsi2pk=f"ASSIGNEE#{case.assignee}" if case.assignee else None,
        gsi3pk=account_key(case.account_id, account_shard(case.id)) if case.account_id else None,
        # no id in these sort keys: an index's entries need not be unique, and its items carry the case's key
        gsi4pk=open_key(case.type, case.business_unit, unit_shard(case.id)) if is_open else None,
        gsi4sk=due if is_open else None,
        remindpk=approval_shard(case.id) if waiting else None,
        remindsk=case.approval.requested_at if case.approval and waiting else None,
        listing=stored_row(row),
    )


UNIT_SHARDS = 4  # a unit's cases spread over 4 gsi1 partitions: see scripts/key_distribution.py


def unit_shard(case_id: str) -> int:
    """Stable across processes (Python's hash() of a str is salted per process)."""
    return zlib.crc32(case_id.encode()) % UNIT_SHARDS


def unit_key(business_unit: str, shard: int) -> str:
    """gsi1's partition: one shard of one business unit's cases."""
    return f"UNIT#{business_unit}#{shard}"


ACCOUNT_SHARDS = 2  # an account's cases spread over 2 gsi3v2 partitions: see scripts/key_distribution.py


def account_shard(case_id: str) -> int:
    return zlib.crc32(case_id.encode()) % ACCOUNT_SHARDS


def account_key(account_id: str, shard: int) -> str:
    """gsi3v2's partition: one shard of one account's cases. At Zipf 1.0 over 5,000 accounts the busiest takes
    11% of the index's writes unsharded; two shards keep every key under 10% (an account's list is two
    parallel Queries, merged)."""
    return f"ACCOUNT#{account_id}#{shard}"


def account_sources(account_id: str, prefix: str | None) -> list[_Source]:
    """The partitions of one account's cases (a merged list's sources)."""
    return [
        _Source(CaseItem.by_account, account_key(account_id, n), CaseItem.gsi1sk, prefix)
        for n in range(ACCOUNT_SHARDS)
    ]


def open_key(case_type: str, business_unit: str, shard: int) -> str:
    """gsi4's partition: one shard of the open cases of one type in one business unit. Keyed by unit, a
    summary reads only the units its reader may see; sharded like gsi1, because a big unit's service
    requests alone can take more than a tenth of the index's writes (scripts/key_distribution.py)."""
    return f"OPEN#{case_type}#{business_unit}#{shard}"


# --- cursors ---------------------------------------------------------------------------------------------
# A cursor is the Query's LastEvaluatedKey, signed (HMAC-SHA256, 128 bits) together with the list it came from
# (``scope``: index, partition and sort prefix). A made-up key, or a real one of another list, would reach
# DynamoDB as an ExclusiveStartKey it refuses (a 500); signed and bound, it is 400 INVALID_CURSOR before any
# request. The key is not secret (ids the caller has seen); the signature only makes it tamper-evident.

_CURSOR_MAC_BYTES = 16
_cursor_secret: bytes | None = None


def _secret() -> bytes:
    """CURSOR_SECRET (the stack generates one; every container shares it); without it, a secret of this
    process's own, which is enough for one local stack or test run."""
    global _cursor_secret
    if _cursor_secret is None:
        configured = environment.load().cursor_secret
        _cursor_secret = configured.encode() if configured else secrets.token_bytes(32)
    return _cursor_secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(scope: str, payload: bytes) -> bytes:
    return hmac.new(_secret(), scope.encode() + b"\0" + payload, hashlib.sha256).digest()[:_CURSOR_MAC_BYTES]


def cursor_scope(*parts: Any) -> str:
    """What a cursor is bound to: the parts that make a list what it is (index, partition, sort prefix)."""
    return "|".join("" if p is None else str(p) for p in parts)


def invalid_cursor() -> BadRequest:
    return BadRequest(ErrorCode.INVALID_CURSOR, "The cursor is not one this API returned for this list.")


def encode_cursor(key: dict[str, Any] | None, scope: str = "") -> str | None:
    if not key:
        return None
    payload = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(scope, payload))}"


def decode_cursor(cursor: str | None, scope: str = "") -> dict[str, Any] | None:
    if not cursor:
        return None
    refused = invalid_cursor()
    try:
        payload_text, _, mac_text = cursor.partition(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise refused from None
    if not hmac.compare_digest(mac, _mac(scope, payload)):
        raise refused
    key = json.loads(payload)  # we signed it: it is the key we wrote
    if not isinstance(key, dict):
        raise refused
    return key


def _one_page(iterator: Any, model: type[Item], scope: str = "") -> tuple[list[Item], str | None]:
    """Exactly one Query call: PynamoDB's iteration would keep querying to fill ``limit`` after a filter."""
    page: dict[str, Any] = next(iterator.page_iter, {})
    return [model.from_raw_data(raw) for raw in page.get("Items", [])], encode_cursor(
        iterator.page_iter.last_evaluated_key, scope
    )


def item_body(model: type[Item], pk: str, sk: str, *, consistent: bool) -> dict[str, Any] | None:
    """One GetItem: the item's body as plain values; None when there is no item, or one of another kind
    (PynamoDB's discriminator says ValueError), or one without a body. ``consistent``: a strongly consistent
    read (twice the read units), for what the caller is about to change or has just written."""
    try:
        item = model.get(pk, sk, consistent_read=consistent)
    except (DoesNotExist, ValueError):
        return None
    return plain(item.body.as_dict()) if item.body is not None else None


def partition_page(
    model: type[Item], pk: str, prefix: str, cursor: str | None, limit: int, *, newest_first: bool = False
) -> Page:
    """One page of the items of partition ``pk`` whose sort key starts with ``prefix`` (a case's history or
    notes, a customer's entries, a directory record's audit), as plain bodies: one Query, and a cursor bound
    to exactly that list."""
    scope = cursor_scope("table", pk, prefix)
    iterator = model.query(
        pk,
        range_key_condition=Item.sk.startswith(prefix),
        scan_index_forward=not newest_first,
        page_size=limit,
        last_evaluated_key=decode_cursor(cursor, scope),
    )
    items, next_cursor = _one_page(iterator, model, scope)
    return Page([plain(i.body.as_dict()) for i in items], next_cursor)


def _all_of(conditions: list[Any]) -> Any:
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _visible_to(scope: ListScope) -> Any:
    """``ListScope.admits`` as a filter expression on the list row (the assignee and account lists)."""
    body = CaseItem.listing
    me = scope.username
    condition = (body["involved"].contains(me)) | (body["created_by"] == me) | (body["assignee"] == me)
    if scope.units:
        condition = condition | body["business_unit"].is_in(*sorted(scope.units))
        for unit in sorted(scope.units):
            condition = condition | body["units_seen"].contains(unit)
    if scope.company_types:
        condition = condition | body["type"].is_in(*sorted(scope.company_types))
    return condition


@dataclass(frozen=True)
class _Source:
    """One partition of a merged list: an index, its partition key, the sort-key prefix it is read under."""

    index: Any
    key: str
    sort_attr: Any
    prefix: str | None


def _list_sources(scope: ListScope, case_type: str | None, prefix: str | None) -> list[_Source]:
    """The partitions holding exactly what ``scope`` lists: its units' shards (every unit's for an Admin), the
    other units' shards under each company-wide type's prefix, and the caller's assignments."""

    def shards(unit: str, under: str | None) -> list[_Source]:
        return [
            _Source(CaseItem.all_cases, unit_key(unit, n), CaseItem.gsi1sk, under) for n in range(UNIT_SHARDS)
        ]

    if scope.everything:
        return [s for unit in sorted(scope.all_units | scope.units) for s in shards(unit, prefix)]
    sources = [s for unit in sorted(scope.units) for s in shards(unit, prefix)]
    wide = sorted(t for t in scope.company_types if case_type in (None, t))
    for unit in sorted(scope.all_units - scope.units):
        for t in wide:
            sources += shards(unit, prefix if case_type else f"{t}#")
    sources.append(_Source(CaseItem.by_assignee, f"ASSIGNEE#{scope.username}", CaseItem.gsi1sk, prefix))
    return sources


def _position(cursor: str | None, bound: str) -> str | None:
    """A merged list's cursor is the sort key of the last case it returned: every partition resumes below.
    Signed and bound to the caller's list (decode_cursor), so it is a position we wrote."""
    key = decode_cursor(cursor, bound)
    if key is None:
        return None
    value = key.get("at", {}).get("S") if isinstance(key.get("at"), dict) else None
    if not isinstance(value, str) or not value:
        raise invalid_cursor()
    return value


_PREFIX_END = "\U0010ffff"  # sorts after any character a sort key can hold


def _range_condition(source: _Source, below: str | None) -> Any | None:
    """The source's prefix, and strictly below ``below`` (the item at ``below`` itself is dropped by the
    caller: DynamoDB's BETWEEN is inclusive). None: nothing of this source is left."""
    attr, prefix = source.sort_attr, source.prefix
    if below is None:
        return attr.startswith(prefix) if prefix else True
    if not prefix:
        return attr < below
    if below < prefix:
        return None
    return attr.between(prefix, min(below, prefix + _PREFIX_END))


_fan_out = ThreadPoolExecutor(max_workers=8, thread_name_prefix="list")  # kept warm across invocations


def _query_source(
    source: _Source, below: str | None, filter_condition: Any, limit: int
) -> tuple[list, str | None]:
    """One Query of one partition: (items, the sort key it stopped at, or None when it is exhausted)."""
    condition = _range_condition(source, below)
    if condition is None:
        return [], None
    iterator = source.index.query(
        source.key,
        range_key_condition=None if condition is True else condition,
        filter_condition=filter_condition,
        scan_index_forward=False,
        page_size=limit,
    )
    page: dict[str, Any] = next(iterator.page_iter, {})
    items = [CaseItem.from_raw_data(raw) for raw in page.get("Items", [])]
    last = iterator.page_iter.last_evaluated_key
    stopped_at = last[source.sort_attr.attr_name]["S"] if last else None
    return [i for i in items if _sort_of(i, source) != below], stopped_at


def _sort_of(item: CaseItem, source: _Source) -> str:
    return getattr(item, source.sort_attr.attr_name)


def _merged_page(
    sources: list[_Source], filter_condition: Any, below: str | None, limit: int, bound: str
) -> Page[CaseRow]:
    """A k-way merge of one Query per source, newest sort key first. A source that stopped early (its page was
    full) may hold more below where it stopped, so only what sorts above the highest such stop is returned;
    the cursor is the sort key of the last case returned (or that stop)."""
    # the botocore client, made here once: threads would otherwise race to make it from the shared session
    CaseItem._get_connection().connection.client  # noqa: B018
    results = list(_fan_out.map(lambda s: _query_source(s, below, filter_condition, limit), sources))
    candidates: dict[str, tuple[str, CaseItem]] = {}
    for source, (items, _) in zip(sources, results, strict=True):
        for item in items:
            candidates[item.pk] = (_sort_of(item, source), item)  # a case listed twice (unit, assignee) once
    stops = [stop for _, stop in results if stop is not None]
    floor = max(stops) if stops else None
    ranked = sorted(candidates.values(), key=lambda pair: pair[0], reverse=True)
    safe = [pair for pair in ranked if floor is None or pair[0] >= floor]
    page = safe[:limit]
    if len(page) == limit and (len(ranked) > limit or stops):
        next_at: str | None = page[-1][0]
    else:
        next_at = floor
    cursor = encode_cursor({"at": {"S": next_at}}, bound) if next_at else None
    return Page([_shown(item) for _, item in page], cursor)


def account_cases(
    account_id: str, prefix: str | None, filters: list[Any], cursor: str | None, limit: int, *name: Any
) -> Page[CaseRow]:
    """One page of an account's cases (under ``prefix``, passing ``filters``): its shards' Queries merged in
    order; ``name`` tells this list from the account's other lists (its cursors are refused there)."""
    bound = cursor_scope("merged", "account", account_id, prefix, *name)
    below = _position(cursor, bound)
    return _merged_page(account_sources(account_id, prefix), _all_of(filters), below, limit, bound)


def account_has_cases(account_id: str) -> bool:
    """Whether any case names the account: a one-item Query per shard, until one finds a case."""
    for source in account_sources(account_id, None):
        items, _ = _one_page(source.index.query(source.key, page_size=1), CaseItem)
        if items:
            return True
    return False


class DynamoCaseRepository:
    def get(self, case_id: str) -> Case:
        try:
            item = CaseItem.get(f"CASE#{case_id}", "CASE", consistent_read=True)
        except (DoesNotExist, ValueError):
            raise NotFound(
                ErrorCode.CASE_NOT_FOUND, f"Case {case_id} does not exist.", {"case_id": case_id}
            ) from None
        return _stored_case(item)

    def commit(self, change: Change, side: SideWrites = SideWrites()) -> None:
        with case_transaction() as (tx, meanings):
            for each in (change, *side.new_cases):
                self._write_change(tx, each, meanings)
            self._write_side(tx, change, side, meanings)

    @staticmethod
    def _write_change(tx: TransactWrite, change: Change, meanings: dict[str, list[tuple[str, str]]]) -> None:
        case = change.case
        concurrent = ("CONCURRENT_UPDATE", "Somebody changed the case at the same time; reload.")
        if change.deleted:
            tx.delete(
                CaseItem(pk=f"CASE#{case.id}", sk="CASE"), condition=CaseItem.version == case.version - 1
            )
            meanings["delete"].append(concurrent)
        elif change.expected_version is None:
            tx.save(_case_item(case, "closed_at" not in case.dates), condition=CaseItem.pk.does_not_exist())
            meanings["put"].append(("CASE_EXISTS", "A case with this id exists already."))
        else:
            tx.save(
                _case_item(case, "closed_at" not in case.dates),
                condition=CaseItem.version == change.expected_version,
            )
            meanings["put"].append(concurrent)
        history = HistoryItem(
            pk=f"CASE#{case.id}",
            sk=f"HIST#{case.version:08d}",
            body=history_view(change.entry).model_dump(),
            zevents=pack([stamp(e.to_dict()) for e in change.events], EVENTS_V1) if change.events else None,
            outbox=1 if change.events else None,
        )
        tx.save(history, condition=HistoryItem.pk.does_not_exist())
        meanings["put"].append(concurrent)
        for kind in change.closed_children:
            name = f"open_{kind}"
            tx.condition_check(
                CounterItem,
                f"CASE#{case.id}",
                "COUNTERS",
                condition=Path(name).does_not_exist() | (Path(name) <= 0),
            )
            meanings["check"].append(
                ("OPEN_CHILDREN", f"Every scheduled {kind} must be completed or cancelled first.")
            )
        if change.deleted:
            tx.condition_check(
                CounterItem,
                f"CASE#{case.id}",
                "COUNTERS",
                condition=Path("refs").does_not_exist() | (Path("refs") <= 0),
            )
            meanings["check"].append(("REFERENCED", "Other cases refer to this case; it cannot be deleted."))

    @staticmethod
    def _write_side(
        tx: TransactWrite, change: Change, side: SideWrites, meanings: dict[str, list[tuple[str, str]]]
    ) -> None:
        case = change.case
        for link in side.links:
            key = dict(pk=f"CASE#{link.case_id or case.id}", sk=f"REL#{link.kind}#{link.key}")
            if link.added:
                body = {
                    **link.details,
                    "kind": link.kind,
                    "key": link.key,
                    "label": link.label,
                    "added_by": change.entry.by,
                    "added_at": change.entry.at,
                }
                tx.save(
                    RelatedItem(pk=key["pk"], sk=key["sk"], body=body),
                    condition=RelatedItem.pk.does_not_exist(),
                )
                meanings["put"].append(("ALREADY_LINKED", f"{link.key} is already in the {link.kind} list."))
            else:
                tx.delete(RelatedItem(pk=key["pk"], sk=key["sk"]), condition=RelatedItem.pk.exists())
                meanings["delete"].append(("NOT_LINKED", f"{link.key} is not in the {link.kind} list."))
        for update in side.related_updates:
            tx.update(
                RelatedItem(pk=f"CASE#{update.case_id or case.id}", sk=f"REL#{update.kind}#{update.key}"),
                actions=[RelatedItem.body[name].set(value) for name, value in update.values.items()],
                condition=RelatedItem.pk.exists(),
            )
            meanings["update"].append(("NOT_LINKED", f"{update.key} is not in the {update.kind} list."))
        by_case: dict[str, list[Any]] = {}  # a transaction may touch an item once: one update per case
        for counter in side.counters:
            by_case.setdefault(counter.case_id, []).append(Path(counter.name).add(counter.delta))
        for case_id, actions in by_case.items():
            tx.update(CounterItem(pk=f"CASE#{case_id}", sk="COUNTERS"), actions=actions)
            meanings["update"].append(("COUNTER", "counter update failed"))
        for guard in side.guards:
            tx.condition_check(
                CounterItem,
                f"CASE#{guard.case_id}",
                "COUNTERS",
                condition=Path(guard.name).does_not_exist() | (Path(guard.name) <= 0),
            )
            meanings["check"].append((guard.code, guard.message))
        for token in side.tokens:
            tx.update(
                TokenItem(pk=f"TOKEN#{token.token_hash}", sk="TOKEN"),
                actions=[
                    TokenItem.used_at.set(token.used_at),
                    TokenItem.body["decision"].set(token.decision),
                ],
                condition=TokenItem.used_at.does_not_exist() & (TokenItem.valid_until > token.now_epoch),
                return_values=ALL_OLD,  # tells a used link from one that expired since the page
            )
            meanings["update"].append(("TOKEN_USED", "the link is used or expired"))

    @staticmethod
    def _conflict(exc: TransactWriteError, meanings: list[tuple[str, str]]) -> Exception:
        def failed(index: int, reason: Any) -> Exception | None:
            if index >= len(meanings):
                return None
            code, message = meanings[index]
            if code == "NOT_LINKED":
                return NotFound(code, message)
            if code == "TOKEN_USED":
                return link_used() if "used_at" in (reason.raw_item or {"used_at": None}) else link_expired()
            return Conflict(code, message)

        concurrent = Conflict(
            ErrorCode.CONCURRENT_UPDATE, "Somebody changed the case at the same time; reload."
        )
        return explain_cancellation(exc, failed, concurrent)

    def list_cases(self, query: CaseQuery) -> Page[CaseRow]:
        """Only what ``query.scope`` may see, without reading and dropping what it may not: an assignee's or
        an account's list is one Query (filtered by the visibility rule unless it is the caller's own
        assignments); every other list Queries the partitions of the caller's units (and of every unit for
        company-wide types, or for an Admin) plus their assignments, a fixed fan-out merged in order."""
        scope = query.scope
        if scope is None:
            raise ValueError("list_cases needs the caller's scope")
        prefix = f"{query.type}#" if query.type else None
        filters = []
        if query.status:  # not in the sort key (a transition would move every index entry): a filter
            filters.append(CaseItem.listing["status"] == query.status)
        if query.account_id and not query.assignee:
            if not scope.everything:
                filters.append(_visible_to(scope))
            return account_cases(query.account_id, prefix, filters, query.cursor, query.limit, query.status)
        if query.assignee:
            index, key, attr = CaseItem.by_assignee, f"ASSIGNEE#{query.assignee}", CaseItem.gsi1sk
            if query.account_id:
                filters.append(CaseItem.listing["account_id"] == query.account_id)
            if not scope.everything and query.assignee != scope.username:
                filters.append(_visible_to(scope))
            bound = cursor_scope(index.Meta.index_name, key, prefix, query.status)
            iterator = index.query(
                key,
                range_key_condition=attr.startswith(prefix) if prefix else None,
                filter_condition=_all_of(filters),
                scan_index_forward=False,
                page_size=query.limit,
                last_evaluated_key=decode_cursor(query.cursor, bound),
            )
            items, cursor = _one_page(iterator, CaseItem, bound)
            return Page([_shown(i) for i in items], cursor)
        sources = _list_sources(scope, query.type, prefix)
        # a position in this caller's merged list
        bound = cursor_scope("merged", scope.username, prefix, query.status)
        below = _position(query.cursor, bound)
        return _merged_page(sources, _all_of(filters), below, query.limit, bound)

    def _children(self, model: type[Item], case_id: str, prefix: str, cursor: str | None, limit: int) -> Page:
        return partition_page(model, f"CASE#{case_id}", prefix, cursor, limit)

    def history(self, case_id: str, cursor: str | None, limit: int) -> Page:
        return self._children(HistoryItem, case_id, "HIST#", cursor, limit)

    def related(self, case_id: str, kind: str, cursor: str | None, limit: int) -> Page:
        return self._children(RelatedItem, case_id, f"REL#{kind}#", cursor, limit)

    def notes(self, case_id: str, cursor: str | None, limit: int) -> Page:
        return self._children(NoteItem, case_id, "NOTE#", cursor, limit)

    def add_note(self, note: Note, event: DomainEvent) -> None:
        NoteItem(
            pk=f"CASE#{note.case_id}",
            sk=f"NOTE#{note.at}#{note.id}",
            body=dataclasses.asdict(note),
            events=[stamp(event.to_dict())],
            outbox=1,
        ).save(condition=NoteItem.pk.does_not_exist())

    def add_communication(self, communication: Communication, event: DomainEvent) -> None:
        CommunicationItem(
            pk=f"CASE#{communication.case_id}",
            sk=f"COMM#{communication.at}#{communication.id}",
            body=communication.to_dict(),
            events=[stamp(event.to_dict())],
            outbox=1,
        ).save(condition=CommunicationItem.pk.does_not_exist())

    def communications(self, case_id: str, cursor: str | None, limit: int) -> Page:
        return self._children(CommunicationItem, case_id, "COMM#", cursor, limit)

    def communication(self, case_id: str, communication_id: str, at: str) -> dict[str, Any] | None:
        return item_body(
            CommunicationItem, f"CASE#{case_id}", f"COMM#{at}#{communication_id}", consistent=True
        )

    def communication_sent(
        self, case_id: str, communication_id: str, at: str, sent_at: str, message_id: str
    ) -> None:
        CommunicationItem(pk=f"CASE#{case_id}", sk=f"COMM#{at}#{communication_id}").update(
            actions=[
                CommunicationItem.body["sent_at"].set(sent_at),
                CommunicationItem.body["message_id"].set(message_id),
            ],
            condition=CommunicationItem.pk.exists(),
        )

    def token(self, token_hash: str) -> ApprovalToken | None:
        try:
            item = TokenItem.get(f"TOKEN#{token_hash}", "TOKEN", consistent_read=True)
        except (DoesNotExist, ValueError):
            return None
        body = plain(item.body.as_dict())
        return ApprovalToken(
            token_hash=token_hash,
            case_id=body["case_id"],
            step=body["step"],
            round=body["round"],
            approver=body["approver"],
            expires_at=int(item.valid_until),
            used_at=item.used_at,
            decision=body.get("decision"),
            purpose=body.get("purpose", "approval"),
            on_behalf_of=body.get("on_behalf_of"),
        )

    def save_token(self, token: ApprovalToken) -> None:
        TokenItem(
            pk=f"TOKEN#{token.token_hash}",
            sk="TOKEN",
            valid_until=token.expires_at,
            expires_at=token.expires_at + 30 * 86400,
            body={
                "case_id": token.case_id,
                "step": token.step,
                "round": token.round,
                "approver": token.approver,
                "purpose": token.purpose,
                **({"on_behalf_of": token.on_behalf_of} if token.on_behalf_of else {}),
            },
        ).save(condition=TokenItem.pk.does_not_exist())

    def related_entry(self, case_id: str, kind: str, key: str) -> dict[str, Any] | None:
        return item_body(RelatedItem, f"CASE#{case_id}", f"REL#{kind}#{key}", consistent=True)

    def save_feedback(self, feedback: Feedback, event: DomainEvent) -> None:
        try:
            FeedbackItem(
                pk=f"CASE#{feedback.case_id}",
                sk="FEEDBACK",
                body=dataclasses.asdict(feedback),
                events=[stamp(event.to_dict())],
                outbox=1,
            ).save(condition=FeedbackItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(ErrorCode.FEEDBACK_GIVEN, "This case has feedback already.") from None
            raise

    def feedback(self, case_id: str) -> dict[str, Any] | None:
        return item_body(FeedbackItem, f"CASE#{case_id}", "FEEDBACK", consistent=True)

    def open_cases(self, case_type: str, business_unit: str, cursor: str | None, limit: int) -> Page[CaseRow]:
        """One Query a page, shard after shard (each by expected completion): the summary counts them all and
        sorts what it lists itself, so the shards need no merge."""
        bound = cursor_scope("gsi4", case_type, business_unit)
        position = decode_cursor(cursor, bound) or {"shard": 0, "after": None}
        shard = position.get("shard")
        if not isinstance(shard, int) or not 0 <= shard < UNIT_SHARDS:
            raise invalid_cursor()
        iterator = CaseItem.open_by_due.query(
            open_key(case_type, business_unit, shard),
            page_size=limit,
            last_evaluated_key=position.get("after"),
        )
        page: dict[str, Any] = next(iterator.page_iter, {})
        items = [CaseItem.from_raw_data(raw) for raw in page.get("Items", [])]
        after = iterator.page_iter.last_evaluated_key
        next_shard = shard if after else shard + 1
        following = {"shard": next_shard, "after": after}
        next_cursor = encode_cursor(following, bound) if next_shard < UNIT_SHARDS else None
        return Page([_shown(i) for i in items], next_cursor)
