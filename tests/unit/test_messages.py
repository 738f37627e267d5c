"""The MessageData / TaskMessage envelope (storage-layout §5.3-§5.7)."""

import base64
import json

import pytest

from dfx.emulator.storage.errors import PayloadLimitError
from dfx.emulator.storage.messages import (
    MessageData,
    MessageFormatError,
    TaskMessage,
    blob_reference,
    decode_body,
)
from dfx.emulator.storage.queues import abandon_delay, delay_seconds
from dfx.model.history import OrchestrationInstance, TaskCompletedEvent, TaskScheduledEvent


def _message(**kw) -> MessageData:
    task = TaskMessage(
        event=TaskCompletedEvent(task_scheduled_id=0, result='"ok"'),
        orchestration_instance=OrchestrationInstance("abc", "e1"),
    )
    return MessageData(task_message=task, sequence_number=6, **kw)


def test_envelope_has_the_provider_shape():
    data = json.loads(_message(episode=3, sender=OrchestrationInstance("abc", "e1")).encode())
    assert list(data) == [
        "$type", "ActivityId", "TaskMessage", "CompressedBlobName", "SequenceNumber", "Episode", "Sender",
        "SerializableTraceContext",
    ]  # fmt: skip
    assert data["$type"] == "DurableTask.AzureStorage.MessageData"
    assert data["TaskMessage"]["$type"] == "DurableTask.Core.TaskMessage"
    assert data["TaskMessage"]["OrchestrationInstance"] == {
        "$type": "DurableTask.Core.OrchestrationInstance", "InstanceId": "abc", "ExecutionId": "e1"
    }  # fmt: skip
    assert data["TaskMessage"]["Event"]["EventType"] == 5
    assert data["Sender"] == {"InstanceId": "abc", "ExecutionId": "e1"}  # no $type on Sender
    assert data["Episode"] == 3


def test_client_messages_omit_episode_and_sender():
    data = json.loads(_message().encode())
    assert "Episode" not in data and "Sender" not in data


def test_envelope_is_compact_json():
    assert ", " not in _message().encode() and '": ' not in _message().encode()


def test_execution_context_tags_are_typed_dictionaries():
    task = TaskMessage(
        event=TaskScheduledEvent(event_id=0, name="hello", input='"x"'),
        orchestration_instance=OrchestrationInstance("abc", "e1"),
        execution_tags={"k": "v"},
    )
    data = task.to_json()
    assert data["OrchestrationExecutionContext"]["$type"] == "DurableTask.Core.OrchestrationExecutionContext"
    assert data["OrchestrationExecutionContext"]["OrchestrationTags"]["k"] == "v"
    assert TaskMessage.from_json(json.loads(json.dumps(data))).execution_tags == {"k": "v"}


def test_decode_reads_raw_json_and_v1_base64_bodies():
    message = _message()
    text = message.encode()
    assert MessageData.from_json(decode_body(text)) == message
    legacy = base64.b64encode(text.encode()).decode()
    assert MessageData.from_json(decode_body(legacy)) == message


@pytest.mark.parametrize("body", ["not json at all", "[1, 2]", "{broken"])
def test_unreadable_bodies_raise_a_format_error(body):
    with pytest.raises(MessageFormatError):
        decode_body(body)


def test_blob_reference_wrapper_has_no_task_message():
    data = json.loads(blob_reference("abc/message-x-TaskCompleted.json.gz"))
    assert data["TaskMessage"] is None and data["ActivityId"] == "00000000-0000-0000-0000-000000000000"
    assert "Episode" not in data and "Sender" not in data


@pytest.mark.parametrize(("count", "delay"), [(1, 2), (2, 4), (9, 512), (10, 600), (31, 600), (1000, 600)])
def test_abandon_back_off_is_min_of_two_to_the_dequeue_count_and_600(count, delay):
    assert abandon_delay(count) == delay


def test_delays_round_up_to_whole_seconds_and_stop_at_seven_days():
    assert delay_seconds(None) == 0
    assert delay_seconds(-5) == 0
    assert delay_seconds(1.2) == 2
    assert delay_seconds(7 * 24 * 3600) == 7 * 24 * 3600
    with pytest.raises(PayloadLimitError, match="at most 7 days"):
        delay_seconds(7 * 24 * 3600 + 1)
