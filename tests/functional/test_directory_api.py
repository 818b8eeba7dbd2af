"""The directory's Admin API through the admin function, as API Gateway invokes it (the ``api`` fixture of
test_api_handlers: one seeded moto account per module, the table restored per test). Assertions are what a
client sees, and what the other functions do with the change."""

from __future__ import annotations

from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from casework.adapters.directory import DynamoDirectory
from casework.http.wiring import case_service
from tests.functional.test_api_handlers import Api, Reply, ok, refused

CAROL = {
    "display_name": "Carol Care",
    "email": "carol@casework.example",
    "roles": ["Care Agent"],
    "business_units": ["CARE"],
}


def problems(reply: Reply) -> dict[str, str]:
    error = refused(reply, 422, "INVALID_DIRECTORY_ENTRY")
    return {p["location"]: p["message"] for p in error["details"]["problems"]}


def put_user(api: Api, name: str, body: dict[str, Any], user: str = "admin") -> Reply:
    return api("PUT /directory/users/{username}", {"username": name}, user=user, body=body)


def put_unit(api: Api, code: str, body: dict[str, Any], user: str = "admin") -> Reply:
    return api("PUT /directory/units/{code}", {"code": code}, user=user, body=body)


def members(api: Api, unit: str) -> dict[str, list[str]]:
    return ok(api("GET /directory/units/{code}", {"code": unit}, user="admin"))["members"]


# --- reads --------------------------------------------------------------------------------------------------


def test_managers_read_users_units_and_areas_and_others_may_not(api: Api) -> None:
    user = ok(api("GET /directory/users/{username}", {"username": "carol"}, user="tina"))
    assert user["roles"] == ["Care Agent"] and user["business_units"] == ["CARE"]
    unit = ok(api("GET /directory/units/{code}", {"code": "SP"}, user="peter"))
    assert unit["members"]["Supply Chain & Quality"] == ["john"]
    assert [u["code"] for u in ok(api("GET /directory/units", user="admin"))["items"]] == [
        "CARE",
        "FIELD",
        "SP",
    ]
    care = ok(api("GET /directory/users", query={"unit": "CARE"}, user="admin"))
    assert [u["username"] for u in care["items"]] == ["carol", "dave", "tina"]
    area = ok(api("GET /directory/areas/{area}", {"area": "North"}, user="admin"))
    assert area["business_unit"] == "CARE"

    refused(api("GET /directory/users/{username}", {"username": "carol"}, user="dave"), 403, "NOT_ALLOWED")
    refused(api("GET /directory/units", user="mary"), 403, "NOT_ALLOWED")


def test_unknown_records_are_404(api: Api) -> None:
    refused(
        api("GET /directory/users/{username}", {"username": "nobody"}, user="admin"), 404, "USER_NOT_FOUND"
    )
    refused(api("GET /directory/units/{code}", {"code": "NOPE"}, user="admin"), 404, "UNIT_NOT_FOUND")
    refused(api("GET /directory/areas/{area}", {"area": "South"}, user="admin"), 404, "AREA_NOT_FOUND")
    refused(api("GET /directory/users", query={"unit": "NOPE"}, user="admin"), 404, "UNIT_NOT_FOUND")
    # a key no record could have (a "#" would reach into another item's key) is just unknown
    refused(api("GET /directory/users/{username}", {"username": "a#b"}, user="admin"), 404, "USER_NOT_FOUND")


# --- changes ------------------------------------------------------------------------------------------------


def test_only_an_admin_changes_the_directory(api: Api) -> None:
    for user in ("tina", "peter", "carol"):
        refused(put_user(api, "carol", {**CAROL, "roles": ["Admin"]}, user=user), 403, "NOT_ALLOWED")
    refused(put_unit(api, "CARE", {"name": "x"}, user="tina"), 403, "NOT_ALLOWED")
    reply = api("PUT /directory/areas/{area}", {"area": "North"}, user="tina", body={"business_unit": "SP"})
    refused(reply, 403, "NOT_ALLOWED")
    assert ok(api("GET /directory/users/{username}", {"username": "carol"}, user="admin"))["roles"] == [
        "Care Agent"
    ]


def test_a_new_user_joins_the_member_lists_of_their_units_and_is_audited(api: Api) -> None:
    body = {
        "display_name": "Erin Care",
        "email": "erin@casework.example",
        "roles": ["Care Agent", "Team Lead"],
        "business_units": ["CARE", "FIELD"],
        "default_business_unit": "FIELD",
        "expected_version": 0,
    }
    erin = ok(put_user(api, "erin", body))
    assert erin["version"] == 1 and erin["updated_by"] == "admin" and erin["active"] is True
    assert members(api, "CARE")["Care Agent"] == ["carol", "dave", "erin"]
    assert members(api, "CARE")["Team Lead"] == ["tina", "erin"]
    assert members(api, "FIELD")["Team Lead"] == ["erin"]

    # moved out of FIELD and no longer a Team Lead: both lists follow, in the same transaction
    ok(
        put_user(
            api,
            "erin",
            {
                **body,
                "roles": ["Care Agent"],
                "business_units": ["CARE"],
                "default_business_unit": "CARE",
                "expected_version": 1,
            },
        )
    )
    assert "erin" not in members(api, "CARE")["Team Lead"]
    assert "Team Lead" not in members(api, "FIELD")

    audit = ok(api("GET /directory/audit", query={"kind": "user", "key": "erin"}, user="admin"))["items"]
    assert [a["version"] for a in audit] == [2, 1]
    assert audit[1]["before"] is None and audit[1]["by"] == "admin" and audit[1]["at"]
    assert audit[0]["before"]["business_units"] == ["CARE", "FIELD"]
    assert audit[0]["after"]["business_units"] == ["CARE"]
    assert audit[0]["changed"] == ["business_units", "default_business_unit", "roles"]


def test_every_problem_of_a_user_is_listed_and_nothing_is_saved(api: Api) -> None:
    reply = put_user(
        api,
        "erin",
        {
            "roles": ["Care Agent", "Wizard"],
            "business_units": ["CARE", "MOON"],
            "default_business_unit": "SP",
            "email": "not an address",
        },
    )
    found = problems(reply)
    assert found["roles.1"] == "unknown role 'Wizard'"
    assert found["business_units.1"] == "unknown business unit 'MOON'"
    assert found["default_business_unit"] == "'SP' is not one of the user's units"
    assert found["email"] == "does not have the form expected here"
    assert len(found) == 4
    refused(api("GET /directory/users/{username}", {"username": "erin"}, user="admin"), 404, "USER_NOT_FOUND")

    found = problems(
        put_user(
            api,
            "erin",
            {
                "roles": ["Care Agent"],
                "business_units": ["MOON"],
                "default_business_unit": "SP",
                "version": 3,
            },
        )
    )
    # bookkeeping is not input, and the fields in a good shape are still checked against the directory
    assert set(found) == {"version", "business_units.0", "default_business_unit"}


def test_a_change_on_a_stale_version_is_409(api: Api) -> None:
    ok(put_user(api, "carol", {**CAROL, "display_name": "Carol C.", "expected_version": 0}))
    reply = put_user(api, "carol", {**CAROL, "display_name": "Carol K.", "expected_version": 0})
    error = refused(reply, 409, "STALE_VERSION")
    assert error["details"]["current_version"] == 1
    assert ok(api("GET /directory/users/{username}", {"username": "carol"}, user="admin"))[
        "display_name"
    ] == ("Carol C.")
    refused(put_unit(api, "NEW", {"name": "New", "expected_version": 4}), 409, "STALE_VERSION")


def test_units_are_validated_created_and_registered(api: Api) -> None:
    reply = put_unit(
        api,
        "CARE",
        {
            "name": "Customer Care",
            "responsibles": {"assessment": "ghost"},
            "approval_rules": {
                "escalation": {"kind": "group", "role": "Field Technician", "mode": "all"},
                "refund": {"kind": "group", "users": []},
                "discount": {"kind": "user", "users": ["carol", "dave"]},
                "audit": {"kind": "group", "role": "Wizard"},
                "odd": {"kind": "sometimes"},
            },
        },
    )
    found = problems(reply)
    # one rule in a bad shape: the rules wait for it; the responsibles are checked all the same
    assert set(found) == {"approval_rules.odd.kind", "responsibles.assessment"}
    del_odd = {
        "escalation": {"kind": "group", "role": "Field Technician", "mode": "all"},
        "refund": {"kind": "group", "users": []},
        "discount": {"kind": "user", "users": ["carol", "dave"]},
        "audit": {"kind": "group", "role": "Wizard"},
    }
    found = problems(
        put_unit(
            api,
            "CARE",
            {"name": "Customer Care", "responsibles": {"assessment": "ghost"}, "approval_rules": del_odd},
        )
    )
    assert found == {
        "responsibles.assessment": "unknown user 'ghost'",
        "approval_rules.escalation.role": "empty approver group: nobody is 'Field Technician' here",
        "approval_rules.refund": "a group is a role or a list of users, not both",
        "approval_rules.discount.users": "a user rule names exactly one user",
        "approval_rules.audit.role": "unknown role 'Wizard'",
    }

    rules = {
        "escalation": {"kind": "group", "role": "Team Lead"},
        "refund": {"kind": "user", "users": ["tina"]},
    }
    care = ok(
        put_unit(api, "CARE", {"name": "Customer Care", "approval_rules": rules, "expected_version": 0})
    )
    assert care["members"]["Care Agent"] == ["carol", "dave"]  # kept: members follow the users, not the body
    assert care["approval_rules"]["escalation"] == {"kind": "group", "role": "Team Lead", "mode": "any"}

    ok(put_unit(api, "LOG", {"name": "Logistics"}))
    assert [u["code"] for u in ok(api("GET /directory/units", user="tina"))["items"]] == [
        "CARE",
        "FIELD",
        "LOG",
        "SP",
    ]
    assert ok(put_user(api, "fred", {"roles": ["Field Technician"], "business_units": ["FIELD", "LOG"]}))
    assert members(api, "LOG") == {"Field Technician": ["fred"]}


def test_a_rule_may_not_name_an_inactive_user(api: Api) -> None:
    ok(put_user(api, "erin", {"roles": ["Care Agent"], "business_units": ["CARE"], "active": False}))
    reply = put_unit(
        api, "CARE", {"name": "Customer Care", "approval_rules": {"x": {"kind": "user", "users": ["erin"]}}}
    )
    assert problems(reply) == {"approval_rules.x.users.0": "'erin' is not active"}


def test_a_user_change_that_would_empty_an_approver_group_is_refused(api: Api) -> None:
    # john is SP's only "Supply Chain & Quality": SP's pre-approval group would be empty without him
    reply = put_user(api, "john", {"roles": ["Sales Rep"], "business_units": ["SP"]})
    assert problems(reply) == {
        "roles": "unit SP: approval step 'pre_approval' would have nobody as 'Supply Chain & Quality'"
    }
    assert members(api, "SP")["Supply Chain & Quality"] == ["john"]


def test_areas_route_to_known_units_only(api: Api) -> None:
    reply = api(
        "PUT /directory/areas/{area}", {"area": "South"}, user="admin", body={"business_unit": "MOON"}
    )
    assert problems(reply) == {"business_unit": "unknown business unit 'MOON'"}
    reply = api(
        "PUT /directory/areas/{area}", {"area": "South"}, user="admin", body={"business_unit": "FIELD"}
    )
    assert ok(reply)["geographic_area"] == "South"
    audit = ok(api("GET /directory/audit", query={"kind": "area", "key": "South"}, user="tina"))["items"]
    assert audit[0]["after"]["business_unit"] == "FIELD"


def test_the_audit_pages_and_refuses_a_foreign_cursor(api: Api) -> None:
    for n in range(3):
        ok(put_user(api, "carol", {**CAROL, "display_name": f"Carol {n}"}))
    first = ok(
        api("GET /directory/audit", query={"kind": "user", "key": "carol", "limit": "2"}, user="admin")
    )
    assert [a["version"] for a in first["items"]] == [3, 2] and first["next_cursor"]
    query = {"kind": "user", "key": "carol", "cursor": first["next_cursor"]}
    assert [a["version"] for a in ok(api("GET /directory/audit", query=query, user="admin"))["items"]] == [1]
    query = {"kind": "user", "key": "dave", "cursor": first["next_cursor"]}
    refused(api("GET /directory/audit", query=query, user="admin"), 400, "INVALID_CURSOR")
    refused(
        api("GET /directory/audit", query={"kind": "case", "key": "x"}, user="admin"), 422, "INVALID_REQUEST"
    )


def test_bad_bodies_are_clear_4xx(api: Api) -> None:
    route, path = "PUT /directory/users/{username}", {"username": "erin"}
    refused(api(route, path, user="admin", raw_body="[1, 2]"), 422, "INVALID_REQUEST")
    refused(api(route, path, user="admin", raw_body="{"), 400, "INVALID_JSON")
    refused(
        api(route, path, user="admin", raw_body="x", content_type="text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    found = problems(
        api(route, path, user="admin", body={"roles": "Admin", "active": "maybe", "expected_version": -1})
    )
    assert set(found) == {"roles", "active", "expected_version", "business_units"}
    assert "path.user" in problems(put_user(api, "a#b", CAROL))


# --- deactivation -------------------------------------------------------------------------------------------


def test_deactivating_a_user_with_work_is_refused_with_the_list(api: Api) -> None:
    case = api.submitted()  # a CSR waiting for john's pre-approval, assigned to mary
    reply = put_user(api, "mary", {"roles": ["Sales Rep"], "business_units": ["SP"], "active": False})
    work = refused(reply, 409, "USER_HAS_WORK")["details"]
    assert [c["id"] for c in work["open_cases"]] == [case["id"]]
    assert work["pending_approvals"] == []

    reply = put_user(
        api, "john", {"roles": ["Supply Chain & Quality"], "business_units": ["SP"], "active": False}
    )
    work = refused(reply, 409, "USER_HAS_WORK")["details"]
    assert [c["id"] for c in work["pending_approvals"]] == [case["id"]]

    reply = put_user(
        api, "frank", {"roles": ["Tech Team & Sales Dev"], "business_units": ["SP"], "active": False}
    )
    work = refused(reply, 409, "USER_HAS_WORK")["details"]
    assert work["named_by_units"] == [
        {"unit": "SP", "location": "responsibles.assessment"},
        {"unit": "SP", "location": "responsibles.implementation"},
    ]
    assert ok(api("GET /directory/users/{username}", {"username": "frank"}, user="admin"))["active"] is True


def test_a_deactivated_user_is_refused_by_every_function_after_the_cache_bound(api: Api) -> None:
    assert api("GET /cases", user="carol").status == 200  # warms every function's directory cache
    ok(put_user(api, "carol", {**CAROL, "active": False}))
    assert "Care Agent" in members(api, "CARE") and "carol" not in members(api, "CARE")["Care Agent"]

    # another process (a fresh directory, or one whose cached entry is older than the bound) sees it at once
    assert DynamoDirectory(ttl_seconds=0).user("carol").active is False
    case_service.cache_clear()  # the functions' cache, as after 60 s or in a new container
    refused(api("GET /cases", user="carol"), 403, "UNKNOWN_USER")
    refused(api("POST /cases", user="carol", body={"type": "csr", "title": "x"}), 403, "UNKNOWN_USER")

    ok(put_user(api, "carol", {**CAROL, "active": True}))
    case_service.cache_clear()
    assert api("GET /cases", user="carol").status == 200


def test_a_new_approval_rule_is_used_by_the_next_case_after_the_cache_bound(api: Api) -> None:
    rules = {
        "pre_approval": {"kind": "user", "users": ["peter"]},
        "final_approval": {"kind": "group", "users": ["peter"]},
    }
    sp = ok(api("GET /directory/units/{code}", {"code": "SP"}, user="admin"))
    ok(put_unit(api, "SP", {"name": sp["name"], "responsibles": sp["responsibles"], "approval_rules": rules}))
    case_service.cache_clear()
    case = api.submitted()
    assert [a["username"] for a in case["pending_approval"]["approvers"]] == ["peter"], case


def test_one_change_is_one_transaction_with_its_audit(api: Api, stack: Any) -> None:
    ok(put_user(api, "erin", {"roles": ["Team Lead"], "business_units": ["FIELD"]}))
    table = boto3.resource("dynamodb").Table(stack.table_name)
    audit = table.query(KeyConditionExpression=Key("pk").eq("DIRAUDIT#user#erin"))["Items"]
    assert [a["sk"] for a in audit] == ["V#00000001"]
    unit = table.get_item(Key={"pk": "UNIT#FIELD", "sk": "UNIT"})["Item"]["body"]
    assert unit["members"]["Team Lead"] == ["erin"] and unit["members_version"] == 1


HOSTILE_KEYS = [
    "",
    " ",
    "a b",
    "x" * 2000,
    "ü名",
    "../USER#admin",
    "a%2Fb",
    "%00",
    "null",
    "DIRECTORY",
    "\u202e",
]
HOSTILE_BODIES: list[Any] = [
    {},
    {"roles": None, "business_units": None},
    {"roles": [None, 1, {"a": 1}], "business_units": [[]], "default_business_unit": 5},
    {
        "name": "x" * 10_000,
        "responsibles": {"a": None},
        "approval_rules": {"s": {"kind": "group", "users": [1]}},
    },
    {"approval_rules": {"": {"kind": "user", "users": [""]}}, "name": "n"},
    {"business_unit": ["CARE"]},
    {"business_unit": "#"},
    {"expected_version": 10**30},
    {"expected_version": True},
    {"active": None, "email": ["a@b.c"]},
]


def test_no_request_to_the_directory_is_answered_with_a_5xx(api: Api) -> None:
    routes = {
        "user": ("GET /directory/users/{username}", "PUT /directory/users/{username}", "username"),
        "unit": ("GET /directory/units/{code}", "PUT /directory/units/{code}", "code"),
        "area": ("GET /directory/areas/{area}", "PUT /directory/areas/{area}", "area"),
    }
    for kind, (get_route, put_route, name) in routes.items():
        for key in HOSTILE_KEYS:
            reply = api(get_route, {name: key}, user="admin")
            assert reply.status in (404, 422), (kind, key, reply.text)
            for body in HOSTILE_BODIES:
                reply = api(put_route, {name: key}, user="admin", body=body)
                assert 400 <= reply.status < 500 or reply.status == 200, (kind, key, body, reply.text)
        for key in HOSTILE_KEYS:
            reply = api("GET /directory/audit", query={"kind": kind, "key": key}, user="admin")
            assert reply.status in (200, 422), (kind, key, reply.text)
    for unit in HOSTILE_KEYS:
        reply = api("GET /directory/users", query={"unit": unit}, user="admin")
        assert reply.status in (404, 422), (unit, reply.text)


def test_leaving_a_unit_while_holding_its_open_cases_is_refused(api: Api) -> None:
    case = api.register()  # mary's, in SP
    reply = put_user(api, "mary", {"roles": ["Sales Rep"], "business_units": ["CARE"]})
    work = refused(reply, 409, "USER_HAS_WORK")["details"]
    assert [c["id"] for c in work["open_cases"]] == [case["id"]] and work["named_by_units"] == []
    # joining another unit while staying in SP is fine
    assert (
        ok(put_user(api, "mary", {"roles": ["Sales Rep"], "business_units": ["SP", "CARE"]}))["version"] == 1
    )


def test_the_last_active_admin_keeps_the_role(api: Api) -> None:
    found = problems(put_user(api, "admin", {"roles": ["Sales Rep"], "business_units": ["SP"]}))
    assert found == {"roles": "admin is the last active Admin: nobody would run casework"}
    ok(put_user(api, "tina", {"roles": ["Team Lead", "Admin"], "business_units": ["CARE"]}))
    assert ok(put_user(api, "admin", {"roles": ["Sales Rep"], "business_units": ["SP"]}))["roles"] == [
        "Sales Rep"
    ]
    refused(put_user(api, "carol", CAROL, user="admin"), 403, "NOT_ALLOWED")  # at once, in this function
