"""Phone numbers are stored in E.164, the form an SMS provider takes: an international number as written, a
national one through its phone's country; a number that is not valid is refused naming the field."""

from __future__ import annotations

import pytest

from casework.domain.customers import contact_fields
from casework.domain.errors import ValidationFailed


def phones(*entries: dict[str, str]) -> list[dict[str, str]]:
    fields = contact_fields({"id": "C", "type": "COMPANY", "company_name": "Acme", "phones": list(entries)})
    return [dict(p) for p in fields["phones"]]


def test_numbers_are_normalised_to_e164() -> None:
    stored = phones(
        {"type": "MOBILE", "number": "+44 7911 123456"},
        {"type": "MAIN", "country": "gb", "number": "020 7946 0958"},
        {"type": "MOBILE", "country": "ES", "number": "600-100-200"},
    )
    assert [p["number"] for p in stored] == ["+447911123456", "+442079460958", "+34600100200"]


@pytest.mark.parametrize(
    "phone",
    [
        {"number": "020 7946 0958"},  # national, and no country to read it in
        {"country": "GB", "number": "+44 12"},  # too short for the United Kingdom
        {"country": "US", "number": "555 0100 999 999"},  # too long
        {"number": "call me"},
    ],
)
def test_a_bad_number_is_refused_naming_the_field(phone: dict[str, str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        phones({"type": "MOBILE", **phone})
    assert refused.value.code == "INVALID_FIELDS"
    assert [p["location"] for p in refused.value.details["problems"]] == ["phones.0.number"]
