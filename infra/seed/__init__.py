"""Seeds a table with the shipped workflow definitions and a directory (the demo one by default).

Used by the local stack, the tests and the benchmark, so all three run against the same data.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

DEMO = Path(__file__).with_name("demo.json")


def demo_directory() -> dict[str, Any]:
    return json.loads(DEMO.read_text())


def seed(directory: dict[str, Any] | None = None) -> dict[str, int]:
    """Write workflows and directory records through the adapters (the table must be configured)."""
    from casework.adapters.dynamo import DynamoWorkflowStore, put_directory_record
    from casework.domain.directory import members_by_role
    from casework.workflows import shipped

    directory = directory or demo_directory()
    for definition in shipped().values():
        DynamoWorkflowStore.publish(definition)
    users = directory.get("users", [])
    for user in users:
        put_directory_record(f"USER#{user['username']}", "PROFILE", user)
    for unit in directory.get("business_units", []):
        put_directory_record(
            f"UNIT#{unit['code']}", "UNIT", {**unit, "members": members_by_role(users, unit["code"])}
        )
    for account in directory.get("accounts", []):
        put_directory_record(f"ACCOUNT#{account['id']}", "ACCOUNT", account)
    for product in directory.get("products", []):
        put_directory_record(f"PRODUCT#{product['code']}", "PRODUCT", product)
    return {
        "workflows": len(shipped()),
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
