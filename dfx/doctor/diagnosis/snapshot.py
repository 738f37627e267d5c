"""The snapshot the rules read: settings, storage, partitions, queues, one instance and the app, as gathered.

``dfx.doctor.checkup`` fills it in; every part that could not be read is None or empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from dfx.emulator.durable.leases import lease_expired
from dfx.emulator.storage.peeked import PEEK_LIMIT, PeekedMessage
from dfx.model.history import HistoryEvent

STALE_AFTER = timedelta(minutes=1)
"""A visible message older than this that nobody takes is stuck."""


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
