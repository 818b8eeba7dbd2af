"""The JSON Schemas in schemas/ are what an admin writes definitions and configurations against: they are
what the models generate (a changed model without `make schemas` fails here), every file shipped in
casework/workflows validates against its schema, and a schema refuses what the parser refuses for its
shape."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from casework.domain.care.compile import compile_definition, compile_type
from casework.domain.care.config import CONFIG_MODELS, MODULES, LeadConfig, parse_config
from casework.domain.care.template import ModuleTemplate
from casework.domain.errors import InvalidDefinition
from casework.domain.workflow import parse_definition
from casework.workflows import default_configs, module_templates, shipped
from scripts import generate_schemas as generator

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = resources.files("casework.workflows")


def validator(relative: str) -> Draft202012Validator:
    schema = json.loads((ROOT / "schemas" / relative).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def shipped_files() -> list[tuple[str, str]]:
    """Every JSON file under casework/workflows with the schema it is written against."""
    out = [(entry.name, "workflow-definition.schema.json") for entry in WORKFLOWS.iterdir()]
    out += [
        (f"config/{e.name}", f"module-configuration/{e.name[:-5]}.schema.json")
        for e in (WORKFLOWS / "config").iterdir()
    ]
    out += [(f"modules/{e.name}", "module-template.schema.json") for e in (WORKFLOWS / "modules").iterdir()]
    return sorted((path, schema) for path, schema in out if path.endswith(".json"))


def shipped_file(path: str) -> Any:
    return json.loads(WORKFLOWS.joinpath(path).read_text("utf-8"))


def problems(relative: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(relative).iter_errors(document)
    ]


# --- the generated files ------------------------------------------------------------------------------------


def test_checked_in_schemas_are_what_the_models_generate() -> None:
    assert generator.stale() == [], "the schemas are out of date: run `make schemas`"


def test_a_changed_model_makes_its_schema_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    generated = LeadConfig.model_json_schema()

    def changed(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**generated, "properties": {**generated["properties"], "new_setting": {"type": "string"}}}

    monkeypatch.setattr(LeadConfig, "model_json_schema", changed)
    assert [path.relative_to(ROOT).as_posix() for path in generator.stale()] == [
        "schemas/module-configuration/lead.schema.json"
    ]


def test_a_schema_file_of_no_model_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generator, "SCHEMAS", tmp_path)
    for path, text in generator.outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "module-configuration" / "removed.schema.json").write_text("{}", encoding="utf-8")
    assert [path.name for path in generator.stale()] == ["removed.schema.json"]


def test_there_is_a_configuration_schema_per_module() -> None:
    assert sorted(CONFIG_MODELS) == sorted(MODULES)
    for module in MODULES:
        assert validator(f"module-configuration/{module}.schema.json").schema["title"]


# --- the shipped files ------------------------------------------------------------------------------------


def test_every_shipped_file_has_a_schema() -> None:
    kinds = {schema for _, schema in shipped_files()}
    assert len(shipped_files()) == 9
    assert "workflow-definition.schema.json" in kinds and "module-template.schema.json" in kinds


@pytest.mark.parametrize(("path", "schema"), shipped_files(), ids=[p for p, _ in shipped_files()])
def test_every_shipped_file_validates_against_its_schema(path: str, schema: str) -> None:
    assert problems(schema, shipped_file(path)) == []


@pytest.mark.parametrize("name", sorted(module_templates()))
def test_every_shipped_module_template_reads_into_its_model(name: str) -> None:
    template = ModuleTemplate.model_validate(module_templates()[name])
    assert template.name == name and template.actions


@pytest.mark.parametrize("module", MODULES)
def test_every_compiled_care_type_validates_against_the_definition_schema(module: str) -> None:
    """What compile writes for each configured type is itself a workflow definition, as the schema says."""
    config = parse_config(module, default_configs()[module])
    for t in config.types:
        compiled = json.loads(json.dumps(compile_type(module_templates()[module], config, t.code, 1)))
        assert problems("workflow-definition.schema.json", compiled) == []


def test_the_normalised_configuration_validates_against_its_schema() -> None:
    """What GET /config/{module} returns can be edited and PUT back: it is a valid document too."""
    for module in MODULES:
        normalised = parse_config(module, default_configs()[module]).model_dump(mode="json")
        assert problems(f"module-configuration/{module}.schema.json", normalised) == []


# --- the schema refuses what the parser refuses for its shape ---------------------------------------------


def _csr() -> dict[str, Any]:
    return copy.deepcopy(shipped()["csr"])


def _misspelt_status_key(raw: dict[str, Any]) -> None:
    raw["statuses"][0]["asign"] = raw["statuses"][0].pop("assign", "keep")


def _unknown_field_type(raw: dict[str, Any]) -> None:
    raw["fields"]["customer_reference"]["type"] = "currency"


def _unknown_recipient(raw: dict[str, Any]) -> None:
    raw["notifications"][0]["to"] = "everybody"


def _version_as_text(raw: dict[str, Any]) -> None:
    raw["version"] = "2"


@pytest.mark.parametrize(
    "mutate", [_misspelt_status_key, _unknown_field_type, _unknown_recipient, _version_as_text]
)
def test_a_definition_the_parser_refuses_for_its_shape_fails_the_schema_too(mutate: Any) -> None:
    raw = _csr()
    mutate(raw)
    with pytest.raises(InvalidDefinition):
        parse_definition(raw)
    assert problems("workflow-definition.schema.json", raw) != []


def test_a_configuration_with_a_setting_of_another_module_fails_the_schema_and_the_parser() -> None:
    raw = copy.deepcopy(default_configs()["lead"])
    raw["types"][0]["services"] = []  # an activity type's setting
    assert any("services" in p for p in problems("module-configuration/lead.schema.json", raw))
    with pytest.raises(ValueError, match="'services' is not a setting of a lead type"):
        parse_config("lead", raw)


def test_a_template_that_does_not_match_its_model_is_refused_before_anything_is_compiled() -> None:
    template = copy.deepcopy(module_templates()["activity"])
    template["actions"][0]["requries"] = template["actions"][0].pop("requires", [])  # misspelt
    config = parse_config("activity", default_configs()["activity"])
    with pytest.raises(InvalidDefinition, match="requries"):
        compile_definition(template, config, None, 1)
    assert any("requries" in p for p in problems("module-template.schema.json", template))
    assert compile_definition(module_templates()["activity"], config, None, 1).module == "activity"
