"""``dfx azurite``: install, start, stop and check the Azurite storage emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dfx.cli.console import JsonOption, out, print_json
from dfx.emulator import azurite
from dfx.emulator.storage.connection import SERVICES

app = typer.Typer(
    help="Install, start, stop and check the Azurite storage emulator.\n\nExample: dfx azurite start",
    no_args_is_help=True,
)

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where dfx records the Azurite it started.")]
DEFAULT_STATE = Path(".dfx")


@app.command()
def start(
    location: Annotated[
        Path | None, typer.Option("--location", "-l", help="Data folder (default: .dfx/azurite here).")
    ] = None,
    in_memory: Annotated[bool, typer.Option("--in-memory", help="Keep data in memory only (for tests).")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    blob_port: Annotated[int, typer.Option(help="Blob service port.")] = 10000,
    queue_port: Annotated[int, typer.Option(help="Queue service port.")] = 10001,
    table_port: Annotated[int, typer.Option(help="Table service port.")] = 10002,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Start Azurite in the background and wait until blob, queue and table answer.

    Example: dfx azurite start --blob-port 20000 --queue-port 20001 --table-port 20002
    """
    if in_memory and location is not None:
        raise typer.BadParameter("--in-memory and --location exclude each other.")
    options = azurite.AzuriteOptions(
        location=None if in_memory else (location or state_dir / "azurite").resolve(),
        host=host,
        blob_port=blob_port,
        queue_port=queue_port,
        table_port=table_port,
    )
    account = options.account()
    if azurite.is_running(account):
        out.print(f"Azurite already answers on ports {blob_port}, {queue_port}, {table_port}.")
        return
    process = azurite.start_azurite(options, log_path=state_dir.resolve() / "azurite.log")
    azurite.write_state(state_dir, process)
    where = "in memory" if options.in_memory else f"data in {options.location}"
    out.print(f"Azurite started (pid {process.pid}, {where}); log: {process.log_path}", markup=False)
    if (blob_port, queue_port, table_port) != (10000, 10001, 10002):
        out.print(f"AzureWebJobsStorage={account.connection_string()}", markup=False)


@app.command()
def stop(state_dir: StateDir = DEFAULT_STATE) -> None:
    """Stop the Azurite that dfx started from this folder (never one it did not start).

    Example: dfx azurite stop
    """
    process = azurite.stop_recorded(state_dir)
    if process is None:
        out.print("No Azurite started by dfx is running from here; nothing to stop.")
    else:
        out.print(f"Azurite stopped (pid {process.pid}).")


@app.command()
def status(
    host: Annotated[str, typer.Option(help="Address to probe.")] = "127.0.0.1",
    blob_port: Annotated[int, typer.Option(help="Blob service port.")] = 10000,
    queue_port: Annotated[int, typer.Option(help="Queue service port.")] = 10001,
    table_port: Annotated[int, typer.Option(help="Table service port.")] = 10002,
    state_dir: StateDir = DEFAULT_STATE,
    json_output: JsonOption = False,
) -> None:
    """Tell whether Azurite's endpoints answer and whether dfx started it.

    Example: dfx azurite status --json
    """
    recorded = azurite.read_state(state_dir)
    if recorded is not None:
        options = recorded.options
    else:
        options = azurite.AzuriteOptions(host=host, blob_port=blob_port, queue_port=queue_port, table_port=table_port)
    account = options.account()
    answers = azurite.endpoints_answer(account)
    launcher = azurite.find_azurite()
    if json_output:
        print_json(
            {
                "running": all(answers.values()),
                "endpoints": {s: {"url": account.endpoint(s), "answers": answers[s]} for s in SERVICES},
                "startedByDfx": recorded is not None,
                "pid": recorded.pid if recorded else None,
                "installed": str(launcher) if launcher else None,
            }
        )
    else:
        for service in SERVICES:
            mark = "[green]answers[/]" if answers[service] else "[red]no answer[/]"
            out.print(f"{service:<6} {escape(account.endpoint(service)):<45} {mark}")
        if recorded is not None:
            out.print(f"started by dfx: pid {recorded.pid}, log {recorded.log_path}", markup=False)
        out.print(f"launcher: {launcher or 'not installed (run: dfx azurite install)'}", markup=False)
    if not all(answers.values()):
        raise typer.Exit(1)


@app.command()
def install() -> None:
    """Install the pinned Azurite with npm into ~/.dfx/azurite.

    Example: dfx azurite install
    """
    out.print(f"Installing azurite@{azurite.AZURITE_VERSION} into {azurite.USER_INSTALL_DIR} …", markup=False)
    launcher = azurite.install_azurite()
    out.print(f"Installed: {launcher}", markup=False)
