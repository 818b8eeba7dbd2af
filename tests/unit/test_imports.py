"""Import files: reading CSV/XLSX, the header check, each row's parsing and messages, the error file."""

from __future__ import annotations

import io
import zipfile

import pytest

from casework.domain import imports
from casework.domain.errors import ValidationFailed
from casework.domain.imports import ERROR_COLUMN, ImportJob, RowRefused
from tests.import_fakes import lead_row, table_bytes


def parsed(row: dict[str, str], kind: str = "leads"):
    table = imports.read_table(table_bytes([row], columns=imports.COLUMNS[kind]))
    return imports.parse_row(kind, table.header, next(table.rows()))


def refusal(row: dict[str, str], kind: str = "leads") -> str:
    with pytest.raises(RowRefused) as caught:
        parsed(row, kind)
    return caught.value.message


# --- files --------------------------------------------------------------------------------------------------


def test_a_lead_row_of_the_template_becomes_a_typed_lead():
    lead = parsed(
        lead_row(7, Identifiers="id_number|123456,passport_number|222", **{"UDF Date 1": "24/12/2026 09:30"})
    )
    assert lead.contact.new is True
    assert lead.contact.identifiers == {"id_number": "123456", "passport_number": "222"}
    assert lead.contact.name == "Ann Lee 7"
    assert lead.contact.data["emails"] == [{"type": "WORK", "address": "ann7@customer.example"}]
    assert lead.fields == {
        "category": "BUSINESS_SME",
        "source_type": "website",
        "importance": "high",
        "priority_level": 3,
        "probability_to_win": 40,
        "target_amount": 12500.5,
        "source": "Spring campaign",
    }
    assert (lead.lead_type, lead.business_unit, lead.assignee) == ("B2B", "SP", "mary")
    assert lead.udf == {"UDF Date 1": "2026-12-24T09:30"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_csv_and_xlsx_read_the_same_rows(fmt):
    rows = [lead_row(1), lead_row(2, **{"Target Amount": "7"})]
    table = imports.read_table(table_bytes(rows, fmt))
    assert table.format == fmt
    assert table.header == imports.LEAD_COLUMNS
    read = list(table.rows())
    assert [r[table.header.index("Last Name")] for r in read] == ["Lee 1", "Lee 2"]
    assert read[1][table.header.index("Target Amount")] == "7"


def test_csv_with_a_byte_order_mark_and_semicolons_is_read():
    data = b"\xef\xbb\xbf" + table_bytes([lead_row(3)], delimiter=";")
    table = imports.read_table(data)
    assert table.delimiter == ";"
    assert table.header[0] == "New Contact"
    assert parsed_from(table).contact.identifiers == {"id_number": "ID000003"}


def parsed_from(table):
    return imports.parse_row("leads", table.header, next(table.rows()))


def test_blank_rows_are_skipped_but_keep_their_index():
    data = table_bytes([lead_row(1), {}, lead_row(3)])
    table = imports.read_table(data)
    assert len(list(table.rows())) == 2
    assert [r[4] for r in table.rows(1)] == ["Lee 3"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "EMPTY_FILE"),
        (b"\xef\xbb\xbf\r\n  \n", "EMPTY_FILE"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00\x01", "UNSUPPORTED_FILE"),
        (bytes(range(256)) * 8, "UNSUPPORTED_FILE"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UNSUPPORTED_FILE"),
    ],
    ids=["empty", "only-blank-lines", "pdf", "random-bytes", "png"],
)
def test_a_file_that_is_not_csv_or_xlsx_or_is_empty_is_refused(data, code):
    with pytest.raises(ValidationFailed) as caught:
        imports.read_table(data)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "parts",
    [{"notes.txt": "hello"}, {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}],
    ids=["zip", "docx"],
)
def test_a_zip_that_is_not_a_workbook_is_refused(parts):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    with pytest.raises(ValidationFailed) as caught:
        imports.read_table(out.getvalue())
    assert caught.value.code == "UNSUPPORTED_FILE"


def test_a_truncated_workbook_is_refused():
    data = imports.write_table("xlsx", ["New Contact"], [["T"]])
    with pytest.raises(ValidationFailed) as caught:
        imports.read_table(data[: len(data) // 2])
    assert caught.value.code == "UNSUPPORTED_FILE"


def test_missing_required_columns_refuse_the_whole_file_naming_them():
    columns = [c for c in imports.LEAD_COLUMNS if c not in ("Identifiers", "Assigned to User")]
    table = imports.read_table(table_bytes([lead_row()], columns=columns))
    with pytest.raises(ValidationFailed) as caught:
        imports.check_header("leads", table.header)
    assert caught.value.code == "INVALID_COLUMNS"
    assert caught.value.details["missing"] == ["Identifiers", "Assigned to User"]
    assert "Identifiers, Assigned to User" in caught.value.message


def test_an_unknown_column_is_named_rather_than_dropped():
    with pytest.raises(ValidationFailed) as caught:
        imports.check_header("customers", ["Account Number", "Name", "Nmae"])
    assert caught.value.details["unknown"] == ["Nmae"]


# --- rows ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"New Contact": "yes"}, "New Contact: 'yes' is not T or F"),
        ({"Contact Type": "ROBOT"}, "Contact Type: 'ROBOT' is not one of PERSON, COMPANY"),
        ({"Contact Type": ""}, "Contact Type: a value is required"),
        ({"Lead Priority Level": "high"}, "Lead Priority Level: 'high' is not a whole number from 1 to 10"),
        ({"Lead Priority Level": "11"}, "Lead Priority Level: '11' is not a whole number from 1 to 10"),
        ({"Probability to Win": "40.5"}, "Probability to Win: '40.5' is not a whole number from 0 to 100"),
        ({"Target Amount": "lots"}, "Target Amount: 'lots' is not a number"),
        ({"Target Amount": "-3"}, "Target Amount: '-3' is not a number of at least 0"),
        ({"UDF Float 2": "1.2.3"}, "UDF Float 2: '1.2.3' is not a number"),
        ({"UDF Date 1": "2026-12-24"}, "UDF Date 1: '2026-12-24' is not a date dd/mm/yyyy hh:mm"),
        ({"Identifiers": "id_number:123"}, "Identifiers: 'id_number:123' is not type|value"),
        ({"Identifiers": "tax_id|123"}, "Identifiers: 'tax_id' is not one of id_number, passport_number"),
        ({"Email Address": "ann.example"}, "Email Address: 'ann.example' is not an email address"),
        ({"Last Name": ""}, "First Name and Last Name: required for a new contact of type PERSON"),
        ({"Contact Type": "COMPANY"}, "Company Name: required for a new contact of type COMPANY"),
        (
            {"New Contact": "F", "Identifiers": ""},
            "an existing contact (New Contact F) is found by its identifiers",
        ),
        ({"ID Number": "999"}, "ID Number: '999' differs from id_number in Identifiers"),
    ],
)
def test_a_bad_value_refuses_the_row_with_a_message_naming_the_column(values, message):
    assert message in refusal(lead_row(**values))


def test_every_problem_of_a_row_is_reported_at_once():
    message = refusal(lead_row(**{"New Contact": "x", "Target Amount": "abc", "Lead Priority Level": "0"}))
    assert message.count("; ") == 2


def test_lead_codes_are_checked_against_the_configuration_naming_the_allowed_values():
    lead = parsed(
        lead_row(**{"Lead Category": "GOLD", "Lead Importance Level": "urgent", "Competitors": "ACME,NOPE"})
    )
    problems = imports.lead_code_problems(
        lead,
        ["B2B", "REFERRAL"],
        {
            "category": ("BUSINESS", "BUSINESS_SME"),
            "importance": ("high", "low"),
            "source_type": ("website",),
            "competitor": ("ACME",),
        },
    )
    assert problems == [
        "Lead Category: 'GOLD' is not one of BUSINESS, BUSINESS_SME",
        "Lead Importance Level: 'urgent' is not one of high, low",
        "Competitors: 'NOPE' is not one of ACME",
    ]
    unknown_type = parsed(lead_row(**{"Lead Type": "B2C"}))
    assert imports.lead_code_problems(unknown_type, ["B2B", "REFERRAL"], {}) == [
        "Lead Type: 'B2C' is not one of B2B, REFERRAL"
    ]


def test_customer_and_contact_rows():
    customer = parsed(
        {"Account Number": "ACC-9001", "Name": "Initech", "Email Address": "ap@initech.example"}, "customers"
    )
    assert customer.data == {
        "id": "ACC-9001",
        "name": "Initech",
        "emails": [{"type": "WORK", "address": "ap@initech.example"}],
    }
    assert "Name: a value is required" in refusal({"Account Number": "ACC-9002"}, "customers")
    contact = parsed(
        {
            "Contact Type": "COMPANY",
            "Company Name": "Initech",
            "VAT Registration Number": "CY123",
            "Account Number": "ACC-1",
        },
        "contacts",
    )
    assert contact.identifiers == {"vat_registration_number": "CY123"}
    assert contact.data["account_id"] == "ACC-1"
    assert "at least one identifier is required" in refusal(
        {"Contact Type": "PERSON", "First Name": "A", "Last Name": "B"}, "contacts"
    )


def test_the_lead_id_follows_from_contact_and_lead_columns():
    one, same = parsed(lead_row(1)), parsed(lead_row(1, **{"Error Message": "fixed"}))
    other = parsed(lead_row(1, **{"Target Amount": "99"}))
    assert imports.lead_case_id("CON-1", one) == imports.lead_case_id("CON-1", same)
    assert imports.lead_case_id("CON-1", one) != imports.lead_case_id("CON-2", one)
    assert imports.lead_case_id("CON-1", one) != imports.lead_case_id("CON-1", other)


# --- the error file -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_error_file_round_trips_in_the_input_format(fmt):
    table = imports.read_table(table_bytes([lead_row(1, **{"Target Amount": "lots"})], fmt))
    values = next(table.rows())
    out = imports.write_table(
        fmt,
        imports.error_header(table.header),
        [imports.with_error(table.header, values, "Target Amount: no")],
    )
    again = imports.read_table(out)
    assert again.format == fmt and again.header == table.header
    row = next(again.rows())
    assert row[again.header.index(ERROR_COLUMN)] == "Target Amount: no"
    assert row[again.header.index("Target Amount")] == "lots"
    imports.check_header("leads", again.header)  # it can be fixed and imported again as it is


def test_a_file_without_the_error_column_gets_one_at_the_end():
    header = ("Account Number", "Name")
    assert imports.error_header(header) == ("Account Number", "Name", ERROR_COLUMN)
    assert imports.with_error(header, ["A-1", ""], "Name: a value is required") == [
        "A-1",
        "",
        "Name: a value is required",
    ]


def test_error_file_keys_keep_name_and_format_outside_the_incoming_prefix():
    assert (
        imports.error_file_key("incoming/leads/june.xlsx", "IMP-ABCDEF123")
        == "errors/leads/june.IMP-ABCD.errors.xlsx"
    )


# --- the job ------------------------------------------------------------------------------------------------


def test_a_job_counts_progress_and_round_trips_through_its_record():
    job = ImportJob("IMP-1", "leads", "b", "incoming/leads/a.csv", False, "mary", "t0", "t0")
    job = job.started("csv", 200, "t1").advanced(
        100, {"created": 90, "failed": 10}, {"created": 90}, True, "t2"
    )
    assert job.progress() == {"rows_done": 100, "total_rows": 200, "percent": 50.0}
    assert job.counts == {"read": 100, "created": 90, "updated": 0, "unchanged": 0, "failed": 10}
    assert ImportJob.from_dict(job.to_dict()) == job
    done = job.advanced(200, {"unchanged": 100}, {}, False, "t3").completed("errors/a.csv", "t4")
    assert done.state == "completed_with_errors" and done.error_parts == (0,)
    assert (
        done.message
        == "200 rows read: 90 were created, 0 updated, 100 unchanged, 10 refused (see errors/a.csv)."
    )


def test_dropped_files_name_their_kind_by_folder():
    assert imports.kind_of_key("incoming/contacts/batch-7.csv") == "contacts"
    assert imports.kind_of_key("incoming/orders/x.csv") is None
    assert imports.kind_of_key("errors/leads/x.csv") is None
    one = imports.dropped_job_id("b", "incoming/leads/a.csv", "etag1", "leads")
    assert one == imports.dropped_job_id("b", "incoming/leads/a.csv", "etag1", "leads")
    assert one != imports.dropped_job_id("b", "incoming/leads/a.csv", "etag2", "leads")
