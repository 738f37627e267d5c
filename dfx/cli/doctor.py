"""``dfx doctor``: explain why an instance is stuck or a task hub is unhealthy, each finding with its fix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from dfx.cli.console import (
    AppDirOption,
    ConnectionOption,
    IdOption,
    InstanceIdArgument,
    JsonOption,
    TaskHubOption,
    out,
    pick_instance_id,
    print_json,
    run,
)

if TYPE_CHECKING:
    from dfx.doctor.diagnosis import Finding, Snapshot

MARKS = {"error": ("✗", "bold red"), "warning": ("!", "bold yellow"), "info": ("i", "cyan")}


def doctor(
    instance_id: InstanceIdArgument = None,
    id_option: IdOption = None,
    task_hub: TaskHubOption = None,
    connection: ConnectionOption = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Explain why an instance is stuck or a task hub is unhealthy, and how to fix it.

    Checks the settings files, whether storage (Azurite) answers, the task hub's name and existence, who owns
    its partitions, its queues (messages nobody takes, invisible ones, poison messages dequeued again and
    again), the instance ID's status and what it waits for, and whether function_app.py in --app-dir registers
    every orchestrator, activity and entity name in use. Storage is only read (queues are peeked, never received);
    to learn the names, function_app.py is imported in a child process with local.settings.json's values.

    Exit status: 1 when any finding is an error, 0 otherwise (warnings and information included).

    Example: dfx doctor 4a1b9c0e2f7d4e3c8b5a6d7e8f9a0b1c --app-dir ./my-app
    """
    from dfx.doctor.checkup import DoctorRequest, gather_snapshot
    from dfx.doctor.diagnosis import diagnose, has_errors

    chosen = pick_instance_id(instance_id, id_option) if instance_id or id_option else None
    request = DoctorRequest(app_dir=app_dir, task_hub=task_hub, connection=connection, instance_id=chosen)
    snapshot = run(gather_snapshot(request))
    findings = diagnose(snapshot)
    if json_output:
        print_json(
            {
                "taskHub": snapshot.hub_name,
                "instanceId": snapshot.instance_id,
                "findings": [f.to_json() for f in findings],
            }
        )
    else:
        _render(snapshot, findings)
    if has_errors(findings):
        raise typer.Exit(1)


def _render(snapshot: Snapshot, findings: list[Finding]) -> None:
    """The findings as a list: a coloured mark and severity, then the title, the evidence and the fix."""
    from dfx.doctor.diagnosis import Severity, is_clean

    where = f" · {snapshot.storage.description}" if snapshot.storage else ""
    about = f" · instance {snapshot.instance_id}" if snapshot.instance_id else ""
    out.print(Text.assemble(("dfx doctor", "bold"), f" · task hub {snapshot.hub_name}{about}", (where, "dim")))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for finding in findings:
        mark, style = MARKS[finding.severity.value]
        body = Text(finding.title, style="bold")
        if finding.detail:
            body.append("\n" + finding.detail)
        if finding.fix:
            body.append("\nfix: ", style="green")
            body.append(finding.fix)
        grid.add_row(Text(f"{mark} {finding.severity.value:<7}", style=style), body)
    out.print(grid)
    if is_clean(findings):
        out.print(Text("no problems found", style="green"))
        return
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    counts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
    counts += [f"{warnings} warning{'s' if warnings != 1 else ''}"] if warnings else []
    out.print(Text(", ".join(counts), style="red" if errors else "yellow"))
