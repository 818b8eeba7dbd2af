"""Customers (accounts) and contacts: what a valid record is. Pure: no I/O, no clock, no ids.

A record is a plain dict (the ``body`` the table keeps). ``customer_fields`` and ``contact_fields`` take what
a client, the ERP or an import gives, check every field at once and return the normalised fields; the
bookkeeping (``version``, ``source_version``, ``created_*``/``updated_*``) is the service's. Every problem is
reported in one ValidationFailed: ``MISSING_FIELDS`` when only required fields are missing, else
``INVALID_FIELDS``; ``details.problems`` lists each ``{"location", "message"}``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import ValidationFailed

IDENTIFIER_TYPES = ("id_number", "passport_number", "social_security_number", "vat_registration_number")
CONTACT_TYPES = ("PERSON", "COMPANY")
LIFE_CYCLE_STATES = ("Prospect", "Financial")
FINANCIAL = "Financial"  # a contact with an account of its own (converted from a lead, or from the ERP)
CUSTOMER_STATUSES = ("Active", "Inactive")
UNASSIGNED = "Unassigned"
# kept on the record by the service, never taken from input
BOOKKEEPING = ("version", "source_version", "created_at", "created_by", "updated_at", "updated_by")
# derived from other fields (kept for existing readers), so never taken from input either
CONTACT_DERIVED = ("name", "email")
# what the lists show of a record (the name index projects only this)
CUSTOMER_LISTING = ("id", "name", "vat_number", "status", "classification")
CONTACT_LISTING = ("id", "name", "type", "email", "life_cycle_state", "account_id", "geographic_area")
MIN_PREFIX = 2  # the name index is partitioned by the first two characters of the name key

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
CODE_PATTERN = r"^[A-Za-z0-9][\w.\-/]*$"
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=CODE_PATTERN)
]
IdentifierType = Literal["id_number", "passport_number", "social_security_number", "vat_registration_number"]
PHONE = re.compile(r"^\+?[0-9][0-9 ().\-/]{3,30}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def e164(number: str, country: str | None) -> str:
    """A phone number in E.164 (+442079460958), the one form SMS providers take. A national number needs
    its phone's ``country`` (ISO 3166 alpha-2, e.g. GB); an international one (+...) stands alone."""
    import phonenumbers

    region = country.upper() if country and len(country) == 2 else None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        where = f" in {region}" if region else " (give its country code, +44 ..., or the phone's country)"
        raise ValueError(f"not a valid phone number{where}")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Phone(_Strict):
    type: ShortText = "MAIN"
    country: ShortText | None = None
    number: ShortText

    @field_validator("number")
    @classmethod
    def _looks_like_a_number(cls, value: str, info: ValidationInfo) -> str:
        if not PHONE.match(value):
            raise ValueError("a phone number is digits, optionally with a leading + and separators")
        return e164(value, info.data.get("country"))


class Email(_Strict):
    type: ShortText = "MAIN"
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]

    @field_validator("address")
    @classmethod
    def _looks_like_an_email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError("not an email address")
        local, domain = value.rsplit("@", 1)
        return f"{local}@{domain.lower()}"


class Address(_Strict):
    type: ShortText | None = None
    street_name: Text | None = None
    street_number: ShortText | None = None
    postal_code: ShortText | None = None
    district: Text | None = None
    town: Text | None = None
    country: ShortText | None = None


class CustomerFields(_Strict):
    id: Code
    name: Text
    vat_number: ShortText | None = None
    classification: ShortText | None = None
    credit_rating: ShortText | None = None
    status: Literal["Active", "Inactive"] = "Active"
    address: Address | None = None
    phones: list[Phone] = Field(default_factory=list, max_length=20)
    emails: list[Email] = Field(default_factory=list, max_length=20)
    profile: dict[str, Any] = Field(default_factory=dict)  # the latest answers per question set
    # set by lead conversion (casework.services.conversion): which lead made this customer
    contact_id: Code | None = None
    created_from_lead: ShortText | None = None

    @field_validator("vat_number")
    @classmethod
    def _normalise_vat(cls, value: str | None) -> str | None:
        return normalise_identifier(value) if value is not None else None


class ContactFields(_Strict):
    id: Code
    type: Literal["PERSON", "COMPANY"]
    first_name: Text | None = None
    last_name: Text | None = None
    company_name: Text | None = None
    identifiers: dict[IdentifierType, ShortText] = Field(default_factory=dict)
    phones: list[Phone] = Field(default_factory=list, max_length=20)
    emails: list[Email] = Field(default_factory=list, max_length=20)
    address: Address | None = None
    geographic_area: ShortText | None = None
    life_cycle_state: Literal["Prospect", "Financial"] = "Prospect"
    account_id: Code | None = None
    financial_since: ShortText | None = None  # set by lead conversion

    @field_validator("identifiers")
    @classmethod
    def _normalise_identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: normalise_identifier(v) for k, v in sorted(value.items())}


_IDENTIFIERS = TypeAdapter(dict[IdentifierType, ShortText])


def normalise_identifier(value: str) -> str:
    """Identifiers compare as typed on a passport or a VAT certificate: no surrounding space, upper case."""
    return value.strip().upper()


def listing(record: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: record[k] for k in names if record.get(k) is not None}


def name_key(name: str) -> str:
    """The form names are searched in: accents dropped, case folded, inner whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def name_prefix(prefix: str) -> str:
    """A search prefix as a name key; 422 NAME_PREFIX_TOO_SHORT below two characters (the index partition)."""
    key = name_key(prefix)
    if len(key) < MIN_PREFIX:
        raise ValidationFailed(
            ErrorCode.NAME_PREFIX_TOO_SHORT,
            f"Give at least {MIN_PREFIX} characters of the name.",
            {"name": prefix, "min_length": MIN_PREFIX},
        )
    return key


def contact_identifiers(value: Any) -> dict[str, str]:
    """Identifiers alone (finding a contact by them): known types only, non-empty, normalised."""
    try:
        parsed = _IDENTIFIERS.validate_python(value)
    except ValidationError as exc:
        raise _problems(exc, "identifiers") from None
    return {k: normalise_identifier(v) for k, v in sorted(parsed.items())}


def _problems(exc: ValidationError, location: str = "") -> ValidationFailed:
    problems = [
        {
            "location": ".".join(str(p) for p in (location, *err["loc"]) if p != "") or "(body)",
            "message": _message(err),
        }
        for err in exc.errors(include_url=False)
    ]
    only_missing = all(err["type"] == "missing" for err in exc.errors(include_url=False))
    code, message = (
        (ErrorCode.MISSING_FIELDS, "Required fields are missing.")
        if only_missing
        else (ErrorCode.INVALID_FIELDS, "Some fields are invalid.")
    )
    return ValidationFailed(code, message, {"problems": problems})


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    return str(err["msg"]).removeprefix("Value error, ")


def _reject_given(data: dict[str, Any], names: tuple[str, ...], why: str) -> list[dict[str, str]]:
    return [{"location": name, "message": why} for name in names if name in data]


def _validate(model: type[_Strict], data: Any, reserved: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed(ErrorCode.INVALID_FIELDS, "A record is a JSON object.", {"problems": []})
    forbidden = _reject_given(data, reserved, "set by casework, not given")
    try:
        fields = model.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        error = _problems(exc)
        if forbidden:
            error.code, error.message = ErrorCode.INVALID_FIELDS, "Some fields are invalid."
            error.details["problems"] = [
                p for p in error.details["problems"] if p["location"] not in reserved
            ] + forbidden
        raise error from None
    if forbidden:
        raise ValidationFailed(ErrorCode.INVALID_FIELDS, "Some fields are invalid.", {"problems": forbidden})
    return fields


def customer_fields(data: Any) -> dict[str, Any]:
    """A customer's fields, normalised (VAT number upper case; empty lists kept)."""
    return _validate(CustomerFields, data, BOOKKEEPING)


def contact_fields(data: Any) -> dict[str, Any]:
    """A contact's fields, normalised, with ``name`` and ``email`` derived: PERSON needs first and last name,
    COMPANY a company name; the primary email is the first of ``emails``."""
    fields = _validate(ContactFields, data, BOOKKEEPING + CONTACT_DERIVED)
    if fields["type"] == "PERSON":
        missing = [f for f in ("first_name", "last_name") if not fields.get(f)]
        name = f"{fields.get('first_name', '')} {fields.get('last_name', '')}".strip()
    else:
        missing = [] if fields.get("company_name") else ["company_name"]
        name = fields.get("company_name", "")
    if missing:
        raise ValidationFailed(
            ErrorCode.MISSING_FIELDS,
            f"A {fields['type']} contact needs {' and '.join(missing)}.",
            {"problems": [{"location": f, "message": f"required for a {fields['type']}"} for f in missing]},
        )
    fields["name"] = name
    if fields.get("emails"):
        fields["email"] = fields["emails"][0]["address"]
    return fields


def stored_fields(record: dict[str, Any], derived: tuple[str, ...] = ()) -> dict[str, Any]:
    """A stored record without its bookkeeping and derived fields: what the next edit merges into."""
    return {k: v for k, v in record.items() if k not in BOOKKEEPING and k not in derived}


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Field by field, what differs: ``{field: {"before", "after"}}`` (bookkeeping left out)."""
    before, after = before or {}, after or {}
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if name not in BOOKKEEPING and before.get(name) != after.get(name)
    }


# --- a customer's entries: ship-to addresses, special prices, cross references, comments ------------------


class ShipTo(_Strict):
    code: Code
    name: Text | None = None
    address: Address
    phone: Phone | None = None


class SpecialPrice(_Strict):
    product_code: Code
    price: float = Field(gt=0, le=1e12)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"
    valid_from: date
    valid_to: date | None = None

    @model_validator(mode="after")
    def _period(self) -> SpecialPrice:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def overlaps(self, other: dict[str, Any]) -> bool:
        """Whether another entry of the same product is valid on a day this one is (open ends run forever)."""
        start, end = date.fromisoformat(other["valid_from"]), other.get("valid_to")
        ends_after_start = end is None or date.fromisoformat(end) >= self.valid_from
        return ends_after_start and (self.valid_to is None or start <= self.valid_to)


class CrossReference(_Strict):
    customer_item_code: Code
    product_code: Code
    description: Text | None = None


class Comment(_Strict):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


def entry(model: type[_Strict], data: Any) -> dict[str, Any]:
    """A customer entry's fields, normalised; ValidationFailed listing every problem."""
    return _validate(model, data, ())


# --- profiling: versioned question sets, answered per customer ---------------------------------------------


class Question(_Strict):
    code: Code
    text: Text
    type: Literal["text", "number", "boolean", "choice", "multiple_choice"] = "text"
    choices: list[ShortText] = Field(default_factory=list, max_length=100)
    required: bool = False

    @model_validator(mode="after")
    def _choices(self) -> Question:
        if self.type in ("choice", "multiple_choice") and not self.choices:
            raise ValueError(f"a {self.type} question lists its choices")
        if self.type not in ("choice", "multiple_choice") and self.choices:
            raise ValueError(f"a {self.type} question has no choices")
        return self


class QuestionSet(_Strict):
    title: Text
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    questions: list[Question] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique_codes(self) -> QuestionSet:
        codes = [q.code for q in self.questions]
        if len(codes) != len(set(codes)):
            raise ValueError("question codes are unique within a set")
        return self


def question_set(data: Any) -> dict[str, Any]:
    return _validate(QuestionSet, data, ())


def profile_answers(questions: dict[str, Any], answers: Any) -> dict[str, Any]:
    """Answers checked against one version of a question set: known questions, values of their type, the
    required ones given. Every problem is listed."""
    if not isinstance(answers, dict):
        raise ValidationFailed(
            ErrorCode.INVALID_FIELDS, "answers is an object of question code -> answer.", {"problems": []}
        )
    by_code = {q["code"]: q for q in questions["questions"]}
    problems = [
        {"location": f"answers.{code}", "message": "no such question in this set"}
        for code in answers
        if code not in by_code
    ]
    missing = [
        {"location": f"answers.{code}", "message": "required"}
        for code, q in by_code.items()
        if q.get("required") and answers.get(code) in (None, "", [])
    ]
    for code, value in answers.items():
        question = by_code.get(code)
        if question is not None and value is not None and not _answers(question, value):
            problems.append({"location": f"answers.{code}", "message": _expected(question)})
    if problems or missing:
        code = ErrorCode.MISSING_FIELDS if not problems else ErrorCode.INVALID_FIELDS
        raise ValidationFailed(code, "Some answers are missing or invalid.", {"problems": problems + missing})
    return {code: value for code, value in answers.items() if value is not None}


def _answers(question: dict[str, Any], value: Any) -> bool:
    kind = question["type"]
    if kind == "text":
        return isinstance(value, str) and 0 < len(value) <= 4000
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "choice":
        return value in question["choices"]
    return isinstance(value, list) and all(v in question["choices"] for v in value)


def _expected(question: dict[str, Any]) -> str:
    kind = question["type"]
    if kind in ("choice", "multiple_choice"):
        return f"{'one' if kind == 'choice' else 'a list'} of: {', '.join(question['choices'])}"
    return f"a {kind}" if kind != "text" else "a text (up to 4,000 characters)"


def seeded_record(kind: str, data: dict[str, Any], at: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A demo customer ("customer") or contact as the seed stores it: validated, version 1, stamped by "seed";
    and its "created" history entry. The demo file shows contacts with their derived name and email: they
    must agree with what the fields give."""
    derived = {k: data[k] for k in CONTACT_DERIVED if kind == "contact" and k in data}
    validate = customer_fields if kind == "customer" else contact_fields
    fields = validate({k: v for k, v in data.items() if k not in derived})
    if any(fields.get(k) != v for k, v in derived.items()):
        raise ValueError(f"seed contact {data['id']}: {derived} is not what its fields give")
    record = {**fields, "version": 1, "created_at": at, "created_by": "seed"}
    record |= {"updated_at": at, "updated_by": "seed"}
    history = {"version": 1, "at": at, "by": "seed", "action": "created", "changes": changes(None, fields)}
    return record, history
