"""How the findings say things: durations, moments, counts, message labels, who holds a lease, the fix."""

from __future__ import annotations

from datetime import datetime, timedelta

from dfx.doctor.diagnosis.snapshot import InstanceView, Ownership, Snapshot, ownership
from dfx.emulator.durable.leases import worker_address
from dfx.emulator.storage.peeked import PeekedMessage


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


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def message_label(message: PeekedMessage) -> str:
    text = message.event_type or "unreadable message"
    return f"{text} {message.name!r}" if message.name else text


def short(text: str | None, width: int = 300) -> str:
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


START_HOST = "start the app with `dfx start` in its folder"
BUSY_HOST = "the host may be stuck or overloaded: look at its console, or restart `dfx start`"


def start_fix(snapshot: Snapshot) -> str:
    return f"{START_HOST} (with --task-hub {snapshot.hub_name})" if snapshot.hub_from_option else START_HOST


def run_again_fix(snapshot: Snapshot, instance: InstanceView) -> str:
    """How to run a stuck instance again under its own id with today's commands (restart refuses a live status).

    The terminate is a message that only a host acts on; a Pending instance without history is recorded as
    Terminated, a Running one ends. Then the id may start again.
    """
    ident, name = instance.instance_id, instance.name or "its orchestrator"
    first = "" if snapshot.is_live(instance.control_queue) else f"{start_fix(snapshot)}, then "
    return (
        f"{first}`dfx durable terminate {ident}`; once `dfx inspect status {ident}` shows Terminated, "
        f"`dfx durable restart {ident} --keep-id` runs {name!r} again with the same input"
    )


def elsewhere(owner: str, snapshot: Snapshot) -> str:
    machine, _ = worker_address(owner)
    return f" (a worker on another machine, {machine})" if snapshot.machine and machine != snapshot.machine else ""


def lease_story(snapshot: Snapshot, queue_name: str) -> str:
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
        return f"The lease of worker {owner!r}{elsewhere(owner, snapshot)} expired{when}: its host is gone."
    if state is Ownership.SILENT:
        return f"Worker {owner!r} holds the lease but does not answer."
    return f"Worker {owner!r}{elsewhere(owner, snapshot)} holds the lease."
