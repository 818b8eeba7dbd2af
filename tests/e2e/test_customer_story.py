"""The README's "Customers and contacts" walk-through over HTTP against the local stack: find, create, edit,
entries, contacts with identifiers moved between customers, profiling, and the refusals on the way.

The stack is shared by every e2e test of the session: this test uses its own account numbers, VAT numbers,
identifiers and question set."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.e2e


def test_customers_and_contacts_walk_through(api) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    account, vat, set_code = f"ACC-E{tag}", f"FR{tag}", f"buying{tag.lower()}"

    assert api.ok("GET", "/customers?name=ac", "susan")["items"][0]["id"] == "ACC-1001"
    api.error("GET", "/customers?name=a", "susan", 422, "NAME_PREFIX_TOO_SHORT")
    created = api.ok(
        "POST",
        "/customers",
        "susan",
        201,
        json={"id": account, "name": f"Émile {tag} SARL", "vat_number": vat},
    )
    assert created["version"] == 1
    assert api.ok("GET", f"/customers?vat_number={vat.lower()}", "susan")["items"][0]["id"] == account
    assert api.ok("GET", f"/customers?name=emile {tag}", "fred")["items"][0]["id"] == account
    path = f"/customers/{account}"
    assert (
        api.ok("PATCH", path, "susan", json={"classification": "Business", "expected_version": 1})["version"]
        == 2
    )
    api.error(
        "PATCH", path, "susan", 409, "STALE_VERSION", json={"status": "Inactive", "expected_version": 1}
    )
    api.error("PATCH", path, "fred", 403, "NOT_ALLOWED", json={"name": "x"})

    api.ok("POST", f"{path}/ship-to", "susan", 201, json={"code": "DOCK4", "address": {"town": "Lyon"}})
    price = {"product_code": "P-100", "price": 9.5, "valid_from": "2027-01-01", "valid_to": "2027-06-30"}
    api.ok("POST", f"{path}/prices", "susan", 201, json=price)
    api.error("POST", f"{path}/prices", "susan", 409, "PRICE_OVERLAP", json={**price, "valid_to": None})
    api.ok("POST", f"{path}/comments", "susan", 201, json={"text": "Deliveries before 10:00"})

    contact = api.ok(
        "POST",
        "/contacts",
        "susan",
        201,
        json={
            "type": "PERSON",
            "first_name": "Marie",
            "last_name": "Roux",
            "identifiers": {"id_number": tag},
        },
    )
    assert api.ok("GET", f"/contacts?id_number={tag.lower()}", "susan")["items"][0]["id"] == contact["id"]
    api.error(
        "POST",
        "/contacts",
        "susan",
        409,
        "DUPLICATE_IDENTIFIER",
        json={"type": "COMPANY", "company_name": "Dup", "identifiers": {"id_number": tag}},
    )
    api.ok("POST", f"/contacts/{contact['id']}/move", "susan", json={"account_id": account})
    assert [c["id"] for c in api.ok("GET", f"{path}/contacts", "susan")["items"]] == [contact["id"]]
    api.error("DELETE", path, "admin", 409, "CUSTOMER_HAS_CONTACTS")
    api.ok("POST", f"/contacts/{contact['id']}/move", "susan", json={"account_id": None})
    assert len(api.ok("GET", f"/contacts/{contact['id']}/history", "susan")["items"]) == 3

    questions = {
        "title": "Buying profile",
        "expected_version": 0,
        "questions": [{"code": "segment", "text": "Segment", "type": "choice", "choices": ["OEM", "Retail"]}],
    }
    api.error("PUT", f"/profiling/{set_code}", "susan", 403, "NOT_ALLOWED", json=questions)
    assert api.ok("PUT", f"/profiling/{set_code}", "admin", json=questions)["version"] == 1
    api.ok("POST", f"{path}/profile/{set_code}", "susan", 201, json={"answers": {"segment": "OEM"}})
    assert api.ok("GET", path, "susan")["profile"][set_code]["answers"] == {"segment": "OEM"}

    api.error("DELETE", path, "susan", 403, "NOT_ALLOWED")
    assert api.ok("DELETE", path, "admin") == {"deleted": account}
    api.error("GET", path, "susan", 404, "CUSTOMER_NOT_FOUND")
    assert api.ok("GET", f"{path}/history", "susan")["items"][0]["action"] == "deleted"
