"""Partition ownership decisions for the table partition manager (storage-layout §6.3), as pure functions."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dfx.emulator.storage.partitions import PartitionLease

LEASE_INTERVAL = timedelta(seconds=30)


def worker_id(port: int) -> str:
    """This host's owner string: the machine name (the provider's default) and the port it serves.

    Two hosts on one machine never share a port, so they never share an id; a host restarted on the same
    port after a crash finds its own name on the leases and takes its partitions back at once.
    """
    return f"{socket.gethostname()}:{port}"


def worker_address(owner: str) -> tuple[str, int | None]:
    """The machine and port of a worker id ``machine:port`` (port None when the id has none)."""
    machine, sep, port = owner.rpartition(":")
    if sep and port.isdigit():
        return machine, int(port)
    return owner, None


def lease_expired(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a lease has run out (or was never taken): its owner, if any, no longer holds the partition."""
    return expires_at is None or now >= expires_at


def live_owners(leases: Iterable[PartitionLease], now: datetime) -> list[str]:
    """The workers that hold an unexpired lease on some partition, that is, the hosts serving the hub now."""
    return sorted({p.current_owner for p in leases if p.current_owner and not lease_expired(p.expires_at, now)})


def claim_or_renew(
    lease: PartitionLease, me: str, now: datetime, lease_interval: timedelta = LEASE_INTERVAL
) -> PartitionLease | None:
    """The row after this round (claimed or renewed), or None when it belongs to someone else.

    A renewal lasts ``lease_interval``; a claim twice that (the provider's one minute for its 30 s default).
    """
    expired = lease_expired(lease.expires_at, now)
    free = lease.current_owner is None and lease.next_owner is None
    if lease.current_owner == me and lease.next_owner is None:
        return dataclasses.replace(lease, last_renewal=now, expires_at=now + lease_interval)
    if free or (expired and lease.current_owner != me) or (lease.current_owner is None and lease.next_owner == me):
        return dataclasses.replace(
            lease,
            current_owner=me,
            next_owner=None,
            owned_since=now,
            last_renewal=now,
            expires_at=now + 2 * lease_interval,
            is_draining=False,
        )
    return None


def released(lease: PartitionLease) -> PartitionLease:
    """The row handed back at shutdown: no owner, not draining (NextOwner kept for a waiting thief)."""
    return dataclasses.replace(lease, current_owner=None, is_draining=False)
