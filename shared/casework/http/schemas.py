"""The case commands' request bodies (register, change). Pydantic checks shapes and types; the workflow
definition decides which fields a case type requires, so those checks live in the domain and answer with the
same error format.

Declared for a quick cold start, as casework.domain.views explains: ``defer_build=True`` on every model,
and no ``from __future__ import annotations``."""

from datetime import date
from typing import Any

from pydantic import Field

from casework.http.responses import ExpectedVersion, RequestBody


class CreateCase(RequestBody):
    type: str = Field(min_length=1, max_length=40, examples=["csr"])
    title: str | None = Field(None, examples=["Antistatic grade for Acme conveyor belts"])
    description: str | None = None
    account_id: str | None = Field(None, examples=["ACC-1001"])
    gbu: str | None = Field(
        None,
        description="Business unit. Defaults to the unit the contact's geographic area is routed to (care "
        "modules), else the assignee's, else the creator's.",
        examples=["SP"],
    )
    fields: dict[str, Any] = Field(default_factory=dict, description="Custom fields of the case type.")
    subtype: str | None = Field(
        None,
        max_length=40,
        description="The module's configured type (care modules); default type if left out.",
    )
    contact_id: str | None = Field(None, max_length=80, examples=["CON-2001"])
    assignee: str | None = Field(
        None, max_length=128, description="Care modules: the user to assign; else it waits in the unit."
    )


class ScheduleChild(RequestBody):
    subtype: str | None = Field(None, max_length=40, description="The child's type, e.g. an activity type.")
    title: str | None = Field(None, examples=["Replace the modem on site"])
    description: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    assignee: str | None = Field(None, max_length=128)
    gbu: str | None = Field(None, max_length=40, description="Defaults to the parent's business unit.")
    expected_version: int | None = ExpectedVersion


class VersionOnly(RequestBody):
    expected_version: int | None = ExpectedVersion


class AddRelatedCase(RequestBody):
    case_id: str = Field(min_length=1, max_length=80, description="A case of the same type and contact.")
    expected_version: int | None = ExpectedVersion

    @property
    def key(self) -> str:
        return self.case_id

    @property
    def details(self) -> dict[str, Any]:
        return {}


class ReturnCheck(RequestBody):
    coverage_reason: str = Field(min_length=1, max_length=40, examples=["DOA"])
    return_date: date
    expected_version: int | None = ExpectedVersion


class FeedbackRequest(RequestBody):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=4000)


class EditCase(RequestBody):
    fields: dict[str, Any]
    expected_version: int | None = ExpectedVersion


class TransitionRequest(RequestBody):
    to: str = Field(min_length=1, max_length=80, examples=["Pending Pre-Approval"])
    fields: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = ExpectedVersion


class AddProduct(RequestBody):
    product_code: str = Field(min_length=1, max_length=80, examples=["P-100"])
    serial_number: str | None = Field(None, max_length=80)
    warehouse_issue_date: date | None = Field(None, description="When the item left the warehouse.")
    expected_version: int | None = ExpectedVersion

    @property
    def key(self) -> str:
        return self.product_code

    @property
    def details(self) -> dict[str, Any]:
        out = {"serial_number": self.serial_number, "warehouse_issue_date": self.warehouse_issue_date}
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in out.items() if v is not None}


class AddAccount(RequestBody):
    account_id: str = Field(min_length=1, max_length=80, examples=["ACC-1002"])
    expected_version: int | None = ExpectedVersion

    @property
    def key(self) -> str:
        return self.account_id

    @property
    def details(self) -> dict[str, Any]:
        return {}


class AssignRequest(RequestBody):
    assignee: str | None = Field(None, min_length=1, max_length=128)
    gbu: str | None = Field(
        None, min_length=1, max_length=40, description="Move to another business unit (care modules)."
    )
    expected_version: int | None = ExpectedVersion


class NoteRequest(RequestBody):
    text: str = Field(min_length=1, max_length=10_000)


class CommunicationRequest(RequestBody):
    subject: str | None = Field(None, max_length=200, description="Default: the template's subject")
    text: str | None = Field(None, max_length=10_000, description="Default: the template's text")
    template: str | None = Field(
        None, max_length=200, description="One of the type's communications (GET /case-types/{type})"
    )
