"""parse_config: the seeded care configurations load, every mistake an admin can make is reported with
where it is and what to do, all at once, and the normalised form parses back to itself."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.domain.care.config import (
    CATEGORY_LISTS,
    LEAD_SOURCE_TYPES,
    MODULES,
    MOVES,
    OPTIONAL_STATES,
    SR_CLASSIFICATIONS,
    STATES,
    TERMINAL_STATES,
    InvalidConfiguration,
    ModuleConfig,
    generate_code,
    parse_config,
)
from casework.domain.durations import Duration

Raw = dict[str, Any]
Mutation = Callable[[Raw], None]


@cache
def _seed_text(module: str) -> str:
    return (resources.files("casework.workflows") / "config" / f"{module}.json").read_text()


def seed(module: str) -> Raw:
    return json.loads(_seed_text(module))


def activity_codes() -> list[str]:
    return [t.code for t in parse_config("activity", seed("activity")).types]


def problems_of(module: str, raw: Any, **kwargs: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidConfiguration) as caught:
        parse_config(module, raw, **kwargs)
    return caught.value.problems


def has_problem(problems: list[dict[str, str]], location: str, fragment: str) -> bool:
    return any(p["location"] == location and fragment in p["message"] for p in problems)


# --- mutation helpers: each returns a function that changes a raw document in place -------------------------


def _walk(raw: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        raw = raw[key]
    return raw


def put(*path: Any, value: Any) -> Mutation:
    def mutate(raw: Raw) -> None:
        _walk(raw, path[:-1])[path[-1]] = copy.deepcopy(value)

    return mutate


def drop(*path: Any) -> Mutation:
    def mutate(raw: Raw) -> None:
        del _walk(raw, path[:-1])[path[-1]]

    return mutate


def append(*path: Any, value: Any) -> Mutation:
    def mutate(raw: Raw) -> None:
        _walk(raw, path).append(copy.deepcopy(value))

    return mutate


def chain(*mutations: Mutation) -> Mutation:
    def mutate(raw: Raw) -> None:
        for m in mutations:
            m(raw)

    return mutate


# --- the seeded defaults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_each_seeded_default_parses(module):
    cfg = parse_config(module, seed(module))
    assert cfg.module == module
    assert set(cfg.statuses.values()) >= set(STATES[module]) - OPTIONAL_STATES.get(module, set())


def test_seeded_service_request_and_lead_types_only_use_seeded_activity_types():
    codes = activity_codes()
    assert codes == ["VISIT", "REPAIR", "CALL"]
    sr = parse_config("service_request", seed("service_request"), activity_type_codes=codes)
    lead = parse_config("lead", seed("lead"), activity_type_codes=codes)
    assert sr.type("FAULTY_ITEM").activity_types == ("VISIT", "REPAIR")
    assert lead.type("B2B").activity_types == ("CALL", "VISIT")


def test_seeded_service_request_configuration():
    cfg = parse_config("service_request", seed("service_request"))
    assert cfg.statuses == {
        "New": "pending",
        "Acknowledged": "responded",
        "Workaround Given": "temporary_resolved",
        "Resolved": "final_resolved",
        "Closed": "completed",
        "Cancelled": "cancelled",
    }
    assert {c.classification for c in cfg.categories("categories")} == set(SR_CLASSIFICATIONS)
    assert [c.code for c in cfg.category_path("categories", "INCIDENT_DOA")] == [
        "INCIDENT",
        "INCIDENT_FAULTY",
        "INCIDENT_DOA",
    ]
    assert cfg.requires_acceptance("final_resolution_categories", "FIXED") is True
    assert cfg.requires_acceptance("final_resolution_categories", "INFO_GIVEN") is False
    critical = cfg.priority(1, 1)
    assert (critical.level, critical.label, critical.complete_within) == (1, "Critical", Duration(4, "hours"))
    assert cfg.priority(3, 3).complete_within == Duration(5, "days")
    assert cfg.prioritisation is not None and cfg.prioritisation.default_priority.label == "Normal"
    assert cfg.coverage_reason("FAULTY_WARRANTY").return_period == Duration(24, "months")
    assert cfg.coverage_reason("CHANGED_MIND").covered is False

    general, faulty = cfg.types
    assert cfg.default_type is general and general.name == "General enquiry"
    assert general.complete_within == Duration(2, "days")
    assert general.statuses_in("temporary_resolved") == ()
    assert general.allowed_categories("temporary_resolved") == ()
    assert faulty.recalculate_on_responding is True and general.recalculate_on_responding is False
    assert faulty.default_status("temporary_resolved") == "Workaround Given"
    assert faulty.allows_product("P-100") and not faulty.allows_product("SVC-VISIT")
    assert general.allows_product("anything")  # no products listed: all allowed
    assert [c.to for c in faulty.communications_on("final_resolved")] == ["contact"]
    assert [c.to for c in faulty.communications_on("pending")] == ["assignee"]


def test_seeded_lead_labels_default_to_readable_names_unless_the_business_renamed_them():
    cfg = parse_config("lead", seed("lead"))
    assert set(cfg.source_type_labels) == set(LEAD_SOURCE_TYPES)
    assert cfg.source_type_labels["recommended_by_contact"] == "Recommended by contact"
    assert cfg.source_type_labels["custom_2"] == "Custom 2"
    assert cfg.source_type_labels["recommended_by_partner"] == "Partner referral"
    assert cfg.source_type_labels["custom_1"] == "Trade fair"
    assert dict(cfg.priority_labels) == {
        1: "Top",
        2: "2",
        3: "High",
        4: "4",
        5: "Normal",
        6: "6",
        7: "7",
        8: "Low",
        9: "9",
        10: "10",
    }
    b2b, referral = cfg.types
    assert b2b.auto_conversion.enabled and b2b.auto_conversion.credit_rating == "A"
    assert (b2b.priority_level, b2b.importance) == (3, "high")
    assert b2b.auto_included_competitors() == ("ACME",)
    assert referral.code == "REFERRAL"  # generated from the name
    assert referral.auto_conversion.enabled is False
    assert referral.allowed_competitors() == ("ACME", "GLOBEX", "INITECH")  # none listed: all allowed
    assert b2b.allowed_lost_reasons() == ("PRICE", "COMPETITOR", "NO_BUDGET", "NO_RESPONSE")


def test_seeded_activity_services():
    cfg = parse_config("activity", seed("activity"))
    visit = cfg.type("VISIT")
    assert visit.service("SVC-VISIT").fixed and visit.service("SVC-VISIT").mandatory
    assert cfg.type("CALL").services == ()
    with pytest.raises(KeyError):
        cfg.type("NOPE")


# --- refusals: one mutation of a valid document, one problem with a useful location and message -------------

REFUSALS = [
    # the document's shape
    pytest.param(
        "lead",
        put("prioritisation", value={}),
        "prioritisation",
        "not a setting of a lead configuration",
        id="sr-only-key-on-lead",
    ),
    pytest.param(
        "activity",
        put("types", 0, "recalculate_on_responding", value=True),
        "types[0].recalculate_on_responding",
        "not a setting",
        id="sr-type-key-on-activity",
    ),
    pytest.param(
        "activity",
        put("types", 0, "activity_types", value=["CALL"]),
        "types[0].activity_types",
        "not a setting",
        id="activity-types-on-activity",
    ),
    pytest.param(
        "service_request",
        put("types", 0, "services", value=[]),
        "types[0].services",
        "not a setting",
        id="services-on-sr",
    ),
    pytest.param(
        "activity",
        put("categories", 0, "classification", value="advice"),
        "categories[0].classification",
        "not a setting",
        id="classification-outside-sr",
    ),
    pytest.param(
        "service_request",
        drop("categories", 0, "classification"),
        "categories[0].classification",
        "'classification' is required",
        id="sr-category-without-classification",
    ),
    pytest.param(
        "service_request",
        put("categories", 0, "classification", value="gossip"),
        "categories[0].classification",
        "'gossip' is not allowed here",
        id="unknown-classification",
    ),
    pytest.param(
        "service_request",
        put("categories", 0, "requires_acceptance", value=True),
        "categories[0].requires_acceptance",
        "not a setting",
        id="acceptance-on-plain-category",
    ),
    pytest.param(
        "service_request",
        put("statuses", 0, "name", value="   "),
        "statuses[0].name",
        "blank",
        id="blank-status-name",
    ),
    pytest.param(
        "activity",
        put("statuses", 0, "name", value="x" * 81),
        "statuses[0].name",
        "at most 80",
        id="long-status-name",
    ),
    pytest.param("lead", put("types", value=[]), "types", "at least one type", id="no-types"),
    pytest.param(
        "service_request",
        put("types", 0, "complete_within", value={"value": 0, "unit": "days"}),
        "types[0].complete_within",
        "between 1 and 100000",
        id="zero-duration",
    ),
    pytest.param(
        "service_request",
        put("types", 0, "complete_within", value={"value": 2, "unit": "fortnights"}),
        "types[0].complete_within",
        "unit must be one of",
        id="unknown-duration-unit",
    ),
    pytest.param(
        "service_request",
        put("prioritisation", "impact_levels", 0, "level", value=11),
        "prioritisation.impact_levels[0].level",
        "at most 10",
        id="impact-level-11",
    ),
    pytest.param(
        "service_request",
        drop("prioritisation"),
        "prioritisation",
        "'prioritisation' is required",
        id="sr-without-prioritisation",
    ),
    pytest.param(
        "lead",
        put("source_type_labels", "fax", value="Fax"),
        "source_type_labels.fax",
        "'fax' is not allowed here",
        id="unknown-source-type-label",
    ),
    pytest.param(
        "lead",
        put("priority_labels", "11", value="Eleven"),
        "priority_labels.11",
        "not allowed here",
        id="priority-label-11",
    ),
    pytest.param(
        "activity",
        put("types", 0, "default", value="yes"),
        "types[0].default",
        "true or false",
        id="text-as-boolean",
    ),
    pytest.param(
        "lead",
        put("types", 0, "priority_level", value=0),
        "types[0].priority_level",
        "at least 1",
        id="priority-0",
    ),
    pytest.param(
        "lead",
        put("types", 0, "priority_level", value="3"),
        "types[0].priority_level",
        "whole number",
        id="text-level",
    ),
    pytest.param(
        "service_request",
        put("types", 0, "communications", 0, "to", value="customer"),
        "types[0].communications[0].to",
        "'customer' is not allowed here",
        id="unknown-recipient",
    ),
    pytest.param(
        "activity",
        put("types", 1, "services", 0, "classification", value="essential"),
        "types[1].services[0].classification",
        "'essential' is not allowed here",
        id="unknown-service-classification",
    ),
    pytest.param(
        "activity",
        put("types", 0, "statuses", value="Planned"),
        "types[0].statuses",
        "Must be a list",
        id="not-a-list",
    ),
    # statuses
    pytest.param(
        "activity",
        put("statuses", 1, "state", value="started"),
        "statuses[1].state",
        "'started' is not an activity state; use one of pending, in_progress, completed, cancelled.",
        id="unknown-state",
    ),
    pytest.param(
        "lead",
        put("statuses", 1, "name", value="new"),
        "statuses[1].name",
        "already defined at statuses[0]",
        id="status-name-twice-case-insensitively",
    ),
    pytest.param(
        "service_request",
        put("statuses", 4, "state", value="final_resolved"),
        "statuses",
        "No status has the 'completed' state",
        id="state-without-status",
    ),
    # category trees and reason lists
    pytest.param(
        "service_request",
        put("categories", 1, "code", value="info"),
        "categories[1].code",
        "already used by categories[0]",
        id="category-code-twice",
    ),
    pytest.param(
        "activity",
        put("categories", 1, "parent", value="NOPE"),
        "categories[1].parent",
        "'NOPE' is not one of the categories",
        id="unknown-parent",
    ),
    pytest.param(
        "lead",
        put("categories", 0, "parent", value="BUSINESS"),
        "categories[0].parent",
        "cannot be its own parent",
        id="own-parent",
    ),
    pytest.param(
        "service_request",
        put("categories", 9, "parent", value="INCIDENT_DOA"),
        "categories[9].parent",
        "'INCIDENT' -> 'INCIDENT_DOA' -> 'INCIDENT_FAULTY' -> 'INCIDENT' are each other's parents",
        id="category-cycle",
    ),
    pytest.param(
        "service_request",
        put("final_resolution_categories", 1, "parent", value="GONE"),
        "final_resolution_categories[1].parent",
        "'GONE' is not one of the final resolution categories",
        id="unknown-resolution-parent",
    ),
    pytest.param(
        "activity",
        put("cancellation_reasons", 1, "code", value="not_needed"),
        "cancellation_reasons[1].code",
        "already used by cancellation_reasons[0]",
        id="cancellation-code-twice",
    ),
    pytest.param(
        "lead",
        put("competitors", 2, "code", value="ACME"),
        "competitors[2].code",
        "already used by competitors[0]",
        id="competitor-code-twice",
    ),
    pytest.param(
        "service_request",
        put("return_coverage_reasons", 2, "code", value="DOA"),
        "return_coverage_reasons[2].code",
        "already used",
        id="coverage-code-twice",
    ),
    # prioritisation
    pytest.param(
        "service_request",
        put("prioritisation", "priorities", 1, "level", value=1),
        "prioritisation.priorities[1].level",
        "Priority level 1 is already defined",
        id="priority-level-twice",
    ),
    pytest.param(
        "service_request",
        put("prioritisation", "default_impact", value=5),
        "prioritisation.default_impact",
        "The default impact 5 is not one of the impact levels (1, 2, 3).",
        id="default-impact-not-enabled",
    ),
    pytest.param(
        "service_request",
        put("prioritisation", "matrix", 0, "urgency", value=7),
        "prioritisation.matrix[0].urgency",
        "Urgency 7 is not one of the urgency levels (1, 2, 3).",
        id="matrix-level-not-enabled",
    ),
    pytest.param(
        "service_request",
        append("prioritisation", "matrix", value={"impact": 1, "urgency": 2, "priority": 3}),
        "prioritisation.matrix[5]",
        "Impact 1 with urgency 2 already has a priority at prioritisation.matrix[0]",
        id="matrix-combination-twice",
    ),
    # types
    pytest.param(
        "lead",
        put("types", 1, "name", value="b2b"),
        "types[1].name",
        "already defined at types[0]",
        id="type-name-twice",
    ),
    pytest.param(
        "activity",
        put("types", 1, "code", value="visit"),
        "types[1].code",
        "Code 'visit' is already used by type 'Site visit'.",
        id="type-code-twice",
    ),
    pytest.param(
        "service_request",
        put("types", 1, "default", value=True),
        "types[1].default",
        "Only one type can be the default, and 'General enquiry' already is.",
        id="two-default-types",
    ),
    pytest.param(
        "activity",
        put("types", 2, "statuses", 0, "name", value="Queued"),
        "types[2].statuses[0].name",
        "'Queued' is not an activity status.",
        id="type-status-unknown",
    ),
    pytest.param(
        "lead",
        append("types", 1, "statuses", value={"name": "Won"}),
        "types[1].statuses[5].name",
        "'Won' is listed twice.",
        id="type-status-twice",
    ),
    pytest.param(
        "service_request",
        chain(drop("types", 1, "transition_rules", 5), drop("types", 1, "statuses", 4)),
        "types[1].statuses",
        "Type 'Faulty item replacement' has no status for the 'completed' state.",
        id="type-without-completed-status",
    ),
    pytest.param(
        "lead",
        chain(
            append("statuses", value={"name": "Contacted", "state": "in_progress"}),
            append("types", 1, "statuses", value={"name": "Contacted"}),
        ),
        "types[1].statuses",
        "Type 'Referral' has several statuses for the 'in_progress' state (Working, Contacted); "
        "mark one of them as the default.",
        id="several-statuses-no-default",
    ),
    pytest.param(
        "lead",
        chain(
            append("statuses", value={"name": "Contacted", "state": "in_progress"}),
            put("types", 1, "statuses", 1, "default", value=True),
            append("types", 1, "statuses", value={"name": "Contacted", "default": True}),
        ),
        "types[1].statuses",
        "marks Working, Contacted as the default for the 'in_progress' state; mark only one.",
        id="several-default-statuses",
    ),
    # transition rules
    pytest.param(
        "activity",
        put("types", 0, "transition_rules", 0, "from", value="Queued"),
        "types[0].transition_rules[0].from",
        "'Queued' is not one of the statuses of type 'Site visit'.",
        id="rule-from-unknown-status",
    ),
    pytest.param(
        "activity",
        put("types", 0, "transition_rules", 0, "to", value="Planned"),
        "types[0].transition_rules[0]",
        "from 'Planned' to itself",
        id="rule-to-itself",
    ),
    pytest.param(
        "service_request",
        put("types", 1, "transition_rules", 0, "to", value="Closed"),
        "types[1].transition_rules[0]",
        "Moving from 'New' (pending) to 'Closed' (completed) is not part of the service request life cycle.",
        id="rule-skips-states",
    ),
    pytest.param(
        "activity",
        append("types", 0, "transition_rules", value={"from": "Started", "to": "Planned"}),
        "types[0].transition_rules[3]",
        "Moving from 'Started' (in_progress) to 'Planned' (pending) is not part",
        id="rule-goes-backwards",
    ),
    pytest.param(
        "lead",
        chain(
            append("statuses", value={"name": "Lost (no reply)", "state": "lost"}),
            put("types", 0, "statuses", 3, "default", value=True),
            append("types", 0, "statuses", value={"name": "Lost (no reply)"}),
            append("types", 0, "transition_rules", value={"from": "Working", "to": "Lost (no reply)"}),
            append("types", 0, "transition_rules", value={"from": "Lost", "to": "Lost (no reply)"}),
        ),
        "types[0].transition_rules[5]",
        "Moving from 'Lost' (lost) to 'Lost (no reply)' (lost) is not part of the lead life cycle.",
        id="rule-within-a-terminal-state",
    ),
    pytest.param(
        "service_request",
        append(
            "types", 1, "transition_rules", value={"from": "New", "to": "Acknowledged", "users": ["carol"]}
        ),
        "types[1].transition_rules[6]",
        "already has a rule at types[1].transition_rules[0]",
        id="rule-twice",
    ),
    pytest.param(
        "service_request",
        drop("types", 1, "transition_rules", 2),
        "types[1].transition_rules",
        "Status 'Workaround Given' can never be reached: no rules lead there from 'New'.",
        id="unreachable-status",
    ),
    pytest.param(
        "activity",
        drop("types", 0, "transition_rules", 2),
        "types[0].transition_rules",
        "No rule leads out of status 'Started', so an activity there could never finish.",
        id="status-without-way-out",
    ),
    # a type's picks from module lists
    pytest.param(
        "activity",
        put("types", 0, "categories", "completed", value={"allowed": []}),
        "types[0].categories.completed",
        "not for 'completed'",
        id="categories-for-state-without-list",
    ),
    pytest.param(
        "service_request",
        put("types", 1, "categories", "final_resolved", "allowed", 0, value="MAGIC"),
        "types[1].categories.final_resolved.allowed[0]",
        "'MAGIC' is not one of the final resolution categories.",
        id="unknown-category",
    ),
    pytest.param(
        "lead",
        put("types", 0, "categories", "pending", "default", value="PERSON"),
        "types[0].categories.pending.default",
        "The default 'PERSON' is not one of the allowed categories.",
        id="default-category-not-allowed",
    ),
    pytest.param(
        "service_request",
        put("types", 0, "categories", "temporary_resolved", value={"allowed": ["WORKAROUND"]}),
        "types[0].categories.temporary_resolved",
        "Type 'General enquiry' has no status for the 'temporary_resolved' state, so it cannot choose",
        id="categories-for-unused-state",
    ),
    pytest.param(
        "service_request",
        put("types", 1, "cancellation_reasons", "allowed", 0, value="BORED"),
        "types[1].cancellation_reasons.allowed[0]",
        "'BORED' is not one of the cancellation reasons.",
        id="unknown-cancellation-reason",
    ),
    pytest.param(
        "service_request",
        put("types", 1, "cancellation_reasons", "default", value="WRONG_CONTACT"),
        "types[1].cancellation_reasons.default",
        "The default 'WRONG_CONTACT' is not one of the allowed cancellation reasons.",
        id="default-cancellation-not-allowed",
    ),
    pytest.param(
        "lead",
        put("types", 0, "products", value=["P-100", "P-100"]),
        "types[0].products[1]",
        "'P-100' is listed twice.",
        id="product-twice",
    ),
    pytest.param(
        "service_request",
        put("types", 1, "communications", 0, "on_state", value="closed"),
        "types[1].communications[0].on_state",
        "'closed' is not a service request state",
        id="communication-on-unknown-state",
    ),
    pytest.param(
        "service_request",
        put(
            "types",
            1,
            "communications",
            2,
            "body",
            value="Dear {{ contact.name }},\n{% if case.fields.x %}oops",
        ),
        "types[1].communications[2].body",
        "Template error on line 2",
        id="template-syntax-error",
    ),
    pytest.param(
        "activity",
        put("types", 0, "communications", 0, "subject", value="Visit {{ case.number | shout }}"),
        "types[0].communications[0].subject",
        "No filter named 'shout'",
        id="template-unknown-filter",
    ),
    # activity services
    pytest.param(
        "activity",
        put("types", 1, "services", 1, "product", value="SVC-REPAIR"),
        "types[1].services[1].product",
        "Service 'SVC-REPAIR' is listed twice.",
        id="service-twice",
    ),
    pytest.param(
        "activity",
        put("types", 1, "services", 1, "minimum_time", value={"value": 1, "unit": "weeks"}),
        "types[1].services[1].minimum_time",
        "minutes, hours or days, not weeks",
        id="service-minimum-in-weeks",
    ),
    # lead types
    pytest.param(
        "lead",
        put("types", 0, "auto_conversion", "credit_rating", value=None),
        "types[0].auto_conversion.credit_rating",
        "Type 'B2B' converts won leads into accounts automatically, so it needs a credit rating.",
        id="auto-conversion-without-credit-rating",
    ),
    pytest.param(
        "lead",
        put("types", 0, "importance", value="urgent"),
        "types[0].importance",
        "'urgent' is not one of the importance levels.",
        id="unknown-importance",
    ),
    pytest.param(
        "lead",
        put("types", 0, "source_types", value={"allowed": ["website", "advertisement"]}),
        "types[0].source_types.default",
        "Type 'B2B' needs a default source type.",
        id="source-types-without-default",
    ),
    pytest.param(
        "lead",
        put("types", 0, "source_types", "default", value="other"),
        "types[0].source_types.default",
        "The default 'other' is not one of the allowed source types.",
        id="default-source-type-not-allowed",
    ),
    pytest.param(
        "lead",
        put("types", 1, "lost_reasons", "allowed", 0, value="WEATHER"),
        "types[1].lost_reasons.allowed[0]",
        "'WEATHER' is not one of the lost reasons.",
        id="unknown-lost-reason",
    ),
    pytest.param(
        "lead",
        put("types", 0, "competitors", "allowed", 0, value="HOOLI"),
        "types[0].competitors.allowed[0]",
        "'HOOLI' is not one of the competitors.",
        id="unknown-competitor",
    ),
    pytest.param(
        "lead",
        put("types", 1, "competitors", value={"allowed": ["GLOBEX"], "auto_include": ["ACME"]}),
        "types[1].competitors.auto_include[0]",
        "'ACME' cannot be included automatically: it is not one of the allowed competitors.",
        id="auto-included-competitor-not-allowed",
    ),
]


@pytest.mark.parametrize(("module", "mutate", "location", "fragment"), REFUSALS)
def test_a_mistake_is_refused_with_its_location_and_an_explanation(module, mutate, location, fragment):
    raw = seed(module)
    parse_config(module, raw)  # the unmutated document is fine, so the problem comes from the mutation
    mutate(raw)
    problems = problems_of(module, raw)
    assert has_problem(problems, location, fragment), problems


def test_unknown_activity_types_are_refused_when_the_activity_types_are_known():
    raw = seed("service_request")
    raw["types"][1]["activity_types"] = ["VISIT", "PAINT"]
    assert parse_config("service_request", raw)  # nothing to check against
    problems = problems_of("service_request", raw, activity_type_codes=activity_codes())
    assert problems == [
        {
            "location": "types[1].activity_types[1]",
            "message": "'PAINT' is not an activity type (CALL, REPAIR, VISIT).",
        }
    ]


def test_every_cross_check_problem_is_reported_at_once():
    raw = seed("service_request")
    raw["statuses"][1]["name"] = "new"
    raw["categories"][1]["parent"] = "NOPE"
    raw["types"][1]["transition_rules"][0]["to"] = "Closed"
    raw["types"][1]["cancellation_reasons"]["allowed"] = ["BORED"]
    problems = problems_of("service_request", raw)
    locations = {p["location"] for p in problems}
    assert {
        "statuses[1].name",
        "categories[1].parent",
        "types[1].transition_rules[0]",
        "types[1].cancellation_reasons.allowed[0]",
    } <= locations


def test_every_shape_problem_is_reported_at_once():
    raw = seed("lead")
    raw["colour"] = "blue"
    raw["types"][0]["priority_level"] = 11
    raw["types"][1]["default"] = "no"
    del raw["statuses"][0]["name"]
    problems = problems_of("lead", raw)
    assert [p["location"] for p in problems] == [
        "statuses[0].name",
        "types[0].priority_level",
        "types[1].default",
        "colour",
    ]
    assert problems[-1]["message"] == "'colour' is not a setting of a lead configuration."


def test_the_exception_is_a_value_error_whose_text_lists_the_problems():
    raw = seed("activity")
    raw["statuses"][1]["state"] = "started"
    with pytest.raises(ValueError, match=r"statuses\[1\]\.state: 'started' is not an activity state"):
        parse_config("activity", raw)


@pytest.mark.parametrize("raw", [[], "config", None])
def test_a_document_that_is_not_an_object_is_refused(raw):
    assert problems_of("lead", raw) == [{"location": "", "message": "The configuration must be an object."}]


def test_an_unknown_module_is_refused():
    assert "use one of service_request, activity, lead" in problems_of("ticket", {})[0]["message"]


def test_temporary_resolution_is_optional_for_service_requests():
    raw = seed("service_request")
    raw["statuses"] = [s for s in raw["statuses"] if s["state"] != "temporary_resolved"]
    raw["types"] = [raw["types"][0]]
    cfg = parse_config("service_request", raw)
    assert "temporary_resolved" not in cfg.statuses.values()


# --- alternative codes --------------------------------------------------------------------------------------


def _activity_with_types(*types: dict[str, Any]) -> Raw:
    raw = seed("activity")
    template = {"statuses": [{"name": n} for n in ("Planned", "Started", "Done", "Cancelled")]}
    raw["types"] = [{**template, **t} for t in types]
    return raw


def test_types_left_without_a_code_get_one_from_their_name():
    raw = _activity_with_types(
        {"name": "Site visit"},
        {"name": "Site-visit!", "code": "  "},
        {"name": "site visit (urgent)", "code": None},
        {"name": "Installation & maintenance of modems"},
        {"name": "Café crème"},
        {"name": "***"},
    )
    codes = [t.code for t in parse_config("activity", raw).types]
    assert codes == [
        "SITE_VISIT",
        "SITE_VISIT_2",
        "SITE_VISIT_URGENT",
        "INSTALLATION_MAINTEN",
        "CAFE_CREME",
        "TYPE",
    ]
    assert all(len(code) <= 20 for code in codes)


def test_a_generated_code_never_takes_a_code_an_admin_chose():
    raw = _activity_with_types({"name": "Repair"}, {"name": "Workshop repair", "code": "repair"})
    assert [t.code for t in parse_config("activity", raw).types] == ["REPAIR_2", "repair"]


def test_a_clash_suffix_keeps_a_truncated_code_within_twenty_characters():
    taken = ["INSTALLATION_MAINTEN"] + [f"installation_maint_{n}" for n in range(2, 10)]
    assert generate_code("Installation maintenance", taken[:1]) == "INSTALLATION_MAINT_2"
    assert generate_code("Installation maintenance", taken) == "INSTALLATION_MAIN_10"


# --- defaults -----------------------------------------------------------------------------------------------


def test_without_a_default_type_the_first_one_is_the_default():
    raw = seed("activity")
    raw["types"][0]["default"] = False
    cfg = parse_config("activity", raw)
    assert [t.default for t in cfg.types] == [True, False, False]


def test_a_type_marked_default_is_the_only_default():
    raw = seed("activity")
    raw["types"][0]["default"] = False
    raw["types"][2]["default"] = True
    cfg = parse_config("activity", raw)
    assert cfg.default_type.code == "CALL"
    assert [t.default for t in cfg.types] == [False, False, True]


def test_the_only_status_of_a_state_is_its_default_and_the_marked_one_wins_among_several():
    raw = seed("lead")
    raw["statuses"].append({"name": "Contacted", "state": "in_progress"})
    raw["types"][1]["statuses"].append({"name": "Contacted", "default": True})
    referral = parse_config("lead", raw).type("REFERRAL")
    assert referral.statuses_in("in_progress") == ("Working", "Contacted")
    assert referral.default_status("in_progress") == "Contacted"
    assert referral.default_status("pending") == "New" and referral.initial_status == "New"
    assert referral.default_status("won") == "Won"


def test_category_picks_resolve_to_all_categories_and_a_lone_choice_becomes_the_default():
    raw = seed("activity")
    raw["types"][0]["categories"] = {}
    raw["types"][2]["categories"] = {"pending": {"allowed": ["FOLLOW_UP"]}}
    cfg = parse_config("activity", raw)
    visit, call = cfg.type("VISIT"), cfg.type("CALL")
    assert visit.allowed_categories("pending") == tuple(c.code for c in cfg.categories("categories"))
    assert visit.default_category("pending") is None
    assert (
        call.allowed_categories("pending") == ("FOLLOW_UP",)
        and call.default_category("pending") == "FOLLOW_UP"
    )
    assert call.allowed_categories("completed") == ()


def test_cancellation_reasons_resolve_like_categories():
    cfg = parse_config("service_request", seed("service_request"))
    general, faulty = cfg.types
    assert general.allowed_cancellation_reasons() == ("DUPLICATE", "WITHDRAWN", "WRONG_CONTACT")
    assert general.default_cancellation_reason() == "DUPLICATE"
    assert faulty.allowed_cancellation_reasons() == ("DUPLICATE", "WITHDRAWN")


# --- transition rules ---------------------------------------------------------------------------------------


def test_without_rules_a_type_allows_every_life_cycle_move_between_its_statuses():
    raw = seed("service_request")
    raw["statuses"].append({"name": "Triage", "state": "pending"})
    raw["types"][0]["statuses"] = [
        {"name": "New", "default": True},
        {"name": "Triage"},
        {"name": "Acknowledged"},
        {"name": "Resolved"},
        {"name": "Closed"},
        {"name": "Cancelled"},
    ]
    general = parse_config("service_request", raw).type("GENERAL")
    moves = {(r.from_status, r.to_status) for r in general.transition_rules}
    assert moves == {
        ("New", "Triage"),
        ("Triage", "New"),
        ("New", "Acknowledged"),
        ("Triage", "Acknowledged"),
        ("New", "Cancelled"),
        ("Triage", "Cancelled"),
        ("Acknowledged", "Resolved"),
        ("Resolved", "Closed"),
    }
    assert all(not r.users and not r.business_units for r in general.transition_rules)
    assert general.may_move("New", "Acknowledged", "anybody", ())
    assert not general.may_move("New", "Closed", "anybody", ())


def test_a_rule_with_users_or_business_units_permits_only_them():
    faulty = parse_config("service_request", seed("service_request")).type("FAULTY_ITEM")
    assert faulty.may_move("New", "Acknowledged", "carol", {"CARE"})
    assert not faulty.may_move("New", "Acknowledged", "fred", {"FIELD"})
    assert faulty.may_move("New", "Cancelled", "tina", {"CARE"})
    assert not faulty.may_move("New", "Cancelled", "carol", {"CARE"})
    assert faulty.may_move("Resolved", "Closed", "dave", ())


# --- prioritisation matrix ----------------------------------------------------------------------------------


def _sr_with_prioritisation(impacts, urgencies, priorities, matrix) -> Raw:
    raw = seed("service_request")
    for t in raw["types"]:
        t["communications"] = []  # not under test; keeps the examples fast
    raw["prioritisation"] = {
        "impact_levels": [{"level": n, "label": f"Impact {n}"} for n in impacts],
        "default_impact": max(impacts),
        "urgency_levels": [{"level": n, "label": f"Urgency {n}"} for n in urgencies],
        "default_urgency": max(urgencies),
        "priorities": [{"level": n, "label": f"P{n}", "complete_within": None} for n in priorities],
        "matrix": [{"impact": i, "urgency": u, "priority": p} for (i, u), p in matrix.items()],
    }
    return raw


levels = st.lists(st.integers(1, 10), min_size=1, max_size=10, unique=True)


def test_missing_matrix_entries_follow_the_documented_rule():
    cfg = parse_config("service_request", _sr_with_prioritisation([1, 2, 3], [1, 2, 3], [1, 2, 3], {}))
    assert {(i, u): cfg.priority(i, u).level for i in (1, 2, 3) for u in (1, 2, 3)} == {
        (1, 1): 1,
        (1, 2): 2,
        (1, 3): 3,
        (2, 1): 2,
        (2, 2): 3,
        (2, 3): 3,
        (3, 1): 3,
        (3, 2): 3,
        (3, 3): 3,
    }
    with pytest.raises(KeyError):
        cfg.priority(4, 1)


@settings(max_examples=150, deadline=None)
@given(levels, levels, levels, st.data())
def test_every_combination_gets_an_enabled_priority_and_explicit_entries_win(
    impacts, urgencies, priorities, data
):
    combination = st.tuples(st.sampled_from(impacts), st.sampled_from(urgencies))
    explicit = data.draw(st.dictionaries(combination, st.sampled_from(priorities)))
    cfg = parse_config("service_request", _sr_with_prioritisation(impacts, urgencies, priorities, explicit))
    for impact in impacts:
        for urgency in urgencies:
            level = cfg.priority(impact, urgency).level
            assert level in priorities
            if (impact, urgency) in explicit:
                assert level == explicit[(impact, urgency)]


@settings(max_examples=150, deadline=None)
@given(levels, levels, levels)
def test_an_auto_populated_matrix_never_ranks_a_more_severe_request_lower(impacts, urgencies, priorities):
    cfg = parse_config("service_request", _sr_with_prioritisation(impacts, urgencies, priorities, {}))
    worst = {(i, u): cfg.priority(i, u).level for i in impacts for u in urgencies}
    for (i, u), level in worst.items():
        for (i2, u2), level2 in worst.items():
            if i <= i2 and u <= u2:  # at least as severe on both axes
                assert level <= level2
    assert worst[(min(impacts), min(urgencies))] == min(priorities)


# --- normalised form ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_the_normalised_form_of_each_seed_parses_back_to_itself(module):
    normalised = parse_config(module, seed(module)).model_dump(mode="json")
    assert parse_config(module, normalised).model_dump(mode="json") == normalised
    assert json.loads(json.dumps(normalised)) == normalised  # plain JSON, storable as is


def test_the_normalised_form_spells_out_resolved_choices():
    general = parse_config("service_request", seed("service_request")).model_dump(mode="json")["types"][0]
    assert general["code"] == "GENERAL" and general["default"] is True
    assert all(s["default"] for s in general["statuses"])
    assert general["categories"]["responded"] == {"allowed": ["ACK"], "default": "ACK"}
    assert general["categories"]["temporary_resolved"] == {"allowed": [], "default": None}
    assert general["cancellation_reasons"]["allowed"] == []  # none listed: all, and it stays so
    assert {(r["from"], r["to"]) for r in general["transition_rules"]} == {
        ("New", "Acknowledged"),
        ("New", "Cancelled"),
        ("Acknowledged", "Resolved"),
        ("Resolved", "Closed"),
    }
    assert general["products"] == []  # products live outside the configuration: empty still means all


NAMES = [
    "Repair",
    "repair job",
    "Install",
    "Site visit",
    "Café visit",
    "!!!",
    "A very long type name for testing",
]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, Raw]:
    """A valid configuration of a random module, using most of what the document may say."""
    module = draw(st.sampled_from(MODULES))
    statuses = []
    for state in STATES[module]:
        least = 0 if state in OPTIONAL_STATES.get(module, ()) else 1
        statuses += [{"name": f"{state} {k}", "state": state} for k in range(draw(st.integers(least, 3)))]
    raw: Raw = {"statuses": statuses}
    for list_name in dict.fromkeys(CATEGORY_LISTS[module].values()):
        entries = []
        for k in range(draw(st.integers(0, 4))):
            entry = {"code": f"{list_name[:3].upper()}{k}", "name": f"Category {k}", "parent": None}
            if k and draw(st.booleans()):
                entry["parent"] = entries[draw(st.integers(0, k - 1))]["code"]
            if list_name == "categories" and module == "service_request":
                entry["classification"] = draw(st.sampled_from(SR_CLASSIFICATIONS))
            if list_name != "categories":
                entry["requires_acceptance"] = draw(st.booleans())
            entries.append(entry)
        raw[list_name] = entries

    def code_list(prefix: str, most: int = 3) -> list[dict[str, str]]:
        return [{"code": f"{prefix}{k}", "name": f"{prefix} {k}"} for k in range(draw(st.integers(0, most)))]

    def pick(codes: list[str]) -> dict[str, Any]:
        allowed = draw(st.lists(st.sampled_from(codes), unique=True)) if codes else []
        options = allowed or codes
        return {
            "allowed": allowed,
            "default": draw(st.none() | st.sampled_from(options)) if options else None,
        }

    raw["cancellation_reasons"] = code_list("C")
    if module == "service_request":
        impacts, urgencies, priorities = draw(levels), draw(levels), draw(levels)
        combos = [(i, u) for i in impacts for u in urgencies]
        chosen = draw(st.lists(st.sampled_from(combos), unique=True))
        raw["prioritisation"] = {
            "impact_levels": [{"level": n, "label": f"I{n}"} for n in impacts],
            "default_impact": draw(st.sampled_from(impacts)),
            "urgency_levels": [{"level": n, "label": f"U{n}"} for n in urgencies],
            "default_urgency": draw(st.sampled_from(urgencies)),
            "priorities": [
                {"level": n, "label": f"P{n}", "complete_within": {"value": n, "unit": "hours"}}
                for n in priorities
            ],
            "matrix": [
                {"impact": i, "urgency": u, "priority": draw(st.sampled_from(priorities))} for i, u in chosen
            ],
        }
        raw["return_coverage_reasons"] = [
            {**r, "covered": draw(st.booleans()), "return_period": {"value": 14, "unit": "days"}}
            for r in code_list("R")
        ]
    if module == "lead":
        raw["lost_reasons"] = code_list("L")
        raw["competitors"] = code_list("X")
        raw["importance_levels"] = [{"code": r["code"], "label": r["name"]} for r in code_list("I")]
        raw["source_type_labels"] = {k: k.upper() for k in draw(st.lists(st.sampled_from(LEAD_SOURCE_TYPES)))}
        raw["priority_labels"] = {str(n): f"Level {n}" for n in draw(st.lists(st.integers(1, 10)))}

    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique_by=str.casefold))
    default_index = draw(st.none() | st.integers(0, len(names) - 1))
    types = []
    for index, name in enumerate(names):
        chosen_statuses = []
        for state in STATES[module]:
            in_state = [s["name"] for s in statuses if s["state"] == state]
            least = 0 if state in OPTIONAL_STATES.get(module, ()) else 1
            subset = (
                draw(st.lists(st.sampled_from(in_state), unique=True, min_size=least)) if in_state else []
            )
            marked = draw(st.sampled_from(subset)) if subset else None
            chosen_statuses += [{"name": n, "default": n == marked} for n in subset]
        state_of = {s["name"]: s["state"] for s in statuses}
        in_type = [s["name"] for s in chosen_statuses]
        rules = []
        if draw(st.booleans()):  # spell out every allowed move, for some users and units
            users = draw(st.lists(st.sampled_from(["carol", "dave", "tina"]), unique=True))
            units = draw(st.lists(st.sampled_from(["CARE", "FIELD"]), unique=True))
            for a in in_type:
                for b in in_type:
                    sa, sb = state_of[a], state_of[b]
                    if (sa, sb) in MOVES[module] or (
                        a != b and sa == sb and sa not in TERMINAL_STATES[module]
                    ):
                        rules.append({"from": a, "to": b, "users": users, "business_units": units})
        t: Raw = {
            "name": name,
            "code": draw(st.sampled_from([None, "", f"T{index}"])),
            "default": index == default_index,
            "complete_within": draw(st.none() | st.just({"value": 3, "unit": "months"})),
            "statuses": chosen_statuses,
            "transition_rules": rules,
            "categories": {
                state: pick([c["code"] for c in raw[list_name]])
                for state, list_name in CATEGORY_LISTS[module].items()
                if any(state_of[n] == state for n in in_type)
            },
            "products": draw(st.lists(st.sampled_from(["P-100", "P-200"]), unique=True)),
            "cancellation_reasons": pick([r["code"] for r in raw["cancellation_reasons"]]),
        }
        if module == "service_request":
            t["recalculate_on_responding"] = draw(st.booleans())
        if module in ("service_request", "lead"):
            t["activity_types"] = draw(st.lists(st.sampled_from(["VISIT", "CALL"]), unique=True))
        if module == "activity":
            t["services"] = [
                {
                    "product": product,
                    "classification": draw(st.sampled_from(["mandatory", "optional"])),
                    "minimum_time": {
                        "value": draw(st.integers(1, 90)),
                        "unit": draw(st.sampled_from(["minutes", "hours"])),
                    },
                    "logging": draw(st.sampled_from(["fixed", "flexible"])),
                    "auto_applied": draw(st.booleans()),
                }
                for product in draw(st.lists(st.sampled_from(["SVC-VISIT", "SVC-REPAIR"]), unique=True))
            ]
        if module == "lead":
            competitors = [c["code"] for c in raw["competitors"]]
            allowed = draw(st.lists(st.sampled_from(competitors), unique=True)) if competitors else []
            source_allowed = draw(st.lists(st.sampled_from(LEAD_SOURCE_TYPES), unique=True))
            t["source_types"] = {
                "allowed": source_allowed,
                "default": draw(st.sampled_from(source_allowed or LEAD_SOURCE_TYPES)),
            }
            t["lost_reasons"] = pick([r["code"] for r in raw["lost_reasons"]])
            t["competitors"] = {
                "allowed": allowed,
                "auto_include": draw(st.lists(st.sampled_from(allowed or competitors), unique=True))
                if (allowed or competitors)
                else [],
            }
            importance = [i["code"] for i in raw["importance_levels"]]
            t["importance"] = draw(st.sampled_from(importance)) if importance else None
            t["priority_level"] = draw(st.integers(1, 10))
            t["auto_conversion"] = draw(
                st.sampled_from(
                    [
                        {"enabled": False},
                        {"enabled": True, "account_classification": "Retail", "credit_rating": "B"},
                    ]
                )
            )
        types.append(t)
    raw["types"] = types
    return module, raw


def _check_normalised(cfg: ModuleConfig) -> None:
    assert sum(t.default for t in cfg.types) == 1
    assert len({t.code.casefold() for t in cfg.types}) == len(cfg.types)
    for t in cfg.types:
        for state in STATES[cfg.module]:
            in_state = t.statuses_in(state)
            assert (t.default_status(state) is not None) == bool(in_state)
            assert sum(s.default for s in t.statuses if s.state == state) == (1 if in_state else 0)
        for state, choice in t.categories.items():
            assert choice.default is None or choice.default in choice.allowed
            if len(choice.allowed) == 1:
                assert choice.default == choice.allowed[0]
            if t.statuses_in(state):
                assert set(choice.allowed) <= {
                    c.code for c in cfg.categories(CATEGORY_LISTS[cfg.module][state])
                }


@settings(max_examples=100, deadline=None)
@given(documents())
def test_any_valid_document_parses_and_its_normalised_form_parses_back_to_itself(module_and_raw):
    module, raw = module_and_raw
    cfg = parse_config(module, raw)
    _check_normalised(cfg)
    normalised = cfg.model_dump(mode="json")
    again = parse_config(module, normalised)
    assert again.model_dump(mode="json") == normalised
    assert again == cfg


def test_all_allowed_survives_a_read_and_write_back_and_takes_in_codes_added_later():
    """An admin reads the configuration, adds a cancellation reason and saves it: a type that allowed every
    reason allows the new one too (it does not freeze the list it had when read)."""
    normalised = parse_config("service_request", seed("service_request")).model_dump(mode="json")
    normalised["cancellation_reasons"].append({"code": "SPAM", "name": "Spam"})
    general = parse_config("service_request", normalised).type("GENERAL")
    assert "SPAM" in general.allowed_cancellation_reasons()
