"""Request and response bodies. Pydantic checks shapes and types; the workflow definition decides which fields
a case type requires, so those checks live in the domain and answer with the same error format."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from casework.domain.error_codes import ErrorCode


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


ExpectedVersion = Field(
    None, ge=0, description="The version you read; 409 STALE_VERSION if the case moved on."
)


class CreateCase(_Body):
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


class ScheduleChild(_Body):
    subtype: str | None = Field(None, max_length=40, description="The child's type, e.g. an activity type.")
    title: str | None = Field(None, examples=["Replace the modem on site"])
    description: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    assignee: str | None = Field(None, max_length=128)
    gbu: str | None = Field(None, max_length=40, description="Defaults to the parent's business unit.")
    expected_version: int | None = ExpectedVersion


class VersionOnly(_Body):
    expected_version: int | None = ExpectedVersion


class AddRelatedCase(_Body):
    case_id: str = Field(min_length=1, max_length=80, description="A case of the same type and contact.")
    expected_version: int | None = ExpectedVersion

    @property
    def key(self) -> str:
        return self.case_id

    @property
    def details(self) -> dict[str, Any]:
        return {}


class ReturnCheck(_Body):
    coverage_reason: str = Field(min_length=1, max_length=40, examples=["DOA"])
    return_date: date
    expected_version: int | None = ExpectedVersion


class FeedbackRequest(_Body):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=4000)


class ConfigurationRequest(_Body):
    config: dict[str, Any] = Field(description="The module's whole configuration (see GET).")
    expected_version: int | None = Field(
        None, ge=0, description="The version you read; 409 STALE_VERSION if somebody saved meanwhile."
    )


class EditCase(_Body):
    fields: dict[str, Any]
    expected_version: int | None = ExpectedVersion


class TransitionRequest(_Body):
    to: str = Field(min_length=1, max_length=80, examples=["Pending Pre-Approval"])
    fields: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = ExpectedVersion


class AddProduct(_Body):
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


class AddAccount(_Body):
    account_id: str = Field(min_length=1, max_length=80, examples=["ACC-1002"])
    expected_version: int | None = ExpectedVersion

    @property
    def key(self) -> str:
        return self.account_id

    @property
    def details(self) -> dict[str, Any]:
        return {}


class AssignRequest(_Body):
    assignee: str | None = Field(None, min_length=1, max_length=128)
    gbu: str | None = Field(
        None, min_length=1, max_length=40, description="Move to another business unit (care modules)."
    )
    expected_version: int | None = ExpectedVersion


class NoteRequest(_Body):
    text: str = Field(min_length=1, max_length=10_000)


class CommunicationRequest(_Body):
    subject: str | None = Field(None, max_length=200, description="Default: the template's subject")
    text: str | None = Field(None, max_length=10_000, description="Default: the template's text")
    template: str | None = Field(
        None, max_length=200, description="One of the type's communications (GET /case-types/{type})"
    )


class ApprovalDecision(_Body):
    decision: Literal["approve", "reject"]
    comment: str | None = Field(None, max_length=4000)
    expected_version: int | None = ExpectedVersion


class SetDelegation(_Body):
    delegate: str = Field(
        min_length=1, max_length=128, description="The user asked with you while you are away."
    )
    starts: date = Field(alias="from", description="First day (UTC) of the period, included.")
    until: date = Field(description="Last day (UTC) of the period, included; at most 366 days after `from`.")


class DelegationResponse(BaseModel):
    owner: str
    delegate: str
    starts: date = Field(alias="from")
    until: date
    set_at: str

    model_config = ConfigDict(serialize_by_alias=True)


class DelegationEnded(BaseModel):
    owner: str
    deleted: bool


class RecallRequest(_Body):
    comment: str | None = Field(None, max_length=4000, description="Why (the approvers are told).")
    expected_version: int | None = ExpectedVersion


class ErrorBody(BaseModel):
    code: ErrorCode = Field(
        examples=["ILLEGAL_TRANSITION"], description="Stable: clients branch on it (README: Error codes)."
    )
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorBody


class PageResponse(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class KeyDate(BaseModel):
    status: str
    entered_at: str
    entered_by: str
    left_at: str | None
    left_by: str | None


class ApproverDecision(BaseModel):
    username: str
    decision: Literal["approve", "reject"] | None
    # Present only when there is one (most approvals have no delegate).
    delegate: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Also asked, while the approver is away; decides for them.",
    )
    decided_by: str | None = Field(
        None, exclude_if=lambda v: v is None, description="The delegate who gave this approver's decision."
    )


class PendingApprovalOut(BaseModel):
    step: str
    round: int
    mode: Literal["any", "all"]
    requested_at: str
    approvers: list[ApproverDecision]


class AvailableTransition(BaseModel):
    name: str
    label: str
    to: str
    to_state: str
    accepts: list[str]
    requires: list[str]
    missing: list[str] = Field(description="Required fields that are still empty")
    requires_related: dict[str, int]


class DatesOut(BaseModel):
    start_date: str
    expected_completion_date: str | None
    actual_completion_date: str | None
    closed_at: str | None
    time_to_completion_seconds: int | None
    time_overdue_seconds: int
    overdue: bool


class AcceptanceOut(BaseModel):
    step: str
    round: int
    status: str
    category: str | None
    decision: Literal["accept", "refuse"] | None
    requested_at: str
    decided_at: str | None
    comment: str | None


class CaseResponse(BaseModel):
    """A case as its reader sees it: available_transitions, editable_fields and can_decide_approval are the
    caller's."""

    id: str
    type: str
    workflow_version: int
    title: str | None
    description: str | None
    account_id: str | None
    business_unit: str
    gbu: str
    status: str
    state: str
    version: int
    assignee: str | None
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    fields: dict[str, Any]
    related_counts: dict[str, int]
    related_products_count: int = Field(description="# of related products")
    key_dates: list[KeyDate]
    pending_approval: PendingApprovalOut | None
    available_transitions: list[AvailableTransition]
    editable_fields: list[str]
    can_decide_approval: bool
    type_name: str
    subtype: str | None = Field(description="The configured type (care modules)")
    config_version: int | None
    contact_id: str | None
    parent_id: str | None = Field(description="The case this one was scheduled from")
    parent_type: str | None
    dates: DatesOut
    acceptance: AcceptanceOut | None = Field(description="The answer waiting for (or decided by) the contact")


class DeletedResponse(BaseModel):
    id: str
    deleted: bool
    version: int


class FeedbackResponse(BaseModel):
    case_id: str
    rating: int
    comment: str | None
    given_by: str
    at: str


class ConfigurationResponse(BaseModel):
    module: str
    version: int
    config: dict[str, Any]


class Recipient(BaseModel):
    contact_id: str
    name: str
    email: str


class CommunicationResponse(BaseModel):
    id: str
    case_id: str
    to: Recipient
    subject: str
    text: str
    template: str | None
    templated: bool = Field(description="Rendered with the case's tags when sent (from a template)")
    by: str
    at: str
    sent_at: str | None = Field(description="When SES took it; null until notify has sent it")


class NoteResponse(BaseModel):
    id: str
    case_id: str
    text: str
    author: str
    at: str
