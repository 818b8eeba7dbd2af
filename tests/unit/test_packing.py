"""Packed attributes (casework.adapters.packing): what is packed reads back exactly, from bytes or from the
base64 text a Lambda stream record carries, and a packing this code does not know is refused, not guessed."""

from __future__ import annotations

import base64

import pytest

from casework.adapters.packing import CASE_BODY_V1, EVENTS_V1, pack, unpack

EVENT = {
    "id": "c1:5:0",
    "type": "ApprovalDecided",
    "schema_version": 1,
    "case_id": "c1",
    "case_type": "csr",
    "case_version": 5,
    "occurred_at": "2026-11-30T06:36:41.184Z",
    "actor": "john",
    "data": {"status": "Under Assessment", "decision": "approve", "comment": 'Grüße, "OK"'},
    "correlation_id": None,
}


@pytest.mark.parametrize(
    "value, dictionary", [([EVENT, EVENT], EVENTS_V1), ({"fields": {"a": 1.5}}, CASE_BODY_V1)]
)
def test_a_packed_value_reads_back_from_bytes_and_from_base64(value, dictionary):
    packed = pack(value, dictionary)
    assert packed[:1] == dictionary
    assert unpack(packed) == value
    assert unpack(base64.b64encode(packed).decode()) == value


def test_events_pack_to_a_fraction_of_their_json():
    three = [{**EVENT, "id": f"c1:5:{n}"} for n in range(3)]
    assert len(pack(three, EVENTS_V1)) < 400  # ~1,000 bytes as a list attribute: a 4-unit history item


def test_an_unknown_packing_is_refused():
    with pytest.raises(ValueError, match="unknown packing"):
        unpack(b"\x7f" + pack(EVENT, EVENTS_V1)[1:])
