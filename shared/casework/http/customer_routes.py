"""Customers, contacts and profiling over the API (served by functions/customers). Bodies are the record's
own fields, checked by casework.domain.customers so every problem comes back at once with a stable code
(INVALID_FIELDS / MISSING_FIELDS, ``details.problems``)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import ValidationFailed
from casework.http.api import caller
from casework.http.case_pages import CasePage, page_as
from casework.http.idempotency import idempotent
from casework.http.responses import Cursor, Limit, ok, page
from casework.http.wiring import customer_service

Fields = Annotated[dict[str, Any], Body(description="The record's fields (see the README's table layout).")]
Identifier = Annotated[str | None, Query(max_length=60)]


class MoveContact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str | None = Field(
        max_length=40, description="The customer's account number; null: Unassigned"
    )
    expected_version: int | None = Field(None, ge=0)


class ProfileAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] = Field(description="question code -> answer")
    set_version: int | None = Field(None, ge=1, description="The question set version answered (latest)")


def _expected_version(body: dict[str, Any], required: bool = False) -> int | None:
    """``expected_version`` travels in the body next to the fields: take it out and check it."""
    value = body.pop("expected_version", None)
    if value is None and required:
        raise ValidationFailed(
            ErrorCode.MISSING_FIELDS,
            "Name the version you read (expected_version; 0 for a new question set).",
            {"problems": [{"location": "expected_version", "message": "required"}]},
        )
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ValidationFailed(
            ErrorCode.INVALID_FIELDS,
            "expected_version is a version number.",
            {"problems": [{"location": "expected_version", "message": "a whole number, 0 or more"}]},
        )
    return value


# path segment -> entry kind (casework.services.customers.ENTRIES)
ENTRY_PATHS = {
    "ship-to": ("ship_to", "code", "Ship-to addresses"),
    "cross-references": ("cross_reference", "item_code", "Cross references (customer item code -> product)"),
}


def customer_routes() -> Router:
    router = Router()

    @router.post(
        "/customers",
        status_code=201,
        tags=["customers"],
        summary="Create a customer",
        responses=ok(201),
        middlewares=[idempotent(router)],
    )
    def create_customer(body: Fields) -> dict:
        return customer_service().create_customer(caller(router), body)

    @router.get(
        "/customers",
        tags=["customers"],
        summary="Find customers by name prefix, VAT number or account number (one of them)",
        responses=ok(),
    )
    def find_customers(
        name: Annotated[str | None, Query(max_length=200)] = None,
        vat_number: Identifier = None,
        account_number: Identifier = None,
        cursor: Cursor = None,
        limit: Limit = 25,
    ) -> dict:
        return page(
            customer_service().find_customers(
                caller(router),
                name=name,
                vat_number=vat_number,
                account_number=account_number,
                cursor=cursor,
                limit=limit,
            )
        )

    @router.get(
        "/customers/<customer_id>",
        tags=["customers"],
        summary="A customer with its latest profile answers, contacts and open cases",
        responses=ok(),
    )
    def get_customer(customer_id: str) -> dict:
        return customer_service().get_customer(caller(router), customer_id)

    @router.patch("/customers/<customer_id>", tags=["customers"], summary="Edit a customer", responses=ok())
    def edit_customer(customer_id: str, body: Fields) -> dict:
        expected = _expected_version(body)
        return customer_service().edit_customer(caller(router), customer_id, body, expected)

    @router.delete(
        "/customers/<customer_id>",
        tags=["customers"],
        summary="Delete a customer without cases or contacts (Admin)",
        responses=ok(),
    )
    def delete_customer(
        customer_id: str, expected_version: Annotated[int | None, Query(ge=0)] = None
    ) -> dict:
        customer_service().delete_customer(caller(router), customer_id, expected_version)
        return {"deleted": customer_id}

    @router.get(
        "/customers/<customer_id>/history", tags=["customers"], summary="Audit history", responses=ok()
    )
    def customer_history(customer_id: str, cursor: Cursor = None, limit: Limit = 100) -> dict:
        return page(customer_service().customer_history(caller(router), customer_id, cursor, limit))

    @router.get(
        "/customers/<customer_id>/contacts", tags=["customers"], summary="Its contacts", responses=ok()
    )
    def customer_contacts(customer_id: str, cursor: Cursor = None, limit: Limit = 25) -> dict:
        return page(customer_service().customer_contacts(caller(router), customer_id, cursor, limit))

    @router.get(
        "/customers/<customer_id>/cases",
        tags=["customers"],
        summary="Its open cases of every type",
        responses=ok(),
    )
    def customer_cases(customer_id: str, cursor: Cursor = None, limit: Limit = 25) -> CasePage:
        return page_as(
            CasePage, customer_service().customer_cases(caller(router), customer_id, cursor, limit)
        )

    for segment, (kind, key_name, label) in ENTRY_PATHS.items():
        _entry_routes(router, segment, kind, key_name, label)

    @router.post(
        "/customers/<customer_id>/prices",
        status_code=201,
        tags=["customers"],
        summary="Add a special price (product, price, valid from/to; no overlap per product)",
        responses=ok(201),
    )
    def add_price(customer_id: str, body: Fields) -> dict:
        return customer_service().add_entry(caller(router), customer_id, "price", body)

    @router.get(
        "/customers/<customer_id>/prices", tags=["customers"], summary="Special prices", responses=ok()
    )
    def prices(
        customer_id: str,
        product_code: Annotated[str | None, Query(max_length=40)] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> dict:
        within = f"{product_code}#" if product_code else ""
        service = customer_service()
        return page(service.entries(caller(router), customer_id, "price", cursor, limit, within=within))

    @router.delete(
        "/customers/<customer_id>/prices/<product_code>/<valid_from>",
        tags=["customers"],
        summary="Remove a special price",
        responses=ok(),
    )
    def remove_price(customer_id: str, product_code: str, valid_from: str) -> dict:
        customer_service().remove_entry(caller(router), customer_id, "price", (product_code, valid_from))
        return {"deleted": f"{product_code}#{valid_from}"}

    @router.post(
        "/customers/<customer_id>/comments",
        status_code=201,
        tags=["customers"],
        summary="Add a comment (kept with who and when)",
        responses=ok(201),
        middlewares=[idempotent(router)],
    )
    def add_comment(customer_id: str, body: Fields) -> dict:
        return customer_service().add_comment(caller(router), customer_id, body)

    @router.get("/customers/<customer_id>/comments", tags=["customers"], summary="Comments", responses=ok())
    def comments(customer_id: str, cursor: Cursor = None, limit: Limit = 100) -> dict:
        return page(customer_service().entries(caller(router), customer_id, "comment", cursor, limit))

    @router.post(
        "/customers/<customer_id>/profile/<set_code>",
        status_code=201,
        tags=["profiling"],
        summary="Answer a profiling question set for the customer",
        responses=ok(201),
    )
    def answer_profile(customer_id: str, set_code: str, body: ProfileAnswers) -> dict:
        return customer_service().answer_profile(
            caller(router), customer_id, set_code, body.answers, body.set_version
        )

    @router.get(
        "/customers/<customer_id>/profile/<set_code>",
        tags=["profiling"],
        summary="Every answer set given (who, when, which version), oldest first",
        responses=ok(),
    )
    def profile_answers(customer_id: str, set_code: str, cursor: Cursor = None, limit: Limit = 100) -> dict:
        service = customer_service()
        return page(service.profile_answers(caller(router), customer_id, set_code, cursor, limit))

    @router.get(
        "/profiling/<set_code>", tags=["profiling"], summary="A profiling question set", responses=ok()
    )
    def get_question_set(set_code: str, version: Annotated[int | None, Query(ge=1)] = None) -> dict:
        return customer_service().get_question_set(caller(router), set_code, version)

    @router.put(
        "/profiling/<set_code>",
        tags=["profiling"],
        summary="A new version of a profiling question set (Admin; expected_version, 0 for a new set)",
        responses=ok(),
    )
    def put_question_set(set_code: str, body: Fields) -> dict:
        expected = _expected_version(body, required=True)
        assert expected is not None
        return customer_service().put_question_set(caller(router), set_code, body, expected)

    # --- contacts ---

    @router.post(
        "/contacts",
        status_code=201,
        tags=["contacts"],
        summary="Create a contact",
        responses=ok(201),
        middlewares=[idempotent(router)],
    )
    def create_contact(body: Fields) -> dict:
        return customer_service().create_contact(caller(router), body)

    @router.get("/contacts", tags=["contacts"], summary="Find a contact by one identifier", responses=ok())
    def find_contacts(
        id_number: Identifier = None,
        passport_number: Identifier = None,
        social_security_number: Identifier = None,
        vat_registration_number: Identifier = None,
    ) -> dict:
        identifiers = {
            "id_number": id_number,
            "passport_number": passport_number,
            "social_security_number": social_security_number,
            "vat_registration_number": vat_registration_number,
        }
        return page(customer_service().find_contacts(caller(router), identifiers))

    @router.patch("/contacts/<contact_id>", tags=["contacts"], summary="Edit a contact", responses=ok())
    def edit_contact(contact_id: str, body: Fields) -> dict:
        expected = _expected_version(body)
        return customer_service().edit_contact(caller(router), contact_id, body, expected)

    @router.post(
        "/contacts/<contact_id>/move",
        tags=["contacts"],
        summary="Move a contact to a customer, or back to Unassigned (account_id null)",
        responses=ok(),
    )
    def move_contact(contact_id: str, body: MoveContact) -> dict:
        return customer_service().move_contact(
            caller(router), contact_id, body.account_id, body.expected_version
        )

    @router.get("/contacts/<contact_id>/history", tags=["contacts"], summary="Audit history", responses=ok())
    def contact_history(contact_id: str, cursor: Cursor = None, limit: Limit = 100) -> dict:
        return page(customer_service().contact_history(caller(router), contact_id, cursor, limit))

    return router


def _entry_routes(router: Router, segment: str, kind: str, key_name: str, label: str) -> None:
    def add(customer_id: str, body: Fields) -> dict:
        return customer_service().add_entry(caller(router), customer_id, kind, body)

    def read(customer_id: str, cursor: Cursor = None, limit: Limit = 100) -> dict:
        return page(customer_service().entries(caller(router), customer_id, kind, cursor, limit))

    def remove(customer_id: str, key: str) -> dict:
        customer_service().remove_entry(caller(router), customer_id, kind, (key,))
        return {"deleted": key}

    path = f"/customers/<customer_id>/{segment}"
    add.__name__, read.__name__, remove.__name__ = f"add_{kind}", f"list_{kind}", f"remove_{kind}"
    router.post(path, status_code=201, tags=["customers"], summary=f"{label}: add", responses=ok(201))(add)
    router.get(path, tags=["customers"], summary=label, responses=ok())(read)
    router.delete(f"{path}/<key>", tags=["customers"], summary=f"{label}: remove", responses=ok())(remove)
