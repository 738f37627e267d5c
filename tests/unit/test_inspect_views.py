"""The pure parts of the inspect views: failures from history rows, children for the tree, instance sorting
and name filters, peeked queue messages, and the history table's cells."""

from __future__ import annotations

import importlib
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.queue import QueueMessage
from rich.cells import cell_len
from rich.console import Console

from dfx.cli.inspect.common import format_duration
from dfx.cli.inspect.failures import error_type_of, failure_of
from dfx.cli.inspect.history import HistoryTable, history_cells, history_columns
from dfx.cli.inspect.instances import SortKey, name_filter, sort_records
from dfx.cli.inspect.queues import message_detail
from dfx.cli.inspect.tree import ChildRef, children_of
from dfx.emulator.durable.activities import failure_details
from dfx.emulator.storage.instances_table import InstanceRecord
from dfx.emulator.storage.messages import MessageData, TaskMessage
from dfx.emulator.storage.peeked import peeked_message
from dfx.model.history import OrchestrationInstance, OrchestrationStatus, TaskScheduledEvent

T0 = datetime(2026, 1, 31, 12, 0, 0, tzinfo=timezone.utc)


def raised() -> str:
    try:
        raise KeyError("card")
    except KeyError as exc:
        return failure_details(exc)


def test_an_activity_failure_gives_the_error_type_and_the_activitys_stack_trace():
    reason = "Activity function 'charge' failed:  KeyError: 'card'"
    rows = [
        {"EventType": "TaskScheduled", "EventId": 0, "Name": "charge"},
        {"EventType": "TaskFailed", "TaskScheduledId": 0, "Reason": reason, "Details": raised()},
        {"EventType": "ExecutionCompleted", "OrchestrationStatus": "Failed", "FailureDetails": "null",
         "Result": f"Orchestrator function 'pay' failed: {reason}"},
    ]  # fmt: skip
    failure = failure_of(rows, output="ignored when the row says")
    assert failure.message == f"Orchestrator function 'pay' failed: {reason}"
    assert failure.error_type == "KeyError"
    assert failure.stack_trace is not None and failure.stack_trace.startswith("Traceback")
    [task] = failure.failed_tasks
    assert (task.kind, task.name, task.task_id, task.error_type) == ("activity", "charge", 0, "KeyError")


def test_the_details_json_the_sdk_appends_to_a_quoted_failure_is_left_out_of_the_message():
    reason = "Activity function 'charge' failed:  KeyError: 'card'"
    details = raised()
    rows = [
        {"EventType": "TaskFailed", "TaskScheduledId": 0, "Reason": reason, "Details": details},
        {"EventType": "ExecutionCompleted", "OrchestrationStatus": "Failed",
         "Result": f"Orchestrator function 'pay' failed: {reason} \n {details}"},
    ]  # fmt: skip
    failure = failure_of(rows)
    assert failure.message == f"Orchestrator function 'pay' failed: {reason}"
    assert failure.error_type == "KeyError" and "Traceback" in (failure.stack_trace or "")


def test_structured_failure_details_win_over_the_text():
    details = {"ErrorType": "System.TimeoutException", "ErrorMessage": "too slow", "StackTrace": "at X"}
    rows = [{"EventType": "ExecutionCompleted", "OrchestrationStatus": "Failed", "Result": "text",
             "FailureDetails": json.dumps(details)}]  # fmt: skip
    failure = failure_of(rows)
    assert (failure.message, failure.error_type, failure.stack_trace) == ("too slow", "System.TimeoutException", "at X")


def test_a_failed_sub_orchestration_is_named_with_its_instance_id():
    reason = "Orchestrator function 'child' failed: boom"
    rows = [
        {"EventType": "SubOrchestrationInstanceCreated", "EventId": 3, "Name": "child", "InstanceId": "kid"},
        {"EventType": "SubOrchestrationInstanceFailed", "TaskScheduledId": 3, "Reason": reason,
         "Details": f"Message: {reason}, StackTrace: "},
    ]  # fmt: skip
    [task] = failure_of(rows, output=f"Orchestrator function 'parent' failed: {reason}").failed_tasks
    assert (task.kind, task.name, task.instance_id, task.stack_trace) == ("sub-orchestration", "child", "kid", None)


def test_without_history_the_output_is_the_message():
    failure = failure_of([], output="Orchestrator function 'x' failed: ValueError: bad")
    assert failure.message.endswith("bad") and failure.error_type == "ValueError" and failure.failed_tasks == []
    assert failure.to_json()["failedTasks"] == []


def test_the_error_type_comes_from_a_traceback_or_from_the_failure_text():
    assert error_type_of(None, "Traceback (most recent call last):\n  File x\nmodule.CustomError: no") == (
        "module.CustomError"
    )
    assert error_type_of("Orchestrator function 'o' failed: Activity function 'a' failed:  ValueError: v", None) == (
        "ValueError"
    )
    assert error_type_of("Orchestrator function 'o' failed: plain words", None) is None


def test_children_are_the_created_sub_orchestrations_with_the_outcome_the_parent_saw():
    rows = [
        {"EventType": "SubOrchestrationInstanceCreated", "EventId": 0, "Name": "a", "InstanceId": "p:0"},
        {"EventType": "SubOrchestrationInstanceCreated", "EventId": 1, "Name": "b", "InstanceId": "p:1"},
        {"EventType": "SubOrchestrationInstanceCreated", "EventId": 2, "Name": "c", "InstanceId": "p:2"},
        {"EventType": "SubOrchestrationInstanceFailed", "TaskScheduledId": 1},
        {"EventType": "SubOrchestrationInstanceCompleted", "TaskScheduledId": 0},
    ]
    assert children_of(rows) == [
        ChildRef("p:0", "a", 0, "Completed"), ChildRef("p:1", "b", 1, "Failed"), ChildRef("p:2", "c", 2, None)
    ]  # fmt: skip


def record(instance_id: str, name: str, status: str, minutes: int) -> InstanceRecord:
    when = T0 + timedelta(minutes=minutes)
    return InstanceRecord(instance_id, name, OrchestrationStatus[status], created_time=when, last_updated_time=when)


RECORDS = [record("x", "beta", "Running", 2), record("y", "Alpha", "Failed", 1), record("z", "alpha", "Completed", 2)]


def test_sorting_puts_the_newest_first_and_names_a_to_z_by_default():
    assert [r.instance_id for r in sort_records(RECORDS, SortKey.created, None)] == ["x", "z", "y"]
    assert [r.instance_id for r in sort_records(RECORDS, SortKey.created, False)] == ["y", "x", "z"]
    assert [r.instance_id for r in sort_records(RECORDS, SortKey.name, None)] == ["y", "z", "x"]
    assert [r.instance_id for r in sort_records(RECORDS, SortKey.status, True)] == ["x", "y", "z"]


def test_the_name_filter_is_exact_or_a_prefix_range():
    assert name_filter("Hello") == "(Name eq 'Hello')"
    assert name_filter("He'llo*") == "(Name ge 'He''llo' and Name lt 'He''llp')"


def test_a_peeked_message_is_described_by_its_event_target_and_age():
    data = MessageData(
        TaskMessage(TaskScheduledEvent(event_id=3, name="hello"), OrchestrationInstance("i1", "e1")), sequence_number=7
    )
    raw = QueueMessage(content=data.encode(), id="m1", inserted_on=T0, dequeue_count=6)
    peeked = peeked_message("q", raw, data)
    assert (peeked.event_type, peeked.instance_id, peeked.execution_id, peeked.sequence_number) == (
        "TaskScheduled", "i1", "e1", 7
    )  # fmt: skip
    age = peeked.age_seconds(T0 + timedelta(seconds=90))
    assert (message_detail(peeked), peeked.dequeue_count, age, peeked.in_blob) == ("hello", 6, 90.0, False)
    unreadable = peeked_message("q", QueueMessage(content="junk", id="m2", dequeue_count=0), None)
    assert unreadable.event_type is None and unreadable.age_seconds(T0) is None


def test_history_cells_number_the_rows_and_time_them_from_the_start():
    row = {"RowKey": "000000000000000A", "PartitionKey": "p", "EventType": "TaskFailed", "Reason": "why",
           "_Timestamp": T0 + timedelta(seconds=1.5)}  # fmt: skip
    assert history_cells(row, T0, full=False) == ["10", "p", "TaskFailed", "12:00:01.500", "+1.500s", "", "", "why",
                                                  "Failed"]  # fmt: skip


# The History rows of dfx init's app, started without a body: no row holds an Input (TaskScheduled rows keep none).
INSTANCE = "9f1c2d3e4b5a69788796a5b4c3d2e1f0"
EVENTS = [("OrchestratorStarted", {}), ("ExecutionStarted", {"Name": "hello_orchestrator"}),
          ("TaskScheduled", {"Name": "hello"}), ("OrchestratorCompleted", {}), ("OrchestratorStarted", {}),
          ("TaskCompleted", {"Result": '"Hello Tokyo"'}), ("TaskScheduled", {"Name": "hello"}),
          ("OrchestratorCompleted", {}), ("OrchestratorStarted", {}), ("TaskCompleted", {"Result": '"Hello Seattle"'}),
          ("ExecutionCompleted", {"Result": '["Hello Tokyo", "Hello Seattle"]', "OrchestrationStatus": "Completed"}),
          ("OrchestratorCompleted", {})]  # fmt: skip
HISTORY_ROWS = [
    {"RowKey": f"{n:016X}", "PartitionKey": INSTANCE, "EventType": event, **columns,
     "_Timestamp": T0 + timedelta(milliseconds=40 * n)}
    for n, (event, columns) in enumerate(EVENTS)
]  # fmt: skip


def drawn_history(monkeypatch: pytest.MonkeyPatch, width: int, *, follow: bool) -> tuple[str, dict[str, int]]:
    """The history table as printed on a terminal ``width`` cells wide, and the width of each column."""
    console = Console(file=io.StringIO(), width=width, color_system=None)
    monkeypatch.setattr(importlib.import_module("dfx.cli.inspect.history"), "out", console)
    table = HistoryTable("TestHubName", INSTANCE, "e1", full=False)
    if follow:  # the first poll finds the first episode's rows; the columns are sized then
        table.add(HISTORY_ROWS[:3])
        table.add(HISTORY_ROWS[3:])
        table.close()
    else:
        table.show(HISTORY_ROWS)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    header = text.splitlines()[2].strip("┃").split("┃")
    assert max(cell_len(line) for line in text.splitlines()[1:]) <= width, text
    names = [column.header for column in history_columns(full=False)]
    return text, {name: cell_len(cell) - 2 for name, cell in zip(names, header, strict=True)}


@pytest.mark.parametrize("follow", [False, True], ids=["whole", "followed"])
def test_at_120_columns_the_columns_with_data_get_the_room(monkeypatch, follow):
    """Input is empty and the PartitionKey repeats the title: they give way, Name and Result are readable."""
    text, widths = drawn_history(monkeypatch, 120, follow=follow)
    assert widths["PartitionKey"] == 4 and widths["Input"] == len("Input"), text
    assert widths["Result"] >= 14 and widths["Name"] >= 14, text
    assert '"Hello Tokyo"' in text and "hello_orchest" in text, text
    assert widths["EventType"] >= len("OrchestratorCompleted"), text


def test_a_followed_history_keeps_room_for_every_event_type_where_the_terminal_has_it(monkeypatch):
    text, widths = drawn_history(monkeypatch, 160, follow=True)
    assert widths["EventType"] == len("SubOrchestrationInstanceCompleted"), text
    assert widths["Result"] >= 25 and widths["Name"] >= 25, text


def test_a_wide_terminal_shows_the_whole_history_as_it_did(monkeypatch):
    text, widths = drawn_history(monkeypatch, 200, follow=False)
    assert widths["PartitionKey"] == 14 and widths["Result"] == len('["Hello Tokyo", "Hello Seattle"]'), text
    assert "hello_orchestrator" in text and '["Hello Tokyo", "Hello Seattle"]' in text, text


def test_durations_read_naturally():
    assert [format_duration(s) for s in (0.25, 12.34, 245, 7380, 2 * 86400 + 3600)] == [
        "250 ms", "12.3 s", "4m 05s", "2h 03m", "2d 01h"
    ]  # fmt: skip
