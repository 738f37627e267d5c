"""The durable APIs' input checks: JSON bodies dfx can store, and query date-times, as plain functions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dfx.emulator.http.inputs import MAX_JSON_DEPTH, BadJson, json_text, parse_time


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_json_is_kept_compact_with_non_ascii_text_and_paired_surrogates_joined():
    assert json_text('{"a": [1, 2], "b": "K\u00f6ln"}'.encode()) == '{"a":[1,2],"b":"K\u00f6ln"}'
    assert json_text(b'"\\ud83d\\ude00"') == '"\U0001f600"'


def test_nesting_is_refused_past_newtonsofts_max_depth_however_deep():
    assert json_text(nested(MAX_JSON_DEPTH)) == nested(MAX_JSON_DEPTH).decode()
    assert json_text(b'{"a": ' * 32 + b"[" * 32 + b"]" * 32 + b"}" * 32)
    for body in (nested(MAX_JSON_DEPTH + 1), b'{"a": ' * 65 + b"1" + b"}" * 65, b"[" * 100_000, nested(100_000)):
        with pytest.raises(BadJson, match="MaxDepth of 64"):
            json_text(body)


@pytest.mark.parametrize("body", [b'"\\ud800"', b'{"k": ["x\\udfff"]}', b'{"\\udc00": 1}', b'"\\ude00\\ud83d"'])
def test_an_unpaired_surrogate_anywhere_is_refused_before_it_reaches_storage(body: bytes):
    with pytest.raises(BadJson, match="unpaired surrogate"):
        json_text(body)


@pytest.mark.parametrize("body", [b"{nope", b"", b"\xff\xfe\xfd", b"[1,]"])
def test_text_that_is_not_json_says_why(body: bytes):
    with pytest.raises(BadJson):
        json_text(body)


def test_query_times_read_round_trip_text_iso_dates_and_offsets_as_utc():
    assert parse_time("2024-05-01T10:00:00.1234567Z") == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert parse_time("2024-05-01") == datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert parse_time("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value", ["yesterday", "2024-13-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", " "]
)
def test_unreadable_or_unrepresentable_query_times_are_value_errors(value: str):
    with pytest.raises(ValueError):
        parse_time(value)
