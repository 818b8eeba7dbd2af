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

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared")]

from pydantic import BaseModel  # noqa: E402

from casework.domain.care.config import CONFIG_MODELS  # noqa: E402
from casework.domain.care.template import ModuleTemplate  # noqa: E402
from casework.domain.workflow import WorkflowDefinition  # noqa: E402

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
    expected = outputs()
    out = [
        path for path, content in expected.items() if not path.is_file() or path.read_text("utf-8") != content
    ]
    return out + sorted(p for p in SCHEMAS.rglob("*.schema.json") if p not in expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a schema file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        behind = stale()
        for path in behind:
            print(f"out of date: {path.relative_to(ROOT)} (run `make schemas`)")
        return 1 if behind else 0
    expected = outputs()
    for path in SCHEMAS.rglob("*.schema.json"):
        if path not in expected:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
    for path, content in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text("utf-8") != content:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
