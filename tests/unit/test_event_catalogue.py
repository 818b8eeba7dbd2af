"""The event catalogue is the contract subscribers code against: the checked-in schemas and README are what
the models generate, every schema is valid JSON Schema draft 4 and accepts its example, and every event the
engine and services emit in the stories (CSR, service request, activity, lead) is catalogued, field by
field, with a per-case order a subscriber can rely on."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from typing import Any

import pytest
from jsonschema import Draft4Validator
from pydantic import ValidationError

from casework.domain import engine
from casework.domain.care.config import parse_config
from casework.domain.model import Actor
from casework.events import catalogue
from casework.events.catalogue import CATALOGUE, uncatalogued_fields, validate
from casework.services.cases import CaseService
from casework.workflows import default_configs, shipped
from scripts import generate_event_catalogue as generator
from tests.fakes import InMemoryDirectory, InMemoryRepository, InMemoryWorkflows, demo_data, make_service

# --- the generated files ------------------------------------------------------------------------------------


def test_checked_in_schemas_readme_and_template_section_are_what_the_models_generate() -> None:
    assert generator.stale() == [], "the event catalogue is out of date: run `make events`"


def test_a_changed_model_makes_the_checked_in_files_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = CATALOGUE["LeadWon.v1"]
    monkeypatch.setitem(
        CATALOGUE, entry.key, dataclasses.replace(entry, when="Changed without regenerating.")
    )
    stale = {path.name for path in generator.stale()}
    assert {"LeadWon.v1.json", "README.md", "template.yaml"} <= stale


def test_a_schema_file_of_no_event_type_is_stale(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for entry in catalogue.entries():
        (tmp_path / f"{entry.key}.json").write_text(generator.schema_text(entry), encoding="utf-8")
    (tmp_path / "README.md").write_text(generator.readme(), encoding="utf-8")
    (tmp_path / "Removed.v1.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(generator, "DOCS", tmp_path)
    assert [path.name for path in generator.stale()] == ["Removed.v1.json"]


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_each_schema_is_draft4_and_accepts_its_example(key: str) -> None:
    entry = CATALOGUE[key]
    schema = json.loads((generator.DOCS / f"{key}.json").read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert not [error.message for error in Draft4Validator(schema).iter_errors(entry.example)]
    assert uncatalogued_fields(validate(entry.example)) == []
    assert entry.example["type"] == entry.name and entry.example["schema_version"] == entry.version


def test_a_schema_refuses_an_event_of_another_type_or_without_its_fields() -> None:
    schema = catalogue.json_schema("CaseTransitioned.v1")
    example = CATALOGUE["CaseTransitioned.v1"].example
    validator = Draft4Validator(schema)
    assert not validator.is_valid({**example, "type": "CaseAssigned"})
    assert not validator.is_valid({k: v for k, v in example.items() if k != "case_version"})
    data = {k: v for k, v in example["data"].items() if k != "to_status"}
    assert not validator.is_valid({**example, "data": data})
    # a field added within the version is allowed: subscribers ignore what they do not know
    assert validator.is_valid({**example, "data": {**example["data"], "reason": "later"}})


def test_the_readme_lists_every_event_type_with_its_schema_and_example() -> None:
    text = (generator.DOCS / "README.md").read_text(encoding="utf-8")
    for entry in catalogue.entries():
        assert f"### {entry.name} v{entry.version}" in text
        assert f"]({entry.key}.json)" in text
        assert json.dumps(entry.example, indent=2, ensure_ascii=False) in text


def test_the_template_holds_one_registry_schema_per_event_type() -> None:
    from infra.local.template import load_template

    resources = load_template()["Resources"]
    schemas = {
        props["Properties"]["SchemaName"]: json.loads(props["Properties"]["Content"])
        for props in resources.values()
        if props["Type"] == "AWS::EventSchemas::Schema"
    }
    assert schemas == {f"casework@{key}": catalogue.json_schema(key) for key in CATALOGUE}
    assert all(
        props["Properties"]["Type"] == "JSONSchemaDraft4"
        for props in resources.values()
        if props["Type"] == "AWS::EventSchemas::Schema"
    )
    assert resources["EventSchemaRegistry"]["Properties"]["RegistryName"] == {"Fn::Sub": "casework-${Stage}"}


# --- validation -----------------------------------------------------------------------------------------


def test_validation_names_what_is_not_catalogued() -> None:
    example = CATALOGUE["NoteAdded.v1"].example
    with pytest.raises(LookupError, match=r"Unknown\.v1"):
        validate({**example, "type": "Unknown"})
    with pytest.raises(LookupError, match=r"NoteAdded\.v2"):
        validate({**example, "schema_version": 2})
    with pytest.raises(ValidationError, match="case_version"):
        validate({k: v for k, v in example.items() if k != "case_version"})
    extra = validate({**example, "shard": 3, "data": {**example["data"], "pinned": True}})
    assert uncatalogued_fields(extra) == ["shard", "data.pinned"]


# --- what the engine and services really emit ---------------------------------------------------------------


def _contact_decides(svc: CaseService, case_id: str, decision: str) -> None:
    case, defn, unit = svc._load(case_id)
    change = engine.decide_acceptance(
        defn,
        case,
        Actor("contact:CON-2001"),
        unit,
        decision=decision,
        comment=None,
        round=None,
        now=svc.clock(),
    )
    svc.repo.commit(change)


def _csr_story(svc: CaseService) -> None:
    """Registration to Inactive, with related items, an edit, a note, both approval steps and a rejection."""
    case_id = svc.register(
        "mary", type="csr", title="ESD bags", description="Packaging", account_id="ACC-1001"
    ).id
    svc.change_related("mary", case_id, kind="products", key="P-100", added=True)
    svc.change_related("mary", case_id, kind="accounts", key="ACC-1002", added=True)
    svc.change_related("mary", case_id, kind="accounts", key="ACC-1002", added=False)
    svc.transition("mary", case_id, to="Pending Pre-Approval")
    svc.recall("mary", case_id, comment="Wrong product")  # and submitted again
    today = svc.clock().date()
    svc.set_delegation("john", delegate="susan", starts=today, until=today)
    svc.transition("mary", case_id, to="Pending Pre-Approval")
    svc.decide("susan", case_id, decision="approve")  # on behalf of john
    svc.add_note("frank", case_id, "Feasible with the PA66 grade.")
    svc.transition("frank", case_id, to="Approval Pending", fields={"global_feasibility_conclusion": "OK"})
    svc.decide("peter", case_id, decision="approve")
    svc.transition("frank", case_id, to="Implemented")
    svc.edit("mary", case_id, fields={"customer_satisfaction": "Delighted"})
    svc.transition("mary", case_id, to="Inactive")

    rejected = svc.register(
        "mary", type="csr", title="Blue pellets", description="Colour", account_id="ACC-1001"
    ).id
    svc.change_related("mary", rejected, kind="products", key="P-200", added=True)
    svc.reassign("peter", rejected, assignee="susan")
    svc.transition("mary", rejected, to="Pending Pre-Approval")
    svc.decide("john", rejected, decision="reject", comment="Not our market")


def _service_request_story(svc: CaseService) -> None:
    """Accept, move units, schedule and delete an activity, relate and check a return, resolve with the
    contact's acceptance, close, feedback."""
    sr = svc.register(
        "carol", type="service_request", subtype="FAULTY_ITEM", title="Dead", contact_id="CON-2001"
    )
    case_id = sr.id
    svc.take("dave", case_id)
    other = svc.register("carol", type="service_request", title="Also dead", contact_id="CON-2001")
    svc.reassign("tina", other.id, business_unit="FIELD")
    svc.change_related("dave", case_id, kind="service_requests", key=other.id, added=True)
    svc.change_related("dave", case_id, kind="service_requests", key=other.id, added=False)
    details = {"serial_number": "SN-1", "warehouse_issue_date": "2025-02-20"}
    svc.change_related("dave", case_id, kind="products", key="P-100", added=True, details=details)
    svc.check_return("dave", case_id, "P-100", coverage_reason="DOA", return_date="2025-03-01")
    visit = svc.schedule("dave", case_id, "activity", subtype="VISIT", title="Site visit", assignee="dave")
    svc.delete("dave", visit.id)
    repair = svc.schedule(
        "dave", case_id, "activity", subtype="REPAIR", title="Bench repair", assignee="dave"
    )
    svc.transition("dave", repair.id, to="Started")
    services = [{"product": "SVC-REPAIR", "time_spent_minutes": 45}]
    svc.transition("dave", repair.id, to="Done", fields={"services": services, "outcome": "Fixed"})
    fields = {"response_category": "ACK_INVESTIGATING", "response": "Looking"}
    svc.transition("dave", case_id, to="Acknowledged", fields=fields)
    fields = {"final_resolution_category": "REPLACED", "final_resolution": "Swapped"}
    svc.transition("dave", case_id, to="Resolved", fields=fields)
    _contact_decides(svc, case_id, "refuse")
    svc.edit("dave", case_id, fields={"final_resolution": "Replaced the whole unit"})
    _contact_decides(svc, case_id, "accept")
    svc.communicate("dave", case_id, subject="Your new router", text="It ships today.")
    svc.transition("dave", case_id, to="Closed")
    svc.give_feedback("carol", case_id, rating=5, comment="Quick and friendly")


def _lead_story(svc: CaseService) -> None:
    lead = svc.register(
        "mary",
        type="lead",
        subtype="B2B",
        title="40 routers",
        contact_id="CON-2003",
        assignee="mary",
        business_unit="SP",
    )
    svc.transition("mary", lead.id, to="Working")
    svc.transition("mary", lead.id, to="Won")


def _booking_story(svc: CaseService, repo: InMemoryRepository) -> None:
    """A technician booked for a visit: confirmed by its owner, cancelled; asked again and declined."""
    from tests.unit.test_booking import FRED, booking_service, require_confirmed_resources, visit

    bookings = booking_service(svc, repo)
    bookings.create_resource("admin", FRED)
    require_confirmed_resources(svc)
    activity = visit(svc)
    slot = {"resource_id": "TECH-FRED", "service": "SVC-VISIT"}
    booked = bookings.book("dave", activity, **slot, starts="2025-03-03T13:00Z", ends="2025-03-03T14:00Z")
    bookings.decide("fred", booked["id"], confirm=True)
    bookings.cancel("dave", booked["id"])
    asked = bookings.book("dave", activity, **slot, starts="2025-03-03T13:00Z", ends="2025-03-03T14:00Z")
    bookings.decide("fred", asked["id"], confirm=False)


def _auto_approval_story() -> list[Any]:
    """A business unit that approves pre-approval automatically: the engine decides as `system`."""
    data = demo_data()
    for unit in data["business_units"]:
        if unit["code"] == "SP":
            unit["approval_rules"]["pre_approval"] = {"kind": "auto"}
    svc, repo = make_service(directory=InMemoryDirectory(data))
    case_id = svc.register(
        "mary", type="csr", title="Auto", description="Approved by rule", account_id="ACC-1001"
    ).id
    svc.change_related("mary", case_id, kind="products", key="P-100", added=True)
    svc.transition("mary", case_id, to="Pending Pre-Approval")
    return list(repo.outbox)


@pytest.fixture(scope="module")
def emitted() -> tuple[list[dict[str, Any]], InMemoryRepository]:
    svc, repo = make_service()
    _csr_story(svc)
    _service_request_story(svc)
    _lead_story(svc)
    _booking_story(svc, repo)
    events = [e.to_dict() for e in [*repo.outbox, *_auto_approval_story()]]
    return events, repo


def test_every_emitted_event_validates_against_its_catalogued_model(emitted: Any) -> None:
    events, _ = emitted
    problems = []
    for event in events:
        try:
            extra = uncatalogued_fields(validate(event))
        except (LookupError, ValidationError) as exc:
            problems.append(f"{event['id']} {event['type']}: {exc}")
            continue
        if extra:
            problems.append(f"{event['id']} {event['type']}: not catalogued: {extra}")
    assert problems == []


def test_the_stories_emit_every_catalogued_event_type(emitted: Any) -> None:
    events, _ = emitted
    assert {e["type"] for e in events} == {entry.name for entry in catalogue.entries()}
    assert any(e["type"] == "ApprovalDecided" and "via" not in e["data"] for e in events)  # automatic


def test_feedback_names_the_unit_and_assignee_the_summary_counts_it_under(emitted: Any) -> None:
    events, _ = emitted
    given = next(e for e in events if e["type"] == "FeedbackGiven")
    assert (given["data"]["business_unit"], given["data"]["assignee"]) == ("CARE", "dave")


def test_a_cases_events_are_ordered_by_the_version_of_the_commit_that_raised_them(emitted: Any) -> None:
    events, repo = emitted
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events[: len(repo.outbox)]:  # one repository's outbox, in commit order
        by_case[event["case_id"]].append(event)
    for case_id, case_events in by_case.items():
        versions = [e["case_version"] for e in case_events]
        assert versions == sorted(versions), case_id
        assert versions[0] == 1 and case_events[0]["type"] == "CaseRegistered"
        commits = [
            e
            for e in case_events
            if ":note:" not in e["id"]
            and ":communication:" not in e["id"]
            and not e["id"].endswith(":feedback")
        ]
        assert all(e["id"].startswith(f"{case_id}:{e['case_version']}:") for e in commits)
        # every commit the history records raised an event: a subscriber sees the versions without gaps
        history = {entry.version for entry in repo.history_of(case_id)}
        assert {e["case_version"] for e in commits} == history


def test_every_event_a_shipped_workflow_or_care_type_mails_on_is_catalogued() -> None:
    workflows = InMemoryWorkflows()
    definitions = [workflows.get(name) for name in shipped()]
    for module, config in default_configs().items():
        definitions += [workflows.get(module, subtype=t.code) for t in parse_config(module, config).types]
    named = {n.event for defn in definitions for n in defn.notifications}
    assert {"ApprovalRequested", "AcceptanceRequested"} <= named
    assert named <= {entry.name for entry in catalogue.entries()}


def test_no_function_imports_the_catalogue() -> None:
    """The catalogue is the contract, not runtime code: pydantic's schema machinery (~0.3 s of imports) stays
    out of every cold start."""
    root = generator.ROOT
    sources = [*root.glob("functions/*/*.py"), *root.glob("shared/casework/**/*.py")]
    importers = [
        str(path.relative_to(root))
        for path in sources
        if "casework/events/" not in path.as_posix() and "casework.events" in path.read_text(encoding="utf-8")
    ]
    assert importers == []
