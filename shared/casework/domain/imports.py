"""Imports of leads, customers and contacts from CSV or XLSX files: pure rules, no I/O.

What a file must look like (column sets per kind, the seed's "Import Leads template" for leads), how a file's
bytes are read into rows (CSV: UTF-8 with or without BOM, ``,`` or ``;``; XLSX through openpyxl in read-only
mode), how each row becomes a typed command or a message a person can act on, how failed rows are written
back in the same format with "Error Message" filled, and the import job's record and its progress.

Every function here is deterministic: the clock is passed in, nothing is read or written outside.

Length (over ~600 lines): most of it is the three kinds' column tables and row parsers, the seed's templates
written down; each parser is short and they share the row-reading and error-file code below them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import Any

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import ValidationFailed

ERROR_COLUMN = "Error Message"
IDENTIFIER_TYPES = ("id_number", "passport_number", "social_security_number", "vat_registration_number")
CONTACT_TYPES = ("PERSON", "COMPANY")
DATE_FORMAT = "%d/%m/%Y %H:%M"  # the template's "dd/mm/yyyy hh:mm"

_ADDRESS = (
    "Address Type",
    "Address Street Name",
    "Address Street Number",
    "Address Postal Code",
    "Address District",
    "Address Town",
    "Address Country",
)
_PHONE_EMAIL = ("Phone Type", "Phone Country", "Phone Number", "Email Type", "Email Address")
CONTACT_COLUMNS = (
    "New Contact",
    "Contact Type",
    "Identifiers",
    "First Name",
    "Last Name",
    "ID Number",
    "Company Name",
    "VAT Registration Number",
    *_ADDRESS,
    *_PHONE_EMAIL,
)
UDF_STRINGS = tuple(f"UDF String {i}" for i in range(1, 9))
UDF_FLOATS = tuple(f"UDF Float {i}" for i in range(1, 5))
UDF_DATES = tuple(f"UDF Date {i}" for i in range(1, 5))
LEAD_LIST_COLUMNS = (
    "Product Code",
    "Product Type",
    "Product Family",
    "Product Brand",
    "Subscription Package",
    "Lead Team",
    "Competitors",
)

# The seed's Appendix A, in its order (003 "Import Leads template").
LEAD_COLUMNS = (
    *CONTACT_COLUMNS,
    "Account Number",
    "Lead Type",
    "Lead Category",
    "Lead Priority Level",
    "Lead Importance Level",
    "Probability to Win",
    "Target Amount",
    "Description",
    "Lead Source Type",
    "Lead Source",
    *LEAD_LIST_COLUMNS,
    "Assigned to Unit",
    "Assigned to User",
    *UDF_STRINGS,
    *UDF_FLOATS,
    *UDF_DATES,
    ERROR_COLUMN,
)
CUSTOMER_COLUMNS = (
    "Account Number",
    "Name",
    "VAT Registration Number",
    "Classification",
    "Credit Rating",
    "Status",
    *_ADDRESS,
    *_PHONE_EMAIL,
    ERROR_COLUMN,
)
CONTACTS_FILE_COLUMNS = (*CONTACT_COLUMNS, "Account Number", ERROR_COLUMN)

COLUMNS = {"leads": LEAD_COLUMNS, "contacts": CONTACTS_FILE_COLUMNS, "customers": CUSTOMER_COLUMNS}
# A file without one of these is refused as a whole (the template's red stars; for contacts and customers,
# what finds or names the record).
REQUIRED_COLUMNS = {
    "leads": (
        "New Contact",
        "Contact Type",
        "Identifiers",
        "First Name",
        "Last Name",
        "Company Name",
        "Account Number",
        "Lead Source",
        "Assigned to Unit",
        "Assigned to User",
    ),
    "contacts": ("Contact Type", "Identifiers", "First Name", "Last Name", "Company Name"),
    "customers": ("Account Number", "Name"),
}
KINDS = tuple(COLUMNS)
FORMATS = ("csv", "xlsx")

# Lead columns -> the lead module's fields (casework/workflows/modules/lead.json).
LEAD_FIELD_COLUMNS = {
    "category": "Lead Category",
    "priority_level": "Lead Priority Level",
    "importance": "Lead Importance Level",
    "probability_to_win": "Probability to Win",
    "target_amount": "Target Amount",
    "source_type": "Lead Source Type",
    "source": "Lead Source",
    "description": "Description",
    "title": "Description",
    "contact_id": "Identifiers",
    "account_id": "Account Number",
    "gbu": "Assigned to Unit",
    "business_unit": "Assigned to Unit",
    "assignee": "Assigned to User",
    "subtype": "Lead Type",
}


# --------------------------------------------------------------------------------------------- reading files


def file_format(data: bytes) -> str:
    """ "csv" or "xlsx", told by content (a name or a content type can lie). Refuses an empty file and one
    that is neither: a PDF, an image, random bytes, an old binary .xls."""
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise ValidationFailed(ErrorCode.EMPTY_FILE, "The file is empty: nothing to import.")
    if data[:4] == b"PK\x03\x04":  # a zip container: XLSX if it holds a workbook
        if b"xl/workbook" in data[:65536] or b"[Content_Types].xml" in data[:65536]:
            return "xlsx"
        raise ValidationFailed(
            ErrorCode.UNSUPPORTED_FILE, "The file is a zip archive, not a CSV or XLSX file."
        )
    head = data[:65536]
    if b"\x00" in head:
        raise ValidationFailed(
            ErrorCode.UNSUPPORTED_FILE, "The file is not a CSV or XLSX file (it is binary)."
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
            raise ValidationFailed(
                ErrorCode.UNSUPPORTED_FILE, "The file is not a CSV or XLSX file (or not UTF-8 encoded)."
            ) from None
    if head.startswith(b"%PDF") or head.startswith(b"{\\rtf"):
        raise ValidationFailed(ErrorCode.UNSUPPORTED_FILE, "The file is not a CSV or XLSX file.")
    return "csv"


@dataclass(frozen=True)
class Table:
    """A file's header and a way to read its data rows (each a list of strings, as long as the header)."""

    format: str
    header: tuple[str, ...]
    delimiter: str = ","
    _rows: Any = field(default=None, repr=False, compare=False)

    def rows(self, start: int = 0) -> Iterator[list[str]]:
        """Data rows from index ``start`` (0 = the first row after the header); blank rows are skipped but
        still counted, so an index names the same row on every read."""
        for raw in islice(self._rows(), start, None):
            yield _fit(raw, len(self.header))


def _fit(values: Sequence[Any], width: int) -> list[str]:
    out = [_text(v) for v in values[:width]]
    return out + [""] * (width - len(out))


def _text(value: Any) -> str:
    """A cell as the text a person typed: whole numbers without ".0", dates as dd/mm/yyyy hh:mm."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    return str(value).strip()


def _non_blank(rows: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    for row in rows:
        if any(_text(v) for v in row):
            yield row


def read_table(data: bytes) -> Table:
    """The header and rows of a CSV or XLSX file. Raises ValidationFailed for a file that is not one, is
    empty, or has no header row."""
    fmt = file_format(data)
    if fmt == "xlsx":
        return _read_xlsx(data)
    text = data.decode("utf-8-sig", errors="replace")
    sample = text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;").delimiter
    except csv.Error:
        delimiter = ","

    def rows() -> Iterator[Sequence[Any]]:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        next(reader, None)
        return _non_blank(reader)

    first = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    return Table("csv", _header(first), delimiter, rows)


def _read_xlsx(data: bytes) -> Table:
    from zipfile import BadZipFile

    from openpyxl import load_workbook  # only imports pay for it

    def sheet() -> Any:
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (BadZipFile, KeyError, OSError, ValueError) as exc:
            raise ValidationFailed(
                ErrorCode.UNSUPPORTED_FILE, f"The XLSX file cannot be read: {exc}."
            ) from None
        return book.worksheets[0]

    first = next(sheet().iter_rows(max_row=1, values_only=True), ())

    def rows() -> Iterator[Sequence[Any]]:
        return _non_blank(sheet().iter_rows(min_row=2, values_only=True))

    return Table("xlsx", _header(first), ",", rows)


def _header(values: Sequence[Any]) -> tuple[str, ...]:
    header = tuple(_text(v) for v in values)
    while header and not header[-1]:
        header = header[:-1]
    if not header:
        raise ValidationFailed(ErrorCode.EMPTY_FILE, "The file has no header row: nothing to import.")
    return header


def check_header(kind: str, header: Sequence[str]) -> None:
    """Refuse the whole file when a required column is missing (one message naming them all) or a column is
    not one of the kind's (a typo would otherwise drop its values silently)."""
    if kind not in COLUMNS:
        raise ValidationFailed(
            ErrorCode.UNKNOWN_IMPORT_KIND, f"There is no {kind!r} import.", {"kinds": list(KINDS)}
        )
    names = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in names]
    unknown = [h for h in names if h and h not in COLUMNS[kind]]
    duplicated = sorted({h for h in names if h and names.count(h) > 1})
    if missing or unknown or duplicated:
        parts = []
        if missing:
            parts.append(f"missing required columns: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown columns: {', '.join(unknown)}")
        if duplicated:
            parts.append(f"repeated columns: {', '.join(duplicated)}")
        raise ValidationFailed(
            ErrorCode.INVALID_COLUMNS,
            f"The file does not have the {kind} template's columns ({'; '.join(parts)}).",
            {"missing": missing, "unknown": unknown, "repeated": duplicated, "expected": list(COLUMNS[kind])},
        )


# ---------------------------------------------------------------------------------------------- row parsing


class RowRefused(ValueError):
    """A row that cannot be imported; ``message`` goes into its "Error Message" cell."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ContactRow:
    """A contact to find by its identifiers and create or update (the customers contract's body fields)."""

    new: bool
    data: dict[str, Any]  # type, first_name?, last_name?, company_name?, identifiers, phones, emails, ...

    @property
    def identifiers(self) -> dict[str, str]:
        return dict(self.data.get("identifiers") or {})

    @property
    def name(self) -> str | None:
        """The display name the customer store derives (first and last name, or the company name)."""
        if self.data.get("type") == "COMPANY":
            return self.data.get("company_name")
        return " ".join(p for p in (self.data.get("first_name"), self.data.get("last_name")) if p) or None


@dataclass(frozen=True)
class LeadRow:
    contact: ContactRow
    lead_type: str | None  # a type code of the lead configuration; None: the default type
    fields: dict[str, Any]  # category, priority_level, importance, probability_to_win, target_amount, ...
    description: str | None
    account_id: str | None
    business_unit: str | None
    assignee: str | None
    lists: dict[str, list[str]]  # products, competitors, ... as given
    udf: dict[str, Any]

    def title(self, contact_name: str | None) -> str:
        return f"Imported lead: {contact_name or 'unnamed contact'}"[:255]


@dataclass(frozen=True)
class CustomerRow:
    data: dict[str, Any]  # id (account number), name, vat_number?, classification?, ...


class _Row:
    """One row's values by column, and the problems found while reading them (all reported at once)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.problems: list[str] = []

    def text(self, column: str, *, required: bool = False, limit: int = 255) -> str | None:
        value = (self.values.get(column) or "").strip()
        if not value:
            if required:
                self.problems.append(f"{column}: a value is required")
            return None
        if len(value) > limit:
            self.problems.append(f"{column}: at most {limit} characters (got {len(value)})")
        return value

    def flag(self, column: str, *, required: bool) -> bool | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        if value.upper() in ("T", "TRUE"):
            return True
        if value.upper() in ("F", "FALSE"):
            return False
        self.problems.append(f"{column}: '{value}' is not T or F")
        return None

    def choice(self, column: str, allowed: Sequence[str], *, required: bool = False) -> str | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        if value.upper() not in allowed:
            self.problems.append(f"{column}: '{value}' is not one of {', '.join(allowed)}")
            return None
        return value.upper()

    def integer(self, column: str, low: int, high: int) -> int | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            number = float(value.replace(",", ".")) if re.fullmatch(r"-?\d+([.,]0+)?", value) else None
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.problems.append(f"{column}: '{value}' is not a whole number from {low} to {high}")
            return None
        return int(number)

    def number(self, column: str, *, minimum: float | None = None) -> float | int | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            number = float(value.replace(",", "")) if "," in value and "." in value else float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or (minimum is not None and number < minimum):
            floor = "" if minimum is None else f" of at least {minimum:g}"
            self.problems.append(f"{column}: '{value}' is not a number{floor}")
            return None
        return int(number) if number.is_integer() else number

    def date(self, column: str) -> str | None:
        value = self.text(column)
        if value is None:
            return None
        for fmt in (DATE_FORMAT, "%d/%m/%Y"):
            try:
                return datetime.strptime(value, fmt).isoformat(timespec="minutes")
            except ValueError:
                continue
        self.problems.append(f"{column}: '{value}' is not a date dd/mm/yyyy hh:mm")
        return None

    def listed(self, column: str) -> list[str]:
        value = self.text(column, limit=4000)
        return [v.strip() for v in re.split(r"[,|;]", value) if v.strip()] if value else []


def parse_identifiers(text: str | None) -> tuple[dict[str, str], list[str]]:
    """``id_number|123456,passport_number|222`` -> ({"id_number": "123456", ...}, problems)."""
    out: dict[str, str] = {}
    problems: list[str] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        kind, sep, value = part.partition("|")
        kind, value = kind.strip().lower(), value.strip()
        if not sep or not value:
            problems.append(f"Identifiers: '{part}' is not type|value (e.g. id_number|123456)")
        elif kind not in IDENTIFIER_TYPES:
            problems.append(f"Identifiers: '{kind}' is not one of {', '.join(IDENTIFIER_TYPES)}")
        elif kind in out and out[kind] != value:
            problems.append(f"Identifiers: {kind} is given twice with different values")
        else:
            out[kind] = value
    return out, problems


def _address_phone_email(row: _Row, data: dict[str, Any]) -> None:
    address = {
        "type": row.text("Address Type"),
        "street_name": row.text("Address Street Name"),
        "street_number": row.text("Address Street Number"),
        "postal_code": row.text("Address Postal Code"),
        "district": row.text("Address District"),
        "town": row.text("Address Town"),
        "country": row.text("Address Country"),
    }
    if any(address.values()):
        data["address"] = {k: v for k, v in address.items() if v is not None}
    number = row.text("Phone Number")
    if number:
        if not re.fullmatch(r"\+?[0-9 ()./-]{3,32}", number):
            row.problems.append(f"Phone Number: '{number}' is not a phone number")
        data["phones"] = [
            {
                "type": row.text("Phone Type") or "MOBILE",
                "country": row.text("Phone Country"),
                "number": number,
            }
        ]
    email = row.text("Email Address")
    if email:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            row.problems.append(f"Email Address: '{email}' is not an email address")
        data["emails"] = [{"type": row.text("Email Type") or "WORK", "address": email}]


def _contact(row: _Row, *, new_required: bool) -> ContactRow:
    new = row.flag("New Contact", required=new_required)
    kind = row.choice("Contact Type", CONTACT_TYPES, required=True)
    identifiers, problems = parse_identifiers(row.text("Identifiers", limit=1000))
    row.problems.extend(problems)
    for column, key in (("ID Number", "id_number"), ("VAT Registration Number", "vat_registration_number")):
        value = row.text(column)
        if value and identifiers.get(key, value) != value:
            row.problems.append(f"{column}: '{value}' differs from {key} in Identifiers")
        elif value:
            identifiers[key] = value
    data: dict[str, Any] = {"type": kind, "identifiers": identifiers}
    first, last, company = row.text("First Name"), row.text("Last Name"), row.text("Company Name")
    if kind == "PERSON":
        data |= {"first_name": first, "last_name": last}
    elif kind == "COMPANY":
        data |= {"company_name": company}
    _address_phone_email(row, data)
    account = row.text("Account Number", limit=80)
    if account:
        data["account_id"] = account
    if new is False and not identifiers:
        row.problems.append("Identifiers: an existing contact (New Contact F) is found by its identifiers")
    if new is not False and kind == "PERSON" and not (first and last):
        row.problems.append("First Name and Last Name: required for a new contact of type PERSON")
    if new is not False and kind == "COMPANY" and not company:
        row.problems.append("Company Name: required for a new contact of type COMPANY")
    data = {k: v for k, v in data.items() if v is not None}
    return ContactRow(new=new is not False, data=data)


def parse_lead(values: Mapping[str, str]) -> LeadRow:
    """A lead row of the template, typed; RowRefused with every problem of the row."""
    row = _Row(values)
    contact = _contact(row, new_required=True)
    fields: dict[str, Any] = {}
    for name, column in (("category", "Lead Category"), ("source_type", "Lead Source Type")):
        value = row.text(column, limit=80)
        if value is not None:
            fields[name] = value
    importance = row.text("Lead Importance Level", limit=40)
    if importance is not None:
        fields["importance"] = importance.lower()
    priority = row.integer("Lead Priority Level", 1, 10)
    if priority is not None:
        fields["priority_level"] = priority
    probability = row.integer("Probability to Win", 0, 100)
    if probability is not None:
        fields["probability_to_win"] = probability
    amount = row.number("Target Amount", minimum=0)
    if amount is not None:
        fields["target_amount"] = amount
    source = row.text("Lead Source", limit=120)
    if source is not None:
        fields["source"] = source
    lists = {
        "products": row.listed("Product Code"),
        "product_types": row.listed("Product Type"),
        "product_families": row.listed("Product Family"),
        "product_brands": row.listed("Product Brand"),
        "subscription_packages": row.listed("Subscription Package"),
        "team": row.listed("Lead Team"),
        "competitors": [c.upper() for c in row.listed("Competitors")],
    }
    udf: dict[str, Any] = {}
    for column in UDF_STRINGS:
        udf[column] = row.text(column)
    for column in UDF_FLOATS:
        udf[column] = row.number(column)
    for column in UDF_DATES:
        udf[column] = row.date(column)
    lead = LeadRow(
        contact=contact,
        lead_type=row.text("Lead Type", limit=80),
        fields=fields,
        description=row.text("Description", limit=10_000),
        account_id=row.text("Account Number", limit=80),
        business_unit=row.text("Assigned to Unit", limit=40),
        assignee=row.text("Assigned to User", limit=128),
        lists={k: v for k, v in lists.items() if v},
        udf={k: v for k, v in udf.items() if v is not None},
    )
    if row.problems:
        raise RowRefused(row.problems)
    return lead


def parse_contact(values: Mapping[str, str]) -> ContactRow:
    row = _Row(values)
    contact = _contact(row, new_required=False)
    if not contact.identifiers:
        row.problems.append("Identifiers: at least one identifier is required (it finds the contact again)")
    if row.problems:
        raise RowRefused(row.problems)
    return contact


def parse_customer(values: Mapping[str, str]) -> CustomerRow:
    row = _Row(values)
    number = row.text("Account Number", required=True, limit=80)
    if number and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", number):
        row.problems.append(f"Account Number: '{number}' may hold only letters, digits and . _ / -")
    data: dict[str, Any] = {
        "id": number,
        "name": row.text("Name", required=True),
        "vat_number": row.text("VAT Registration Number", limit=40),
        "classification": row.text("Classification", limit=80),
        "credit_rating": row.text("Credit Rating", limit=40),
        "status": row.text("Status", limit=40),
    }
    _address_phone_email(row, data)
    if row.problems:
        raise RowRefused(row.problems)
    return CustomerRow({k: v for k, v in data.items() if v is not None})


RowParser = Callable[[Mapping[str, str]], LeadRow | ContactRow | CustomerRow]
PARSERS: dict[str, RowParser] = {"leads": parse_lead, "contacts": parse_contact, "customers": parse_customer}


def parse_row(kind: str, header: Sequence[str], values: Sequence[str]) -> LeadRow | ContactRow | CustomerRow:
    return PARSERS[kind](dict(zip(header, values, strict=False)))


def lead_code_problems(
    lead: LeadRow, type_codes: Sequence[str], choices: Mapping[str, Sequence[Any]]
) -> list[str]:
    """Codes of a lead row checked against the latest lead configuration: ``type_codes`` and, for the row's
    type, each choice field's allowed values. Each problem names the column and what is allowed."""
    problems = []
    if lead.lead_type is not None and lead.lead_type not in type_codes:
        problems.append(f"Lead Type: '{lead.lead_type}' is not one of {', '.join(type_codes)}")
        return problems
    for name, value in lead.fields.items():
        allowed = choices.get(name)
        if allowed is not None and value not in allowed:
            shown = ", ".join(map(str, allowed)) or "none (the type allows no values)"
            problems.append(f"{LEAD_FIELD_COLUMNS[name]}: '{value}' is not one of {shown}")
    products = choices.get("products")
    for code in lead.lists.get("products", []):
        if products is not None and code not in products:
            problems.append(f"Product Code: '{code}' is not one of {', '.join(map(str, products))}")
    competitors = choices.get("competitor")
    for code in lead.lists.get("competitors", []):
        if competitors is not None and code not in competitors:
            shown = ", ".join(map(str, competitors)) or "none"
            problems.append(f"Competitors: '{code}' is not one of {shown}")
    return problems


# Record fields (the customers contract's body, the lead's fields) -> the columns they come from.
RECORD_FIELD_COLUMNS = {
    **LEAD_FIELD_COLUMNS,
    "type": "Contact Type",
    "first_name": "First Name",
    "last_name": "Last Name",
    "company_name": "Company Name",
    "identifiers": "Identifiers",
    "phones": "Phone Number",
    "emails": "Email Address",
    "address": "Address",
    "id": "Account Number",
    "name": "Name",
    "vat_number": "VAT Registration Number",
    "classification": "Classification",
    "credit_rating": "Credit Rating",
    "status": "Status",
}


def _column_of(location: str) -> str:
    parts = location.split(".")
    if parts[0] == "address" and len(parts) > 1:
        return "Address " + parts[1].replace("_", " ").title()
    if parts[0] == "identifiers" and len(parts) > 1:
        return f"Identifiers ({parts[1]})"
    return RECORD_FIELD_COLUMNS.get(parts[0], location)


def field_problems(details: Mapping[str, Any]) -> list[str]:
    """A ValidationFailed's details as column-named problems: the engine's ``fields`` ({field: message} or
    [field, ...]) and the customer store's ``problems`` ([{location, message}])."""
    fields = details.get("fields")
    out = []
    if isinstance(fields, Mapping):
        out += [f"{_column_of(k)}: {v}" for k, v in fields.items()]
    elif isinstance(fields, list):
        out += [f"{_column_of(str(k))}: a value is required" for k in fields]
    for problem in details.get("problems") or []:
        if isinstance(problem, Mapping):
            out.append(f"{_column_of(str(problem.get('location', '')))}: {problem.get('message')}")
    return out


def lead_case_id(contact_id: str, lead: LeadRow) -> str:
    """The lead's case id follows from its contact and its lead columns, so importing the same row again
    finds the lead it created (a conditional put fails) instead of creating another one."""
    content = {
        "contact": contact_id,
        "type": lead.lead_type,
        "fields": lead.fields,
        "description": lead.description,
        "account": lead.account_id,
        "unit": lead.business_unit,
        "assignee": lead.assignee,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:32]


# -------------------------------------------------------------------------------------------- the error file


def error_header(header: Sequence[str]) -> tuple[str, ...]:
    return tuple(header) if ERROR_COLUMN in header else (*header, ERROR_COLUMN)


def with_error(header: Sequence[str], values: Sequence[str], message: str) -> list[str]:
    """The row as it was read, "Error Message" filled (added as the last column if the file had none)."""
    out = list(values) + [""] * (len(header) - len(values))
    if ERROR_COLUMN in header:
        out[list(header).index(ERROR_COLUMN)] = message
    else:
        out.append(message)
    return out


def write_table(
    fmt: str, header: Sequence[str], rows: Iterable[Sequence[str]], delimiter: str = ","
) -> bytes:
    """A file in ``fmt`` with ``header`` and ``rows``: the error file, in the format of the file it is for."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Import")
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def error_file_key(key: str, job_id: str) -> str:
    """``incoming/leads/june.csv`` -> ``errors/leads/june.<job>.errors.csv``: same name and format, outside
    the prefix that starts imports (so the error file does not import itself); fixed, it goes back there."""
    path = key.split("/", 1)[1] if key.startswith("incoming/") else key
    stem, dot, ext = path.rpartition(".")
    if not dot:
        stem, ext = path, "csv"
    return f"errors/{stem}.{job_id[:8]}.errors.{ext}"


# ------------------------------------------------------------------------------------------------- the job

QUEUED, RUNNING, SUCCEEDED, FAILED, WITH_ERRORS = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "completed_with_errors",
)
FINISHED = (SUCCEEDED, FAILED, WITH_ERRORS)
OUTCOMES = ("created", "updated", "unchanged", "failed")


@dataclass(frozen=True)
class ImportJob:
    """An import: what to read, how far it got (``checkpoint``: the index of the next data row to read),
    what it did so far, and where its error file is. ``version`` guards every update (one writer wins)."""

    id: str
    kind: str
    bucket: str
    key: str
    dry_run: bool
    requested_by: str
    created_at: str
    updated_at: str
    state: str = QUEUED
    format: str | None = None
    total: int | None = None
    checkpoint: int = 0
    counts: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(("read", *OUTCOMES), 0))
    contacts: Mapping[str, int] = field(default_factory=dict)  # contacts created/updated by a lead import
    error_file: str | None = None
    error_parts: tuple[int, ...] = ()  # chunks (by first row) that wrote failed rows
    message: str | None = None
    version: int = 0
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def progress(self) -> dict[str, Any]:
        percent = None
        if self.total:
            percent = round(100 * min(self.checkpoint, self.total) / self.total, 1)
        elif self.total == 0 or self.state in (SUCCEEDED, WITH_ERRORS):
            percent = 100.0
        return {"rows_done": self.checkpoint, "total_rows": self.total, "percent": percent}

    def started(self, fmt: str, total: int, at: str) -> ImportJob:
        return replace(
            self, state=RUNNING, format=fmt, total=total, started_at=self.started_at or at, updated_at=at
        )

    def advanced(
        self,
        next_row: int,
        outcomes: Mapping[str, int],
        contacts: Mapping[str, int],
        failed_part: bool,
        at: str,
    ) -> ImportJob:
        counts = dict(self.counts)
        for name, n in outcomes.items():
            counts[name] = counts.get(name, 0) + n
        counts["read"] = counts.get("read", 0) + (next_row - self.checkpoint)
        merged = dict(self.contacts)
        for name, n in contacts.items():
            merged[name] = merged.get(name, 0) + n
        parts = (*self.error_parts, self.checkpoint) if failed_part else self.error_parts
        return replace(
            self, checkpoint=next_row, counts=counts, contacts=merged, error_parts=parts, updated_at=at
        )

    def completed(self, error_file: str | None, at: str) -> ImportJob:
        state = WITH_ERRORS if self.counts.get("failed") else SUCCEEDED
        verb = "would be" if self.dry_run else "were"
        c = self.counts
        message = (
            f"{c.get('read', 0)} rows read: {c.get('created', 0)} {verb} created, "
            f"{c.get('updated', 0)} updated, {c.get('unchanged', 0)} unchanged, {c.get('failed', 0)} refused"
            + (f" (see {error_file})" if error_file else "")
            + "."
        )
        return replace(
            self, state=state, error_file=error_file, message=message, finished_at=at, updated_at=at
        )

    def failed(self, message: str, at: str) -> ImportJob:
        return replace(self, state=FAILED, message=message, finished_at=at, updated_at=at)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "bucket": self.bucket,
            "key": self.key,
            "format": self.format,
            "dry_run": self.dry_run,
            "state": self.state,
            "counts": dict(self.counts),
            "contacts": dict(self.contacts),
            "progress": self.progress(),
            "checkpoint": self.checkpoint,
            "error_file": self.error_file,
            "message": self.message,
            "requested_by": self.requested_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "version": self.version,
        }

    def to_dict(self) -> dict[str, Any]:
        body = self.view()
        body.pop("progress")
        body["total"] = self.total
        body["error_parts"] = list(self.error_parts)
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ImportJob:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in body.items() if k in known}
        values["error_parts"] = tuple(int(p) for p in values.get("error_parts") or ())
        for name in ("checkpoint", "version"):
            values[name] = int(values.get(name) or 0)
        if values.get("total") is not None:
            values["total"] = int(values["total"])
        values["counts"] = {k: int(v) for k, v in (values.get("counts") or {}).items()}
        values["contacts"] = {k: int(v) for k, v in (values.get("contacts") or {}).items()}
        return cls(**values)


def kind_of_key(key: str) -> str | None:
    """The import kind a dropped file's key names: ``incoming/<kind>/...``; None when it names none."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[0] == "incoming" and parts[1] in COLUMNS:
        return parts[1]
    return None


def dropped_job_id(bucket: str, key: str, etag: str, kind: str) -> str:
    """One job per dropped file version: the upload event and a schedule tick that both see the file (or a
    redelivered message) find the same job instead of importing it twice."""
    return "IMP-" + hashlib.sha256(f"{bucket}\n{key}\n{etag}\n{kind}".encode()).hexdigest()[:20].upper()
