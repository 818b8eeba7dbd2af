"""Seeds a table with the shipped workflow definitions and a directory (the demo one by default).

Used by the local stack, the tests and the benchmark, so all three run against the same data.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEMO = Path(__file__).with_name("demo.json")


def demo_directory() -> dict[str, Any]:
    return json.loads(DEMO.read_text())


def seed(directory: dict[str, Any] | None = None) -> dict[str, int]:
    """Write workflows and directory records through the adapters (the table must be configured)."""
    from casework.adapters.customers import seed_customers
    from casework.adapters.definitions import DynamoConfigStore, DynamoWorkflowStore
    from casework.adapters.directory import UNIT_REGISTRY, put_directory_records
    from casework.domain.care.config import parse_config
    from casework.domain.directory import members_by_role
    from casework.domain.errors import NotFound
    from casework.workflows import default_configs, module_templates, shipped

    directory = directory or demo_directory()
    for definition in (*shipped().values(), *module_templates().values()):
        DynamoWorkflowStore.publish(definition)
    configs = DynamoConfigStore()
    # activities first: the other modules' types name activity types
    for module in sorted(default_configs(), key=lambda m: m != "activity"):
        try:
            configs.get(module)  # a business's own configuration is never overwritten by the defaults
        except NotFound:
            activity_codes = (
                None if module == "activity" else [t.code for t in configs.get("activity")[0].types]
            )
            configs.put(
                module, parse_config(module, default_configs()[module], activity_type_codes=activity_codes), 0
            )
    users = directory.get("users", [])
    records = [(f"USER#{user['username']}", "PROFILE", user) for user in users]
    records += [
        (f"UNIT#{unit['code']}", "UNIT", {**unit, "members": members_by_role(users, unit["code"])})
        for unit in directory.get("business_units", [])
    ]
    codes = sorted(unit["code"] for unit in directory.get("business_units", []))
    records.append((*UNIT_REGISTRY, {"codes": codes}))
    records += [(f"PRODUCT#{p['code']}", "PRODUCT", p) for p in directory.get("products", [])]
    records += [
        (f"AREA#{rule['geographic_area']}", "AREA", rule) for rule in directory.get("collaboration_rules", [])
    ]
    put_directory_records(records)
    # customers and contacts as records of their model: validated, versioned, listed, identifiers unique
    seed_customers(
        directory.get("accounts", []), directory.get("contacts", []), datetime.now(UTC).isoformat()
    )
    return {
        "workflows": len(shipped()) + len(module_templates()),
        "configurations": len(default_configs()),
        "contacts": len(directory.get("contacts", [])),
        "users": len(users),
        "business_units": len(directory.get("business_units", [])),
        "accounts": len(directory.get("accounts", [])),
        "products": len(directory.get("products", [])),
    }


def verify_sender(address: str, client: Any = None) -> None:
    """SES refuses to send from an unverified identity; locally we verify the sender's domain once."""
    import boto3

    client = client or boto3.client("sesv2")
    domain = address.rsplit("@", 1)[-1]
    with contextlib.suppress(client.exceptions.AlreadyExistsException):
        client.create_email_identity(EmailIdentity=domain)
