"""The rules about one instance: why it is Pending, what a running one waits for, how it ended."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from dfx.doctor.diagnosis.findings import Finding, error, info, warning
from dfx.doctor.diagnosis.snapshot import STALE_AFTER, InstanceView, QueueView, Snapshot
from dfx.doctor.diagnosis.wording import (
    BUSY_HOST,
    lease_story,
    message_label,
    moment,
    plural,
    run_again_fix,
    short,
    span,
    start_fix,
)
from dfx.emulator.durable.entities import ENTITY_PREFIX
from dfx.emulator.storage.peeked import PeekedMessage
from dfx.model.history import (
    COMPLETIONS,
    EventSentEvent,
    EventType,
    ExecutionStartedEvent,
    HistoryEvent,
    SubOrchestrationInstanceCreatedEvent,
    SubOrchestrationInstanceFailedEvent,
    TaskFailedEvent,
    TaskScheduledEvent,
    TimerCreatedEvent,
    answered_task,
    scheduled_task,
)

MAX_OPEN_ACTIVITIES = 10
#: The names of the events that answer an activity (TaskCompleted, TaskFailed), as peeked messages carry them.
_ACTIVITY_ANSWERS = frozenset(t.name for t, c in COMPLETIONS.items() if c.scheduled is EventType.TaskScheduled)
FINISHED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


@dataclass(frozen=True)
class OpenWork:
    """What an orchestration has started and not yet seen finish, read from its history."""

    activities: list[TaskScheduledEvent]
    timers: list[TimerCreatedEvent]
    children: list[SubOrchestrationInstanceCreatedEvent]
    entity_call: EventSentEvent | None
    """The operation sent to an entity, when that was the orchestration's last action."""


def open_work(history: Iterable[HistoryEvent]) -> OpenWork:
    """Scheduled tasks, timers and sub-orchestrations whose completion is not in ``history``."""
    events = list(history)
    answered = {task for e in events if (task := answered_task(e)) is not None}

    def is_open(event: HistoryEvent) -> bool:
        return scheduled_task(event) not in answered

    actions = [e for e in events if e.event_type.name not in ("OrchestratorStarted", "OrchestratorCompleted")]
    last = actions[-1] if actions else None
    entity_call = (
        last if isinstance(last, EventSentEvent) and (last.instance_id or "").startswith(ENTITY_PREFIX) else None
    )
    return OpenWork(
        activities=[e for e in events if isinstance(e, TaskScheduledEvent) and is_open(e)],
        timers=[e for e in events if isinstance(e, TimerCreatedEvent) and is_open(e)],
        children=[e for e in events if isinstance(e, SubOrchestrationInstanceCreatedEvent) and is_open(e)],
        entity_call=entity_call,
    )


def _messages_for(queue: QueueView | None, instance_id: str) -> list[PeekedMessage]:
    return [m for m in queue.visible if m.instance_id == instance_id] if queue else []


def instance_rules(snapshot: Snapshot) -> list[Finding]:
    if snapshot.instance_id is None or snapshot.hub_exists is not True:
        return []
    instance = snapshot.instance
    if instance is None:
        return [_unknown(snapshot, snapshot.instance_id)]
    if instance.instance_id.startswith(ENTITY_PREFIX):
        return _running(snapshot, instance, entity=True)
    if instance.status == "Pending":
        return _pending(snapshot, instance)
    if instance.status in ("Running", "ContinuedAsNew"):
        return _running(snapshot, instance, entity=False)
    return _settled(snapshot, instance)


def _unknown(snapshot: Snapshot, instance_id: str) -> Finding:
    """An id without an Instances row: not started yet if messages for it wait, else not found."""
    queue_name = snapshot.instance_queue
    waiting = _messages_for(snapshot.queue(queue_name), instance_id)
    if not waiting:
        return _not_found(snapshot, instance_id)
    labels = ", ".join(sorted({message_label(m) for m in waiting}))
    kind = "entity" if instance_id.startswith(ENTITY_PREFIX) else "instance"
    title = f"{kind} {instance_id!r} has not run yet: {plural(len(waiting), 'message')} for it wait on {queue_name}"
    detail = f"Waiting: {labels}; it has no Instances row until a host runs it."
    if snapshot.is_live(queue_name):
        return info("not-started", title, detail)
    return error("not-started", title, f"{detail} {lease_story(snapshot, queue_name)}", start_fix(snapshot))


def _not_found(snapshot: Snapshot, instance_id: str) -> Finding:
    title = f"no instance {instance_id!r} in task hub {snapshot.hub_name!r}"

    def likeness(other: str) -> float:
        return difflib.SequenceMatcher(None, instance_id, other).ratio()

    similar = sorted(snapshot.similar_ids, key=likeness, reverse=True)[:5]
    if similar:
        return error("instance-not-found", title, f"Similar ids: {', '.join(similar)}.",
                      f"did you mean {similar[0]!r}? `dfx doctor {similar[0]}`")  # fmt: skip
    return error("instance-not-found", title, "Instance ids are case-sensitive.",
                  "`dfx inspect instances` lists the instances (--task-hub picks another hub)")  # fmt: skip


def _settled(snapshot: Snapshot, instance: InstanceView) -> list[Finding]:
    """Failed, Suspended, Completed, Terminated, Canceled."""
    ident, status = instance.instance_id, instance.status
    if status == "Failed":
        names = {e.event_id: e.name for e in instance.history if isinstance(e, TaskScheduledEvent)}
        failed = [e for e in instance.history if isinstance(e, TaskFailedEvent | SubOrchestrationInstanceFailedEvent)]
        detail = short(instance.output) or "No failure details were stored."
        if failed:
            tasks = ", ".join(f"{names.get(e.task_scheduled_id) or 'a task'!r}: {short(e.reason, 80)}"
                              for e in failed[:3])  # fmt: skip
            detail += f" Failed: {tasks}."
        fix = f"`dfx durable rewind {ident}` retries what failed; `dfx inspect history {ident}` shows where it failed"
        return [error("instance-failed", f"instance {ident!r} failed", detail, fix)]
    if status == "Suspended":
        reason = f"Reason: {short(instance.output)}." if instance.output else ""
        return [warning("instance-suspended", f"instance {ident!r} is suspended", reason,
                         f"`dfx durable resume {ident}`")]  # fmt: skip
    when = f" at {moment(instance.completed, snapshot.now)}" if instance.completed else ""
    if status == "Terminated":
        reason = f"Reason: {short(instance.output)}." if instance.output else ""
        return [info("instance-terminated", f"instance {ident!r} was terminated{when}", reason,
                      f"`dfx durable restart {ident}` runs it again")]  # fmt: skip
    took = f" after {span(instance.completed - instance.created)}" if instance.completed and instance.created else ""
    output = f"Output: {short(instance.output, 120)}" if instance.output else ""
    return [info("instance-finished", f"instance {ident!r} is {status}{when}{took}", output)]


def _pending(snapshot: Snapshot, instance: InstanceView) -> list[Finding]:
    now, ident, queue_name = snapshot.now, instance.instance_id, instance.control_queue
    queue = snapshot.queue(queue_name)
    live = snapshot.is_live(queue_name)
    story = lease_story(snapshot, queue_name)
    findings: list[Finding] = []
    if instance.scheduled_start is not None and instance.scheduled_start > now:
        title = f"instance {ident!r} is scheduled to start at {moment(instance.scheduled_start, now)}"
        findings.append(info("scheduled-start", title, "Its start message stays invisible until then."))
    if any(isinstance(e, ExecutionStartedEvent) for e in instance.history):
        detail = "Its history holds ExecutionStarted: a host ran its first episode, and the Instances row lags."
        if live:
            return [*findings, info("pending-row-behind", f"instance {ident!r} is Pending but has started", detail)]
        return [*findings, warning("pending-row-behind", f"instance {ident!r} is Pending but has started",
                                    f"{detail} {story}", start_fix(snapshot))]  # fmt: skip

    start = next((m for m in _messages_for(queue, ident) if m.event_type == "ExecutionStarted"), None)
    if start is not None:
        since = f" since {moment(start.inserted_on, now)}" if start.inserted_on else ""
        where = f"Its ExecutionStarted message waits on {queue_name}{since}."
        if not live:
            title = f"instance {ident!r} is Pending: no host is processing its partition {queue_name}"
            return [*findings, error("pending-no-owner", title, f"{where} {story}", start_fix(snapshot))]
        if start.inserted_on is not None and now - start.inserted_on >= STALE_AFTER:
            title = f"instance {ident!r} is Pending: the host that owns {queue_name} has not taken its start message"
            return [*findings, warning("pending-not-taken", title, f"{where} {story}", BUSY_HOST)]
        return [*findings, info("pending-starting", f"instance {ident!r} is starting", f"{where} {story}")]

    if queue is None or not queue.complete or queue.invisible:
        if live:
            detail = f"Its start message is not visible on {queue_name}: the host that owns it has taken it."
            return [*findings, info("pending-in-progress", f"instance {ident!r} is starting", detail)]
        if findings:  # a scheduled start explains the invisible message
            return findings
        title = f"instance {ident!r} is Pending and no host is processing its partition {queue_name}"
        detail = (
            "Its start message is not visible: it is delayed, or a host took it and is gone (then it reappears "
            f"after the visibility timeout, 5 min by default). {story}"
        )
        return [warning("pending-invisible", title, detail, start_fix(snapshot))]

    created = f" (created {moment(instance.created, now)})" if instance.created else ""
    detail = (
        f"No ExecutionStarted message for it is on {queue_name}, visible or invisible{created}: the start was lost "
        "(a crash between the client's two writes, or a deleted message)."
    )
    return [*findings, error("pending-start-lost", f"instance {ident!r} is Pending but its start message is gone",
                              detail, run_again_fix(snapshot, instance))]  # fmt: skip


def _running(snapshot: Snapshot, instance: InstanceView, *, entity: bool) -> list[Finding]:
    ident, queue_name = instance.instance_id, instance.control_queue
    live = snapshot.is_live(queue_name)
    kind = "entity" if entity else "instance"
    findings: list[Finding] = []

    arrived = _messages_for(snapshot.queue(queue_name), ident)
    if arrived:
        labels = ", ".join(sorted({message_label(m) for m in arrived}))
        events = plural(len(arrived), "new event")
        if live:
            findings.append(info("events-arriving", f"{events} for {kind} {ident!r} are on {queue_name}",
                                  f"Waiting: {labels}."))  # fmt: skip
        else:
            title = f"{events} for {kind} {ident!r} wait on {queue_name}, which no host is processing"
            detail = f"Waiting: {labels}. {lease_story(snapshot, queue_name)}"
            findings.append(error("events-no-owner", title, detail, start_fix(snapshot)))
    if entity:
        if not arrived:
            findings.append(info("entity-idle", f"entity {ident!r} is idle",
                                  "It runs when an operation is signalled to it or called."))  # fmt: skip
        return findings

    work = open_work(instance.history)
    shown = work.activities[:MAX_OPEN_ACTIVITIES]
    findings += [_open_activity(snapshot, instance, scheduled, arrived) for scheduled in shown]
    if len(work.activities) > len(shown):
        findings.append(info("activities-open", f"{len(work.activities) - len(shown)} more activities are open"))
    findings += [_open_timer(snapshot, instance, timer, live) for timer in work.timers]
    findings += [_open_child(instance, child) for child in work.children]
    if work.activities or work.timers or work.children or arrived:
        return findings
    if work.entity_call is not None:
        target = work.entity_call.instance_id
        return [info("waiting-for-entity", f"instance {ident!r} is waiting for entity {target!r} to answer",
                      "Its last action sent an operation to that entity; the answer comes back as an event.",
                      f"`dfx doctor {target}`")]  # fmt: skip
    return [
        info(
            "waiting-for-event",
            f"instance {ident!r} is waiting for an external event or an entity response",
            "No activity, timer or sub-orchestration is open: the orchestrator waits for something to be raised.",
            f"raise one with `dfx durable raise-event {ident} --event-name <name> --event-data <json>`",
        )
    ]


def _open_activity(
    snapshot: Snapshot, instance: InstanceView, scheduled: TaskScheduledEvent, arrived: list[PeekedMessage]
) -> Finding:
    ident, task = instance.instance_id, scheduled.event_id
    label = f"activity {scheduled.name or '?'!r} (task {task})"
    answer = next((m for m in arrived if m.answers_id == task and m.event_type in _ACTIVITY_ANSWERS), None)
    if answer is not None:
        return info("activity-answered", f"{label} of {ident!r} has finished",
                     f"Its {answer.event_type} waits on {answer.queue_name} for the next episode.")  # fmt: skip
    work_queue = snapshot.queue(snapshot.work_item_queue)
    items = _messages_for(work_queue, ident)
    item = next((m for m in items if m.event_id == task and m.event_type == "TaskScheduled"), None)
    host = snapshot.any_live_host
    if item is not None:
        put = f", put {moment(item.inserted_on, snapshot.now)}" if item.inserted_on else ""
        taken = {0: "never taken", 1: "taken once"}.get(item.dequeue_count, f"taken {item.dequeue_count} times")
        detail = f"Its work item is on {item.queue_name} ({taken}{put})."
        if host:
            return info("activity-queued", f"instance {ident!r} is waiting for {label}", detail)
        return error("activity-no-host", f"{label} of {ident!r} waits, but no host is running", detail,
                      start_fix(snapshot))  # fmt: skip
    if host:
        return info("activity-running", f"instance {ident!r} is waiting for {label}",
                     "Its work item is not visible: a host is running it (or has just finished it).")  # fmt: skip
    hidden = " It reappears after the visibility timeout (5 min by default) and then needs a host."
    if work_queue is None or not work_queue.complete or work_queue.invisible:
        detail = f"Its work item is not visible on {snapshot.work_item_queue}: a host took it and is gone.{hidden}"
        return warning("activity-orphaned", f"{label} of {ident!r} was taken by a host that is gone", detail,
                        start_fix(snapshot))  # fmt: skip
    control = snapshot.queue(instance.control_queue)
    if control is None or not control.complete or control.invisible:
        detail = (
            f"No work item for it is on {snapshot.work_item_queue}, and {instance.control_queue} holds messages a "
            f"peek cannot see: its result may have been taken by a host that is gone.{hidden}"
        )
        return warning("activity-orphaned", f"the result of {label} of {ident!r} may be held by a host that is gone",
                        detail, start_fix(snapshot))  # fmt: skip
    detail = (
        f"No work item for it is on {snapshot.work_item_queue} and no result on {instance.control_queue}, visible "
        "or invisible: it was lost."
    )
    return error("activity-lost", f"the work item of {label} of {ident!r} is missing", detail,
                  run_again_fix(snapshot, instance))  # fmt: skip


def _open_timer(snapshot: Snapshot, instance: InstanceView, timer: TimerCreatedEvent, live: bool) -> Finding:
    now, ident = snapshot.now, instance.instance_id
    when = moment(timer.fire_at, now)
    story = lease_story(snapshot, instance.control_queue)
    if timer.fire_at > now:
        title = f"instance {ident!r} is waiting for a timer until {when}"
        detail = "Its TimerFired message stays invisible on the control queue until then."
        if live:
            return info("timer-waiting", title, detail)
        return warning("timer-no-owner", title, f"{detail} When it fires, no host will process it: {story}",
                        start_fix(snapshot))  # fmt: skip
    title = f"a timer of instance {ident!r} was due at {when}"
    if not live:
        return error("timer-overdue", title, f"No host is processing {instance.control_queue}. {story}",
                      start_fix(snapshot))  # fmt: skip
    if now - timer.fire_at >= STALE_AFTER:
        return warning("timer-overdue", title, f"{story} It has not processed the TimerFired message.", BUSY_HOST)
    return info("timer-firing", f"a timer of instance {ident!r} fires now ({when})")


def _open_child(instance: InstanceView, child: SubOrchestrationInstanceCreatedEvent) -> Finding:
    child_id = child.instance_id or "?"
    status = instance.children.get(child_id)
    title = f"instance {instance.instance_id!r} is waiting for sub-orchestration {child.name or '?'!r} ({child_id})"
    if status is None:
        return warning("child-missing", title,
                        "The child has no Instances row yet: its start message may still wait on its control queue.",
                        f"`dfx doctor {child_id}`")  # fmt: skip
    if status in FINISHED:
        return warning("child-finished", title,
                        f"The child is {status}, but the parent has not processed its answer yet.",
                        f"`dfx doctor {child_id}`; the answer goes to {instance.control_queue}")  # fmt: skip
    return info("child-running", title, f"The child is {status}.", f"`dfx doctor {child_id}`")
