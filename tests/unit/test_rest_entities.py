"""Reading entities of a table query answer (``minimalmetadata``) into the values the table SDK gives."""

from __future__ import annotations

from datetime import datetime, timezone

from dfx.emulator.storage.rest import entity_from_json


def test_annotated_columns_are_typed_and_odata_keys_and_the_service_timestamp_left_out() -> None:
    item = {
        "odata.etag": "W/\"datetime'2026-01-02T03%3A04%3A05.1234567Z'\"",
        "PartitionKey": "p", "RowKey": "0000000000000001", "Timestamp": "2026-01-02T03:04:05.1234567Z",
        "S": "text", "I": 7, "B": False,
        "D@odata.type": "Edm.DateTime", "D": "2026-01-02T03:04:05.1234567Z",
        "L@odata.type": "Edm.Int64", "L": "2147483648",
        "F@odata.type": "Edm.Double", "F": "NaN",
        "Raw@odata.type": "Edm.Binary", "Raw": "AAE=",
        "T@odata.type": "Edm.Boolean", "T": "true",
    }  # fmt: skip
    entity = entity_from_json(item)
    assert list(entity) == ["PartitionKey", "RowKey", "S", "I", "B", "D", "L", "F", "Raw", "T"]
    assert entity["D"] == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    assert entity["L"] == 2**31 and entity["Raw"] == b"\x00\x01" and entity["T"] is True
    assert entity["F"] != entity["F"]  # NaN
    assert entity["S"] == "text" and entity["I"] == 7 and entity["B"] is False


def test_a_date_time_with_nine_fraction_digits_is_read_too() -> None:
    entity = entity_from_json({"D@odata.type": "Edm.DateTime", "D": "2026-01-02T03:04:05.123456789Z"})
    assert entity["D"] == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
