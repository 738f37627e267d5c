"""Entity ids, request messages, scheduler state and batches as pure functions (host-protocol §3)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dfx.emulator.durable.entities import (
    EntityId,
    EntityIdError,
    Request,
    SchedulerState,
    apply_batch_result,
    batch_json,
    request_json,
    scheduled_time,
)


def test_entity_ids_lower_case_the_name_and_keep_the_key():
    entity = EntityId("Counter", "Key-1")
    assert entity.instance_id == "@counter@Key-1"
    assert EntityId.parse("@counter@a@b") == EntityId("counter", "a@b")


@pytest.mark.parametrize("key", ["", "a/b", "a#b", "a?b", "a\\b", "a\x01"])
def test_bad_keys_are_refused(key):
    with pytest.raises(EntityIdError):
        EntityId("counter", key).validate()


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("counter", "k" * 503),  # "@counter@" + 503 = 512 UTF-16 code units, Table storage's 1 KiB
        ("Counter", "k" * 503),  # the name is stored lower-cased
        ("counter", "^" * 251 + "k"),  # '^' is stored as '^^'
        ("counter", "\U0001f600" * 251 + "k"),  # beyond U+FFFF: two code units
        ("counter", "\u20ac" * 503),  # three UTF-8 bytes, one UTF-16 code unit
    ],
)
def test_the_longest_keys_storage_can_hold_are_accepted(name, key):
    EntityId(name, key).validate()


@pytest.mark.parametrize(
    ("name", "key", "units"),
    [
        ("counter", "k" * 504, 504),
        ("counter", "k" * 5000, 5000),
        ("counter", "^" * 252, 504),
        ("counter", "\U0001f600" * 252, 504),
    ],
)
def test_keys_storage_cannot_hold_are_refused_with_the_limit(name, key, units):
    with pytest.raises(EntityIdError) as raised:
        EntityId(name, key).validate()
    message = str(raised.value)
    assert message.startswith("Entity keys of 'counter' must not exceed 503 characters")
    assert f"this one has {units}." in message and len(message) < 300


def test_an_entity_name_that_leaves_no_room_for_a_key_is_refused():
    with pytest.raises(EntityIdError, match=r"Entity name 'nnnn.*' is too long: .* at most 512 UTF-16"):
        EntityId("n" * 510, "k").validate()


def test_request_messages_omit_defaults():
    signal = json.loads(request_json("add", input_text='"5"', signal=True, request_id="r1"))
    assert signal == {"op": "add", "signal": True, "input": '"5"', "id": "r1"}
    call = json.loads(request_json("get", input_text=None, signal=False, request_id="r2", parent="p",
                                   parent_execution="e"))  # fmt: skip
    assert call == {"op": "get", "id": "r2", "parent": "p", "parentExecution": "e"}


def test_a_batch_and_its_results_round_trip_the_scheduler_state():
    state = SchedulerState(exists=True, state="6")
    requests = [Request("add", '"5"', True, "a"), Request("get", '"null"', False, "b", "p", "e")]
    payload = json.loads(batch_json(EntityId("Counter", "k"), state, requests))
    assert payload["self"] == {"name": "counter", "key": "k"} and payload["state"] == "6"
    assert payload["batch"][0] == {"name": "add", "input": '"5"', "isSignal": True}
    output = json.dumps({"entityExists": True, "entityState": "11", "results": [
        {"isError": False, "result": "null"}, {"isError": True, "result": '"bad"'}], "signals": []})  # fmt: skip
    new_state, responses = apply_batch_result(state, requests, output)
    assert new_state.state == "11" and json.loads(new_state.to_json())["exists"] is True
    assert json.loads(responses[1].event_input()) == {"result": '"bad"', "exceptionType": "Error"}
    assert json.loads(new_state.custom_status()) == {"entityExists": True, "queueSize": 0, "lockedBy": None}


def test_scheduled_signal_names_carry_their_time():
    assert scheduled_time("op") is None
    assert scheduled_time("op@2024-05-01T10:00:00.0000000Z") == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
