"""Which lease names a dfx host on this machine that a CLI can nudge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dfx.emulator.durable.nudge import local_host_port
from dfx.emulator.storage.partitions import PartitionLease

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def lease(owner: str | None, expires_in: float = 30) -> PartitionLease:
    return PartitionLease("hub-control-00", current_owner=owner, expires_at=NOW + timedelta(seconds=expires_in))


def test_a_live_lease_of_a_host_on_this_machine_gives_its_port():
    assert local_host_port(lease("box:7071"), NOW, machine="box") == 7071


def test_expired_foreign_unowned_and_odd_owners_are_not_nudged():
    assert local_host_port(lease("box:7071", expires_in=-1), NOW, machine="box") is None
    assert local_host_port(lease("other:7071"), NOW, machine="box") is None
    assert local_host_port(lease(None), NOW, machine="box") is None
    assert local_host_port(lease("box:func"), NOW, machine="box") is None
