"""What ``dfx doctor`` concludes: a snapshot of a task hub (and of an app) in, findings with their fixes out.

Pure: no I/O and no clock; ``dfx.emulator.durable.checkup`` gathers the :class:`Snapshot`. Each rule reads
the snapshot and returns findings; :func:`diagnose` runs them all and puts the most severe first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, StrEnum

from dfx.emulator.durable.entities import ENTITY_PREFIX, EntityId
from dfx.emulator.durable.history import (
    EventSentEvent,
    ExecutionStartedEvent,
    HistoryEvent,
    SubOrchestrationInstanceCompletedEvent,
    SubOrchestrationInstanceCreatedEvent,
    SubOrchestrationInstanceFailedEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    TaskScheduledEvent,
    TimerCreatedEvent,
    TimerFiredEvent,
)
from dfx.emulator.durable.leases import lease_expired, worker_address
from dfx.emulator.storage.names import sanitize_hub_name
from dfx.emulator.storage.peeked import PEEK_LIMIT, POISON_DEQUEUES, PeekedMessage

STALE_AFTER = timedelta(minutes=1)
"""A visible message older than this that nobody takes is stuck."""
MAX_PER_QUEUE = 5
"""Poison messages reported one by one per queue (the rest are counted)."""
MAX_OPEN_ACTIVITIES = 10
FINISHED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


class Severity(StrEnum):
    """How bad a finding is: any error makes ``dfx doctor`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}[self]


@dataclass(frozen=True)
class Finding:
    """One conclusion: a one-line title, the evidence behind it, and the command or setting that fixes it."""

    severity: Severity
    code: str
    title: str
    detail: str = ""
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
        }


def _error(code: str, title: str, detail: str = "", fix: str = "") -> Finding:
    return Finding(Severity.ERROR, code, title, detail, fix)


def _warning(code: str, title: str, detail: str = "", fix: str = "") -> Finding:
    return Finding(Severity.WARNING, code, title, detail, fix)


def _info(code: str, title: str, detail: str = "", fix: str = "") -> Finding:
    return Finding(Severity.INFO, code, title, detail, fix)


# -- the snapshot ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsProblem:
    """host.json, local.settings.json or the options could not be turned into settings."""

    kind: str
    """``config``, ``connection`` or ``hub-name``."""
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class StorageProbe:
    """Whether the account's endpoints answer, and the first storage error met while reading the hub."""

    description: str
    is_local: bool
    endpoints: Mapping[str, str]
    """service (blob, queue, table) -> ``host:port``."""
    answering: Mapping[str, bool]
    listening: Mapping[str, bool] = field(default_factory=dict)
    """service -> its port accepts connections (a silent endpoint that listens is busy, or not storage)."""
    error: str | None = None

    @property
    def answers(self) -> bool:
        return all(self.answering.values())


@dataclass(frozen=True)
class PartitionView:
    """A Partitions row, and whether its owner answers on this machine (None: not a local dfx, not probed)."""

    queue_name: str
    owner: str | None = None
    expires_at: datetime | None = None
    owner_answers: bool | None = None


@dataclass(frozen=True)
class QueueView:
    """A queue's approximate depth and the visible messages a peek returned."""

    name: str
    count: int
    visible: tuple[PeekedMessage, ...] = ()

    @property
    def complete(self) -> bool:
        """The peek saw every visible message."""
        return len(self.visible) < PEEK_LIMIT

    @property
    def invisible(self) -> int:
        """Messages a peek cannot see: taken by a host, or delayed (timers, back-off)."""
        return max(0, self.count - len(self.visible)) if self.complete else 0

    def oldest(self) -> PeekedMessage | None:
        dated = [m for m in self.visible if m.inserted_on is not None]
        return min(dated, key=lambda m: m.inserted_on or datetime.max) if dated else None


@dataclass(frozen=True)
class InstanceView:
    """An instance's Instances row, its current execution's history and its children's statuses."""

    instance_id: str
    name: str | None
    status: str
    control_queue: str
    created: datetime | None = None
    completed: datetime | None = None
    scheduled_start: datetime | None = None
    output: str | None = None
    history: tuple[HistoryEvent, ...] = ()
    children: Mapping[str, str | None] = field(default_factory=dict)
    """Sub-orchestration id -> its RuntimeStatus (None: it has no Instances row)."""


@dataclass(frozen=True)
class AppView:
    """The durable names function_app.py registers, or why it does not load."""

    script: str
    error: str | None = None
    hint: str | None = None
    orchestrators: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Everything the rules look at, read at ``now``; parts that could not be read are None or empty."""

    now: datetime
    hub_name: str
    hub_from_option: bool = False
    machine: str = ""
    """This machine's name (worker ids are ``machine:port``)."""
    settings_problem: SettingsProblem | None = None
    storage: StorageProbe | None = None
    hub_exists: bool | None = None
    hubs: tuple[str, ...] = ()
    """The task hubs the account holds (read when the hub is missing or its name is invalid)."""
    partition_count: int = 4
    partitions: tuple[PartitionView, ...] = ()
    queues: tuple[QueueView, ...] = ()
    work_item_queue: str = ""
    instance_id: str | None = None
    instance_queue: str = ""
    """The control queue of ``instance_id``."""
    instance: InstanceView | None = None
    similar_ids: tuple[str, ...] = ()
    app: AppView | None = None

    def queue(self, name: str) -> QueueView | None:
        return next((q for q in self.queues if q.name == name), None)

    def partition(self, queue_name: str) -> PartitionView | None:
        return next((p for p in self.partitions if p.queue_name == queue_name), None)

    def is_live(self, queue_name: str) -> bool:
        """A host is processing this control queue (for the work-item queue: any host of the hub)."""
        if queue_name == self.work_item_queue:
            return self.any_live_host
        partition = self.partition(queue_name)
        return partition is not None and ownership(partition, self.now) is Ownership.LIVE

    @property
    def any_live_host(self) -> bool:
        return any(ownership(p, self.now) is Ownership.LIVE for p in self.partitions)


class Ownership(Enum):
    """The state of a partition lease."""

    FREE = "free"
    EXPIRED = "expired"
    SILENT = "silent"
    """The lease is valid, but its owner (a dfx on this machine) does not answer on its port."""
    LIVE = "live"


def ownership(partition: PartitionView, now: datetime) -> Ownership:
    if not partition.owner:
        return Ownership.FREE
    if lease_expired(partition.expires_at, now):
        return Ownership.EXPIRED
    if partition.owner_answers is False:
        return Ownership.SILENT
    return Ownership.LIVE


# -- wording --------------------------------------------------------------------------------------------


def span(delta: timedelta) -> str:
    """A rough human duration: ``45 s``, ``3 min``, ``2 h 5 min``, ``3 d``."""
    seconds = abs(delta.total_seconds())
    if seconds < 1:
        return "<1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = int(minutes // 60)
    if hours < 48:
        rest = int(minutes - hours * 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{hours // 24} d"


def moment(when: datetime, now: datetime) -> str:
    """``2024-05-01T10:05:00Z (in 3 min)`` or ``2024-05-01T10:05:00Z (3 min ago)``."""
    relative = f"in {span(when - now)}" if when > now else f"{span(now - when)} ago"
    return f"{when.strftime('%Y-%m-%dT%H:%M:%SZ')} ({relative})"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _label(message: PeekedMessage) -> str:
    text = message.event_type or "unreadable message"
    return f"{text} {message.name!r}" if message.name else text


def _short(text: str | None, width: int = 300) -> str:
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


START_HOST = "start the app with `dfx start` in its folder"
BUSY_HOST = "the host may be stuck or overloaded: look at its console, or restart `dfx start`"


def _start_fix(snapshot: Snapshot) -> str:
    return f"{START_HOST} (with --task-hub {snapshot.hub_name})" if snapshot.hub_from_option else START_HOST


# -- rules: settings, storage, the hub ------------------------------------------------------------------


def settings_rules(snapshot: Snapshot) -> list[Finding]:
    problem = snapshot.settings_problem
    if problem is None:
        return []
    if problem.kind == "hub-name":
        suggestion = sanitize_hub_name(snapshot.hub_name)
        fix = (
            f"pass a valid name, e.g. --task-hub {suggestion}"
            if snapshot.hub_from_option
            else f'set extensions.durableTask.hubName in host.json to a valid name, e.g. "{suggestion}"'
        )
        detail = problem.message + (f" Hubs in this account: {', '.join(snapshot.hubs)}." if snapshot.hubs else "")
        return [_error("hub-name-invalid", f"task hub name {snapshot.hub_name!r} breaks the naming rules", detail, fix)]
    if problem.kind == "connection":
        return [_error("connection-invalid", "the storage connection string cannot be used", problem.message,
                       problem.hint or "")]  # fmt: skip
    fix = problem.hint or "fix host.json / local.settings.json"
    return [_error("config-invalid", "the app's settings cannot be read", problem.message, fix)]


def _port_list(ports: list[int]) -> str:
    if len(ports) > 1 and ports == list(range(ports[0], ports[0] + len(ports))):
        return f"{ports[0]}-{ports[-1]}"
    return ", ".join(str(p) for p in ports)


def storage_rules(snapshot: Snapshot) -> list[Finding]:
    probe = snapshot.storage
    if probe is None:
        return []
    if probe.error:
        return [_error("storage-error", "reading the task hub failed", probe.error,
                       "check the connection string, and that the account allows table and queue access")]  # fmt: skip
    if probe.answers:
        return []
    silent = [s for s, ok in probe.answering.items() if not ok]
    tried = ", ".join(f"{s} {probe.endpoints[s]}" for s in silent)
    if all(probe.listening.get(s) for s in silent):
        title = f"storage at {', '.join(probe.endpoints[s] for s in silent)} accepts connections but does not answer"
        detail = "A busy Azurite answers slowly; another program on these ports does not answer storage requests."
        fix = "`dfx azurite status` tells whether it is Azurite; run `dfx doctor` again in a moment"
        return [_error("storage-unavailable", title, detail, fix)]
    if not probe.is_local:
        fix = "check the connection string (AzureWebJobsStorage in local.settings.json, or --connection) and network"
        return [_error("storage-unavailable", f"storage account {probe.description} does not answer",
                       f"Tried {tried}.", fix)]  # fmt: skip
    hosts = {probe.endpoints[s].rpartition(":")[0] for s in probe.endpoints}
    ports = [int(probe.endpoints[s].rpartition(":")[2]) for s in ("blob", "queue", "table")]
    where = f"{hosts.pop() if len(hosts) == 1 else 'localhost'}:{_port_list(ports)}"
    if len(silent) == len(probe.answering):
        title = f"Azurite is not running on {where}"
    else:
        title = f"Azurite on {where} answers only in part ({', '.join(silent)} silent)"
    flags = ""
    if ports != [10000, 10001, 10002]:
        flags = f" --blob-port {ports[0]} --queue-port {ports[1]} --table-port {ports[2]}"
    fix = f"start it: `dfx azurite start{flags}` (or `dfx start`, which starts it for the app)"
    return [_error("storage-unavailable", title, f"Nothing answers at {tried}.", fix)]


def hub_rules(snapshot: Snapshot) -> list[Finding]:
    findings: list[Finding] = []
    if snapshot.hub_exists is False:
        where = snapshot.storage.description if snapshot.storage else "this account"
        title = f"task hub {snapshot.hub_name!r} does not exist in {where}"
        if snapshot.hubs:
            lowered = {h.lower(): h for h in snapshot.hubs}
            best = difflib.get_close_matches(snapshot.hub_name.lower(), list(lowered), 1, 0.0)
            pick = lowered[best[0]] if best else snapshot.hubs[0]
            detail = f"Hubs in this account: {', '.join(snapshot.hubs)}."
            fix = (
                f"use an existing hub: --task-hub {pick} (or extensions.durableTask.hubName in host.json); "
                f"or {START_HOST}, which creates {snapshot.hub_name!r}"
            )
        else:
            detail = "The account holds no task hubs yet."
            fix = f"{_start_fix(snapshot)}: it creates the hub"
        findings.append(_error("hub-not-found", title, detail, fix))
    rows = len(snapshot.partitions)
    if rows and rows != snapshot.partition_count:
        findings.append(
            _warning(
                "partition-count-mismatch",
                f"the hub has {rows} partitions but the settings say {snapshot.partition_count}",
                "Messages are routed to control queues by the partition count; with another count they land on "
                "queues that no host of this hub polls.",
                f"set extensions.durableTask.storageProvider.partitionCount in host.json to {rows}",
            )
        )
    return findings


# -- rules: partitions and queues -----------------------------------------------------------------------


def _elsewhere(owner: str, snapshot: Snapshot) -> str:
    machine, _ = worker_address(owner)
    return f" (a worker on another machine, {machine})" if snapshot.machine and machine != snapshot.machine else ""


def _lease_story(snapshot: Snapshot, queue_name: str) -> str:
    """One sentence on who holds ``queue_name``."""
    partition = snapshot.partition(queue_name)
    if partition is None:
        return f"{queue_name} has no Partitions row."
    state = ownership(partition, snapshot.now)
    owner = partition.owner or ""
    if state is Ownership.FREE:
        return f"No worker owns {queue_name}."
    if state is Ownership.EXPIRED:
        when = f" at {moment(partition.expires_at, snapshot.now)}" if partition.expires_at else ""
        return f"The lease of worker {owner!r}{_elsewhere(owner, snapshot)} expired{when}: its host is gone."
    if state is Ownership.SILENT:
        return f"Worker {owner!r} holds the lease but does not answer."
    return f"Worker {owner!r}{_elsewhere(owner, snapshot)} holds the lease."


def _oldest_since(queues: Iterable[QueueView], now: datetime) -> str:
    dated = [m for q in queues if (m := q.oldest()) is not None and m.inserted_on is not None]
    oldest = min(dated, key=lambda m: m.inserted_on or now, default=None)
    if oldest is None or oldest.inserted_on is None:
        return ""
    return f"; the oldest visible one ({_label(oldest)}) since {moment(oldest.inserted_on, now)}"


def _waiting(queue: QueueView, now: datetime) -> str:
    verb = "waits" if queue.count == 1 else "wait"
    return f"{_plural(queue.count, 'message')} {verb} on {queue.name}{_oldest_since([queue], now)}."


def _hostless(snapshot: Snapshot) -> bool:
    """No worker holds any partition: nothing of the hub runs anywhere."""
    return all(ownership(p, snapshot.now) in (Ownership.FREE, Ownership.EXPIRED) for p in snapshot.partitions)


def _no_host(snapshot: Snapshot) -> Finding:
    """The one finding of a hub that no host runs: information when nothing waits, else what waits."""
    title = f"no host is running task hub {snapshot.hub_name!r}"
    gone = next((p for p in snapshot.partitions if p.owner), None)
    story = f" {_lease_story(snapshot, gone.queue_name)}" if gone else ""
    waiting = [q for q in snapshot.queues if q.count]
    if not waiting:
        return _info("no-host", title, f"No worker owns its partitions, and no messages wait.{story}",
                     f"{_start_fix(snapshot)} when there is work to do")  # fmt: skip
    total = sum(q.count for q in waiting)
    where = ", ".join(f"{q.name} ({q.count})" for q in waiting)
    if not any(q.visible for q in waiting):
        detail = f"Only invisible messages (timers, delayed or taken ones) wait: {where}.{story}"
        return _warning("no-host", f"{title}; {_plural(total, 'invisible message')} will need one", detail,
                        _start_fix(snapshot))  # fmt: skip
    detail = f"Messages wait on {where}{_oldest_since(waiting, snapshot.now)}.{story}"
    verb = "waits" if total == 1 else "wait"
    return _error("no-host", f"{title}; {_plural(total, 'message')} {verb}", detail, _start_fix(snapshot))


def partition_rules(snapshot: Snapshot) -> list[Finding]:
    if snapshot.hub_exists is not True or not snapshot.partitions:
        return []
    if _hostless(snapshot):
        return [_no_host(snapshot)]
    now = snapshot.now
    states = {p.queue_name: ownership(p, now) for p in snapshot.partitions}
    any_live = Ownership.LIVE in states.values()

    findings: list[Finding] = []
    silent: dict[str, list[PartitionView]] = {}
    live: dict[str, list[str]] = {}
    for partition in snapshot.partitions:
        name, state = partition.queue_name, states[partition.queue_name]
        queue = snapshot.queue(name)
        if state in (Ownership.FREE, Ownership.EXPIRED):
            story = _lease_story(snapshot, name)
            if queue is not None and queue.visible:
                findings.append(_error("partition-unowned", f"no host is processing partition {name}",
                                       f"{_waiting(queue, now)} {story}", _start_fix(snapshot)))  # fmt: skip
            elif queue is not None and queue.count:
                detail = f"{_plural(queue.count, 'invisible message')} (timers, delayed or taken ones) will need one."
                findings.append(_warning("partition-unowned", f"no host owns partition {name}", f"{story} {detail}",
                                         _start_fix(snapshot)))  # fmt: skip
            elif any_live:
                findings.append(_info("partition-unowned", f"no host owns partition {name}",
                                      f"{story} Nothing waits there now.",
                                      "a running `dfx start` claims free partitions within seconds"))  # fmt: skip
        elif state is Ownership.SILENT:
            silent.setdefault(partition.owner or "", []).append(partition)
        else:
            live.setdefault(partition.owner or "", []).append(name)

    for owner, leased in silent.items():
        _, port = worker_address(owner)
        expires = min((p.expires_at for p in leased if p.expires_at is not None), default=now)
        queued = sum(q.count for p in leased if (q := snapshot.queue(p.queue_name)) is not None)
        detail = (
            f"Worker {owner!r} leases {', '.join(p.queue_name for p in leased)}; the lease expires at "
            f"{moment(expires, now)}, and until then no other host takes over. {_plural(queued, 'message')} wait there."
        )
        fix = (
            f"wait for the lease to expire, or run `dfx start --port {port}` again: a host restarted on the same "
            "port takes its partitions back at once"
        )
        title = f"the host on port {port} is not answering but holds {_plural(len(leased), 'partition')}"
        findings.append(_warning("owner-not-answering", title, detail, fix))

    if live:
        owners = "; ".join(f"{owner}{_elsewhere(owner, snapshot)}: {', '.join(q)}" for owner, q in live.items())
        findings.append(_info("partitions-owned", "partitions have live owners", owners))
    return findings


def _poison(snapshot: Snapshot, queue: QueueView) -> list[Finding]:
    poison = [m for m in queue.visible if m.dequeue_count >= POISON_DEQUEUES]
    findings = []
    for message in poison[:MAX_PER_QUEUE]:
        instance = message.instance_id or "?"
        put = f", put {moment(message.inserted_on, snapshot.now)}" if message.inserted_on else ""
        detail = (
            f"{_label(message)} for instance {instance!r}{put}: a host takes it and fails before finishing, "
            "again and again (a poison message)."
        )
        fix = (
            f"watch it with `dfx start --verbose` and `dfx doctor {instance}`; "
            f"to give up on the instance: `dfx durable terminate {instance}`"
        )
        title = f"a message on {queue.name} was dequeued {message.dequeue_count} times"
        findings.append(_error("poison-message", title, detail, fix))
    if len(poison) > MAX_PER_QUEUE:
        more = len(poison) - MAX_PER_QUEUE
        title = f"{more} more messages on {queue.name} were dequeued {POISON_DEQUEUES}+ times"
        findings.append(_error("poison-message", title))
    return findings


def queue_rules(snapshot: Snapshot) -> list[Finding]:
    if snapshot.hub_exists is not True:
        return []
    findings: list[Finding] = []
    now = snapshot.now
    for queue in snapshot.queues:
        findings += _poison(snapshot, queue)
        for message in queue.visible:
            if message.event_type is None:
                findings.append(
                    _warning(
                        "unreadable-message",
                        f"message {message.message_id} on {queue.name} is not a task hub message",
                        "Its body is not a Durable Task message envelope; hosts abandon it again and again.",
                        "delete it (Azure Storage Explorer, or `az storage message delete`)",
                    )
                )
        if queue.invisible:
            detail = (
                "A peek cannot see them: a host has taken them and is working on them, or they are delayed "
                "(durable timers, retry back-off after a failure)."
            )
            if not snapshot.is_live(queue.name):
                detail += " No host is processing this queue: when they become visible, nobody takes them."
            findings.append(_info("invisible-messages", f"{_plural(queue.invisible, 'message')} on {queue.name} "
                                  "are invisible", detail))  # fmt: skip

        if queue.name == snapshot.work_item_queue and queue.visible and not snapshot.any_live_host:
            if not _hostless(snapshot):  # else the no-host finding says it
                title = f"{_plural(queue.count, 'activity work item')} wait on {queue.name}, but no host is running"
                findings.append(_error("activities-no-host", title, _waiting(queue, now), _start_fix(snapshot)))
            continue
        oldest = queue.oldest()
        if oldest is None or oldest.inserted_on is None or now - oldest.inserted_on < STALE_AFTER:
            continue
        if snapshot.is_live(queue.name):
            partition = snapshot.partition(queue.name)
            holder = f" though worker {partition.owner!r} owns the queue" if partition and partition.owner else ""
            title = f"a message on {queue.name} has waited {span(now - oldest.inserted_on)}{holder}"
            findings.append(_warning("message-not-taken", title, _waiting(queue, now), BUSY_HOST))
    return findings


# -- rules: one instance --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenWork:
    """What an orchestration has started and not yet seen finish, read from its history."""

    activities: list[TaskScheduledEvent]
    timers: list[TimerCreatedEvent]
    children: list[SubOrchestrationInstanceCreatedEvent]
    entity_call: EventSentEvent | None
    """The operation sent to an entity, when that was the orchestration's last action."""


_ANSWERS = (
    TaskCompletedEvent,
    TaskFailedEvent,
    SubOrchestrationInstanceCompletedEvent,
    SubOrchestrationInstanceFailedEvent,
)


def open_work(history: Iterable[HistoryEvent]) -> OpenWork:
    """Scheduled tasks, timers and sub-orchestrations whose completion is not in ``history``."""
    events = list(history)
    answered = {e.task_scheduled_id for e in events if isinstance(e, _ANSWERS)}
    fired = {e.timer_id for e in events if isinstance(e, TimerFiredEvent)}
    actions = [e for e in events if e.event_type.name not in ("OrchestratorStarted", "OrchestratorCompleted")]
    last = actions[-1] if actions else None
    entity_call = (
        last if isinstance(last, EventSentEvent) and (last.instance_id or "").startswith(ENTITY_PREFIX) else None
    )
    return OpenWork(
        activities=[e for e in events if isinstance(e, TaskScheduledEvent) and e.event_id not in answered],
        timers=[e for e in events if isinstance(e, TimerCreatedEvent) and e.event_id not in fired],
        children=[
            e for e in events if isinstance(e, SubOrchestrationInstanceCreatedEvent) and e.event_id not in answered
        ],
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
    labels = ", ".join(sorted({_label(m) for m in waiting}))
    kind = "entity" if instance_id.startswith(ENTITY_PREFIX) else "instance"
    title = f"{kind} {instance_id!r} has not run yet: {_plural(len(waiting), 'message')} for it wait on {queue_name}"
    detail = f"Waiting: {labels}; it has no Instances row until a host runs it."
    if snapshot.is_live(queue_name):
        return _info("not-started", title, detail)
    return _error("not-started", title, f"{detail} {_lease_story(snapshot, queue_name)}", _start_fix(snapshot))


def _not_found(snapshot: Snapshot, instance_id: str) -> Finding:
    title = f"no instance {instance_id!r} in task hub {snapshot.hub_name!r}"

    def likeness(other: str) -> float:
        return difflib.SequenceMatcher(None, instance_id, other).ratio()

    similar = sorted(snapshot.similar_ids, key=likeness, reverse=True)[:5]
    if similar:
        return _error("instance-not-found", title, f"Similar ids: {', '.join(similar)}.",
                      f"did you mean {similar[0]!r}? `dfx doctor {similar[0]}`")  # fmt: skip
    return _error("instance-not-found", title, "Instance ids are case-sensitive.",
                  "`dfx inspect instances` lists the instances (--task-hub picks another hub)")  # fmt: skip


def _settled(snapshot: Snapshot, instance: InstanceView) -> list[Finding]:
    """Failed, Suspended, Completed, Terminated, Canceled."""
    ident, status = instance.instance_id, instance.status
    if status == "Failed":
        names = {e.event_id: e.name for e in instance.history if isinstance(e, TaskScheduledEvent)}
        failed = [e for e in instance.history if isinstance(e, TaskFailedEvent | SubOrchestrationInstanceFailedEvent)]
        detail = _short(instance.output) or "No failure details were stored."
        if failed:
            tasks = ", ".join(f"{names.get(e.task_scheduled_id) or 'a task'!r}: {_short(e.reason, 80)}"
                              for e in failed[:3])  # fmt: skip
            detail += f" Failed: {tasks}."
        fix = f"`dfx durable rewind {ident}` retries what failed; `dfx inspect history {ident}` shows where it failed"
        return [_error("instance-failed", f"instance {ident!r} failed", detail, fix)]
    if status == "Suspended":
        reason = f"Reason: {_short(instance.output)}." if instance.output else ""
        return [_warning("instance-suspended", f"instance {ident!r} is suspended", reason,
                         f"`dfx durable resume {ident}`")]  # fmt: skip
    when = f" at {moment(instance.completed, snapshot.now)}" if instance.completed else ""
    if status == "Terminated":
        reason = f"Reason: {_short(instance.output)}." if instance.output else ""
        return [_info("instance-terminated", f"instance {ident!r} was terminated{when}", reason,
                      f"`dfx durable restart {ident}` runs it again")]  # fmt: skip
    took = f" after {span(instance.completed - instance.created)}" if instance.completed and instance.created else ""
    output = f"Output: {_short(instance.output, 120)}" if instance.output else ""
    return [_info("instance-finished", f"instance {ident!r} is {status}{when}{took}", output)]


def _pending(snapshot: Snapshot, instance: InstanceView) -> list[Finding]:
    now, ident, queue_name = snapshot.now, instance.instance_id, instance.control_queue
    queue = snapshot.queue(queue_name)
    live = snapshot.is_live(queue_name)
    story = _lease_story(snapshot, queue_name)
    findings: list[Finding] = []
    if instance.scheduled_start is not None and instance.scheduled_start > now:
        title = f"instance {ident!r} is scheduled to start at {moment(instance.scheduled_start, now)}"
        findings.append(_info("scheduled-start", title, "Its start message stays invisible until then."))
    if any(isinstance(e, ExecutionStartedEvent) for e in instance.history):
        detail = "Its history holds ExecutionStarted: a host ran its first episode, and the Instances row lags."
        if live:
            return [*findings, _info("pending-row-behind", f"instance {ident!r} is Pending but has started", detail)]
        return [*findings, _warning("pending-row-behind", f"instance {ident!r} is Pending but has started",
                                    f"{detail} {story}", _start_fix(snapshot))]  # fmt: skip

    start = next((m for m in _messages_for(queue, ident) if m.event_type == "ExecutionStarted"), None)
    if start is not None:
        since = f" since {moment(start.inserted_on, now)}" if start.inserted_on else ""
        where = f"Its ExecutionStarted message waits on {queue_name}{since}."
        if not live:
            title = f"instance {ident!r} is Pending: no host is processing its partition {queue_name}"
            return [*findings, _error("pending-no-owner", title, f"{where} {story}", _start_fix(snapshot))]
        if start.inserted_on is not None and now - start.inserted_on >= STALE_AFTER:
            title = f"instance {ident!r} is Pending: the host that owns {queue_name} has not taken its start message"
            return [*findings, _warning("pending-not-taken", title, f"{where} {story}", BUSY_HOST)]
        return [*findings, _info("pending-starting", f"instance {ident!r} is starting", f"{where} {story}")]

    if queue is None or not queue.complete or queue.invisible:
        if live:
            detail = f"Its start message is not visible on {queue_name}: the host that owns it has taken it."
            return [*findings, _info("pending-in-progress", f"instance {ident!r} is starting", detail)]
        if findings:  # a scheduled start explains the invisible message
            return findings
        title = f"instance {ident!r} is Pending and no host is processing its partition {queue_name}"
        detail = (
            "Its start message is not visible: it is delayed, or a host took it and is gone (then it reappears "
            f"after the visibility timeout, 5 min by default). {story}"
        )
        return [_warning("pending-invisible", title, detail, _start_fix(snapshot))]

    created = f" (created {moment(instance.created, now)})" if instance.created else ""
    detail = (
        f"No ExecutionStarted message for it is on {queue_name}, visible or invisible{created}: the start was lost "
        "(a crash between the client's two writes, or a deleted message)."
    )
    fix = f"`dfx durable restart {ident}` starts {instance.name or 'its orchestrator'!r} again with the same input"
    return [*findings, _error("pending-start-lost", f"instance {ident!r} is Pending but its start message is gone",
                              detail, fix)]  # fmt: skip


def _running(snapshot: Snapshot, instance: InstanceView, *, entity: bool) -> list[Finding]:
    ident, queue_name = instance.instance_id, instance.control_queue
    live = snapshot.is_live(queue_name)
    kind = "entity" if entity else "instance"
    findings: list[Finding] = []

    arrived = _messages_for(snapshot.queue(queue_name), ident)
    if arrived:
        labels = ", ".join(sorted({_label(m) for m in arrived}))
        events = _plural(len(arrived), "new event")
        if live:
            findings.append(_info("events-arriving", f"{events} for {kind} {ident!r} are on {queue_name}",
                                  f"Waiting: {labels}."))  # fmt: skip
        else:
            title = f"{events} for {kind} {ident!r} wait on {queue_name}, which no host is processing"
            detail = f"Waiting: {labels}. {_lease_story(snapshot, queue_name)}"
            findings.append(_error("events-no-owner", title, detail, _start_fix(snapshot)))
    if entity:
        if not arrived:
            findings.append(_info("entity-idle", f"entity {ident!r} is idle",
                                  "It runs when an operation is signalled to it or called."))  # fmt: skip
        return findings

    work = open_work(instance.history)
    shown = work.activities[:MAX_OPEN_ACTIVITIES]
    findings += [_open_activity(snapshot, instance, scheduled, arrived) for scheduled in shown]
    if len(work.activities) > len(shown):
        findings.append(_info("activities-open", f"{len(work.activities) - len(shown)} more activities are open"))
    findings += [_open_timer(snapshot, instance, timer, live) for timer in work.timers]
    findings += [_open_child(instance, child) for child in work.children]
    if work.activities or work.timers or work.children or arrived:
        return findings
    if work.entity_call is not None:
        target = work.entity_call.instance_id
        return [_info("waiting-for-entity", f"instance {ident!r} is waiting for entity {target!r} to answer",
                      "Its last action sent an operation to that entity; the answer comes back as an event.",
                      f"`dfx doctor {target}`")]  # fmt: skip
    return [
        _info(
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
    results = ("TaskCompleted", "TaskFailed")
    answer = next((m for m in arrived if m.answers_id == task and m.event_type in results), None)
    if answer is not None:
        return _info("activity-answered", f"{label} of {ident!r} has finished",
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
            return _info("activity-queued", f"instance {ident!r} is waiting for {label}", detail)
        return _error("activity-no-host", f"{label} of {ident!r} waits, but no host is running", detail,
                      _start_fix(snapshot))  # fmt: skip
    if host:
        return _info("activity-running", f"instance {ident!r} is waiting for {label}",
                     "Its work item is not visible: a host is running it (or has just finished it).")  # fmt: skip
    if work_queue is None or not work_queue.complete or work_queue.invisible:
        detail = (
            f"Its work item is not visible on {snapshot.work_item_queue}: a host took it and is gone. It reappears "
            "after the visibility timeout (5 min by default) and then needs a host."
        )
        return _warning("activity-orphaned", f"{label} of {ident!r} was taken by a host that is gone", detail,
                        _start_fix(snapshot))  # fmt: skip
    detail = (
        f"No work item for it is on {snapshot.work_item_queue} (visible or invisible), and no result is on "
        f"{instance.control_queue}: it was lost."
    )
    return _error("activity-lost", f"the work item of {label} of {ident!r} is missing", detail,
                  f"`dfx durable restart {ident}` runs the orchestration again with the same input")  # fmt: skip


def _open_timer(snapshot: Snapshot, instance: InstanceView, timer: TimerCreatedEvent, live: bool) -> Finding:
    now, ident = snapshot.now, instance.instance_id
    when = moment(timer.fire_at, now)
    story = _lease_story(snapshot, instance.control_queue)
    if timer.fire_at > now:
        title = f"instance {ident!r} is waiting for a timer until {when}"
        detail = "Its TimerFired message stays invisible on the control queue until then."
        if live:
            return _info("timer-waiting", title, detail)
        return _warning("timer-no-owner", title, f"{detail} When it fires, no host will process it: {story}",
                        _start_fix(snapshot))  # fmt: skip
    title = f"a timer of instance {ident!r} was due at {when}"
    if not live:
        return _error("timer-overdue", title, f"No host is processing {instance.control_queue}. {story}",
                      _start_fix(snapshot))  # fmt: skip
    if now - timer.fire_at >= STALE_AFTER:
        return _warning("timer-overdue", title, f"{story} It has not processed the TimerFired message.", BUSY_HOST)
    return _info("timer-firing", f"a timer of instance {ident!r} fires now ({when})")


def _open_child(instance: InstanceView, child: SubOrchestrationInstanceCreatedEvent) -> Finding:
    child_id = child.instance_id or "?"
    status = instance.children.get(child_id)
    title = f"instance {instance.instance_id!r} is waiting for sub-orchestration {child.name or '?'!r} ({child_id})"
    if status is None:
        return _warning("child-missing", title,
                        "The child has no Instances row yet: its start message may still wait on its control queue.",
                        f"`dfx doctor {child_id}`")  # fmt: skip
    if status in FINISHED:
        return _warning("child-finished", title,
                        f"The child is {status}, but the parent has not processed its answer yet.",
                        f"`dfx doctor {child_id}`; the answer goes to {instance.control_queue}")  # fmt: skip
    return _info("child-running", title, f"The child is {status}.", f"`dfx doctor {child_id}`")


# -- rules: the names the app must register -------------------------------------------------------------

_REGISTERED = {"orchestrator": "orchestrators", "activity": "activities", "entity": "entities"}


def used_names(snapshot: Snapshot) -> dict[tuple[str, str], str]:
    """(kind, name) -> where it is used, from the instance's history and the peeked messages.

    Names compare case-insensitively, as the extension looks them up; the first spelling met is kept.
    """
    used: dict[tuple[str, str], tuple[str, str]] = {}

    def add(kind: str, name: str | None, where: str) -> None:
        if name:
            used.setdefault((kind, name.lower()), (name, where))

    def entity_name(instance_id: str) -> str | None:
        return EntityId.parse(instance_id).name if ENTITY_PREFIX in instance_id[1:] else None

    instance = snapshot.instance
    if instance is not None and instance.status not in ("Completed", "Terminated", "Canceled"):
        ident = instance.instance_id
        if ident.startswith(ENTITY_PREFIX):
            add("entity", entity_name(ident), f"instance {ident!r}")
        else:
            add("orchestrator", instance.name, f"instance {ident!r}")
        for event in instance.history:
            if isinstance(event, TaskScheduledEvent):
                add("activity", event.name, f"instance {ident!r}, which schedules it")
            elif isinstance(event, SubOrchestrationInstanceCreatedEvent):
                add("orchestrator", event.name, f"instance {ident!r}, which starts it as a sub-orchestration")
            elif isinstance(event, EventSentEvent) and (event.instance_id or "").startswith(ENTITY_PREFIX):
                add("entity", entity_name(event.instance_id or ""), f"instance {ident!r}, which calls it")
    for queue in snapshot.queues:
        for message in queue.visible:
            target = message.instance_id or ""
            where = f"a message on {queue.name} for instance {target!r}"
            if target.startswith(ENTITY_PREFIX):
                add("entity", entity_name(target), where)
            elif message.event_type == "TaskScheduled":
                add("activity", message.name, where)
            elif message.event_type == "ExecutionStarted":
                add("orchestrator", message.name, where)
    return {(kind, shown): where for (kind, _), (shown, where) in used.items()}


def app_rules(snapshot: Snapshot) -> list[Finding]:
    app = snapshot.app
    if app is None:
        return []
    if app.error is not None:
        return [_error("app-load-failed", f"the app does not load: {_short(app.error, 200)}",
                       f"Loading {app.script} with dfx's worker failed.",
                       app.hint or "run `dfx start` to see the whole error")]  # fmt: skip
    findings = []
    script = app.script.replace("\\", "/").rsplit("/", 1)[-1]
    for (kind, name), where in used_names(snapshot).items():
        registered: tuple[str, ...] = getattr(app, _REGISTERED[kind])
        lowered = {n.lower(): n for n in registered}
        if name.lower() in lowered:
            continue
        title = f"{kind} {name!r} is not registered by {script} (registered: {', '.join(registered) or 'none'})"
        close = difflib.get_close_matches(name.lower(), list(lowered), 1, 0.6)
        if close:
            fix = f"did you mean {lowered[close[0]]!r}? Call it by that name, or register an {kind} named {name!r}"
        else:
            fix = f"register it, e.g. `dfx new --template {kind} --name {name}`"
        findings.append(_error("name-not-registered", title, f"Used by {where}.", fix))
    return findings


# -- all of it ------------------------------------------------------------------------------------------

RULES = (settings_rules, storage_rules, hub_rules, instance_rules, partition_rules, queue_rules, app_rules)


def diagnose(snapshot: Snapshot) -> list[Finding]:
    """Every finding about ``snapshot``: errors first, then warnings, then information (rule order within)."""
    findings = [finding for rule in RULES for finding in rule(snapshot)]
    return sorted(findings, key=lambda f: f.severity.rank)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def is_clean(findings: Iterable[Finding]) -> bool:
    """Nothing but information: no errors and no warnings."""
    return all(f.severity is Severity.INFO for f in findings)
