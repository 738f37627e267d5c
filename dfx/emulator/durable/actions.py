"""What an orchestrator asked for in one episode: the SDK's OrchestratorState JSON as typed actions.

host-protocol §2.4–2.5; bare section numbers below refer to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from dfx.model.encoding import parse_datetime

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
#: The TaskScheduled name of ``context.call_http`` requests, run by the host itself (host-protocol §6).
HTTP_ACTIVITY = "BuiltIn::HttpActivity"
#: DF's retry defaults for the options the Python SDK does not send (host-protocol §2.5).
DEFAULT_MAX_RETRY_INTERVAL = timedelta(days=6)


class ActionType(IntEnum):
    """The ``actionType`` numbers of the out-of-process protocol."""

    CallActivity = 0
    CallActivityWithRetry = 1
    CallSubOrchestrator = 2
    CallSubOrchestratorWithRetry = 3
    ContinueAsNew = 4
    CreateTimer = 5
    WaitForExternalEvent = 6
    CallEntity = 7
    CallHttp = 8
    SignalEntity = 9
    ScheduledSignalEntity = 10
    WhenAny = 11
    WhenAll = 12


class ActionError(ValueError):
    """An orchestrator result dfx cannot understand (a malformed payload, an unknown action type)."""


@dataclass(frozen=True)
class RetryOptions:
    """``retryOptions`` of a retried call; delays as DTFx's RetryInterceptor computes them."""

    first_retry_interval: timedelta
    max_attempts: int
    backoff_coefficient: float = 1.0
    max_retry_interval: timedelta = DEFAULT_MAX_RETRY_INTERVAL

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        seconds = self.first_retry_interval.total_seconds() * self.backoff_coefficient ** (attempt - 1)
        return min(timedelta(seconds=seconds), self.max_retry_interval)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetryOptions:
        first = data.get("firstRetryIntervalInMilliseconds")
        attempts = data.get("maxNumberOfAttempts")
        if not isinstance(first, int) or first <= 0 or not isinstance(attempts, int):
            raise ActionError(f"retryOptions need a positive firstRetryIntervalInMilliseconds: {data}")
        max_interval = data.get("maxRetryIntervalInMilliseconds")
        return cls(
            first_retry_interval=timedelta(milliseconds=first),
            max_attempts=attempts,
            backoff_coefficient=float(data.get("backoffCoefficient") or 1.0),
            max_retry_interval=timedelta(milliseconds=max_interval) if max_interval else DEFAULT_MAX_RETRY_INTERVAL,
        )


@dataclass(frozen=True)
class Action:
    """One action of the list; ``children`` only for WhenAll/WhenAny."""

    type: ActionType
    name: str | None = None
    input: str | None = None
    instance_id: str | None = None
    version: str | None = None
    retry: RetryOptions | None = None
    fire_at: datetime | None = None
    is_canceled: bool = False
    operation: str | None = None
    http_request: dict[str, Any] | None = None
    children: tuple[Action, ...] = ()

    @property
    def is_compound(self) -> bool:
        return self.type in (ActionType.WhenAll, ActionType.WhenAny)

    @property
    def takes_id(self) -> bool:
        """Whether the action consumes a sequence number (§2.7)."""
        return self.type not in (
            ActionType.WaitForExternalEvent,
            ActionType.ContinueAsNew,
            ActionType.WhenAll,
            ActionType.WhenAny,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Action:
        try:
            raw = data["actionType"]
            kind = ActionType[raw] if isinstance(raw, str) else ActionType(int(raw))
        except (KeyError, ValueError, TypeError) as exc:
            raise ActionError(f"unknown action {data!r}") from exc
        retry = data.get("retryOptions")
        fire_at = data.get("fireAt")
        return cls(
            type=kind,
            name=data.get("functionName") or data.get("externalEventName"),
            input=data.get("input"),
            instance_id=data.get("instanceId"),
            version=data.get("version"),
            retry=RetryOptions.from_json(retry) if isinstance(retry, dict) else None,
            fire_at=parse_datetime(fire_at) if isinstance(fire_at, str) else None,
            is_canceled=bool(data.get("isCanceled")),
            operation=data.get("operation"),
            http_request=data.get("httpRequest"),
            children=tuple(cls.from_json(c) for c in data.get("compoundActions") or ()),
        )


@dataclass
class OrchestratorResult:
    """One call of the SDK's ``handle``: done or not, the cumulative actions, output, error, custom status."""

    is_done: bool = False
    actions: list[Action] = field(default_factory=list)
    output: Any = None
    has_output: bool = False
    error: str | None = None
    custom_status: Any = None
    failed: bool = False

    @classmethod
    def from_state_json(cls, text: str, *, failed: bool = False) -> OrchestratorResult:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ActionError(f"the orchestrator returned invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ActionError("the orchestrator returned something other than a JSON object")
        raw = data.get("actions") or []
        if data.get("schemaVersion") is None:  # V1: one list per yield
            flat = [a for group in raw for a in group]
        else:
            if len(raw) > 1:
                raise ActionError(
                    f"With OOProc schema V2, expected actions array to be of length 1 in outer layer but got {len(raw)}"
                )
            flat = raw[0] if raw else []
        return cls(
            is_done=bool(data.get("isDone")),
            actions=[Action.from_json(a) for a in flat],
            output=data.get("output"),
            has_output="output" in data,
            error=data.get("error"),
            custom_status=data.get("customStatus"),
            failed=failed,
        )

    @classmethod
    def from_exception(cls, exc: BaseException) -> OrchestratorResult:
        """The failure envelope (``$OutOfProcData$``), or a bare exception from a non-generator function."""
        text = str(exc)
        if OUT_OF_PROC_MARKER in text:
            message, _, state = text.partition(OUT_OF_PROC_MARKER)
            result = cls.from_state_json(state, failed=True)
            result.failed = True
            result.error = result.error if result.error is not None else message
            return result
        return cls(is_done=True, failed=True, error=f"{type(exc).__name__}: {exc}")
