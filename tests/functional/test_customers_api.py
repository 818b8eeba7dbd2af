"""Customers, contacts and profiling through the API, as API Gateway invokes the functions template.yaml names
(the ``api`` fixture of test_api_handlers: one seeded moto account per module, the table restored per test).
Assertions are what a client sees: statuses, error codes, bodies."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.functional.test_api_handlers import Api, Reply, ok, refused

ACME = {"customer_id": "ACC-1001"}


def created(reply: Reply) -> dict[str, Any]:
    assert reply.status == 201, reply.text
    return reply.json


def new_customer(api: Api, user: str = "mary", **fields: Any) -> dict[str, Any]:
    body = {"id": "ACC-3001", "name": "Émile Boulanger SARL", "vat_number": "fr40123", **fields}
    return created(api("POST /customers", user=user, body=body))


def new_contact(api: Api, user: str = "carol", **fields: Any) -> dict[str, Any]:
    body = {
        "type": "PERSON",
        "first_name": "Maria",
        "last_name": "Lopez",
        "identifiers": {"id_number": "x-77"},
        "phones": [{"type": "MOBILE", "country": "ES", "number": "+34 600 100 200"}],
        "emails": [{"type": "WORK", "address": "maria@lopez.example"}],
        "address": {"type": "HOME", "street_name": "Calle Mayor", "street_number": "1", "town": "Madrid"},
        "geographic_area": "North",
        **fields,
    }
    return created(api("POST /contacts", user=user, body=body))


# --- customers ----------------------------------------------------------------------------------------------


def test_a_customer_is_created_and_found_by_name_prefix_vat_and_account_number(api: Api) -> None:
    customer = new_customer(api)
    assert customer["id"] == "ACC-3001" and customer["vat_number"] == "FR40123"
    assert customer["version"] == 1 and customer["status"] == "Active" and customer["created_by"] == "mary"

    for prefix in ("emile", "EMILE b", "Émi"):
        found = ok(api("GET /customers", query={"name": prefix}))
        assert [c["id"] for c in found["items"]] == ["ACC-3001"], prefix
    assert ok(api("GET /customers", query={"name": "ac"}))["items"] == [
        {
            "id": "ACC-1001",
            "name": "Acme Corp",
            "vat_number": "GB100200300",
            "status": "Active",
            "classification": "Business",
        }
    ]
    assert ok(api("GET /customers", query={"name": "emily"}))["items"] == []
    assert ok(api("GET /customers", query={"vat_number": " Fr40123"}))["items"][0]["id"] == "ACC-3001"
    assert ok(api("GET /customers", query={"account_number": "ACC-1002"}))["items"][0]["name"] == "Globex"
    assert ok(api("GET /customers", query={"account_number": "ACC-9999"}))["items"] == []


def test_name_search_pages_with_a_cursor_that_only_fits_its_own_list(api: Api) -> None:
    for n in range(3):
        new_customer(api, id=f"ACC-40{n}", name=f"Acme Branch {n}", vat_number=f"B{n}")
    first = ok(api("GET /customers", query={"name": "acme b", "limit": "2"}))
    assert [c["name"] for c in first["items"]] == ["Acme Branch 0", "Acme Branch 1"]
    second = ok(api("GET /customers", query={"name": "acme b", "limit": "2", "cursor": first["next_cursor"]}))
    assert [c["name"] for c in second["items"]] == ["Acme Branch 2"]

    refused(
        api("GET /customers", query={"name": "gl", "cursor": first["next_cursor"]}), 400, "INVALID_CURSOR"
    )
    refused(api("GET /customers", query={"name": "acme", "cursor": "not-a-cursor"}), 400, "INVALID_CURSOR")
    forged = base64.urlsafe_b64encode(json.dumps({"dirpk": {"N": "1"}}).encode()).decode().rstrip("=")
    refused(api("GET /customers", query={"name": "acme", "cursor": forged}), 400, "INVALID_CURSOR")


def test_finding_needs_exactly_one_filter_and_two_characters_of_a_name(api: Api) -> None:
    error = refused(api("GET /customers", query={"name": "a"}), 422, "NAME_PREFIX_TOO_SHORT")
    assert error["details"]["min_length"] == 2
    refused(api("GET /customers", query={"name": " é "}), 422, "NAME_PREFIX_TOO_SHORT")
    refused(api("GET /customers"), 422, "ONE_FILTER")
    refused(api("GET /customers", query={"name": "acme", "vat_number": "X"}), 422, "ONE_FILTER")


def test_bad_customer_input_lists_every_problem_and_writes_nothing(api: Api) -> None:
    reply = api(
        "POST /customers",
        body={"id": "ACC 1", "name": "", "colour": "red", "emails": [{"address": "nope"}], "version": 3},
    )
    error = refused(reply, 422, "INVALID_FIELDS")
    locations = {p["location"] for p in error["details"]["problems"]}
    assert locations == {"id", "name", "colour", "emails.0.address", "version"}
    refused(api("POST /customers", body={"vat_number": "X"}), 422, "MISSING_FIELDS")
    refused(api("POST /customers", body=["not", "an", "object"]), 422, "INVALID_REQUEST")
    assert ok(api("GET /customers", query={"vat_number": "X"}))["items"] == []


def test_an_existing_account_number_or_vat_number_is_a_conflict(api: Api) -> None:
    new_customer(api)
    refused(api("POST /customers", body={"id": "ACC-3001", "name": "Other"}), 409, "CUSTOMER_EXISTS")
    error = refused(
        api("POST /customers", body={"id": "ACC-3002", "name": "Other", "vat_number": "FR40123"}),
        409,
        "DUPLICATE_IDENTIFIER",
    )
    assert error["details"]["owner"] == "ACC-3001"
    refused(api("GET /customers/{customer_id}", {"customer_id": "ACC-3002"}), 404, "CUSTOMER_NOT_FOUND")


def test_a_customer_without_an_account_number_gets_one(api: Api) -> None:
    customer = created(api("POST /customers", body={"name": "Walk-in Customer"}))
    assert customer["id"].startswith("ACC-") and len(customer["id"]) == 16


def test_editing_checks_the_version_keeps_history_and_moves_the_name_in_the_index(api: Api) -> None:
    new_customer(api)
    path = {"customer_id": "ACC-3001"}
    edited = ok(
        api("PATCH /customers/{customer_id}", path, body={"name": "Zeta Bakers", "expected_version": 1})
    )
    assert edited["name"] == "Zeta Bakers" and edited["version"] == 2 and edited["vat_number"] == "FR40123"

    error = refused(
        api("PATCH /customers/{customer_id}", path, body={"name": "Late", "expected_version": 1}),
        409,
        "STALE_VERSION",
    )
    assert error["details"]["current_version"] == 2
    assert ok(api("GET /customers", query={"name": "emile"}))["items"] == []
    assert ok(api("GET /customers", query={"name": "zeta"}))["items"][0]["id"] == "ACC-3001"

    history = ok(api("GET /customers/{customer_id}/history", path))["items"]
    assert [h["version"] for h in history] == [2, 1]  # newest first
    assert history[0]["by"] == "mary" and history[0]["action"] == "updated"
    assert history[0]["changes"] == {"name": {"before": "Émile Boulanger SARL", "after": "Zeta Bakers"}}


def test_removing_a_vat_number_frees_it(api: Api) -> None:
    new_customer(api)
    ok(api("PATCH /customers/{customer_id}", {"customer_id": "ACC-3001"}, body={"vat_number": None}))
    assert ok(api("GET /customers", query={"vat_number": "FR40123"}))["items"] == []
    new_customer(api, id="ACC-3002")


def test_edit_refusals_unknown_fields_the_account_number_rights_and_unknown_customers(api: Api) -> None:
    path = {"customer_id": "ACC-1002"}
    refused(api("PATCH /customers/{customer_id}", path, body={"colour": "red"}), 422, "INVALID_FIELDS")
    refused(api("PATCH /customers/{customer_id}", path, body={"id": "ACC-1"}), 422, "INVALID_FIELDS")
    refused(
        api("PATCH /customers/{customer_id}", path, body={"expected_version": "1"}), 422, "INVALID_FIELDS"
    )
    refused(api("PATCH /customers/{customer_id}", path, user="fred", body={"name": "G"}), 403, "NOT_ALLOWED")
    refused(api("POST /customers", user="fred", body={"name": "Fred's"}), 403, "NOT_ALLOWED")
    refused(
        api("PATCH /customers/{customer_id}", {"customer_id": "NOPE"}, body={"name": "G"}),
        404,
        "CUSTOMER_NOT_FOUND",
    )
    refused(api("GET /customers/{customer_id}", path, user="nobody"), 403, "UNKNOWN_USER")
    assert (
        ok(api("GET /customers/{customer_id}", path, user="fred"))["name"] == "Globex"
    )  # reading is for all


def test_a_customers_page_shows_its_contacts_and_open_cases_of_every_type(api: Api) -> None:
    csr = api.register(account_id="ACC-1001")
    call = created(
        api(
            "POST /cases",
            user="carol",
            body={"type": "activity", "subtype": "CALL", "title": "Call Acme back", "account_id": "ACC-1001"},
        )
    )
    api.register(account_id="ACC-1002")

    # the customer's open cases are those the reader may see: all of them for an Admin
    page = ok(api("GET /customers/{customer_id}", ACME, user="admin"))
    assert page["name"] == "Acme Corp" and page["profile"] == {}
    assert [c["id"] for c in page["contacts"]["items"]] == ["CON-2002"]
    assert page["contacts"]["items"][0]["name"] == "Bob Green"
    assert {c["id"] for c in page["open_cases"]["items"]} == {csr["id"], call["id"]}
    assert {c["type"] for c in page["open_cases"]["items"]} == {"csr", "activity"}
    cases = ok(api("GET /customers/{customer_id}/cases", ACME, user="admin", query={"limit": "1"}))
    assert len(cases["items"]) == 1 and cases["next_cursor"]

    api.transition(csr["id"], "Closed - Rejected", fields={"rejection_reason": "Duplicate"})
    assert [c["id"] for c in ok(api("GET /customers/{customer_id}/cases", ACME, user="admin"))["items"]] == [
        call["id"]
    ]
    # mary (SP) sees her CSR there, not Customer Care's call
    mine = ok(api("GET /customers/{customer_id}/cases", ACME, user="mary", query={"limit": "100"}))["items"]
    assert call["id"] not in {c["id"] for c in mine}


def test_an_activity_can_be_linked_to_a_contact_directly(api: Api) -> None:
    call = created(
        api(
            "POST /cases",
            user="carol",
            body={"type": "activity", "subtype": "CALL", "title": "Call Bob", "contact_id": "CON-2002"},
        )
    )
    assert call["contact_id"] == "CON-2002" and call["type"] == "activity"
    # Bob is Acme's: the activity is on Acme's page too (for those who may see it: carol's unit)
    assert [c["id"] for c in ok(api("GET /customers/{customer_id}/cases", ACME, user="dave"))["items"]] == [
        call["id"]
    ]


def test_only_an_admin_deletes_and_never_a_customer_with_cases_or_contacts(api: Api) -> None:
    api.register(account_id="ACC-1002")
    refused(api("DELETE /customers/{customer_id}", {"customer_id": "ACC-1002"}), 403, "NOT_ALLOWED")
    refused(
        api("DELETE /customers/{customer_id}", {"customer_id": "ACC-1002"}, user="admin"),
        409,
        "CUSTOMER_HAS_CASES",
    )
    refused(api("DELETE /customers/{customer_id}", ACME, user="admin"), 409, "CUSTOMER_HAS_CONTACTS")  # Bob
    new_customer(api)
    contact = new_contact(api)
    ok(
        api(
            "POST /contacts/{contact_id}/move", {"contact_id": contact["id"]}, body={"account_id": "ACC-3001"}
        )
    )
    path = {"customer_id": "ACC-3001"}
    refused(api("DELETE /customers/{customer_id}", path, user="admin"), 409, "CUSTOMER_HAS_CONTACTS")
    refused(
        api("DELETE /customers/{customer_id}", {"customer_id": "NOPE"}, user="admin"),
        404,
        "CUSTOMER_NOT_FOUND",
    )


def test_a_deleted_customer_takes_its_entries_and_vat_number_along_and_keeps_its_history(api: Api) -> None:
    new_customer(api)
    path = {"customer_id": "ACC-3001"}
    created(
        api(
            "POST /customers/{customer_id}/ship-to", path, body={"code": "DOCK4", "address": {"town": "Lyon"}}
        )
    )
    created(api("POST /customers/{customer_id}/comments", path, body={"text": "Prefers mornings"}))

    assert ok(api("DELETE /customers/{customer_id}", path, user="admin")) == {"deleted": "ACC-3001"}

    refused(api("GET /customers/{customer_id}", path), 404, "CUSTOMER_NOT_FOUND")
    assert ok(api("GET /customers", query={"name": "emile"}))["items"] == []
    again = new_customer(api)  # the account number and the VAT number are free again
    assert again["version"] == 4  # history goes on: created, ship-to added, deleted, created
    assert ok(api("GET /customers/{customer_id}/ship-to", path))["items"] == []
    assert ok(api("GET /customers/{customer_id}/comments", path))["items"] == []
    actions = [h["action"] for h in ok(api("GET /customers/{customer_id}/history", path))["items"]]
    assert actions == ["created", "deleted", "ship_to_added", "created"]


# --- a customer's entries -----------------------------------------------------------------------------------


def test_ship_to_addresses(api: Api) -> None:
    body = {"code": "DOCK4", "name": "Acme, Dock 4", "address": {"street_name": "Quay", "town": "Hull"}}
    entry = created(api("POST /customers/{customer_id}/ship-to", ACME, body=body))
    assert entry["code"] == "DOCK4" and entry["added_by"] == "mary"
    refused(api("POST /customers/{customer_id}/ship-to", ACME, body=body), 409, "SHIP_TO_EXISTS")
    refused(api("POST /customers/{customer_id}/ship-to", ACME, body={"code": "X"}), 422, "MISSING_FIELDS")
    assert [e["code"] for e in ok(api("GET /customers/{customer_id}/ship-to", ACME))["items"]] == ["DOCK4"]
    assert ok(api("GET /customers/{customer_id}", ACME))["version"] == 2  # an audited change of the customer

    removed = api("DELETE /customers/{customer_id}/ship-to/{key}", {**ACME, "key": "DOCK4"})
    assert ok(removed) == {"deleted": "DOCK4"}
    refused(
        api("DELETE /customers/{customer_id}/ship-to/{key}", {**ACME, "key": "DOCK4"}),
        404,
        "SHIP_TO_NOT_FOUND",
    )
    history = ok(api("GET /customers/{customer_id}/history", ACME))["items"]
    assert [h["action"] for h in history[:2]] == ["ship_to_removed", "ship_to_added"]
    assert history[0]["changes"]["SHIPTO#DOCK4"]["after"] is None
    refused(
        api("POST /customers/{customer_id}/ship-to", {"customer_id": "NOPE"}, body=body),
        404,
        "CUSTOMER_NOT_FOUND",
    )


def test_special_prices_do_not_overlap_per_product(api: Api) -> None:
    price = {"product_code": "P-100", "price": 9.5, "valid_from": "2026-01-01", "valid_to": "2026-06-30"}
    assert created(api("POST /customers/{customer_id}/prices", ACME, body=price))["currency"] == "EUR"
    overlapping = {**price, "valid_from": "2026-06-01", "valid_to": None}
    error = refused(api("POST /customers/{customer_id}/prices", ACME, body=overlapping), 409, "PRICE_OVERLAP")
    assert error["details"]["valid_from"] == "2026-01-01"
    created(
        api(
            "POST /customers/{customer_id}/prices",
            ACME,
            body={**price, "valid_from": "2026-07-01", "valid_to": None},
        )
    )
    created(api("POST /customers/{customer_id}/prices", ACME, body={**price, "product_code": "P-200"}))

    refused(
        api("POST /customers/{customer_id}/prices", ACME, body={**price, "product_code": "P-404"}),
        422,
        "UNKNOWN_PRODUCT",
    )
    bad = {**price, "price": -1, "valid_to": "2025-01-01", "currency": "euro"}
    error = refused(api("POST /customers/{customer_id}/prices", ACME, body=bad), 422, "INVALID_FIELDS")
    assert {p["location"] for p in error["details"]["problems"]} >= {"price", "currency"}

    only_p100 = ok(api("GET /customers/{customer_id}/prices", ACME, query={"product_code": "P-100"}))["items"]
    assert [(p["valid_from"], p.get("valid_to")) for p in only_p100] == [
        ("2026-01-01", "2026-06-30"),
        ("2026-07-01", None),
    ]
    assert len(ok(api("GET /customers/{customer_id}/prices", ACME))["items"]) == 3
    path = {**ACME, "product_code": "P-100", "valid_from": "2026-01-01"}
    ok(api("DELETE /customers/{customer_id}/prices/{product_code}/{valid_from}", path))
    refused(
        api("DELETE /customers/{customer_id}/prices/{product_code}/{valid_from}", path),
        404,
        "PRICE_NOT_FOUND",
    )


def test_cross_references_map_the_customers_item_codes_to_ours(api: Api) -> None:
    body = {"customer_item_code": "ACME-ROLLER-7", "product_code": "P-100", "description": "Belt roller"}
    created(api("POST /customers/{customer_id}/cross-references", ACME, body=body))
    refused(
        api("POST /customers/{customer_id}/cross-references", ACME, body=body), 409, "CROSS_REFERENCE_EXISTS"
    )
    refused(
        api(
            "POST /customers/{customer_id}/cross-references",
            ACME,
            body={**body, "customer_item_code": "B", "product_code": "NO"},
        ),
        422,
        "UNKNOWN_PRODUCT",
    )
    items = ok(api("GET /customers/{customer_id}/cross-references", ACME))["items"]
    assert [(x["customer_item_code"], x["product_code"]) for x in items] == [("ACME-ROLLER-7", "P-100")]
    ok(api("DELETE /customers/{customer_id}/cross-references/{key}", {**ACME, "key": "ACME-ROLLER-7"}))
    assert ok(api("GET /customers/{customer_id}/cross-references", ACME))["items"] == []


def test_comments_keep_who_and_when(api: Api) -> None:
    first = created(
        api("POST /customers/{customer_id}/comments", ACME, body={"text": "  Call before delivery "})
    )
    created(api("POST /customers/{customer_id}/comments", ACME, user="carol", body={"text": "Second"}))
    assert first["text"] == "Call before delivery" and first["by"] == "mary" and first["at"]
    items = ok(api("GET /customers/{customer_id}/comments", ACME))["items"]
    assert [(c["text"], c["by"]) for c in items] == [("Call before delivery", "mary"), ("Second", "carol")]
    refused(api("POST /customers/{customer_id}/comments", ACME, body={"text": " "}), 422, "INVALID_FIELDS")
    refused(
        api("POST /customers/{customer_id}/comments", ACME, user="fred", body={"text": "x"}),
        403,
        "NOT_ALLOWED",
    )


# --- contacts -----------------------------------------------------------------------------------------------


def test_a_contact_is_created_found_by_an_identifier_and_shown_by_the_existing_route(api: Api) -> None:
    contact = new_contact(api)
    assert contact["id"].startswith("CON-") and contact["name"] == "Maria Lopez"
    assert contact["identifiers"] == {"id_number": "X-77"} and contact["email"] == "maria@lopez.example"
    assert contact["life_cycle_state"] == "Prospect" and "account_id" not in contact  # Unassigned

    found = ok(api("GET /contacts", query={"id_number": "x-77 "}))["items"]
    assert [c["id"] for c in found] == [contact["id"]]
    assert ok(api("GET /contacts", query={"passport_number": "X-77"}))["items"] == []
    assert ok(api("GET /contacts/{contact_id}", {"contact_id": contact["id"]}))["first_name"] == "Maria"
    refused(api("GET /contacts", query={"id_number": "A", "passport_number": "B"}), 422, "ONE_FILTER")
    company = new_contact(
        api, type="COMPANY", company_name="Lopez SL", identifiers={"vat_registration_number": "esb123"}
    )
    assert company["name"] == "Lopez SL"


def test_contact_identifiers_are_unique_and_of_the_four_known_types(api: Api) -> None:
    new_contact(api)
    error = refused(
        api(
            "POST /contacts",
            body={"type": "COMPANY", "company_name": "Dup", "identifiers": {"id_number": "X-77"}},
        ),
        409,
        "DUPLICATE_IDENTIFIER",
    )
    assert error["details"]["type"] == "id_number"
    error = refused(
        api(
            "POST /contacts",
            body={
                "type": "PERSON",
                "first_name": "A",
                "last_name": "B",
                "identifiers": {"tax": "1", "id_number": ""},
            },
        ),
        422,
        "INVALID_FIELDS",
    )
    assert {p["location"] for p in error["details"]["problems"]} == {
        "identifiers.tax.[key]",
        "identifiers.id_number",
    }
    error = refused(
        api("POST /contacts", body={"type": "PERSON", "first_name": "Ann"}), 422, "MISSING_FIELDS"
    )
    assert error["details"]["problems"][0]["location"] == "last_name"
    refused(api("POST /contacts", body={"type": "COMPANY"}), 422, "MISSING_FIELDS")
    refused(api("POST /contacts", body={"type": "ROBOT", "company_name": "R2"}), 422, "INVALID_FIELDS")
    refused(
        api(
            "POST /contacts", body={"type": "COMPANY", "company_name": "C", "phones": [{"number": "call me"}]}
        ),
        422,
        "INVALID_FIELDS",
    )
    refused(
        api("POST /contacts", body={"type": "COMPANY", "company_name": "C", "name": "derived"}),
        422,
        "INVALID_FIELDS",
    )


def test_a_contact_moves_to_a_customer_and_back_to_unassigned_with_history(api: Api) -> None:
    contact = new_contact(api)
    path = {"contact_id": contact["id"]}
    moved = ok(
        api("POST /contacts/{contact_id}/move", path, body={"account_id": "ACC-1002", "expected_version": 1})
    )
    assert moved["account_id"] == "ACC-1002" and moved["version"] == 2
    contacts = ok(api("GET /customers/{customer_id}/contacts", {"customer_id": "ACC-1002"}))["items"]
    assert [c["id"] for c in contacts] == [contact["id"]]

    refused(
        api("POST /contacts/{contact_id}/move", path, body={"account_id": "ACC-NOPE"}),
        422,
        "UNKNOWN_CUSTOMER",
    )
    refused(
        api("POST /contacts/{contact_id}/move", path, body={"account_id": None, "expected_version": 1}),
        409,
        "STALE_VERSION",
    )
    refused(api("POST /contacts/{contact_id}/move", path, body={}), 422, "INVALID_REQUEST")
    unassigned = ok(api("POST /contacts/{contact_id}/move", path, body={"account_id": None}))
    assert "account_id" not in unassigned
    assert ok(api("GET /customers/{customer_id}/contacts", {"customer_id": "ACC-1002"}))["items"] == []

    history = ok(api("GET /contacts/{contact_id}/history", path))["items"]
    assert [(h["action"], h["changes"].get("account_id")) for h in history] == [
        ("moved", {"before": "ACC-1002", "after": None}),
        ("moved", {"before": None, "after": "ACC-1002"}),
        ("created", None),
    ]
    refused(
        api("POST /contacts/{contact_id}/move", {"contact_id": "CON-NOPE"}, body={"account_id": None}),
        404,
        "CONTACT_NOT_FOUND",
    )
    refused(
        api("POST /contacts/{contact_id}/move", path, user="fred", body={"account_id": None}),
        403,
        "NOT_ALLOWED",
    )


def test_editing_a_contact_merges_and_checks_the_whole_record(api: Api) -> None:
    contact = new_contact(api)
    path = {"contact_id": contact["id"]}
    edited = ok(api("PATCH /contacts/{contact_id}", path, body={"last_name": "López", "expected_version": 1}))
    assert edited["name"] == "Maria López" and edited["identifiers"] == {"id_number": "X-77"}
    refused(api("PATCH /contacts/{contact_id}", path, body={"last_name": None}), 422, "MISSING_FIELDS")
    refused(api("PATCH /contacts/{contact_id}", path, body={"account_id": "ACC-1001"}), 422, "INVALID_FIELDS")
    refused(
        api("PATCH /contacts/{contact_id}", path, body={"life_cycle_state": "Sleeping"}),
        422,
        "INVALID_FIELDS",
    )
    refused(
        api("PATCH /contacts/{contact_id}", path, body={"first_name": "M", "expected_version": 1}),
        409,
        "STALE_VERSION",
    )
    refused(
        api("PATCH /contacts/{contact_id}", path, user="fred", body={"first_name": "M"}), 403, "NOT_ALLOWED"
    )
    refused(
        api("PATCH /contacts/{contact_id}", {"contact_id": "CON-NOPE"}, body={"first_name": "M"}),
        404,
        "CONTACT_NOT_FOUND",
    )


def test_seeded_contacts_are_records_of_the_model(api: Api) -> None:
    bob = ok(api("GET /contacts/{contact_id}", {"contact_id": "CON-2002"}))
    assert bob["type"] == "PERSON" and bob["name"] == "Bob Green" and bob["email"] == "bob@customer.example"
    assert bob["version"] == 1 and bob["account_id"] == "ACC-1001"
    assert ok(api("GET /contacts", query={"passport_number": "p2002"}))["items"][0]["id"] == "CON-2002"
    assert ok(api("GET /accounts/{account_id}", {"account_id": "ACC-1001"}))["name"] == "Acme Corp"


# --- profiling ----------------------------------------------------------------------------------------------


QUESTIONS = {
    "title": "Buying profile",
    "questions": [
        {
            "code": "segment",
            "text": "Segment",
            "type": "choice",
            "choices": ["OEM", "Retail"],
            "required": True,
        },
        {"code": "employees", "text": "Employees", "type": "number"},
        {"code": "eco", "text": "Eco label wanted?", "type": "boolean"},
    ],
}


def test_an_admin_versions_question_sets_and_users_answer_them_per_customer(api: Api) -> None:
    path = {"set_code": "buying"}
    refused(
        api("PUT /profiling/{set_code}", path, body={**QUESTIONS, "expected_version": 0}), 403, "NOT_ALLOWED"
    )
    first = ok(
        api("PUT /profiling/{set_code}", path, user="admin", body={**QUESTIONS, "expected_version": 0})
    )
    assert first["version"] == 1 and first["questions"]["saved_by"] == "admin"
    refused(
        api("PUT /profiling/{set_code}", path, user="admin", body={**QUESTIONS, "expected_version": 0}),
        409,
        "STALE_VERSION",
    )
    refused(api("PUT /profiling/{set_code}", path, user="admin", body=QUESTIONS), 422, "MISSING_FIELDS")
    bad = {"title": "x", "questions": [{"code": "a", "text": "A", "type": "choice"}], "expected_version": 1}
    refused(api("PUT /profiling/{set_code}", path, user="admin", body=bad), 422, "INVALID_FIELDS")
    assert ok(api("GET /profiling/{set_code}", path))["questions"]["title"] == "Buying profile"
    refused(api("GET /profiling/{set_code}", {"set_code": "nope"}), 404, "UNKNOWN_PROFILE_SET")

    answer_path = {**ACME, "set_code": "buying"}
    answered = created(
        api(
            "POST /customers/{customer_id}/profile/{set_code}",
            answer_path,
            body={"answers": {"segment": "OEM", "employees": 40}},
        )
    )
    assert answered["set_version"] == 1 and answered["by"] == "mary"
    error = refused(
        api(
            "POST /customers/{customer_id}/profile/{set_code}",
            answer_path,
            body={"answers": {"segment": "Army", "colour": 1}},
        ),
        422,
        "INVALID_FIELDS",
    )
    assert {p["location"] for p in error["details"]["problems"]} == {"answers.segment", "answers.colour"}
    refused(
        api("POST /customers/{customer_id}/profile/{set_code}", answer_path, body={"answers": {}}),
        422,
        "MISSING_FIELDS",
    )

    v2 = {**QUESTIONS, "questions": QUESTIONS["questions"][:1], "expected_version": 1}
    assert ok(api("PUT /profiling/{set_code}", path, user="admin", body=v2))["version"] == 2
    created(
        api(
            "POST /customers/{customer_id}/profile/{set_code}",
            answer_path,
            user="carol",
            body={"answers": {"segment": "Retail"}},
        )
    )
    customer = ok(api("GET /customers/{customer_id}", ACME))
    assert customer["profile"]["buying"]["answers"] == {"segment": "Retail"}
    assert (
        customer["profile"]["buying"]["set_version"] == 2 and customer["profile"]["buying"]["by"] == "carol"
    )
    answers = ok(api("GET /customers/{customer_id}/profile/{set_code}", answer_path))["items"]
    assert [(a["by"], a["set_version"]) for a in answers] == [("mary", 1), ("carol", 2)]
    refused(
        api(
            "POST /customers/{customer_id}/profile/{set_code}",
            {**ACME, "set_code": "nope"},
            body={"answers": {}},
        ),
        404,
        "UNKNOWN_PROFILE_SET",
    )


def test_a_won_leads_account_is_a_customer_listing_its_contact_and_editable(api: Api) -> None:
    from casework.adapters.contacts import DynamoConversionStore

    account = {"id": "ACC-LEAD1", "name": "Chen Li", "contact_id": "CON-2003", "created_from_lead": "lead1"}
    assert DynamoConversionStore().convert(account, "CON-2003", "2026-11-30T10:00:00+00:00") is True

    assert ok(api("GET /customers", query={"name": "chen"}))["items"][0]["id"] == "ACC-LEAD1"
    customer = ok(api("GET /customers/{customer_id}", {"customer_id": "ACC-LEAD1"}))
    assert customer["contacts"]["items"] == [
        {
            "id": "CON-2003",
            "name": "Chen Li",
            "type": "PERSON",
            "email": "chen@customer.example",
            "life_cycle_state": "Financial",
            "account_id": "ACC-LEAD1",
            "geographic_area": "West",
        }
    ]
    edited = ok(
        api("PATCH /customers/{customer_id}", {"customer_id": "ACC-LEAD1"}, body={"credit_rating": "B"})
    )
    assert edited["version"] == 1 and edited["created_from_lead"] == "lead1"


def test_a_cursor_of_one_list_is_refused_by_another_and_overlong_ids_are_unknown(api: Api) -> None:
    for n in range(2):
        created(api("POST /customers/{customer_id}/comments", ACME, body={"text": f"c{n}"}))
        body = {"code": f"D{n}", "address": {"town": "Hull"}}
        created(api("POST /customers/{customer_id}/ship-to", ACME, body=body))
    comments = ok(api("GET /customers/{customer_id}/comments", ACME, query={"limit": "1"}))
    assert comments["next_cursor"]
    refused(
        api("GET /customers/{customer_id}/ship-to", ACME, query={"cursor": comments["next_cursor"]}),
        400,
        "INVALID_CURSOR",
    )
    for n in range(2):
        new_customer(api, id=f"ACC-50{n}", name=f"Acorn {n}", vat_number=f"AC{n}")
    names = ok(api("GET /customers", query={"name": "ac", "limit": "1"}))
    refused(
        api("GET /customers", query={"name": "acz", "cursor": names["next_cursor"]}), 400, "INVALID_CURSOR"
    )

    refused(api("GET /customers/{customer_id}", {"customer_id": "A" * 3000}), 404, "CUSTOMER_NOT_FOUND")
    long_key = {**ACME, "key": "K" * 3000}
    refused(api("DELETE /customers/{customer_id}/ship-to/{key}", long_key), 404, "SHIP_TO_NOT_FOUND")
    refused(api("GET /profiling/{set_code}", {"set_code": "no such set!"}), 422, "INVALID_SET_CODE")
