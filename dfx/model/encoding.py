"""The three wire forms of a history event, and .NET date-time text.

* SDK JSON (host-protocol §2.2): PascalCase members, ``EventType`` as an integer, nested objects
  without ``$type``, nulls included — what the orchestrator ``handle`` receives.
* Queue JSON (storage-layout §5.4): the same members in Newtonsoft's order, with ``$type`` on the event
  and on every nested object.
* Table entity (storage-layout §3.2-3.3): one column per member, ``EventType`` and statuses as names,
  ``_Timestamp`` for the event time, nested objects as compact JSON text (``"null"`` when absent), null
  strings and numbers left out.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from dfx.model.history import (
    DICT_DOTNET_TYPES,
    EVENT_CLASSES,
    EVENT_CLASSES_BY_NAME,
    EventType,
    FieldKind,
    FieldSpec,
    HistoryEvent,
    OrchestrationStatus,
)

# ---------------------------------------------------------------------------------------------------
# Date-times

_DOTNET_DATETIME = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def format_datetime(value: datetime) -> str:
    """.NET round-trip text of a UTC time: ``2024-05-01T10:00:00.51Z`` (fraction trimmed, none if zero)."""
    value = to_utc(value)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_datetime_seconds(value: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ``, the form of ``createdTime`` / ``lastUpdatedTime`` in status JSON."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """Parse ISO-8601 / .NET round-trip text (up to 9 fraction digits) into an aware UTC datetime."""
    match = _DOTNET_DATETIME.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 date-time: {text!r}")
    value = datetime.fromisoformat(match["base"])
    frac = match["frac"]
    if frac:
        value = value.replace(microsecond=int(frac[:6].ljust(6, "0")))
    tz = match["tz"]
    if tz and tz != "Z":
        value = datetime.fromisoformat(match["base"] + tz[:3] + ":" + tz[-2:]).replace(microsecond=value.microsecond)
        return value.astimezone(timezone.utc)
    return value.replace(tzinfo=timezone.utc)


def to_utc(value: datetime) -> datetime:
    """Treat naive values as UTC (as DTFx does with unspecified kinds) and convert aware ones."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def compact_json(value: Any) -> str:
    """JSON text the way Newtonsoft writes it: no spaces, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------
# Field values


def _strip_types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_types(v) for k, v in value.items() if k != "$type"}
    if isinstance(value, list):
        return [_strip_types(v) for v in value]
    return value


def _add_types(value: Any, dotnet_type: str | None) -> Any:
    """Add ``$type`` first to a nested object, as Newtonsoft's TypeNameHandling.Objects does."""
    if not isinstance(value, dict):
        return value
    typed: dict[str, Any] = {"$type": dotnet_type} if dotnet_type else {}
    for key, item in value.items():
        if key == "OrchestrationInstance" and isinstance(item, dict):
            item = _add_types(item, "DurableTask.Core.OrchestrationInstance")
        elif key == "InnerFailure" and isinstance(item, dict):
            item = _add_types(item, "DurableTask.Core.FailureDetails")
        typed[key] = item
    return typed


def _object_json(event: HistoryEvent, spec: FieldSpec, *, typed: bool) -> Any:
    value = getattr(event, spec.attr)
    if value is None:
        return None
    if spec.kind is FieldKind.OBJECT:
        data = value.to_json()
        return _add_types(data, getattr(spec.nested, "dotnet_type", None)) if typed else data
    if typed:
        return _add_types(dict(value), DICT_DOTNET_TYPES.get(spec.attr))
    return dict(value)


def _json_value(event: HistoryEvent, spec: FieldSpec, *, typed: bool) -> Any:
    value = getattr(event, spec.attr)
    if spec.kind in (FieldKind.OBJECT, FieldKind.DICT):
        return _object_json(event, spec, typed=typed)
    if value is None:
        return None
    if spec.kind is FieldKind.DATETIME:
        return format_datetime(value)
    if spec.kind is FieldKind.STATUS:
        return int(value)
    return value


def _from_json_value(spec: FieldSpec, raw: Any) -> Any:
    if raw is None:
        return None
    if spec.kind is FieldKind.DATETIME:
        return raw if isinstance(raw, datetime) else parse_datetime(str(raw))
    if spec.kind is FieldKind.STATUS:
        return OrchestrationStatus[raw] if isinstance(raw, str) else OrchestrationStatus(int(raw))
    if spec.kind is FieldKind.OBJECT:
        assert spec.nested is not None
        return spec.nested.from_json(_strip_types(raw))  # type: ignore[attr-defined]
    if spec.kind is FieldKind.DICT:
        return _strip_types(raw)
    if spec.kind is FieldKind.INT:
        return int(raw)
    if spec.kind is FieldKind.BOOL:
        return bool(raw)
    return raw


def _event_json(event: HistoryEvent, *, typed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"$type": event.dotnet_class} if typed else {}
    lead = len(event.leading)
    for spec in event.type_fields[:lead]:
        out[spec.wire] = _json_value(event, spec, typed=typed)
    out["EventType"] = int(event.event_type)
    for spec in event.type_fields[lead:]:
        out[spec.wire] = _json_value(event, spec, typed=typed)
    for spec in event.common_fields:
        out[spec.wire] = _json_value(event, spec, typed=typed)
    return out


def _event_from_json(data: dict[str, Any]) -> HistoryEvent:
    try:
        cls = EVENT_CLASSES[EventType(int(data["EventType"]))]
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a known history event: EventType={data.get('EventType')!r}") from exc
    kwargs: dict[str, Any] = {}
    for spec in (*cls.type_fields, *cls.common_fields):
        if spec.wire in data:
            kwargs[spec.attr] = _from_json_value(spec, data[spec.wire])
    if kwargs.get("timestamp") is None:
        kwargs.pop("timestamp", None)
    return cls(**kwargs)


# ---------------------------------------------------------------------------------------------------
# The three encoders


def to_sdk_json(event: HistoryEvent) -> dict[str, Any]:
    """The event as the Python SDK receives it inside the orchestration context JSON."""
    return _event_json(event, typed=False)


def from_sdk_json(data: dict[str, Any]) -> HistoryEvent:
    """Read an event in SDK JSON form (``$type`` keys, if any, are ignored)."""
    return _event_from_json(data)


def to_queue_json(event: HistoryEvent) -> dict[str, Any]:
    """The event as it travels inside a queue message's ``TaskMessage.Event`` (with ``$type``)."""
    return _event_json(event, typed=True)


def from_queue_json(data: dict[str, Any]) -> HistoryEvent:
    """Read the ``Event`` of a queue message; every ``$type`` is ignored."""
    return _event_from_json(data)


def to_table_entity(event: HistoryEvent, *, instance_key: str, row_key: str, execution_id: str) -> dict[str, Any]:
    """The History table row of ``event`` (before large-column offloading)."""
    row: dict[str, Any] = {
        "PartitionKey": instance_key,
        "RowKey": row_key,
        "ExecutionId": execution_id,
        "EventType": event.event_type.name,
    }
    for spec in event.type_fields:
        value = getattr(event, spec.attr)
        if spec.kind in (FieldKind.OBJECT, FieldKind.DICT):
            row[spec.wire] = "null" if value is None else compact_json(_object_json(event, spec, typed=False))
        elif value is None:
            continue
        elif spec.kind is FieldKind.STATUS:
            row[spec.wire] = value.name
        elif spec.kind is FieldKind.DATETIME:
            row[spec.wire] = to_utc(value)
        else:
            row[spec.wire] = value
    row["EventId"] = event.event_id
    row["IsPlayed"] = event.is_played
    row["_Timestamp"] = to_utc(event.timestamp)
    return row


def from_table_entity(row: dict[str, Any]) -> HistoryEvent:
    """Read a History table row (already inflated from blobs) back into an event."""
    name = row.get("EventType")
    cls = EVENT_CLASSES_BY_NAME.get(str(name))
    if cls is None:
        raise ValueError(f"not a known history event type: {name!r}")
    kwargs: dict[str, Any] = {}
    for spec in cls.type_fields:
        if spec.wire not in row:
            continue
        raw = row[spec.wire]
        if spec.kind in (FieldKind.OBJECT, FieldKind.DICT):
            raw = None if raw in (None, "", "null") else json.loads(raw)
        kwargs[spec.attr] = _from_json_value(spec, raw)
    if "EventId" in row:
        kwargs["event_id"] = int(row["EventId"])
    if "IsPlayed" in row:
        kwargs["is_played"] = bool(row["IsPlayed"])
    if row.get("_Timestamp") is not None:
        kwargs["timestamp"] = _from_json_value(
            FieldSpec("timestamp", "_Timestamp", FieldKind.DATETIME), row["_Timestamp"]
        )
    return cls(**kwargs)
