"""The rules about the hub as a whole: settings, storage, the hub name, partitions and queues."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime

from dfx.doctor.diagnosis.findings import Finding, error, info, warning
from dfx.doctor.diagnosis.snapshot import (
    STALE_AFTER,
    Ownership,
    PartitionView,
    QueueView,
    Snapshot,
    ownership,
)
from dfx.doctor.diagnosis.wording import (
    BUSY_HOST,
    START_HOST,
    elsewhere,
    lease_story,
    message_label,
    moment,
    plural,
    span,
    start_fix,
)
from dfx.emulator.durable.leases import worker_address
from dfx.emulator.storage.names import sanitize_hub_name
from dfx.emulator.storage.peeked import POISON_DEQUEUES

MAX_PER_QUEUE = 5
"""Poison messages reported one by one per queue (the rest are counted)."""


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
        return [error("hub-name-invalid", f"task hub name {snapshot.hub_name!r} breaks the naming rules", detail, fix)]
    if problem.kind == "connection":
        return [error("connection-invalid", "the storage connection string cannot be used", problem.message,
                       problem.hint or "")]  # fmt: skip
    fix = problem.hint or "fix host.json / local.settings.json"
    return [error("config-invalid", "the app's settings cannot be read", problem.message, fix)]


def _port_list(ports: list[int]) -> str:
    if len(ports) > 1 and ports == list(range(ports[0], ports[0] + len(ports))):
        return f"{ports[0]}-{ports[-1]}"
    return ", ".join(str(p) for p in ports)


def storage_rules(snapshot: Snapshot) -> list[Finding]:
    probe = snapshot.storage
    if probe is None:
        return []
    if probe.error:
        return [error("storage-error", "reading the task hub failed", probe.error,
                       "check the connection string, and that the account allows table and queue access")]  # fmt: skip
    if probe.answers:
        return []
    silent = [s for s, ok in probe.answering.items() if not ok]
    tried = ", ".join(f"{s} {probe.endpoints[s]}" for s in silent)
    if all(probe.listening.get(s) for s in silent):
        title = f"storage at {', '.join(probe.endpoints[s] for s in silent)} accepts connections but does not answer"
        detail = "A busy Azurite answers slowly; another program on these ports does not answer storage requests."
        fix = "`dfx azurite status` tells whether it is Azurite; run `dfx doctor` again in a moment"
        return [error("storage-unavailable", title, detail, fix)]
    if not probe.is_local:
        fix = "check the connection string (AzureWebJobsStorage in local.settings.json, or --connection) and network"
        return [error("storage-unavailable", f"storage account {probe.description} does not answer",
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
    return [error("storage-unavailable", title, f"Nothing answers at {tried}.", fix)]


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
            fix = f"{start_fix(snapshot)}: it creates the hub"
        findings.append(error("hub-not-found", title, detail, fix))
    rows = len(snapshot.partitions)
    if rows and rows != snapshot.partition_count:
        findings.append(
            warning(
                "partition-count-mismatch",
                f"the hub has {rows} partitions but the settings say {snapshot.partition_count}",
                "Messages are routed to control queues by the partition count; with another count they land on "
                "queues that no host of this hub polls.",
                f"set extensions.durableTask.storageProvider.partitionCount in host.json to {rows}",
            )
        )
    return findings


def _oldest_since(queues: Iterable[QueueView], now: datetime) -> str:
    dated = [m for q in queues if (m := q.oldest()) is not None and m.inserted_on is not None]
    oldest = min(dated, key=lambda m: m.inserted_on or now, default=None)
    if oldest is None or oldest.inserted_on is None:
        return ""
    return f"; the oldest visible one ({message_label(oldest)}) since {moment(oldest.inserted_on, now)}"


def _waiting(queue: QueueView, now: datetime) -> str:
    verb = "waits" if queue.count == 1 else "wait"
    return f"{plural(queue.count, 'message')} {verb} on {queue.name}{_oldest_since([queue], now)}."


def _hostless(snapshot: Snapshot) -> bool:
    """No worker holds any partition: nothing of the hub runs anywhere."""
    return all(ownership(p, snapshot.now) in (Ownership.FREE, Ownership.EXPIRED) for p in snapshot.partitions)


def _no_host(snapshot: Snapshot) -> Finding:
    """The one finding of a hub that no host runs: information when nothing waits, else what waits."""
    title = f"no host is running task hub {snapshot.hub_name!r}"
    gone = next((p for p in snapshot.partitions if p.owner), None)
    story = f" {lease_story(snapshot, gone.queue_name)}" if gone else ""
    waiting = [q for q in snapshot.queues if q.count]
    if not waiting:
        return info("no-host", title, f"No worker owns its partitions, and no messages wait.{story}",
                     f"{start_fix(snapshot)} when there is work to do")  # fmt: skip
    total = sum(q.count for q in waiting)
    where = ", ".join(f"{q.name} ({q.count})" for q in waiting)
    if not any(q.visible for q in waiting):
        detail = f"Only invisible messages (timers, delayed or taken ones) wait: {where}.{story}"
        return warning("no-host", f"{title}; {plural(total, 'invisible message')} will need one", detail,
                        start_fix(snapshot))  # fmt: skip
    detail = f"Messages wait on {where}{_oldest_since(waiting, snapshot.now)}.{story}"
    verb = "waits" if total == 1 else "wait"
    return error("no-host", f"{title}; {plural(total, 'message')} {verb}", detail, start_fix(snapshot))


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
            story = lease_story(snapshot, name)
            if queue is not None and queue.visible:
                findings.append(error("partition-unowned", f"no host is processing partition {name}",
                                       f"{_waiting(queue, now)} {story}", start_fix(snapshot)))  # fmt: skip
            elif queue is not None and queue.count:
                detail = f"{plural(queue.count, 'invisible message')} (timers, delayed or taken ones) will need one."
                findings.append(warning("partition-unowned", f"no host owns partition {name}", f"{story} {detail}",
                                         start_fix(snapshot)))  # fmt: skip
            elif any_live:
                findings.append(info("partition-unowned", f"no host owns partition {name}",
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
            f"{moment(expires, now)}, and until then no other host takes over. {plural(queued, 'message')} wait there."
        )
        fix = (
            f"wait for the lease to expire, or run `dfx start --port {port}` again: a host restarted on the same "
            "port takes its partitions back at once"
        )
        title = f"the host on port {port} is not answering but holds {plural(len(leased), 'partition')}"
        findings.append(warning("owner-not-answering", title, detail, fix))

    if live:
        owners = "; ".join(f"{owner}{elsewhere(owner, snapshot)}: {', '.join(q)}" for owner, q in live.items())
        findings.append(info("partitions-owned", "partitions have live owners", owners))
    return findings


def _poison(snapshot: Snapshot, queue: QueueView) -> list[Finding]:
    poison = [m for m in queue.visible if m.dequeue_count >= POISON_DEQUEUES]
    findings = []
    for message in poison[:MAX_PER_QUEUE]:
        instance = message.instance_id or "?"
        put = f", put {moment(message.inserted_on, snapshot.now)}" if message.inserted_on else ""
        detail = (
            f"{message_label(message)} for instance {instance!r}{put}: a host takes it and fails before finishing, "
            "again and again (a poison message)."
        )
        fix = (
            f"watch it with `dfx start --verbose` and `dfx doctor {instance}`; "
            f"to give up on the instance: `dfx durable terminate {instance}`"
        )
        title = f"a message on {queue.name} was dequeued {message.dequeue_count} times"
        findings.append(error("poison-message", title, detail, fix))
    if len(poison) > MAX_PER_QUEUE:
        more = len(poison) - MAX_PER_QUEUE
        title = f"{more} more messages on {queue.name} were dequeued {POISON_DEQUEUES}+ times"
        findings.append(error("poison-message", title))
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
                    warning(
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
            findings.append(info("invisible-messages", f"{plural(queue.invisible, 'message')} on {queue.name} "
                                  "are invisible", detail))  # fmt: skip

        if queue.name == snapshot.work_item_queue and queue.visible and not snapshot.any_live_host:
            if not _hostless(snapshot):  # else the no-host finding says it
                title = f"{plural(queue.count, 'activity work item')} wait on {queue.name}, but no host is running"
                findings.append(error("activities-no-host", title, _waiting(queue, now), start_fix(snapshot)))
            continue
        oldest = queue.oldest()
        if oldest is None or oldest.inserted_on is None or now - oldest.inserted_on < STALE_AFTER:
            continue
        if snapshot.is_live(queue.name):
            partition = snapshot.partition(queue.name)
            holder = f" though worker {partition.owner!r} owns the queue" if partition and partition.owner else ""
            title = f"a message on {queue.name} has waited {span(now - oldest.inserted_on)}{holder}"
            findings.append(warning("message-not-taken", title, _waiting(queue, now), BUSY_HOST))
    return findings
