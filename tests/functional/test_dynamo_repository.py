"""The DynamoDB adapter's promises, against moto: a change and its history commit together or not at all,
optimistic concurrency turns a lost update into 409, and an approval link decides at most once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from casework.domain.errors import Conflict, Gone, NotFound
from casework.domain.views import CaseRow
from casework.services.cases import CaseService
from casework.services.link_tokens import hash_token
from casework.services.ports import ApprovalToken
from tests.functional.shapes import stored_events

NEW = {"type": "csr", "title": "T", "description": "D", "account_id": "ACC-1001"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        from casework.adapters import dynamo
        from infra.local.template import create_resources, load_template
        from infra.seed import seed

        resources = create_resources(load_template(), stage="repo")
        dynamo.configure(resources.table_name)
        seed()
        yield resources.table_name


def service(clock: Clock | None = None) -> CaseService:
    from casework.adapters.definitions import DynamoWorkflowStore
    from casework.adapters.directory import DynamoDirectory
    from casework.adapters.dynamo import DynamoCaseRepository

    ids = itertools.count(1)
    return CaseService(
        DynamoCaseRepository(),
        DynamoDirectory(),
        DynamoWorkflowStore(),
        clock or Clock(),
        lambda: f"{datetime.now().timestamp():.6f}-{next(ids)}",
    )


def partition(table: str, case_id: str) -> list[dict]:
    client = boto3.client("dynamodb")
    return client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}},
    )["Items"]


def test_a_lost_update_is_refused_and_writes_nothing(table):
    first = service()
    case = first.register("mary", **NEW)
    first.change_related("mary", case.id, kind="products", key="P-100", added=True)
    before = partition(table, case.id)

    # Two requests read version 2; the second to commit must not overwrite the first.
    loaded = first.repo.get(case.id)
    first.transition("mary", case.id, to="Pending Pre-Approval")
    racing = service()
    racing.repo.get = lambda _id: loaded  # the other request's read happened before the first commit
    with pytest.raises(Conflict) as refused:
        racing.transition("mary", case.id, to="Closed - Rejected", fields={"rejection_reason": "x"})
    assert refused.value.code == "CONCURRENT_UPDATE"

    after = first.get("mary", case.id)
    assert (after.status, after.version) == ("Pending Pre-Approval", 3)
    assert len(partition(table, case.id)) == len(before) + 1  # the winner's history entry only


def test_a_refused_side_write_takes_the_case_change_with_it(table):
    svc = service()
    case = svc.register("mary", **NEW)
    svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    items = partition(table, case.id)
    with pytest.raises(Conflict) as duplicate:
        svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    assert duplicate.value.code == "ALREADY_LINKED"
    with pytest.raises(NotFound) as absent:
        svc.change_related("mary", case.id, kind="products", key="P-200", added=False)
    assert absent.value.code == "NOT_LINKED"
    assert partition(table, case.id) == items
    assert svc.get("mary", case.id).related_products_count == 1


def test_history_items_carry_the_events_of_their_change(table):
    svc = service()
    case = svc.register("mary", **NEW)
    svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    svc.transition("mary", case.id, to="Pending Pre-Approval")
    from boto3.dynamodb.types import TypeDeserializer

    history = [
        {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
        for item in partition(table, case.id)
        if item["sk"]["S"].startswith("HIST#")
    ]
    types = [[e["type"] for e in stored_events(item)] for item in history]
    assert types == [["CaseRegistered"], ["RelatedItemAdded"], ["CaseTransitioned", "ApprovalRequested"]]
    ids = [e["id"] for item in history for e in stored_events(item)]
    assert len(ids) == len(set(ids))


def _link(svc: CaseService, case_id: str, clock: Clock, hours: int = 1) -> str:
    raw = f"raw-token-{case_id}"
    svc.repo.save_token(
        ApprovalToken(
            token_hash=hash_token(raw),
            case_id=case_id,
            step="pre_approval",
            round=1,
            approver="john",
            expires_at=int((clock.now + timedelta(hours=hours)).timestamp()),
        )
    )
    return raw


def _submitted(svc: CaseService) -> str:
    case = svc.register("mary", **NEW)
    svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    svc.transition("mary", case.id, to="Pending Pre-Approval")
    return case.id


def test_an_approval_link_decides_once(table):
    clock = Clock()
    svc = service(clock)
    case_id = _submitted(svc)
    raw = _link(svc, case_id, clock)
    assert svc.decide_by_token(raw, decision="approve", comment=None).case.status == "Under Assessment"
    with pytest.raises(Gone) as again:
        svc.decide_by_token(raw, decision="approve", comment=None)
    assert again.value.code == "TOKEN_USED"
    assert not any(raw in str(item) for item in partition(table, case_id))  # only the hash is stored


def test_a_link_that_expires_after_its_page_was_shown_is_refused_as_expired(table):
    clock = Clock()
    svc = service(clock)
    case_id = _submitted(svc)
    raw = _link(svc, case_id, clock, hours=1)
    assert svc.approval_page(raw).step == "pre_approval"
    stale = svc._open_approval  # the page's checks passed a moment ago; the commit happens after expiry
    context = stale(raw)
    clock.now += timedelta(hours=2)
    svc._open_approval = lambda _raw: context  # type: ignore[method-assign]
    with pytest.raises(Gone) as expired:
        svc.decide_by_token(raw, decision="approve", comment=None)
    assert expired.value.code == "TOKEN_EXPIRED"
    assert svc.get("mary", case_id).status == "Pending Pre-Approval"


def test_a_transition_rewrites_each_index_row_in_place(table):
    """The list indexes hold the case's row under keys that no status change touches: a transition updates
    the row (what the lists show) and moves no entry; the indexes hold the row, not the case."""
    svc = service()
    case = svc.register("mary", **NEW)
    svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    (before,) = [i for i in partition(table, case.id) if i["sk"]["S"] == "CASE"]
    svc.transition("mary", case.id, to="Pending Pre-Approval")
    (after,) = [i for i in partition(table, case.id) if i["sk"]["S"] == "CASE"]

    for key in ("gsi1pk", "gsi1sk", "gsi2pk", "gsi3pk", "gsi4pk", "gsi4sk"):
        assert after[key] == before[key], key
    assert after["listing"]["M"]["status"] == {"S": "Pending Pre-Approval"}
    assert after["listing"]["M"]["awaiting"]["L"] == [{"S": "john"}]  # whose decision it waits for

    client = boto3.client("dynamodb")
    for index, pk in (("gsi1", "gsi1pk"), ("gsi2v2", "gsi2pk"), ("gsi3v2", "gsi3pk"), ("gsi4", "gsi4pk")):
        (row,) = client.query(
            TableName=table,
            IndexName=index,
            KeyConditionExpression=f"{pk} = :pk",
            ExpressionAttributeValues={":pk": after[pk]},
        )["Items"]
        assert "body" not in row and row["listing"] == after["listing"], index


def test_an_accounts_cases_in_both_shards_list_in_order_and_page_without_gaps(table):
    from casework.services.ports import CaseQuery

    ids = itertools.count(1)
    svc = service()
    svc.new_id = lambda: f"acct-case-{next(ids):02d}"  # fixed ids: a known spread over the account's shards
    made = [svc.register("mary", **NEW).id for _ in range(7)]
    shards = {i["gsi3pk"]["S"] for c in made for i in partition(table, c) if i["sk"]["S"] == "CASE"}
    assert shards == {"ACCOUNT#ACC-1001#0", "ACCOUNT#ACC-1001#1"}

    listed, cursor = [], None
    while True:
        page = svc.list_cases("mary", CaseQuery(account_id="ACC-1001", cursor=cursor, limit=3))
        listed += [row.id for row in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert listed == sorted(made, reverse=True)  # one clock tick: newest first is highest id first
    assert isinstance(page.items[0], CaseRow) and page.items[-1].account_id == "ACC-1001"  # rows, not cases


def test_a_case_is_stored_packed_and_reads_back_the_same(table):
    """The case item holds the list row plainly and the rest of the case packed: a new CSR's item stays
    under the 1 KB that costs 2 write units a commit, and every value (None, empty, defaults) reads back."""
    from casework.adapters.codec import case_to_dict
    from casework.adapters.dynamo import DynamoCaseRepository
    from scripts.write_cost import item_size

    svc = service()
    case = svc.register("mary", **NEW)
    (item,) = [i for i in partition(table, case.id) if i["sk"]["S"] == "CASE"]
    assert "body" not in item and "zbody" in item and item_size(item) < 1024
    svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    svc.transition("mary", case.id, to="Pending Pre-Approval")
    stored = DynamoCaseRepository().get(case.id)
    assert (stored.parent_type, stored.config_version, stored.acceptance, stored.acceptance_rounds) == (
        None,
        None,
        None,
        0,
    )  # defaults left out of the packed body come back
    assert stored.approval is not None and set(stored.approval.decisions) == {"john"}
    assert stored.status == "Pending Pre-Approval" and stored.description == "D"
    assert [p["status"] for p in case_to_dict(stored)["key_dates"]] == [
        "Registration",
        "Pending Pre-Approval",
    ]


def test_a_case_item_written_before_packing_still_reads(table):
    """Items written with a plain ``body`` (before packing) read as before, and the next commit packs them."""
    from casework.adapters.codec import case_to_dict
    from casework.adapters.dynamo import IN_ROW, DynamoCaseRepository

    svc = service()
    case = svc.register("mary", **NEW)
    packed = DynamoCaseRepository().get(case.id)
    plain_body = {k: v for k, v in case_to_dict(packed).items() if k not in IN_ROW}
    boto3.resource("dynamodb").Table(table).update_item(
        Key={"pk": f"CASE#{case.id}", "sk": "CASE"},
        UpdateExpression="SET body = :body REMOVE zbody",
        ExpressionAttributeValues={":body": plain_body},
    )
    assert DynamoCaseRepository().get(case.id) == packed
    svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    svc.transition("mary", case.id, to="Pending Pre-Approval")
    (item,) = [i for i in partition(table, case.id) if i["sk"]["S"] == "CASE"]
    assert "zbody" in item and "body" not in item


def test_a_case_item_stores_one_list_sort_key_and_a_row_without_its_id_or_empty_values(table):
    """The three list indexes sort on one attribute, and the row leaves out what the key says (the id) and
    what the case has not got (None, empty): the CSR's item stays under the 1 KB of a 2-unit commit. The
    lists and the case read back whole, and so do items stored in the layout before (the rewrite's input)."""
    from casework.adapters.dynamo import DynamoCaseRepository
    from casework.services.ports import CaseQuery

    svc = service()
    case = svc.register("mary", **NEW)
    svc.change_related("mary", case.id, kind="products", key="P-100", added=True)
    svc.transition("mary", case.id, to="Pending Pre-Approval")
    (item,) = [i for i in partition(table, case.id) if i["sk"]["S"] == "CASE"]
    assert "gsi2sk" not in item and "gsi3sk" not in item
    assert item["gsi1sk"]["S"] == f"csr#{case.created_at}#{case.id}"
    row = item["listing"]["M"]
    assert "id" not in row and not [name for name, value in row.items() if "NULL" in value]
    assert "contact_id" not in row and row["awaiting"]["L"] == [{"S": "john"}]
    # the due date and the request time alone: the item's key tells the entries apart
    assert item["gsi4sk"]["S"] == "9999" and item["remindsk"]["S"].startswith("2026-11-24T09:00")

    def shown() -> tuple[list[CaseRow], list[CaseRow], object]:
        mine = svc.list_cases("mary", CaseQuery(assignee="me")).items
        accounts = svc.list_cases("mary", CaseQuery(account_id="ACC-1001")).items
        return mine, accounts, DynamoCaseRepository().get(case.id)

    now = shown()
    (listed,) = [r for r in now[1] if r.id == case.id]
    assert (listed.contact_id, listed.subtype, listed.parent_id, listed.status) == (
        None,
        None,
        None,
        "Pending Pre-Approval",
    )

    # the layout before: the row whole (id, None values) and a sort key per index
    whole = {**row, "id": {"S": case.id}, "contact_id": {"NULL": True}, "subtype": {"NULL": True}}
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={**item, "listing": {"M": whole}, "gsi2sk": item["gsi1sk"], "gsi3sk": item["gsi1sk"]},
    )
    assert shown() == now


def test_the_rewrite_moves_cases_and_orders_into_the_one_list_sort_key(table):
    """scripts/rewrite_case_items.py: a case item and an ERP order in the layout before (a sort key per
    index) come out with gsi1sk only, and the account's orders list again (gsi3v2 sorts on gsi1sk)."""
    from casework.adapters.erp import DynamoErpStore
    from scripts.rewrite_case_items import _case, _order, _rewrite

    svc = service()
    case = svc.register("mary", **NEW)
    (item,) = [i for i in partition(table, case.id) if i["sk"]["S"] == "CASE"]
    client = boto3.client("dynamodb")
    client.put_item(TableName=table, Item={**item, "gsi2sk": item["gsi1sk"], "gsi3sk": item["gsi1sk"]})
    store = DynamoErpStore()
    order = {"order_id": "SO-1", "account_id": "ACC-1001", "order_date": "2026-11-20", "lines": []}
    store.put_order(order, 1)
    raw = client.get_item(TableName=table, Key={"pk": {"S": "ORDER#SO-1"}, "sk": {"S": "ORDER"}})["Item"]
    client.put_item(
        TableName=table, Item={**{k: v for k, v in raw.items() if k != "gsi1sk"}, "gsi3sk": raw["gsi1sk"]}
    )
    assert store.customer_orders("ACC-1001", None, 10).items == []  # gsi3v2 does not hold it yet

    from casework.adapters.dynamo import CaseItem
    from casework.adapters.erp import OrderItem

    assert _rewrite(CaseItem.scan(), _case, dry_run=False)[0] >= 1
    assert _rewrite(OrderItem.scan(), _order, dry_run=False) == (1, 0)
    (item,) = [i for i in partition(table, case.id) if i["sk"]["S"] == "CASE"]
    assert "gsi2sk" not in item and "gsi3sk" not in item and "gsi1sk" in item
    assert [o["order_id"] for o in store.customer_orders("ACC-1001", None, 10).items] == ["SO-1"]
