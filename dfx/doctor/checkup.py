"""The I/O half of ``dfx doctor``: read a task hub, probe its hosts and index the app into a diagnosis Snapshot.

Nothing here changes storage: queues are peeked (no visibility change), tables only read. The app is indexed in
a child process with a time limit, so that a function_app.py that blocks, crashes or exits at import cannot
take the command down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError

from dfx.doctor.diagnosis import (
    AppView,
    InstanceView,
    PartitionView,
    QueueView,
    SettingsProblem,
    Snapshot,
    StorageProbe,
)
from dfx.emulator.config import Settings, load_settings
from dfx.emulator.storage.connection import SERVICES, StorageAccount
from dfx.emulator.storage.errors import ConnectionStringError, StorageError, TaskHubNameError
from dfx.emulator.storage.names import DEFAULT_HUB_NAME
from dfx.emulator.storage.peeked import PEEK_LIMIT, peeked_message
from dfx.errors import DfxError
from dfx.model.encoding import to_utc
from dfx.model.history import SubOrchestrationInstanceCreatedEvent, utcnow

if TYPE_CHECKING:  # the storage SDKs load only when a diagnosis runs
    from dfx.emulator.storage import TaskHub
    from dfx.emulator.storage.partitions import PartitionLease

PROBE_TIMEOUT = 1.0
"""Seconds each storage endpoint gets to answer (the three are probed at once)."""
OWNER_PROBE_TIMEOUT = 0.5
APP_LOAD_TIMEOUT = 20.0
MAX_CHILDREN = 20
SIMILAR_IDS = 50
_BAD_HUB = re.compile(r"Task hub name (?P<name>'.*'|\".*\") is invalid")


@dataclass(frozen=True)
class DoctorRequest:
    """What ``dfx doctor`` was asked about."""

    app_dir: Path
    task_hub: str | None = None
    connection: str | None = None
    instance_id: str | None = None


# -- settings -------------------------------------------------------------------------------------------


def _bad_hub_name(exc: TaskHubNameError, given: str | None) -> str:
    if given:
        return given
    match = _BAD_HUB.match(exc.message)
    return match["name"][1:-1] if match else ""


def _settings(request: DoctorRequest) -> tuple[Settings | None, SettingsProblem | None, str]:
    """The settings (None when they cannot be built), the problem met, and the hub name asked for."""
    try:
        settings = load_settings(request.app_dir, task_hub=request.task_hub, connection=request.connection)
        return settings, None, settings.hub_name
    except TaskHubNameError as exc:
        problem = SettingsProblem("hub-name", exc.message, exc.hint)
        hub = _bad_hub_name(exc, request.task_hub)
        try:  # everything but the name is valid (the name is checked last): keep the storage to list the hubs
            return (
                load_settings(request.app_dir, task_hub=DEFAULT_HUB_NAME, connection=request.connection),
                problem,
                hub,
            )
        except DfxError:
            return None, problem, hub
    except ConnectionStringError as exc:
        return None, SettingsProblem("connection", exc.message, exc.hint), request.task_hub or DEFAULT_HUB_NAME
    except DfxError as exc:
        return None, SettingsProblem("config", exc.message, exc.hint), request.task_hub or DEFAULT_HUB_NAME


# -- storage --------------------------------------------------------------------------------------------


def _address(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


async def probe_storage(account: StorageAccount) -> StorageProbe:
    """Whether blob, queue and table answer HTTP, within about a second."""
    from dfx.emulator.azurite import endpoints_answer

    answering = await asyncio.to_thread(endpoints_answer, account, PROBE_TIMEOUT)
    silent = [s for s in SERVICES if not answering[s]]
    parts = [urlsplit(account.endpoint(s)) for s in silent]
    listening = await asyncio.gather(*(_listens(p.hostname or "", p.port or 443) for p in parts))
    return StorageProbe(
        description=account.describe(),
        is_local=account.is_local,
        endpoints={s: _address(account.endpoint(s)) for s in SERVICES},
        answering=answering,
        listening={**dict.fromkeys(SERVICES, True), **dict(zip(silent, listening, strict=True))},
    )


async def _listens(host: str, port: int, timeout: float = OWNER_PROBE_TIMEOUT) -> bool:
    """Something accepts TCP connections on ``host:port``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _partition_views(leases: list[PartitionLease], now: datetime, machine: str) -> tuple[PartitionView, ...]:
    """The lease rows, with a port probe for each live owner that is a dfx on this machine."""
    from dfx.emulator.durable.nudge import local_host_port  # it loads the storage SDKs, like TaskHub

    ports = sorted({p for lease in leases if (p := local_host_port(lease, now, machine)) is not None})
    answers = dict(zip(ports, await asyncio.gather(*(_listens("127.0.0.1", p) for p in ports)), strict=True))

    def view(lease: PartitionLease) -> PartitionView:
        port = local_host_port(lease, now, machine)
        expires = to_utc(lease.expires_at) if lease.expires_at else None
        return PartitionView(lease.queue_name, lease.current_owner, expires, answers.get(port) if port else None)

    return tuple(view(lease) for lease in leases)


async def _queue_view(hub: TaskHub, name: str) -> QueueView:
    depth, peeked = await asyncio.gather(hub.queues.depth(name), hub.queues.peek(name, PEEK_LIMIT))
    visible = tuple(peeked_message(name, raw, data) for raw, data in peeked)
    return QueueView(name, max(depth.count, len(visible)), visible)


async def _instance_view(hub: TaskHub, instance_id: str) -> tuple[InstanceView | None, tuple[str, ...]]:
    """The instance (None if unknown) and, when unknown, ids that share its first characters."""
    from dfx.emulator.storage.instances_table import InstanceQuery

    record = await hub.instances.get(instance_id)
    if record is None:
        prefix = instance_id[: max(1, min(len(instance_id) // 2, 8))]
        page = await hub.instances.query(InstanceQuery(instance_id_prefix=prefix, page_size=SIMILAR_IDS,
                                                       fetch_input=False))  # fmt: skip
        return None, tuple(r.instance_id for r in page.instances)
    history = await hub.history.read(instance_id)
    children = [e.instance_id for e in history.events if isinstance(e, SubOrchestrationInstanceCreatedEvent)]
    wanted = [c for c in dict.fromkeys(children) if c][:MAX_CHILDREN]
    rows = await asyncio.gather(*(hub.instances.get(c, fetch_large=False) for c in wanted))
    statuses = {c: (row.runtime_status.name if row else None) for c, row in zip(wanted, rows, strict=True)}

    def utc(value: datetime | None) -> datetime | None:
        return to_utc(value) if value is not None else None

    view = InstanceView(
        instance_id=record.instance_id,
        name=record.name,
        status=record.runtime_status.name,
        control_queue=hub.names.control_queue_for(instance_id),
        created=utc(record.created_time),
        completed=utc(record.completed_time),
        scheduled_start=utc(record.scheduled_start_time),
        output=record.output,
        history=tuple(history.events),
        children=statuses,
    )
    return view, ()


async def _read_hub(account: StorageAccount, hub_name: str, configured: int, instance_id: str | None,
                    now: datetime, machine: str) -> dict[str, Any]:  # fmt: skip
    """The Snapshot fields that come from the hub itself."""
    from dfx.emulator.storage import TaskHub, TaskHubNotFoundError, list_task_hubs

    try:
        hub = await TaskHub.open_existing(account, hub_name, configured)
    except TaskHubNotFoundError:
        return {"hub_exists": False, "hubs": tuple(await list_task_hubs(account))}
    async with hub:
        leases = await hub.partitions.read_all()
        queue_names = list(dict.fromkeys([*hub.names.control_queues, *(p.queue_name for p in leases)]))
        queue_names.append(hub.names.work_item_queue)
        gathered = await asyncio.gather(
            _partition_views(leases, now, machine),
            asyncio.gather(*(_queue_view(hub, q) for q in queue_names)),
            _instance_view(hub, instance_id) if instance_id is not None else _nothing(),
        )
        partitions, queues, (instance, similar) = gathered
        return {
            "hub_exists": True,
            "partitions": partitions,
            "queues": tuple(queues),
            "work_item_queue": hub.names.work_item_queue,
            "instance": instance,
            "instance_queue": hub.names.control_queue_for(instance_id) if instance_id is not None else "",
            "similar_ids": similar,
        }


async def _nothing() -> tuple[None, tuple[str, ...]]:
    return None, ()


# -- the app --------------------------------------------------------------------------------------------

_INDEX_SCRIPT = (
    "import sys; from dfx.doctor.checkup import report_registered_names; "
    "report_registered_names(sys.argv[1], sys.argv[2])"
)


def report_registered_names(app_dir: str, script_file: str) -> None:
    """Child-process entry: index the app with dfx's worker and print its durable names as one JSON line.

    The user's prints go to stderr so that stdout holds only the answer; the process ends at once afterwards,
    whatever threads the app started.
    """
    from dfx.emulator.worker.functions import ACTIVITY_TRIGGER, ENTITY_TRIGGER, ORCHESTRATION_TRIGGER
    from dfx.emulator.worker.loader import load_functions

    answer = sys.stdout
    sys.stdout = sys.stderr
    result: dict[str, Any]
    try:
        index = load_functions(Path(app_dir), script_file)
        result = {
            "orchestrators": index.durable_names(ORCHESTRATION_TRIGGER),
            "activities": index.durable_names(ACTIVITY_TRIGGER),
            "entities": index.durable_names(ENTITY_TRIGGER),
        }
    except DfxError as exc:
        result = {"error": exc.message, "hint": exc.hint}
    except BaseException as exc:  # the app's own failure at import, SystemExit included
        result = {"error": f"{type(exc).__name__}: {exc}"}
    answer.write(json.dumps(result) + "\n")
    answer.flush()
    os._exit(0)


async def index_app(app_dir: Path, script_file: str, environment: Mapping[str, str]) -> AppView:
    """The durable names the app registers, read by a child process that gets ``APP_LOAD_TIMEOUT`` seconds."""
    script = app_dir / script_file
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _INDEX_SCRIPT, str(app_dir), script_file,
        cwd=app_dir, env={**os.environ, **environment},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), APP_LOAD_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return AppView(str(script), error=f"{script_file} did not finish loading within {APP_LOAD_TIMEOUT:.0f} s",
                       hint="look for code that blocks at import (a loop, input(), a network call)")  # fmt: skip
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if not result:
        last = (stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        return AppView(str(script), error=f"the worker exited with code {process.returncode}: {last}")
    if "error" in result:
        return AppView(str(script), error=result["error"], hint=result.get("hint"))
    return AppView(
        str(script),
        orchestrators=tuple(result["orchestrators"]),
        activities=tuple(result["activities"]),
        entities=tuple(result["entities"]),
    )


# -- all of it ------------------------------------------------------------------------------------------


async def gather_snapshot(request: DoctorRequest, now: datetime | None = None) -> Snapshot:
    """Read everything the diagnosis rules need; failures become parts of the snapshot, never exceptions."""
    settings, problem, hub_name = _settings(request)
    base: dict[str, Any] = {
        "now": now or utcnow(),
        "hub_name": hub_name,
        "hub_from_option": request.task_hub is not None,
        "machine": socket.gethostname(),
        "settings_problem": problem,
        "instance_id": request.instance_id,
    }
    if settings is None:
        return Snapshot(**base)
    base["partition_count"] = settings.partition_count
    app_task = None
    if settings.script_path.is_file():
        app_task = asyncio.create_task(index_app(settings.app_dir, settings.script_file, settings.environment_updates))
    account = settings.storage
    probe = await probe_storage(account)
    base["storage"] = probe
    try:
        if probe.answers:
            if problem is not None:
                from dfx.emulator.storage import list_task_hubs

                base["hubs"] = tuple(await list_task_hubs(account))
            else:
                hub_parts = await _read_hub(
                    account, hub_name, settings.partition_count, request.instance_id, base["now"], base["machine"]
                )
                base.update(hub_parts)
    except (StorageError, HttpResponseError) as exc:  # an answer the typed layer does not expect: still a finding
        base["storage"] = StorageProbe(probe.description, probe.is_local, probe.endpoints, probe.answering,
                                       error=getattr(exc, "message", None) or str(exc))  # fmt: skip
    if app_task is not None:
        base["app"] = await app_task
    return Snapshot(**base)
