"""``dfx durable``: act on instances straight through storage, the way ``func durable`` should (no host needed).

Each command writes what the Durable client writes: a message on the instance's control queue (and, for a
start, its Pending Instances row). A host serving the task hub — ``dfx start``, now or later — acts on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dfx.cli import taskhub
from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    IdOption,
    InstanceIdArgument,
    JsonOption,
    TaskHubOption,
    YesOption,
    confirm_or_exit,
    err,
    json_argument,
    open_hub,
    out,
    parse_statuses,
    parse_time,
    pick_instance_id,
    print_json,
    require_instance,
    run,
    settings_for,
)
from dfx.cli.inspect.history import history as inspect_history
from dfx.cli.inspect.instances import instances as inspect_instances
from dfx.cli.inspect.status import status as inspect_status
from dfx.emulator.config import Settings
from dfx.errors import DfxError

if TYPE_CHECKING:  # the storage SDKs load only when a command runs, keeping `dfx start` light
    from dfx.cli.purge import PurgeFilter
    from dfx.emulator.durable.client import DurableClient
    from dfx.emulator.storage import PurgeResult
    from dfx.emulator.storage.instances_table import InstanceRecord

app = typer.Typer(
    help="Start, signal, stop and purge instances straight through storage; no host needed.\n\n"
    "Example: dfx durable start-new --function-name hello_orchestrator --input '\"Tokyo\"'",
    no_args_is_help=True,
)
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (kept in the instance's history).")]


@contextlib.asynccontextmanager
async def _client(settings: Settings, *, create: bool = False) -> AsyncIterator[DurableClient]:
    """A Durable client on the hub of ``settings``, configured as ``dfx start`` configures the host's."""
    from dfx.emulator.durable.client import DurableClient, InstanceNotFound
    from dfx.emulator.durable.nudge import NudgingSender
    from dfx.emulator.storage import InstanceNotFoundError

    async with open_hub(settings, create=create) as hub:
        try:
            yield DurableClient(
                hub,
                dispatcher=await NudgingSender.for_hub(hub),  # a local `dfx start` on the hub acts at once
                default_version=settings.durable.default_version,
                overwrite_running=settings.durable.overridable_existing_instance_states == "AnyState",
            )
        except InstanceNotFound as exc:
            raise InstanceNotFoundError(f"{exc.message.rstrip('.')} in task hub {hub.name!r}.") from None


def _report(json_output: bool, text: str, **data: Any) -> None:
    """One confirming line, or the operation as JSON (None values left out)."""
    if json_output:
        print_json({k: v for k, v in data.items() if v is not None})
    else:
        out.print(text, markup=False)


# -- start-new ---------------------------------------------------------------------------------------


def python_client_input(text: str | None) -> str | None:
    """An orchestration input stored the way the Python SDK's ``start_new`` stores it: JSON text in a JSON string.

    The orchestrator's ``get_input()`` then returns the value for every JSON type, as for an instance started
    by the app's own HTTP starter; stored bare (as a raw HTTP start does) a number, list or bool would make
    ``get_input()`` raise (host-protocol §8).
    """
    from dfx.model.encoding import compact_json

    return None if text is None else compact_json(text)


async def _start(settings: Settings, name: str, instance_id: str | None, input_text: str | None,
                 version: str | None) -> tuple[str, str, bool]:  # fmt: skip
    """Start ``name``; returns the id, the hub's name and whether a host holds a live lease on the hub."""
    from dfx.emulator.durable.client import ClientError
    from dfx.emulator.durable.leases import live_owners
    from dfx.model.history import utcnow

    async with _client(settings, create=True) as client:
        try:
            started = await client.start(name, instance_id, input_text, version=version)
        except ClientError as exc:
            if exc.exception_type and exc.exception_type.endswith("OrchestrationAlreadyExistsException"):
                exc.hint = f"Pick another --id, or stop it first: dfx durable terminate {instance_id}"
            raise
        served = bool(live_owners(await client.hub.partitions.read_all(), utcnow()))
        return started, client.hub.name, served


@app.command("start-new")
def start_new(
    function_name: Annotated[str, typer.Option("--function-name", help="The orchestrator function to start.")],
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    input_value: Annotated[
        str | None,
        typer.Option("--input", help="Input as JSON, or @file.json; get_input() returns it (default: none)."),
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="The orchestration version.")] = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Start a new orchestration instance; it runs as soon as a host (dfx start) serves the task hub.

    Without --id the instance gets a new random id. The task hub is created if it does not exist yet.

    Example: dfx durable start-new --function-name hello_orchestrator --id order-42 --input @order.json
    """
    from dfx.emulator.durable.client import validate_instance_id

    chosen = pick_instance_id(instance_id, id_option) if instance_id or id_option else None
    if chosen is not None:
        validate_instance_id(chosen)  # before anything is created
    input_text = python_client_input(json_argument(input_value, "--input"))
    settings = settings_for(app_dir, task_hub, connection)
    started, hub_name, served = run(_start(settings, function_name, chosen, input_text, version))
    _report(json_output, f"Started '{function_name}' with instance id '{started}' in task hub {hub_name}.",
            id=started, name=function_name, taskHub=hub_name)  # fmt: skip
    if not served:
        err.print(f"[dim]No host serves {hub_name} right now: the instance stays Pending until `dfx start` runs.[/]")


# -- messages to one instance -------------------------------------------------------------------------


def _send(settings: Settings, operation: Callable[[DurableClient], Awaitable[object]]) -> str:
    """Run one client operation against the hub of ``settings``; returns the hub's name."""

    async def go() -> str:
        async with _client(settings) as client:
            await operation(client)
            return client.hub.name

    return run(go())


@app.command("raise-event")
def raise_event(
    event_name: Annotated[str, typer.Option("--event-name", help="The event the orchestrator waits for.")],
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    event_data: Annotated[
        str | None, typer.Option("--event-data", help="The event's payload as JSON, or @file.json.")
    ] = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Raise an event on a running instance (wait_for_external_event receives it).

    Example: dfx durable raise-event order-42 --event-name Approval --event-data '{"approved": true}'
    """
    chosen = pick_instance_id(instance_id, id_option)
    payload = json_argument(event_data, "--event-data")
    settings = settings_for(app_dir, task_hub, connection)
    hub = _send(settings, lambda client: client.raise_event(chosen, event_name, payload))
    _report(json_output, f"Raised event '{event_name}' on instance '{chosen}'.",
            id=chosen, operation="raise-event", eventName=event_name, taskHub=hub)  # fmt: skip


def _send_with_reason(
    operation: str, instance_id: str, reason: str | None, settings: Settings, json_output: bool
) -> None:
    """The body of terminate, suspend and resume: the client operation of that name, one confirming line."""
    hub = _send(settings, lambda client: getattr(client, operation)(instance_id, reason))
    _report(json_output, f"Sent {operation} to instance '{instance_id}'.", id=instance_id, operation=operation,
            reason=reason, taskHub=hub)  # fmt: skip


@app.command()
def terminate(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    reason: ReasonOption = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Terminate a running, pending or suspended instance.

    Example: dfx durable terminate order-42 --reason "customer cancelled"
    """
    _send_with_reason("terminate", pick_instance_id(instance_id, id_option), reason,
                      settings_for(app_dir, task_hub, connection), json_output)  # fmt: skip


@app.command()
def suspend(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    reason: ReasonOption = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Suspend a running instance: it keeps its messages and does nothing until resumed.

    Example: dfx durable suspend order-42 --reason "waiting for a fix"
    """
    _send_with_reason("suspend", pick_instance_id(instance_id, id_option), reason,
                      settings_for(app_dir, task_hub, connection), json_output)  # fmt: skip


@app.command()
def resume(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    reason: ReasonOption = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Resume a suspended instance.

    Example: dfx durable resume order-42
    """
    _send_with_reason("resume", pick_instance_id(instance_id, id_option), reason,
                      settings_for(app_dir, task_hub, connection), json_output)  # fmt: skip


@app.command()
def rewind(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    reason: ReasonOption = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Rewind a failed instance: its failed activities and sub-orchestrations run again.

    Example: dfx durable rewind order-42 --reason "fixed the payment service"
    """
    chosen = pick_instance_id(instance_id, id_option)
    settings = settings_for(app_dir, task_hub, connection)
    hub = _send(settings, lambda client: client.rewind(chosen, reason))
    _report(json_output, f"Rewound instance '{chosen}': it is Pending until a host replays it.", id=chosen,
            operation="rewind", reason=reason, taskHub=hub)  # fmt: skip


@app.command()
def restart(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    new_id: Annotated[
        bool,
        typer.Option("--new-id/--keep-id", help="Run under a new instance id (default, as the SDK), or the same one."),
    ] = True,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Start an instance's orchestrator again with its original input.

    Example: dfx durable restart order-42 --keep-id
    """
    chosen = pick_instance_id(instance_id, id_option)
    settings = settings_for(app_dir, task_hub, connection)
    restarted: list[str] = []

    async def operation(client: DurableClient) -> None:
        await client.require(chosen)
        restarted.append(await client.restart(chosen, new_id))

    hub = _send(settings, operation)
    _report(json_output, f"Restarted instance '{chosen}' as '{restarted[0]}'.", id=chosen, operation="restart",
            newInstanceId=restarted[0], taskHub=hub)  # fmt: skip


# -- purge and delete ----------------------------------------------------------------------------------


class NotPurgeableError(DfxError):
    """An instance that is still running: purging it would leave its messages with nothing to act on."""


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (only on a terminal) fed by TaskHub.purge_finished_instances' callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("Purging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as progress:  # fmt: skip
        task = progress.add_task("purge", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


async def _purge_one_plan(settings: Settings, instance_id: str) -> tuple[str, InstanceRecord]:
    """The hub's name and the instance's row, once the instance is known to exist and to be finished."""
    async with open_hub(settings) as hub:
        record = await require_instance(hub, instance_id, fetch_large=False)
        if not record.runtime_status.is_terminal:
            raise NotPurgeableError(
                f"Instance {instance_id!r} is {record.runtime_status.name}: only completed, failed, terminated "
                "or canceled instances can be purged.",
                hint=f"Terminate it first: dfx durable terminate {instance_id}",
            )
        return hub.name, record


async def _matching(settings: Settings, purge: PurgeFilter) -> tuple[str, list[InstanceRecord]]:
    """The hub's name and the instances the filter matches now: what is shown, and then purged."""
    async with open_hub(settings) as hub:
        records = await hub.purge_candidates(
            created_from=purge.created_from, created_to=purge.created_before, statuses=purge.statuses
        )
        return hub.name, records


async def _purge(settings: Settings, shown: list[InstanceRecord]) -> PurgeResult:
    """Purge exactly the instances ``shown``; one started again since it was read is skipped."""
    async with open_hub(settings) as hub:
        with _progress() as progress:
            return await hub.purge_finished_instances(shown, progress)


def _report_purge(json_output: bool, result: PurgeResult) -> None:
    from dfx.cli.purge import instances_phrase

    if result.skipped:
        err.print(
            f"Skipped {instances_phrase(len(result.skipped))} that changed after the listing (started again or "
            f"rewound; nothing of the new run was deleted): {', '.join(result.skipped)}",
            markup=False,
        )
    _report(json_output, f"Purged {instances_phrase(result.instances_deleted)}.",
            instancesDeleted=result.instances_deleted, skipped=list(result.skipped) or None)  # fmt: skip


@app.command("purge-history")
def purge_history(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    created_after: Annotated[
        str | None, typer.Option(help="Only instances created at or after this ISO-8601 time.")
    ] = None,
    created_before: Annotated[
        str | None, typer.Option(help="Only instances created at or before this ISO-8601 time.")
    ] = None,
    runtime_status: Annotated[
        list[str] | None,
        typer.Option(
            "--runtime-status",
            help="Only these statuses (repeatable; Completed, Terminated, Canceled, Failed; default: all four).",
        ),
    ] = None,
    yes: YesOption = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Delete the history, Instances row and blobs of one finished instance, or of every one a filter matches.

    Without an id every finished instance matching the filters is purged. Asks first unless --yes.

    Example: dfx durable purge-history --created-before 2026-01-01T00:00:00Z --runtime-status Completed --yes
    """
    from dfx.cli.purge import PurgeFilter, instances_phrase, preview

    settings = settings_for(app_dir, task_hub, connection)
    if instance_id is not None or id_option is not None:
        chosen = pick_instance_id(instance_id, id_option)
        if created_after or created_before or runtime_status:
            raise typer.BadParameter("give an instance id or filters, not both.", param_hint="ID")
        hub_name, record = run(_purge_one_plan(settings, chosen))
        confirm_or_exit(f"Purge instance {chosen} from task hub {hub_name}?", yes=yes)
        result = run(_purge(settings, [record]))
        if result.skipped:
            raise NotPurgeableError(
                f"Instance {chosen!r} was not purged: it was started again after it was checked.",
                hint=f"See what it runs now: dfx inspect status {chosen}",
            )
        _report_purge(json_output, result)
        return
    purge = PurgeFilter.build(
        parse_time(created_after, "--created-after"),
        parse_time(created_before, "--created-before"),
        parse_statuses(runtime_status),
    )
    hub_name, shown = run(_matching(settings, purge))
    if not shown:
        nothing = f"No instances in task hub {hub_name} match ({purge.describe()}): nothing to purge."
        _report(json_output, nothing, instancesDeleted=0)
        return
    if not yes:
        ids = [r.instance_id for r in shown]
        err.print(
            f"To purge from task hub {hub_name}: {instances_phrase(len(ids))} ({purge.describe()}):", markup=False
        )
        for line in preview(ids):
            err.print(line, markup=False)
        confirm_or_exit(f"Purge {instances_phrase(len(ids))}?", yes=False)
    _report_purge(json_output, run(_purge(settings, shown)))


@app.command("delete-task-hub")
def delete_task_hub(
    yes: YesOption = False,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Delete the task hub: every table, queue and blob container it has (as dfx taskhub delete; asks unless --yes).

    Example: dfx durable delete-task-hub --task-hub OldHub --yes
    """
    taskhub.delete_task_hub(settings_for(app_dir, task_hub, connection), yes=yes, json_output=json_output)


# -- Core Tools' names for the read-only views (`func durable get-*`), served by `dfx inspect` -------------

app.command(
    "get-runtime-status",
    help="Core Tools' name for `dfx inspect status`: an instance's status, input, output and failure.\n\n"
    "Example: dfx durable get-runtime-status --id order-42 --json",
)(inspect_status)
app.command(
    "get-history",
    help="Core Tools' name for `dfx inspect history`: an instance's History rows.\n\n"
    "Example: dfx durable get-history --id order-42",
)(inspect_history)
app.command(
    "get-instances",
    help="Core Tools' name for `dfx inspect instances`: instances with filters, one page at a time.\n\n"
    "Example: dfx durable get-instances --runtime-status Failed --top 20",
)(inspect_instances)
