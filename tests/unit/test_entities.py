"""Entity ids, request messages, scheduler state and batches as pure functions (host-protocol §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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
    assert scheduled_time("op@2024-05-01T10:00:00.0000000Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
