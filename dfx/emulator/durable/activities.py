"""Run one activity work item the way the worker and the extension do, and describe its reply.

host-protocol §1.5–1.6 and §2.14.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from azure.functions import meta

from dfx.emulator.durable.actions import HTTP_ACTIVITY
from dfx.emulator.worker.functions import ACTIVITY_TRIGGER, FunctionIndex
from dfx.emulator.worker.invoker import Invoker
from dfx.model.encoding import compact_json
from dfx.model.history import HistoryEvent, TaskCompletedEvent, TaskFailedEvent, TaskScheduledEvent


def decode_input(text: str | None) -> Any:
    """The activity argument, as the worker's ActivityTrigger converter builds it from the input text."""
    converter = meta.get_binding_registry().get(ACTIVITY_TRIGGER)
    return converter.decode(meta.Datum(text if text is not None else "null", "string"), trigger_metadata=None)


def encode_output(value: Any) -> str | None:
    """The ``TaskCompleted.Result``: the converter's JSON, re-serialized compactly as the host stores it."""
    converter = meta.get_binding_registry().get(ACTIVITY_TRIGGER)
    datum = converter.encode(value, expected_type=None)
    text = datum.value if datum is not None else None
    if text is None:
        return None
    parsed = json.loads(text)
    return None if parsed is None else compact_json(parsed)


def failure_details(exc: BaseException) -> str:
    """A small ``Details`` JSON in the shape of the host's exception (only the message is observable)."""
    message = f" {type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(exc)).rstrip()
    return compact_json(
        {
            "$type": "System.Exception, System.Private.CoreLib",
            "ClassName": "System.Exception",
            "Message": message,
            "Data": None,
            "InnerException": None,
            "HelpURL": None,
            "StackTraceString": stack,
            "HResult": -2146233088,
        }
    )


def unknown_activity(name: str, index: FunctionIndex) -> TaskFailedEvent:
    reason = index.missing_message(ACTIVITY_TRIGGER, name)
    return TaskFailedEvent(reason=reason, details=compact_json({"Message": reason}))


#: Content headers are not part of the response headers the extension hands back (host-protocol §6).
_CONTENT_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "content-language",
                              "content-location", "content-md5", "content-range", "content-disposition",
                              "expires", "last-modified", "allow"})  # fmt: skip


def _http_failure(scheduled: TaskScheduledEvent, message: str) -> TaskFailedEvent:
    return TaskFailedEvent(
        task_scheduled_id=scheduled.event_id, reason=message, details=compact_json({"Message": message})
    )


async def run_http_activity(scheduled: TaskScheduledEvent) -> HistoryEvent:
    """``context.call_http``: one request, its first response returned as-is (no 202 polling for Python)."""
    import aiohttp

    try:
        request = json.loads(scheduled.input or "null")
        method, uri = str(request["method"]).upper(), str(request["uri"])
    except (ValueError, KeyError, TypeError) as exc:
        return _http_failure(scheduled, f"The durable HTTP request is malformed: {exc}")
    if request.get("tokenSource"):
        resource = request["tokenSource"].get("resource", "")
        return _http_failure(
            scheduled,
            f"Managed identity tokens (resource {resource!r}) cannot be acquired by a local dfx host. Call the "
            "endpoint without token_source locally, or pass an Authorization header you obtained yourself.",
        )
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    content = request.get("content")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content is not None and content_type is None:
        headers["Content-Type"] = "text/plain"
    if content_type and content_type.lower().startswith("multipart"):
        return _http_failure(scheduled, "Multipart content is not supported with durable HTTP requests.")
    try:
        async with aiohttp.ClientSession() as session, session.request(
            method, uri, data=content.encode("utf-8") if isinstance(content, str) else None, headers=headers,
            allow_redirects=False,
        ) as response:  # fmt: skip
            text = await response.text(errors="replace")
            out_headers: dict[str, Any] = {}
            for name in response.headers:
                if name.lower() in _CONTENT_HEADERS or name in out_headers:
                    continue
                values = response.headers.getall(name)
                out_headers[name] = values[0] if len(values) == 1 else values
            result = {"statusCode": response.status, "headers": out_headers, "content": text}
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return _http_failure(scheduled, f"{type(exc).__name__}: {exc}")
    return TaskCompletedEvent(task_scheduled_id=scheduled.event_id, result=compact_json(result))


async def run_activity(
    scheduled: TaskScheduledEvent, index: FunctionIndex, invoker: Invoker, invocation_id: str
) -> HistoryEvent:
    """Invoke the activity ``scheduled`` names and return its TaskCompleted or TaskFailed (unaddressed)."""
    name = scheduled.name or ""
    if name == HTTP_ACTIVITY:
        return await run_http_activity(scheduled)
    function = index.durable(ACTIVITY_TRIGGER, name)
    if function is None:
        failed = unknown_activity(name, index)
        failed.task_scheduled_id = scheduled.event_id
        return failed
    try:
        argument = decode_input(scheduled.input)
        parameter = function.trigger.name
        invocation = await invoker.invoke(function, {parameter: argument}, invocation_id=invocation_id)
        result = encode_output(invocation.return_value)
    except Exception as exc:
        return TaskFailedEvent(
            task_scheduled_id=scheduled.event_id,
            reason=f"Activity function '{function.name}' failed:  {type(exc).__name__}: {exc}",
            details=failure_details(exc),
        )
    return TaskCompletedEvent(task_scheduled_id=scheduled.event_id, result=result)
