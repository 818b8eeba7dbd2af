"""Who sees what (issue 8), through the API functions: every case type x (a user of another unit, a member
of the case's unit, a person on the case who is not in its unit, an Admin) x (get, list, history, notes
get/post, related list, summary). Invisible is 404 CASE_NOT_FOUND, the very body an unknown id gets, and
absent from lists; visible is 200 and present.

The seeded directory: SP (mary, susan, john, frank, peter, admin), CARE (carol, dave, tina), FIELD (fred).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from casework.adapters.directory import _record, put_directory_record
from casework.http.wiring import case_service
from tests.functional.test_api_handlers import Api


@dataclass(frozen=True)
class Setup:
    case_id: str
    case_type: str
    unit: str
    people: dict[str, str]  # "other" | "same" | "involved" | "admin" -> username
    listed_for_involved: bool  # the involved person is the assignee (their list); a creator only reads by id


def move_to(username: str, unit: str) -> None:
    """The directory now has ``username`` in ``unit`` only (as an admin would record a move)."""
    profile = _record(f"USER#{username}", "PROFILE")
    assert profile is not None
    put_directory_record(
        f"USER#{username}",
        "PROFILE",
        {**profile, "business_units": [unit], "default_business_unit": unit},
    )
    case_service.cache_clear()  # the directory is cached per process for a minute


def created(api: Api, user: str, **body: Any) -> dict[str, Any]:
    reply = api("POST /cases", user=user, body=body)
    assert reply.status == 201, reply.text
    return reply.json


def sales_case(api: Api, case_type: str) -> Setup:
    """mary registers it in SP, then moves to Customer Care: the creator and assignee keeps reading it."""
    extra: dict[str, Any] = {
        "csr": {},
        "customer_request": {},
        "sample_request": {"fields": {"product_code": "P-100", "quantity": 2, "shipping_address": "Dock 4"}},
    }[case_type]
    case = created(
        api, "mary", type=case_type, title="Visible?", description="d", account_id="ACC-1001", **extra
    )
    assert (case["business_unit"], case["assignee"]) == ("SP", "mary")
    move_to("mary", "CARE")
    people = {"other": "fred", "same": "susan", "involved": "mary", "admin": "admin"}
    return Setup(case["id"], case_type, "SP", people, listed_for_involved=True)


def routed_case(api: Api, case_type: str) -> Setup:
    """carol (Customer Care) registers it for Chen, whose area West routes it to Field Service."""
    case = created(api, "carol", type=case_type, subtype=None, title="Visible?", contact_id="CON-2003")
    assert (case["business_unit"], case["assignee"]) == ("FIELD", None)
    people = {"other": "mary", "same": "fred", "involved": "carol", "admin": "admin"}
    return Setup(case["id"], case_type, "FIELD", people, listed_for_involved=False)


def activity_case(api: Api) -> Setup:
    """dave schedules, from his Customer Care service request, a call for himself; then he moves to Field
    Service: the assignee keeps reading the activity, and its parent (an activity assignee of a child)."""
    sr = created(api, "tina", type="service_request", title="Parent", contact_id="CON-2001", assignee="tina")
    reply = api(
        "POST /cases/{case_id}/activities",
        {"case_id": sr["id"]},
        user="tina",
        body={"subtype": "CALL", "title": "Call", "assignee": "dave"},
    )
    assert reply.status == 201, reply.text
    activity = reply.json
    assert (activity["business_unit"], activity["assignee"]) == ("CARE", "dave")
    move_to("dave", "FIELD")
    assert api("GET /cases/{case_id}", {"case_id": sr["id"]}, user="dave").status == 200
    assert api("GET /cases/{case_id}", {"case_id": sr["id"]}, user="fred").status == 404
    people = {"other": "fred", "same": "carol", "involved": "dave", "admin": "admin"}
    return Setup(activity["id"], "activity", "CARE", people, listed_for_involved=True)


def setup_for(api: Api, case_type: str) -> Setup:
    if case_type in ("csr", "customer_request", "sample_request"):
        return sales_case(api, case_type)
    if case_type == "activity":
        return activity_case(api)
    return routed_case(api, case_type)


CASE_TYPES = ["csr", "customer_request", "sample_request", "service_request", "activity", "lead"]


def listed(api: Api, user: str, case_type: str, case_id: str) -> bool:
    reply = api("GET /cases", user=user, query={"type": case_type, "limit": "100"})
    assert reply.status == 200, reply.text
    return case_id in {c["id"] for c in reply.json["items"]}


def in_summary(api: Api, user: str, setup: Setup) -> bool:
    reply = api("GET /summaries/{case_type}", {"case_type": setup.case_type}, user=user)
    assert reply.status == 200, reply.text
    return reply.json["by_business_unit"].get(setup.unit, 0) > 0


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_who_sees_a_case(api: Api, case_type: str) -> None:
    setup = setup_for(api, case_type)
    path = {"case_id": setup.case_id}
    unknown = api("GET /cases/{case_id}", {"case_id": "NOPE-404"}, user="admin")
    assert unknown.status == 404
    for relation, user in setup.people.items():
        visible = relation != "other"
        where = (case_type, relation, user)
        reads = {
            "get": api("GET /cases/{case_id}", path, user=user),
            "history": api("GET /cases/{case_id}/history", path, user=user),
            "notes": api("GET /cases/{case_id}/notes", path, user=user),
            "related": api("GET /cases/{case_id}/products", path, user=user),
            "add note": api("POST /cases/{case_id}/notes", path, user=user, body={"text": f"by {user}"}),
        }
        for name, reply in reads.items():
            if visible:
                assert reply.status in (200, 201), (where, name, reply.text)
            else:
                assert reply.status == 404, (where, name, reply.text)
                # the same answer as an id that does not exist: nothing to tell them apart
                assert reply.error["code"] == "CASE_NOT_FOUND", (where, name)
                assert reply.error["message"] == f"Case {setup.case_id} does not exist.", (where, name)
        expect_listed = visible and (relation != "involved" or setup.listed_for_involved)
        assert listed(api, user, case_type, setup.case_id) is expect_listed, (where, "list")
        # the summary counts a unit's open cases: for its members and Admins
        assert in_summary(api, user, setup) is (relation in ("same", "admin")), (where, "summary")
    if visible:
        notes = api("GET /cases/{case_id}/notes", path, user="admin").json["items"]
        assert sorted(n["author"] for n in notes) == sorted(
            u for r, u in setup.people.items() if r != "other"
        )


def test_an_invisible_case_cannot_be_changed_or_probed_through_its_other_routes(api: Api) -> None:
    setup = routed_case(api, "service_request")  # in FIELD; mary (SP) does not see it
    path = {"case_id": setup.case_id}
    attempts = [
        api("PATCH /cases/{case_id}", path, user="mary", body={"fields": {"impact": "HIGH"}}),
        api("POST /cases/{case_id}/transitions", path, user="mary", body={"to": "Cancelled"}),
        api("POST /cases/{case_id}/assignment", path, user="mary", body={"assignee": "mary"}),
        api("POST /cases/{case_id}/accept", path, user="mary", body={}),
        api("GET /cases/{case_id}/communications", path, user="mary"),
        api("GET /cases/{case_id}/feedback", path, user="mary"),
        api("GET /cases/{case_id}/activities", path, user="mary"),
        api("GET /cases/{case_id}/order", path, user="mary"),
    ]
    for reply in attempts:
        assert (reply.status, reply.error["code"]) == (404, "CASE_NOT_FOUND"), reply.text
    assert api.get(setup.case_id, user="fred")["title"] == "Visible?"  # nothing changed


def test_a_case_reassigned_to_another_unit_stays_visible_to_the_units_it_came_through(api: Api) -> None:
    case = created(api, "carol", type="service_request", title="Moving", contact_id="CON-2001")
    assert case["business_unit"] == "CARE"
    reply = api(
        "POST /cases/{case_id}/assignment",
        {"case_id": case["id"]},
        user="tina",
        body={"gbu": "FIELD"},
    )
    assert reply.status == 200, reply.text
    assert reply.json["business_unit"] == "FIELD"
    for user in ("dave", "fred", "admin"):  # CARE routed it, FIELD has it
        assert api("GET /cases/{case_id}", {"case_id": case["id"]}, user=user).status == 200, user
    assert api("GET /cases/{case_id}", {"case_id": case["id"]}, user="mary").status == 404


def test_a_closed_case_takes_no_notes_unless_its_definition_says_so(api: Api) -> None:
    case = created(
        api, "mary", type="customer_request", title="Close me", description="d", account_id="ACC-1001"
    )
    path = {"case_id": case["id"]}
    reply = api.transition(case["id"], "Closed/Stopped", fields={"closure_reason": "Not needed"})
    assert reply.status == 200, reply.text
    reply = api("POST /cases/{case_id}/notes", path, user="mary", body={"text": "one more thing"})
    assert (reply.status, reply.error["code"]) == (409, "CASE_CLOSED"), reply.text
    assert api("GET /cases/{case_id}/notes", path).json["items"] == []  # nothing half-written
    # an invisible closed case is still just unknown
    reply = api("POST /cases/{case_id}/notes", path, user="carol", body={"text": "probe"})
    assert (reply.status, reply.error["code"]) == (404, "CASE_NOT_FOUND")


def test_lists_page_through_every_visible_case_once_in_order(api: Api) -> None:
    """A merged list (a unit's four shards and the caller's assignments) pages with its cursor through every
    case exactly once, in sort-key order, whatever the page size."""
    ids = {
        created(api, "mary", type="customer_request", title=f"R{n}", description="d", account_id="ACC-1001")[
            "id"
        ]
        for n in range(9)
    }
    ids |= {
        created(
            api,
            "susan",
            type="sample_request",
            title=f"S{n}",
            description="d",
            account_id="ACC-1001",
            fields={"product_code": "P-100", "quantity": 1, "shipping_address": "Dock"},
        )["id"]
        for n in range(4)
    }
    created(api, "carol", type="service_request", title="Not SP's", contact_id="CON-2001")
    everything = api("GET /cases", user="susan", query={"limit": "100"}).json
    assert {c["id"] for c in everything["items"]} == ids and everything["next_cursor"] is None
    keys = [f"{c['type']}#{c['status']}#{c['created_at']}#{c['id']}" for c in everything["items"]]
    assert keys == sorted(keys, reverse=True)
    for limit in (1, 2, 5):
        seen: list[str] = []
        cursor = None
        for _ in range(40):
            query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
            page = api("GET /cases", user="susan", query=query).json
            assert len(page["items"]) <= limit
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [c["id"] for c in everything["items"]], limit
    only_samples = api("GET /cases", user="susan", query={"type": "sample_request"}).json["items"]
    assert len(only_samples) == 4


def test_admin_lists_every_unit_and_another_user_s_assignments_only_where_visible(api: Api) -> None:
    sp = created(api, "mary", type="customer_request", title="SP", description="d", account_id="ACC-1001")
    field = created(
        api, "carol", type="service_request", title="FIELD", contact_id="CON-2003", assignee="fred"
    )
    everyone = {c["id"] for c in api("GET /cases", user="admin", query={"limit": "100"}).json["items"]}
    assert {sp["id"], field["id"]} <= everyone
    # tina (CARE) asks for fred's assignments: his FIELD case is not hers to see
    freds = api("GET /cases", user="tina", query={"assignee": "fred"}).json["items"]
    assert field["id"] not in {c["id"] for c in freds}
    assert field["id"] in {
        c["id"] for c in api("GET /cases", user="fred", query={"assignee": "me"}).json["items"]
    }
    # and an account's list holds only what the caller may see
    by_account = api("GET /cases", user="fred", query={"account_id": "ACC-1001"}).json["items"]
    assert sp["id"] not in {c["id"] for c in by_account}


@pytest.mark.parametrize("cursor", ["bm90LWpzb24", "eyJwayI6eyJTIjoiQ0FTRSN4In19", "e30", "W10"])
def test_a_merged_list_refuses_a_cursor_it_did_not_give(api: Api, cursor: str) -> None:
    reply = api("GET /cases", user="mary", query={"cursor": cursor})
    assert (reply.status, reply.error["code"]) == (400, "INVALID_CURSOR"), reply.text  # merged from main


def test_customers_and_contacts_are_seen_by_customer_facing_roles_only(api: Api) -> None:
    """Sales, service and care staff (and Admins) see every customer; john (Supply Chain & Quality) none:
    by id they are unknown to him, and he may not search them."""
    for user in ("mary", "carol", "fred", "admin"):
        assert api("GET /contacts/{contact_id}", {"contact_id": "CON-2001"}, user=user).status == 200, user
        assert api("GET /accounts/{account_id}", {"account_id": "ACC-1001"}, user=user).status == 200, user
        assert api("GET /customers/{customer_id}", {"customer_id": "ACC-1001"}, user=user).status == 200, user
    for route_key, path, code in [
        ("GET /contacts/{contact_id}", {"contact_id": "CON-2001"}, "UNKNOWN_CONTACT"),
        ("GET /accounts/{account_id}", {"account_id": "ACC-1001"}, "UNKNOWN_ACCOUNT"),
        ("GET /customers/{customer_id}", {"customer_id": "ACC-1001"}, "CUSTOMER_NOT_FOUND"),
        ("GET /customers/{customer_id}/cases", {"customer_id": "ACC-1001"}, "CUSTOMER_NOT_FOUND"),
    ]:
        reply = api(route_key, path, user="john")
        unknown = api(route_key, {k: "NOPE-1" for k in path}, user="mary")
        assert (reply.status, reply.error["code"]) == (404, code) == (unknown.status, unknown.error["code"])
    reply = api("GET /customers", user="john", query={"name": "Acme"})
    assert (reply.status, reply.error["code"]) == (403, "NOT_ALLOWED")


def test_an_activity_given_to_someone_of_another_unit_lets_them_read_its_parent(api: Api) -> None:
    sr = created(api, "dave", type="service_request", title="Parent", contact_id="CON-2001", assignee="dave")
    path = {"case_id": sr["id"]}
    reply = api(
        "POST /cases/{case_id}/activities",
        path,
        user="dave",
        body={"subtype": "CALL", "title": "Call", "assignee": "dave"},
    )
    assert reply.status == 201, reply.text
    activity = reply.json
    assert api("GET /cases/{case_id}", path, user="fred").status == 404
    moved = api(
        "POST /cases/{case_id}/assignment",
        {"case_id": activity["id"]},
        user="tina",
        body={"gbu": "FIELD", "assignee": "fred"},
    )
    assert moved.status == 200, moved.text
    assert api.get(sr["id"], user="fred")["id"] == sr["id"]  # the parent, in CARE, is his to read now
    entry = api("GET /cases/{case_id}/history", path, user="fred").json["items"][-1]
    assert (entry["action"], entry["by"], entry["changes"]["involved"]["to"]) == (
        "involved",
        "tina",
        ["fred"],
    )
