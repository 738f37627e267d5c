"""What this process committed, and the commit chain: each episode's checkpoint in the provider's order.

An episode's checkpoint appends its history with the sentinel ETag, then merges the Instances row and deletes
the messages it consumed (storage-layout §8). The next episode of an instance runs while the append before it
is in flight; appends of one instance are chained so that each takes the ETag the one before produced. The
histories this process committed last are kept (extended sessions, storage-layout §8.4), so that the next
episode of an instance needs no read.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from dfx.emulator import failpoints
from dfx.emulator.config import Settings
from dfx.emulator.durable.background import Background
from dfx.emulator.durable.delivery import Delivery, give_back_all, settle_all
from dfx.emulator.loops import Report
from dfx.emulator.storage.errors import CheckpointConflictError
from dfx.emulator.storage.instances_table import CheckpointColumns
from dfx.emulator.storage.taskhub import TaskHub
from dfx.model.history import HistoryEvent

#: The shortest wait before a failed Instances row write is tried again, in seconds.
MIN_RETRY = 0.05
MAX_CACHED = 2000


@dataclass(frozen=True)
class Checkpoint:
    """One episode's commit: the events appended to an execution's history (from ``start_index``), the
    Instances row columns they imply, and the messages the episode consumed."""

    instance_id: str
    execution_id: str
    appended: list[HistoryEvent]
    start_index: int
    columns: CheckpointColumns
    consumed: list[Delivery]


class _EarlierCommitFailed(Exception):
    """An append could not run because the append of an earlier episode of the same instance failed."""


@dataclass
class _Cached:
    """An instance's current execution as last committed (or about to be committed) here."""

    events: list[HistoryEvent]


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a background task's exception as seen (it was already logged and handled where it happened)."""
    if not task.cancelled():
        task.exception()


class Checkpointer:
    """Commits episodes of the instances this process runs, and keeps their histories, ETags and pending
    Instances rows."""

    def __init__(
        self, settings: Settings, hub: TaskHub, background: Background, stopping: asyncio.Event, report: Report
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.background = background
        self.stopping = stopping
        self.report = report
        self.cache: dict[str, _Cached] = {}
        """Histories this process committed last (extended sessions, storage-layout §8.4): no re-read."""
        self._row_writes: dict[str, asyncio.Task[None]] = {}
        self._commits: dict[str, asyncio.Task[str | None]] = {}
        self._inflight: dict[str, list[asyncio.Task[str | None]]] = {}
        self._etags: dict[str, str | None] = {}
        """The sentinel ETag after the last landed commit of each cached instance."""
        self._pending_rows: dict[str, dict[str, Any]] = {}
        """Instances-row columns not yet written, merged per instance (offloaded values as blob URLs)."""

    # -- histories ----------------------------------------------------------------------------------

    def is_cached(self, instance_id: str) -> bool:
        return instance_id in self.cache

    def remember(self, instance_id: str, events: list[HistoryEvent]) -> None:
        """Keep ``events`` as the instance's current execution (the oldest entry goes when the cache is full)."""
        if len(self.cache) >= MAX_CACHED:
            evicted = next(iter(self.cache))
            self.cache.pop(evicted)
            self._etags.pop(evicted, None)
        self.cache[instance_id] = _Cached(events)

    def uncache(self, instance_id: str) -> None:
        """Read the instance's history from storage next time (its ETag stays for the commits in flight)."""
        self.cache.pop(instance_id, None)

    def forget(self, instance_id: str) -> None:
        self.cache.pop(instance_id, None)
        self._etags.pop(instance_id, None)

    def forget_partition(self, queue_name: str) -> None:
        """Drop what this process cached of the instances of a partition it lost or (re)acquired."""
        for instance_id in {*self.cache, *self._etags}:
            if self.hub.names.control_queue_for(instance_id) == queue_name:
                self.forget(instance_id)

    def note_new_instance(self, instance_id: str) -> None:
        """The instance has no history yet (its start wrote the first Instances row): its first episode skips
        the read. Only for a partition this process owns, since only its owner keeps its cache right."""
        if instance_id not in self.cache:
            self.cache[instance_id] = _Cached([])
            self._etags[instance_id] = None

    async def history(self, instance_id: str, *, fresh: bool = False) -> list[HistoryEvent]:
        """The instance's current execution: from the cache (unless ``fresh``), else read after any commits
        still in flight."""
        cached = None if fresh else self.cache.get(instance_id)
        if cached is not None:
            return list(cached.events)
        if fresh:
            self.forget(instance_id)
        in_flight = self._commits.get(instance_id)
        if in_flight is not None:
            with contextlib.suppress(Exception):
                await in_flight  # read what the pending commits wrote, not what was there before them
        stored = await self.hub.history.read(instance_id)
        self._etags[instance_id] = stored.etag
        return list(stored.events)

    # -- the commit chain ---------------------------------------------------------------------------

    async def room(self, instance_id: str) -> None:
        """Let at most one commit of an instance be in flight while its next episode runs.

        One is enough to overlap the orchestrator with the previous append; waiting beyond that lets the
        messages arriving meanwhile gather into one bigger episode instead of many small ones.
        """
        while len(pending := [t for t in self._inflight.get(instance_id, []) if not t.done()]) >= 2:
            await asyncio.wait([pending[0]])

    def commit(self, checkpoint: Checkpoint) -> None:
        """Queue an episode's append behind the instance's earlier ones and track it as in flight."""
        instance_id = checkpoint.instance_id
        previous = self._commits.get(instance_id)
        commit = asyncio.create_task(self._commit(checkpoint, previous), name=f"dfx-commit-{instance_id}")
        self._commits[instance_id] = commit
        inflight = self._inflight.setdefault(instance_id, [])
        inflight.append(commit)

        def landed(task: asyncio.Task[str | None]) -> None:
            _retrieve(task)
            inflight.remove(task)
            if not inflight and self._inflight.get(instance_id) is inflight:
                del self._inflight[instance_id]

        commit.add_done_callback(landed)

    async def _commit(self, checkpoint: Checkpoint, previous: asyncio.Task[str | None] | None) -> str | None:
        """Append one episode's history, chained after the previous episode's append of the same instance.

        The next episode of an instance runs its orchestrator while this append is in flight (its outbound
        messages were already sent, as §8.3 requires before the append); appends stay in order because each
        waits for the one before and takes the sentinel ETag it produced.
        """
        instance_id = checkpoint.instance_id
        try:
            etag = await previous if previous is not None else self._etags.get(instance_id)
            appended_result = await self.hub.history.append(
                instance_id,
                checkpoint.execution_id,
                checkpoint.appended,
                start_index=checkpoint.start_index,
                etag=etag,
            )
        except Exception as exc:
            self.forget(instance_id)
            if not isinstance(exc, CheckpointConflictError | _EarlierCommitFailed):
                self.report(exc, f"The checkpoint of {instance_id!r}")
            await give_back_all(checkpoint.consumed, self.report)
            if self._commits.get(instance_id) is asyncio.current_task():
                del self._commits[instance_id]
            raise _EarlierCommitFailed(instance_id) from exc
        failpoints.hit("commit.after-append")
        self._etags[instance_id] = appended_result.etag
        if self._commits.get(instance_id) is asyncio.current_task():
            del self._commits[instance_id]
        self._after_commit(checkpoint, appended_result.offloaded)
        return appended_result.etag

    def _after_commit(self, checkpoint: Checkpoint, offloaded: dict[tuple[int, str], str]) -> None:
        """Steps 3 and 5 of the commit (Instances row, consumed messages) off the critical path.

        The history append already made the episode durable (storage-layout §8.3). Row updates of one
        instance are merged while a write is in flight, so a fast chain writes its row once per round trip.
        """
        instance_id = checkpoint.instance_id
        self.background.spawn(settle_all(checkpoint.consumed), f"dfx-delete-{instance_id}")
        # resolved now: offloaded blobs are named by the index of an event in *this* checkpoint
        columns = self.hub.instances.row_columns(checkpoint.columns, offloaded)
        self._pending_rows.setdefault(instance_id, {}).update(columns)
        if instance_id not in self._row_writes:
            task = asyncio.create_task(self._write_rows(instance_id), name=f"dfx-row-{instance_id}")
            self._row_writes[instance_id] = task

    async def _write_rows(self, instance_id: str) -> None:
        """Write the instance's pending row updates until none is left; a failed write is merged back under
        what came meanwhile and tried again with back-off (the last checkpoint of an instance has no later
        one to repair its row), until the host stops."""
        delay = MIN_RETRY
        try:
            while instance_id in self._pending_rows:
                columns = self._pending_rows.pop(instance_id)
                try:
                    await self.hub.instances.merge(instance_id, columns)
                    delay = MIN_RETRY
                except Exception as exc:
                    self.report(exc, f"Updating the Instances row of {instance_id!r}")
                    self._pending_rows[instance_id] = {**columns, **self._pending_rows.get(instance_id, {})}
                    if self.stopping.is_set():
                        return
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.settings.durable.max_queue_polling_interval)
        finally:
            self._row_writes.pop(instance_id, None)

    async def wait(self, timeout: float) -> None:
        """Wait for the appends in flight, then for the Instances rows they left to write (each up to
        ``timeout`` seconds)."""
        if self._commits:
            await asyncio.wait(list(self._commits.values()), timeout=timeout)
        if self._row_writes:
            await asyncio.wait(list(self._row_writes.values()), timeout=timeout)
