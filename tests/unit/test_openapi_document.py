"""docs/openapi.json is the code's OpenAPI document: an API change is a change of that file (make docs)."""

from __future__ import annotations

import json

from casework.domain.error_codes import ErrorCode
from scripts import generate_openapi


def test_the_checked_in_openapi_document_is_the_codes() -> None:
    checked_in = json.loads(generate_openapi.OPENAPI_FILE.read_text(encoding="utf-8"))
    code = generate_openapi.document()
    changed = sorted(
        set(code["paths"]) ^ set(checked_in["paths"])
        or {path for path in code["paths"] if code["paths"][path] != checked_in["paths"].get(path)}
    )
    assert code == checked_in, f"docs/openapi.json is out of date (run `make docs`); paths: {changed[:10]}"


def test_the_error_body_names_every_error_code_once() -> None:
    spec = generate_openapi.document()
    schemas = spec["components"]["schemas"]
    assert schemas["ErrorCode"]["enum"] == [code.value for code in ErrorCode]
    assert schemas["ErrorBody"]["properties"]["code"]["$ref"] == "#/components/schemas/ErrorCode"
    refused = spec["paths"]["/cases"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert refused == {"$ref": "#/components/schemas/ErrorResponse"}
