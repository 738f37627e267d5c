"""Why an instance failed, read from its history rows: the failure text, its error type and stack trace.

The engine ends a failed execution with ``ExecutionCompleted`` (OrchestrationStatus Failed) whose Result is
"Orchestrator function 'x' failed: …" and, when the SDK gave one, a FailureDetails column. Failed activities
are ``TaskFailed`` rows with a Reason ("Activity function 'y' failed:  ValueError: boom") and Details JSON in
the host's exception shape (Message, StackTraceString); failed sub-orchestrations are
``SubOrchestrationInstanceFailed`` rows. All of it is plain data here: rows in, a ``Failure`` out.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

_ERROR_TYPE_IN_TEXT = re.compile(r"failed:\s+([A-Za-z_][\w.]*):\s")
_TRACEBACK_LAST_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s|$)")


@dataclass
class FailedTask:
    """An activity or sub-orchestration that failed in the execution (caught or not)."""

    kind: str  # "activity" or "sub-orchestration"
    name: str | None
    task_id: int
    reason: str | None
    error_type: str | None = None
    stack_trace: str | None = None
    instance_id: str | None = None  # of a sub-orchestration


@dataclass
class Failure:
    """What the history says about a failed execution."""

    message: str | None
    error_type: str | None = None
    stack_trace: str | None = None
    failed_tasks: list[FailedTask] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            "message": data["message"],
            "errorType": data["error_type"],
            "stackTrace": data["stack_trace"],
            "failedTasks": [
                {"kind": t["kind"], "name": t["name"], "taskId": t["task_id"], "reason": t["reason"],
                 "errorType": t["error_type"], "stackTrace": t["stack_trace"], "instanceId": t["instance_id"]}
                for t in data["failed_tasks"]
            ],
        }  # fmt: skip


def _json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def error_type_of(message: str | None, stack_trace: str | None) -> str | None:
    """The exception type: the last line of a Python traceback, else the last "failed:  Type: …" of a message."""
    if stack_trace:
        lines = [line for line in stack_trace.strip().splitlines() if line.strip()]
        if lines and (match := _TRACEBACK_LAST_LINE.match(lines[-1])) and lines[0].startswith("Traceback"):
            return match.group(1)
    if message:
        found = _ERROR_TYPE_IN_TEXT.findall(message)
        if found:
            return str(found[-1])
    return None


def _details(row: dict[str, Any]) -> tuple[str | None, str | None]:
    """The (error type, stack trace) a failed task row carries in FailureDetails or the host's Details JSON."""
    structured = _json_object(row.get("FailureDetails"))
    if structured:
        return structured.get("ErrorType") or None, structured.get("StackTrace")
    details = row.get("Details")
    host = _json_object(details)
    if host is not None:
        return None, host.get("StackTraceString") or None
    if not isinstance(details, str) or not details:
        return None, None
    if details.startswith("Message: ") and ", StackTrace: " in details:  # a failed sub-orchestration's
        return None, details.rpartition(", StackTrace: ")[2].strip() or None
    return None, details


def _without_details(message: str, rows: list[dict[str, Any]]) -> str:
    """The failure text without the failed tasks' Details JSON, which the SDK appends to the reason it quotes."""
    for row in rows:
        details = row.get("Details")
        if isinstance(details, str) and len(details) > 2 and details in message:
            message = message.replace(details, "")
    return "\n".join(line.rstrip() for line in message.strip().splitlines() if line.strip())


def failure_of(rows: list[dict[str, Any]], output: str | None = None) -> Failure:
    """The failure of an execution from its rows; ``output`` (the Instances Output) when no row says more."""
    scheduled = {
        row.get("EventId"): row
        for row in rows
        if row.get("EventType") in ("TaskScheduled", "SubOrchestrationInstanceCreated")
    }
    failure = Failure(message=output)
    for row in rows:
        kind = row.get("EventType")
        if kind in ("TaskFailed", "SubOrchestrationInstanceFailed"):
            task_id = int(row.get("TaskScheduledId", -1))
            source = scheduled.get(task_id, {})
            error_type, stack = _details(row)
            reason = row.get("Reason")
            failure.failed_tasks.append(
                FailedTask(
                    kind="activity" if kind == "TaskFailed" else "sub-orchestration",
                    name=source.get("Name"),
                    task_id=task_id,
                    reason=reason,
                    error_type=error_type or error_type_of(reason, stack),
                    stack_trace=stack,
                    instance_id=source.get("InstanceId"),
                )
            )
        elif kind == "ExecutionCompleted" and row.get("OrchestrationStatus") == "Failed":
            structured = _json_object(row.get("FailureDetails"))
            if structured:
                failure.message = structured.get("ErrorMessage") or row.get("Result") or output
                failure.error_type = structured.get("ErrorType") or None
                failure.stack_trace = structured.get("StackTrace")
            else:
                failure.message = row.get("Result") or output
    if failure.message:
        failure.message = _without_details(failure.message, rows)
    cause = next(
        (t for t in reversed(failure.failed_tasks) if t.reason and failure.message and t.reason in failure.message),
        None,
    )
    if cause is not None:  # the execution failed because this task did: its type and stack are the answer
        failure.error_type = failure.error_type or cause.error_type
        failure.stack_trace = failure.stack_trace or cause.stack_trace
    failure.error_type = failure.error_type or error_type_of(failure.message, failure.stack_trace)
    return failure
