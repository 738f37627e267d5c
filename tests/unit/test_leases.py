"""The pure lease decisions: who holds a partition, and the worker ids they are held under."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dfx.emulator.durable.leases import lease_expired, live_owners, worker_address
from dfx.emulator.storage.partitions import PartitionLease

NOW = datetime(2026, 1, 31, 12, 0, 0, tzinfo=timezone.utc)


def test_a_lease_is_expired_at_its_expiry_time_and_when_never_taken():
    assert lease_expired(None, NOW)
    assert lease_expired(NOW, NOW)
    assert not lease_expired(NOW + timedelta(seconds=1), NOW)


def test_live_owners_are_the_workers_with_an_unexpired_lease_each_named_once():
    soon, gone = NOW + timedelta(seconds=20), NOW - timedelta(seconds=1)
    leases = [
        PartitionLease("c-00", current_owner="box:7071", expires_at=soon),
        PartitionLease("c-01", current_owner="box:7071", expires_at=soon),
        PartitionLease("c-02", current_owner="old:7072", expires_at=gone),
        PartitionLease("c-03", next_owner="box:7073", expires_at=soon),
    ]
    assert live_owners(leases, NOW) == ["box:7071"]


def test_a_worker_address_splits_machine_and_port():
    assert worker_address("devbox:7071") == ("devbox", 7071)
    assert worker_address("my:host:7071") == ("my:host", 7071)
    assert worker_address("worker-without-port") == ("worker-without-port", None)
