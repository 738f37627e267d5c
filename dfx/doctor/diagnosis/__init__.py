"""What ``dfx doctor`` concludes: a snapshot of a task hub (and of an app) in, findings with their fixes out.

Pure: no I/O and no clock; ``dfx.doctor.checkup`` gathers the :class:`Snapshot`. Each rule reads
the snapshot and returns findings; :func:`diagnose` runs them all and puts the most severe first. The parts:
``snapshot`` (what is read), ``findings`` (what is concluded), ``wording`` (the sentences the rules share), and
the rules by subject: ``hub`` (settings, storage, name, partitions, queues), ``instance`` and ``app``.
"""

from __future__ import annotations

from collections.abc import Iterable

from dfx.doctor.diagnosis.app import app_rules, used_names
from dfx.doctor.diagnosis.findings import Finding, Severity
from dfx.doctor.diagnosis.hub import hub_rules, partition_rules, queue_rules, settings_rules, storage_rules
from dfx.doctor.diagnosis.instance import OpenWork, instance_rules, open_work
from dfx.doctor.diagnosis.snapshot import (
    STALE_AFTER,
    AppView,
    InstanceView,
    Ownership,
    PartitionView,
    QueueView,
    SettingsProblem,
    Snapshot,
    StorageProbe,
    ownership,
)
from dfx.doctor.diagnosis.wording import moment, span

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


__all__ = [
    "RULES",
    "STALE_AFTER",
    "AppView",
    "Finding",
    "InstanceView",
    "OpenWork",
    "Ownership",
    "PartitionView",
    "QueueView",
    "SettingsProblem",
    "Severity",
    "Snapshot",
    "StorageProbe",
    "app_rules",
    "diagnose",
    "has_errors",
    "hub_rules",
    "instance_rules",
    "is_clean",
    "moment",
    "open_work",
    "ownership",
    "partition_rules",
    "queue_rules",
    "settings_rules",
    "span",
    "storage_rules",
    "used_names",
]
