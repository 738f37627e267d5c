"""A synthetic orchestration's history, produced one checkpoint (episode) of events at a time."""

from __future__ import annotations

from collections import deque

from dfx.model.history import (
    ExecutionStartedEvent,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    TaskCompletedEvent,
    TaskScheduledEvent,
)

EVENTS_PER_CHECKPOINT = 10
FAN_OUT = 4  # activities completed and scheduled per later episode: 1 + 4 + 4 + 1 = 10 events


class SyntheticOrchestration:
    """The episodes of a fan-out "hello" orchestration, each exactly ``EVENTS_PER_CHECKPOINT`` events long.

    The first episode starts the execution and schedules activities; every later one completes
    ``FAN_OUT`` of them and schedules as many new ones, as a long-running orchestration would.
    """

    def __init__(self, instance_id: str, execution_id: str) -> None:
        self.instance = OrchestrationInstance(instance_id, execution_id)
        self.events_written = 0
        self._next_task_id = 0
        self._pending: deque[int] = deque()

    def _schedule(self, count: int) -> list[HistoryEvent]:
        scheduled: list[HistoryEvent] = []
        for _ in range(count):
            scheduled.append(TaskScheduledEvent(event_id=self._next_task_id, name="hello", input='"x"'))
            self._pending.append(self._next_task_id)
            self._next_task_id += 1
        return scheduled

    def next_checkpoint(self) -> list[HistoryEvent]:
        """The events of the next episode; the caller appends them at ``events_written`` before this call."""
        events: list[HistoryEvent] = [OrchestratorStartedEvent()]
        if self.events_written == 0:
            events.append(ExecutionStartedEvent(orchestration_instance=self.instance, name="hello", input='"x"'))
            events += self._schedule(EVENTS_PER_CHECKPOINT - 3)
        else:
            for _ in range(FAN_OUT):
                events.append(TaskCompletedEvent(task_scheduled_id=self._pending.popleft(), result='"ok"'))
            events += self._schedule(FAN_OUT)
        events.append(OrchestratorCompletedEvent())
        self.events_written += len(events)
        return events
