"""Generate the JSON Schemas of the files an admin writes, from the pydantic models that read them:

schemas/workflow-definition.schema.json            a case type's workflow definition
                                                   (shared/casework/workflows/*.json)
schemas/module-configuration/<module>.schema.json  a care module's configuration
                                                   (workflows/config/*.json, PUT /config/{module})
schemas/module-template.schema.json                a care module's template
                                                   (shared/casework/workflows/modules/*.json)

python scripts/generate_schemas.py          # (re)write them (`make schemas`)
python scripts/generate_schemas.py --check  # exit 1 if any is out of date (CI, the tests)

A schema describes the shape only (keys, types, allowed values); the checks between parts (a transition's
target must be a declared status, ...) stay with the parser, which reports them with their location.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from pydantic import BaseModel  # noqa: E402

from casework.domain.care.config import CONFIG_MODELS  # noqa: E402
from casework.domain.care.template import ModuleTemplate  # noqa: E402
from casework.domain.workflow import WorkflowDefinition  # noqa: E402
from scripts.generated_file import changed, sync_or_check  # noqa: E402

SCHEMAS = ROOT / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema(model: type[BaseModel], title: str, description: str) -> dict[str, Any]:
    generated = model.model_json_schema(mode="validation")
    return {"$schema": DIALECT, **generated, "title": title, "description": description}


def schemas() -> dict[Path, dict[str, Any]]:
    """Every schema file by its path."""
    out = {
        SCHEMAS / "workflow-definition.schema.json": schema(
            WorkflowDefinition,
            "Workflow definition",
            "A case type's statuses, transitions, approvals, fields and notifications "
            "(casework.domain.workflow.WorkflowDefinition).",
        ),
        SCHEMAS / "module-template.schema.json": schema(
            ModuleTemplate,
            "Care module template",
            "A care module's life cycle, compiled with a business's configuration into one workflow "
            "definition per type (casework.domain.care.template.ModuleTemplate).",
        ),
    }
    for module, model in CONFIG_MODELS.items():
        label = module.replace("_", " ")
        out[SCHEMAS / "module-configuration" / f"{module}.schema.json"] = schema(
            model,
            f"{label.capitalize()} configuration",
            f"The {label} module's configuration: statuses, lists and types "
            f"(casework.domain.care.config.{model.__name__}).",
        )
    return out


def text(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    return {path: text(content) for path, content in schemas().items()}


def stale() -> list[Path]:
    """Schema files that differ from what the models generate now, and schema files of no model."""
    return changed(outputs(), SCHEMAS.rglob("*.schema.json"))


def main(argv: list[str] | None = None) -> int:
    return sync_or_check(outputs(), SCHEMAS.rglob("*.schema.json"), "schemas", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
