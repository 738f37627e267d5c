"""The lean REST client's pure parts: OData typing, $batch answers and error bodies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dfx.emulator.storage.rest import ServiceError, _batch_etags, _error, entity_json


def test_entity_json_types_values_as_the_table_sdk_does() -> None:
    plus_two = timezone(timedelta(hours=2))
    body = entity_json({
        "S": "text", "B": True, "I": 2**31 - 1, "L": 2**31, "F": 1.5, "N": float("nan"),
        "D": datetime(2026, 1, 2, 5, 4, 5, 6, tzinfo=plus_two), "Raw": b"\x00\x01", "Gone": None,
    })  # fmt: skip
    assert body == {
        "S": "text", "B": True, "I": 2**31 - 1,
        "L": "2147483648", "L@odata.type": "Edm.Int64",
        "F": 1.5, "F@odata.type": "Edm.Double",
        "N": "NaN", "N@odata.type": "Edm.Double",
        "D": "2026-01-02T03:04:05.000006Z", "D@odata.type": "Edm.DateTime",
        "Raw": "AAE=", "Raw@odata.type": "Edm.Binary",
    }  # fmt: skip


def test_entity_json_refuses_a_value_a_table_cannot_hold() -> None:
    with pytest.raises(TypeError, match="'X'"):
        entity_json({"X": [1, 2]})


BATCH_OK = (
    "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nDataServiceVersion: 3.0;\r\nETag: W/\"datetime'a'\"\r\n\r\n\r\n"
    "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 201 Created\r\nEtag: W/\"datetime'b'\"\r\n\r\n\r\n"
    "--changesetresponse_2--\r\n--batchresponse_1--\r\n"
)
BATCH_FAILED = (
    "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json\r\n\r\n"
    '{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"lang":"en-US",'
    '"value":"1:The update condition specified in the request was not satisfied."}}}\r\n'
    "--changesetresponse_2--\r\n--batchresponse_1--\r\n"
)


def test_a_batch_answer_gives_each_operations_etag_in_order() -> None:
    assert _batch_etags(BATCH_OK.encode(), 2) == ["W/\"datetime'a'\"", "W/\"datetime'b'\""]


def test_a_failed_batch_raises_the_failing_operations_status_and_code() -> None:
    with pytest.raises(ServiceError) as failed:
        _batch_etags(BATCH_FAILED.encode(), 2)
    assert (failed.value.status, failed.value.code) == (412, "UpdateConditionNotSatisfied")
    assert failed.value.detail.startswith("1:The update condition")


def test_a_batch_answer_with_too_few_parts_is_an_error_not_a_short_list() -> None:
    one_answer = BATCH_OK.split("--changesetresponse_2\r\nContent-Type: application/http")[:2]
    with pytest.raises(ServiceError, match="1 answers to 2"):
        _batch_etags("--changesetresponse_2\r\nContent-Type: application/http".join(one_answer).encode(), 2)


def test_error_bodies_of_queues_and_tables_are_read_into_code_and_first_line() -> None:
    queue = b"<?xml version='1.0'?><Error><Code>QueueNotFound</Code><Message>The queue is gone.\nRequestId:1</Message>"
    queue += b"</Error>"
    assert (_error(404, queue).code, _error(404, queue).detail) == ("QueueNotFound", "The queue is gone.")
    table = b'{"odata.error":{"code":"TableNotFound","message":{"value":"0:No table.\\nRequestId:2"}}}'
    assert (_error(404, table).code, _error(404, table).detail) == ("TableNotFound", "0:No table.")
    assert _error(502, b"Bad gateway").detail == "Bad gateway"
