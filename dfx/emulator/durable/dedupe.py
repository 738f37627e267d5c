"""Which client start messages may run: the provider's duplicate-start rule (storage-layout §7), pure.

A client puts the ExecutionStarted message first and writes the instance's Instances row second, and that
write decides between concurrent starts of one id. So an engine that receives a top-level start it did not
write itself checks the row: the start runs only if the row names its execution.
"""

from __future__ import annotations

import enum
from datetime import datetime

#: After this many receives a start whose row never appeared (its client died in between) is dropped.
MAX_START_ATTEMPTS = 10


class StartVerdict(enum.Enum):
    RUN = "run"
    DROP = "drop"
    """Another start of the id won (or this one is stale)."""
    WAIT = "wait"
    """The row is not written yet: put the message back and look again later."""


def start_verdict(
    execution_id: str | None,
    generation: int,
    dequeue_count: int,
    row_execution_id: str | None,
    row_generation: int | None,
    *,
    created: datetime | None = None,
    row_created: datetime | None = None,
) -> StartVerdict:
    """The verdict on a start message of ``execution_id`` given the instance's row (None values: no row).

    A row of the same or a later generation that names another execution was written by a start that read
    the same row as this one, or a later one; this start's own write can then only fail. Unless the row's
    CreatedTime is this start's own (``created``, written with the row): a checkpoint of the execution it
    replaced (``overridableExistingInstanceStates: AnyState``) wrote its ExecutionId back over it.
    """
    if row_generation is not None and (not row_execution_id or row_execution_id == execution_id):
        return StartVerdict.RUN
    if row_generation == generation and created is not None and created == row_created:
        return StartVerdict.RUN
    if row_generation is not None and row_generation >= generation:
        return StartVerdict.DROP
    if dequeue_count >= MAX_START_ATTEMPTS:
        return StartVerdict.DROP
    return StartVerdict.WAIT
