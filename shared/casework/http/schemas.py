"""Request and response bodies. Pydantic checks shapes and types; the workflow definition decides which fields
a case type requires, so those checks live in the domain and answer with the same error format."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    gbu: str | None = Field(None, description="Business unit; defaults to the creator's.", examples=["SP"])
    fields: dict[str, Any] = Field(default_factory=dict, description="Custom fields of the case type.")


class EditCase(_Body):
    fields: dict[str, Any]
    expected_version: int | None = ExpectedVersion


class TransitionRequest(_Body):
    to: str = Field(min_length=1, max_length=80, examples=["Pending Pre-Approval"])
    fields: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = ExpectedVersion


class AddProduct(_Body):
    product_code: str = Field(min_length=1, max_length=80, examples=["P-100"])
    expected_version: int | None = ExpectedVersion

    @property
    def key(self) -> str:
        return self.product_code


class AddAccount(_Body):
    account_id: str = Field(min_length=1, max_length=80, examples=["ACC-1002"])
    expected_version: int | None = ExpectedVersion

    @property
    def key(self) -> str:
        return self.account_id


class AssignRequest(_Body):
    assignee: str = Field(min_length=1, max_length=128)
    expected_version: int | None = ExpectedVersion


class NoteRequest(_Body):
    text: str = Field(min_length=1, max_length=10_000)


class ApprovalDecision(_Body):
    decision: Literal["approve", "reject"]
    comment: str | None = Field(None, max_length=4000)
    expected_version: int | None = ExpectedVersion


class ErrorBody(BaseModel):
    code: str = Field(examples=["ILLEGAL_TRANSITION"])
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


class NoteResponse(BaseModel):
    id: str
    case_id: str
    text: str
    author: str
    at: str
