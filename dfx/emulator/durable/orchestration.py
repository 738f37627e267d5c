"""One orchestration episode as a pure function: history + new events -> SDK call -> new events + messages.

This is the part the Durable Task Framework plays (host-protocol §2.3–2.16): it builds the context JSON,
replays the SDK's cumulative action list against the history with the shared sequence counter (§2.7),
expands retries (§2.9), detects non-determinism (§2.15), applies DTFx's open-task rule before completing
(§2.13), and describes — without doing any I/O — what must be appended and which messages must be sent.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from dfx.emulator.durable.actions import HTTP_ACTIVITY, Action, ActionError, ActionType, OrchestratorResult
from dfx.emulator.durable.entities import OPERATION_EVENT, EntityId, EntityIdError, request_json, sent_request
from dfx.emulator.durable.sorter import request_label
from dfx.model.encoding import compact_json, to_sdk_json
from dfx.model.history import (
    ContinueAsNewEvent,
    EventRaisedEvent,
    EventSentEvent,
    EventType,
    ExecutionCompletedEvent,
    ExecutionResumedEvent,
    ExecutionStartedEvent,
    ExecutionSuspendedEvent,
    ExecutionTerminatedEvent,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    Outcome,
    ParentInstance,
    SubOrchestrationInstanceCompletedEvent,
    SubOrchestrationInstanceCreatedEvent,
    SubOrchestrationInstanceFailedEvent,
    TaskScheduledEvent,
    TimerCreatedEvent,
    TimerFiredEvent,
    answered_task,
    outcome_of,
)

#: DF's timer settings for Azure Storage, sent so the SDK splits long timers (host-protocol §2.10).
MAXIMUM_SHORT_TIMER = "6.00:00:00"
LONG_TIMER_INTERVAL = "3.00:00:00"
#: Events that take a sequence number the replay matches actions against (an EventSent is answered by no
#: completion, but it is numbered all the same).
SCHEDULED_TYPES = (TaskScheduledEvent, TimerCreatedEvent, SubOrchestrationInstanceCreatedEvent, EventSentEvent)
_KIND_WORDS = {
    TaskScheduledEvent: "an activity task",
    TimerCreatedEvent: "a durable timer",
    SubOrchestrationInstanceCreatedEvent: "a sub-orchestration",
    EventSentEvent: "a send-event",
}

Invoke = Callable[[str], str]
MAX_INSTANCE_ID = 256
#: The namespace of every id an episode derives (request ids, child and continue-as-new execution ids).
ID_NAMESPACE = uuid.UUID("5b1d1bd2-8f4e-4c5a-9a51-6b1f3c0d7e21")


class NewId(Protocol):
    """How an episode makes the ids it needs (``derived_id``): given to it, like ``now``, to keep it pure."""

    def __call__(self, instance: OrchestrationInstance, *parts: object) -> uuid.UUID: ...


def derived_id(instance: OrchestrationInstance, *parts: object) -> uuid.UUID:
    """An id that every run of an episode derives alike from the execution and the sequence number.

    Random ids would differ when an episode runs again after a lost commit (the messages of the first run
    were already sent), so an entity would apply an operation twice and a child would start twice.
    """
    return uuid.uuid5(ID_NAMESPACE, "/".join(map(str, (instance.instance_id, instance.execution_id, *parts))))


@dataclass
class Outbound:
    """A message the episode sends once its checkpoint is decided (storage-layout §8.3 step 1)."""

    target: OrchestrationInstance
    event: HistoryEvent
    work_item: bool = False
    """True for activity work (the work-item queue); otherwise the target's control queue."""
    visible_at: datetime | None = None
    """Delay delivery until then (timers)."""


@dataclass
class EpisodeResult:
    """What to persist after one episode: events to append (already in order), messages, row values."""

    appended: list[HistoryEvent] = field(default_factory=list)
    outbound: list[Outbound] = field(default_factory=list)
    status: OrchestrationStatus = OrchestrationStatus.Running
    custom_status: str | None = None
    new_execution: ExecutionStartedEvent | None = None
    """Set by continue-as-new: the history of the new execution starts with ``appended`` from index 0."""
    carried_events: list[HistoryEvent] = field(default_factory=list)
    """External events no wait consumed, handed to the new execution of a continue-as-new."""
    ran_orchestrator: bool = False


class NonDeterminismError(Exception):
    """The code scheduled something other than what the history says it scheduled before."""


def execution_started(history: Sequence[HistoryEvent]) -> ExecutionStartedEvent | None:
    return next((e for e in history if isinstance(e, ExecutionStartedEvent)), None)


def current_status(history: Sequence[HistoryEvent]) -> OrchestrationStatus:
    """The runtime status the stored history implies (Pending when nothing started yet)."""
    status = OrchestrationStatus.Pending
    for event in history:
        if isinstance(event, ExecutionStartedEvent):
            status = OrchestrationStatus.Running
        elif isinstance(event, ExecutionCompletedEvent):
            status = event.orchestration_status
        elif isinstance(event, ExecutionSuspendedEvent):
            status = OrchestrationStatus.Suspended
        elif isinstance(event, ExecutionResumedEvent):
            status = OrchestrationStatus.Running
    return status


def _sdk_text(event: HistoryEvent, played: bool) -> str:
    """The event's SDK JSON text, memoized on the event: a replay re-sends the same past events every episode."""
    memo = event.__dict__.get("_sdk_text")
    if memo is not None and memo[0] == played:
        return str(memo[1])
    data = to_sdk_json(event)
    data["IsPlayed"] = played
    text = json.dumps(data, separators=(",", ":"))
    event.__dict__["_sdk_text"] = (played, text)
    return text


def context_json(instance_id: str, history: Sequence[HistoryEvent], played_before: int) -> str:
    """The orchestration trigger payload (§2.1); events before index ``played_before`` are marked played."""
    started = execution_started(history)
    parent = started.parent_instance if started else None
    stored_input = started.input if started else None
    rest = json.dumps(
        {
            "input": json.loads(stored_input) if stored_input is not None else None,
            "instanceId": instance_id,
            "isReplaying": bool(played_before > 1),
            "parentInstanceId": parent.orchestration_instance.instance_id if parent else None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
            "maximumShortTimerDuration": MAXIMUM_SHORT_TIMER,
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        },
        separators=(",", ":"),
    )
    events = ",".join(_sdk_text(event, index < played_before) for index, event in enumerate(history))
    return '{"history":[' + events + "]," + rest[1:]


def call_orchestrator(invoke: Invoke, payload: str) -> OrchestratorResult:
    """Call the SDK's ``handle`` and read its answer, including the failure envelope."""
    try:
        text = invoke(payload)
    except Exception as exc:
        return OrchestratorResult.from_exception(exc)
    try:
        return OrchestratorResult.from_state_json(text)
    except ActionError as exc:  # an answer dfx cannot read fails the instance instead of retrying for ever
        return OrchestratorResult.from_exception(exc)


@dataclass
class _Retry:
    """A retried call's progress while the history is replayed."""

    action: Action
    attempt_id: int
    attempts: int = 1
    timer_id: int | None = None
    done: bool = False


class _Replay:
    """Replays the action list against the history (§2.7), collecting new events and messages."""

    def __init__(
        self,
        history: Sequence[HistoryEvent],
        *,
        instance: OrchestrationInstance,
        name: str,
        now: datetime,
        new_id: NewId = derived_id,
        default_version: str = "",
    ) -> None:
        self.history = history
        self.new_id = new_id
        self.default_version = default_version
        self.instance = instance
        self.name = name
        self.now = now
        self.counter = 0
        self.scheduled = {e.event_id: e for e in history if isinstance(e, SCHEDULED_TYPES)}
        self.finished = {task[1] for event in history if (task := answered_task(event)) is not None}
        """The sequence numbers of the tasks and timers whose answer is in history."""
        self.last_sent: dict[str, tuple[datetime, datetime]] = {}
        """The label of the last request this execution sent to each entity, and when it was decided."""
        for event in history:  # a label is derived from the sequence number; only labelled requests count
            if not isinstance(event, EventSentEvent) or event.name != OPERATION_EVENT or not event.instance_id:
                continue
            if "Timestamp" in sent_request(event):
                self.last_sent[event.instance_id] = (request_label(event.event_id), event.timestamp)
        self.allocated: set[int] = set()
        self.decisions: list[HistoryEvent] = []
        self.outbound: list[Outbound] = []
        self.open_tasks = 0

    def _next_id(self) -> int:
        value = self.counter
        self.counter += 1
        self.allocated.add(value)
        return value

    def _mismatch(self, event_id: int, existing: HistoryEvent, wanted: str, wanted_name: str | None) -> None:
        kind = _KIND_WORDS.get(type(existing), existing.event_type.name)
        old_name = getattr(existing, "name", None)
        raise NonDeterminismError(
            f"A previous execution of this orchestration scheduled {kind} with sequence number {event_id}"
            f"{f' named {old_name!r}' if old_name else ''}, but the current orchestration replay instead "
            f"scheduled {wanted}{f' named {wanted_name!r}' if wanted_name else ''} with this sequence number.  "
            "Was a change made to the orchestrator code after this instance had already started running?"
        )

    def _existing(self, event_id: int, kind: type[HistoryEvent], name: str | None, wanted: str) -> bool:
        existing = self.scheduled.get(event_id)
        if existing is None:
            return False
        same_name = name is None or (getattr(existing, "name", "") or "").lower() == name.lower()
        if not isinstance(existing, kind) or not same_name:
            self._mismatch(event_id, existing, wanted, name)
        return True

    def timer(self, event_id: int, fire_at: datetime, canceled: bool = False) -> None:
        if not self._existing(event_id, TimerCreatedEvent, None, "a durable timer"):
            self.decisions.append(TimerCreatedEvent(event_id=event_id, fire_at=fire_at, timestamp=self.now))
            if not canceled:
                fired = TimerFiredEvent(timer_id=event_id, fire_at=fire_at, timestamp=self.now)
                self.outbound.append(Outbound(self.instance, fired, visible_at=fire_at))
        if event_id not in self.finished and not canceled:
            self.open_tasks += 1

    def activity(self, event_id: int, name: str, input_text: str | None) -> None:
        if not self._existing(event_id, TaskScheduledEvent, name, "an activity task"):
            self.decisions.append(TaskScheduledEvent(event_id=event_id, name=name, input=None, timestamp=self.now))
            work = TaskScheduledEvent(event_id=event_id, name=name, input=input_text, timestamp=self.now)
            self.outbound.append(Outbound(self.instance, work, work_item=True))
        if event_id not in self.finished:
            self.open_tasks += 1

    def sub_orchestration(self, event_id: int, action: Action) -> None:
        name = action.name or ""
        child_id = action.instance_id or f"{self.instance.execution_id}:{event_id}"
        if child_id.startswith("@") or child_id == self.instance.instance_id:
            raise ActionError(f"Sub-orchestration instance id {child_id!r} is not allowed.")
        if len(child_id) > MAX_INSTANCE_ID:  # the client's limit (host-protocol §7); storage holds no longer key
            raise ActionError(f"Instance ID lengths must not exceed {MAX_INSTANCE_ID} characters.")
        if not self._existing(event_id, SubOrchestrationInstanceCreatedEvent, name, "a sub-orchestration"):
            self.decisions.append(
                SubOrchestrationInstanceCreatedEvent(
                    event_id=event_id, name=name, instance_id=child_id, input=None, timestamp=self.now
                )
            )
            child = OrchestrationInstance(child_id, self.new_id(self.instance, event_id, "child").hex)
            start = ExecutionStartedEvent(
                orchestration_instance=child,
                parent_instance=ParentInstance(
                    name=self.name, orchestration_instance=self.instance, task_schedule_id=event_id
                ),
                name=name,
                version=action.version or self.default_version,
                input=compact_json(action.input) if action.input is not None else None,
                generation=0,
                timestamp=self.now,
            )
            self.outbound.append(Outbound(child, start))
        if event_id not in self.finished:
            self.open_tasks += 1

    def entity_message(self, event_id: int, action: Action, *, signal: bool) -> None:
        """A call or signal to an entity: EventSent in history, the request to the entity (§3.5)."""
        target = action.instance_id or ""
        try:
            EntityId.parse(target).check_size()
        except EntityIdError as exc:  # storage could not hold the entity: its messages would be retried for ever
            raise ActionError(str(exc)) from exc
        if not self._existing(event_id, EventSentEvent, OPERATION_EVENT, "a send-event"):
            predecessor, predecessor_sent = self.last_sent.get(target, (None, None))
            stamp = request_label(event_id)
            self.last_sent[target] = (stamp, self.now)
            request = request_json(
                action.operation or "",
                input_text=json.dumps(action.input if action.input is not None else "null"),
                signal=signal,
                request_id=str(self.new_id(self.instance, event_id)),
                parent=self.instance.instance_id,
                parent_execution=self.instance.execution_id,
                timestamp=stamp,
                predecessor=predecessor,
                predecessor_sent=predecessor_sent,
            )
            self.decisions.append(
                EventSentEvent(
                    event_id=event_id, instance_id=target, name=OPERATION_EVENT, input=request, timestamp=self.now
                )
            )
            self.outbound.append(
                Outbound(
                    OrchestrationInstance(target),
                    EventRaisedEvent(name=OPERATION_EVENT, input=request, timestamp=self.now),
                )
            )

    def atomic(self, action: Action) -> _Retry | None:
        """Allocate and handle one non-compound action; a retried call returns its progress tracker."""
        kind = action.type
        if kind in (ActionType.WaitForExternalEvent, ActionType.ContinueAsNew):
            return None
        event_id = self._next_id()
        if kind in (ActionType.CallEntity, ActionType.SignalEntity, ActionType.ScheduledSignalEntity):
            self.entity_message(event_id, action, signal=kind != ActionType.CallEntity)
            return None
        if kind == ActionType.CreateTimer:
            self.timer(event_id, action.fire_at or self.now, action.is_canceled)
        elif kind in (ActionType.CallActivity, ActionType.CallActivityWithRetry):
            self.activity(event_id, action.name or "", action.input)
        elif kind == ActionType.CallHttp:
            self.activity(event_id, HTTP_ACTIVITY, compact_json(action.http_request))
        elif kind in (ActionType.CallSubOrchestrator, ActionType.CallSubOrchestratorWithRetry):
            self.sub_orchestration(event_id, action)
        else:
            raise ActionError(f"unsupported action {kind.name}")
        if action.retry is not None:
            return _Retry(action, event_id)
        return None

    def _leaves(self, action: Action) -> list[Action]:
        if action.is_compound:
            return [leaf for child in action.children for leaf in self._leaves(child)]
        return [action]

    def _attempt(self, retry: _Retry) -> None:
        """Re-run a retried call with a new sequence number."""
        event_id = self._next_id()
        retry.attempt_id = event_id
        retry.attempts += 1
        if retry.action.type == ActionType.CallActivityWithRetry:
            self.activity(event_id, retry.action.name or "", retry.action.input)
        else:
            self.sub_orchestration(event_id, retry.action)

    def _expand_retries(self, retries: list[_Retry]) -> None:
        """Follow failures and retry timers in history order, allocating ids as DTFx and the SDK do (§2.9)."""
        pending = [r for r in retries if r.attempt_id in self.finished]
        if not pending:
            return
        for event in self.history:
            task = answered_task(event)
            if task is None:
                continue
            kind, task_id = task
            outcome = outcome_of(event)
            for retry in retries:
                if retry.done:
                    continue
                if kind is not EventType.TimerCreated:  # an attempt's answer
                    if task_id != retry.attempt_id:
                        continue
                    if outcome is Outcome.COMPLETED:
                        retry.done = True
                    elif retry.timer_id is None:  # failed: wait before the next attempt (or before giving up)
                        assert retry.action.retry is not None
                        last = retry.attempts >= retry.action.retry.max_attempts
                        delay = timedelta(0) if last else retry.action.retry.delay(retry.attempts)
                        retry.timer_id = self._next_id()
                        self.timer(retry.timer_id, self.now + delay)
                elif task_id == retry.timer_id:
                    retry.timer_id = None
                    assert retry.action.retry is not None
                    if retry.attempts >= retry.action.retry.max_attempts:
                        retry.done = True
                    else:
                        self._attempt(retry)

    def replay(self, actions: Sequence[Action]) -> None:
        for action in actions:
            retries = [r for leaf in self._leaves(action) if (r := self.atomic(leaf)) is not None]
            self._expand_retries(retries)

    def unmatched(self) -> HistoryEvent | None:
        """A scheduled event in history that the replay did not produce."""
        return next((e for i, e in sorted(self.scheduled.items()) if i not in self.allocated), None)


def _failure_reason(name: str, error: str) -> str:
    return f"Orchestrator function '{name}' failed: {error}"


def _completion(
    replay: _Replay, status: OrchestrationStatus, result: str | None, now: datetime
) -> ExecutionCompletedEvent:
    return ExecutionCompletedEvent(event_id=replay.counter, orchestration_status=status, result=result, timestamp=now)


def _notify_parent(
    started: ExecutionStartedEvent, status: OrchestrationStatus, result: str | None, now: datetime
) -> Outbound | None:
    parent = started.parent_instance
    if parent is None:
        return None
    event: HistoryEvent
    if status == OrchestrationStatus.Completed:
        event = SubOrchestrationInstanceCompletedEvent(
            task_scheduled_id=parent.task_schedule_id, result=result, timestamp=now
        )
    else:
        event = SubOrchestrationInstanceFailedEvent(
            task_scheduled_id=parent.task_schedule_id,
            reason=result,
            details=f"Message: {result}, StackTrace: ",
            timestamp=now,
        )
    return Outbound(parent.orchestration_instance, event)


def _is_suspended(history: Sequence[HistoryEvent]) -> bool:
    return current_status(history) == OrchestrationStatus.Suspended


def run_episode(
    past: Sequence[HistoryEvent],
    new_events: Sequence[HistoryEvent],
    *,
    instance_id: str,
    invoke: Invoke,
    now: datetime,
    new_id: NewId = derived_id,
    default_version: str = "",
) -> EpisodeResult:
    """Run one episode of ``instance_id`` whose stored history is ``past`` and whose inbox is ``new_events``.

    ``invoke`` calls the user's orchestrator (the SDK ``handle``) with the context JSON; it is the only
    effect. The clock (``now``) and the ids (``new_id``) are given, and neither ``past`` nor ``new_events``
    is changed. The result says what to append (from ``len(past)``, or from 0 for a new execution) and send.
    """
    out = EpisodeResult()
    received = [_as_played(e) for e in new_events]
    episode_start = OrchestratorStartedEvent(timestamp=now)
    history = [*past, episode_start, *received]
    out.appended = [episode_start, *received]
    started = execution_started(history)
    if started is None:
        raise ActionError(f"instance {instance_id!r} has no ExecutionStarted event")
    name = started.name or ""
    instance = OrchestrationInstance(instance_id, started.orchestration_instance.execution_id)

    terminated = next((e for e in received if isinstance(e, ExecutionTerminatedEvent)), None)
    if terminated is not None:
        reason = terminated.input
        out.appended += [
            ExecutionCompletedEvent(
                event_id=-1, orchestration_status=OrchestrationStatus.Terminated, result=reason, timestamp=now
            ),
            OrchestratorCompletedEvent(timestamp=now),
        ]
        out.status = OrchestrationStatus.Terminated
        parent = _notify_parent(started, OrchestrationStatus.Terminated, reason, now)
        out.outbound += [parent] if parent else []
        return out
    if _is_suspended(history):
        out.appended.append(OrchestratorCompletedEvent(timestamp=now))
        out.status = OrchestrationStatus.Suspended
        return out

    result = call_orchestrator(invoke, context_json(instance_id, history, played_before=len(past)))
    out.ran_orchestrator = True
    out.custom_status = compact_json(result.custom_status) if result.custom_status not in (None, "") else None
    replay = _Replay(history, instance=instance, name=name, now=now, new_id=new_id, default_version=default_version)
    try:
        replay.replay(result.actions)
        if result.is_done and not result.failed and (stray := replay.unmatched()) is not None:
            stray_name = getattr(stray, "name", "") or ""
            raise NonDeterminismError(
                f"A previous execution of this orchestration scheduled "
                f"{_KIND_WORDS.get(type(stray), stray.event_type.name)} with sequence ID {stray.event_id} and name "
                f"'{stray_name}' (version ''), but the current replay execution hasn't (yet?) scheduled this task. "
                "Was a change made to the orchestrator code after this instance had already started running?"
            )
    except NonDeterminismError as exc:
        failure = f"Non-Deterministic workflow detected: {exc}"
        return _finish(out, replay, started, OrchestrationStatus.Failed, failure, now, open_tasks=0)
    except ActionError as exc:
        failure = _failure_reason(name, str(exc))
        return _finish(out, replay, started, OrchestrationStatus.Failed, failure, now, open_tasks=0)
    out.appended += replay.decisions
    out.outbound += replay.outbound

    if result.failed:
        failure = _failure_reason(name, result.error or "unknown error")
        return _finish(out, replay, started, OrchestrationStatus.Failed, failure, now, open_tasks=replay.open_tasks)
    if not result.is_done:
        out.appended.append(OrchestratorCompletedEvent(timestamp=now))
        return out
    continued = next((a for a in result.actions if a.type == ActionType.ContinueAsNew), None)
    if continued is not None:
        out.carried_events = unconsumed_events(history, result.actions, now=now)
        return _continue_as_new(out, started, continued, now, new_id)
    output = compact_json(result.output) if result.has_output else None
    return _finish(out, replay, started, OrchestrationStatus.Completed, output, now, open_tasks=replay.open_tasks)


def _finish(
    out: EpisodeResult,
    replay: _Replay,
    started: ExecutionStartedEvent,
    status: OrchestrationStatus,
    result: str | None,
    now: datetime,
    *,
    open_tasks: int,
) -> EpisodeResult:
    """Complete or fail the execution — unless DTFx would still wait for open tasks (§2.13)."""
    if open_tasks > 0:
        out.appended.append(OrchestratorCompletedEvent(timestamp=now))
        return out
    out.appended += [_completion(replay, status, result, now), OrchestratorCompletedEvent(timestamp=now)]
    out.status = status
    parent = _notify_parent(started, status, result, now)
    out.outbound += [parent] if parent else []
    return out


def unconsumed_events(
    history: Sequence[HistoryEvent], actions: Sequence[Action], *, now: datetime | None = None
) -> list[HistoryEvent]:
    """EventRaised events beyond what the code's waits took, per name, in arrival order (the DTFx
    ``preserveUnprocessedEvents`` rule for continue-as-new), as new events raised at ``now`` (without it, when
    the originals were)."""
    waits: dict[str, int] = {}

    def count(action: Action) -> None:
        if action.type == ActionType.WaitForExternalEvent and action.name:
            waits[action.name] = waits.get(action.name, 0) + 1
        for child in action.children:
            count(child)

    for action in actions:
        count(action)
    carried: list[HistoryEvent] = []
    for event in history:
        if isinstance(event, EventRaisedEvent) and event.name is not None:
            if waits.get(event.name, 0) > 0:
                waits[event.name] -= 1
            else:
                carried.append(EventRaisedEvent(name=event.name, input=event.input, timestamp=now or event.timestamp))
    return carried


def _continue_as_new(
    out: EpisodeResult, started: ExecutionStartedEvent, action: Action, now: datetime, new_id: NewId
) -> EpisodeResult:
    """End this execution and describe the next one: a fresh history started in the same work item.

    As storage-layout §3.8 describes continue-as-new.
    """
    execution = OrchestrationInstance(
        started.orchestration_instance.instance_id, new_id(started.orchestration_instance, "continue-as-new").hex
    )
    out.new_execution = ExecutionStartedEvent(
        orchestration_instance=execution,
        parent_instance=started.parent_instance,
        name=started.name,
        version=started.version,
        input=compact_json(action.input) if action.input is not None else None,
        tags=started.tags,
        generation=(started.generation or 0) + 1,
        timestamp=now,
    )
    out.appended.append(ContinueAsNewEvent(result=action.input, timestamp=now))
    out.status = OrchestrationStatus.ContinuedAsNew
    return out


def _as_played(event: HistoryEvent) -> HistoryEvent:
    """A received event as stored: DTFx marks processed message events played (a copy; the message keeps its
    event as it came)."""
    return event if event.is_played else dataclasses.replace(event, is_played=True)


def describe(event: HistoryEvent) -> str:
    """A short label for logs: ``TaskCompleted #3``."""
    task = answered_task(event)
    return f"{EventType(event.event_type).name}{f' #{task[1]}' if task is not None else ''}"


def parse_output(text: str | None) -> Any:
    """A stored output/input column as the status API shows it: JSON when it parses, else the text itself."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
