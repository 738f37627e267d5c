"""``dfx start``: host a function app locally, like ``func start`` (same flag names)."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dfx.emulator.config import load_settings, require_app_script, require_project_root


def start(
    app_dir: Annotated[Path, typer.Argument(help="Function app folder (holds host.json and function_app.py).")] = Path(
        "."
    ),
    port: Annotated[
        int | None, typer.Option("--port", "-p", min=1, max=65535, help="Local port, 1-65535 (default 7071).")
    ] = None,
    cors: Annotated[
        str | None, typer.Option("--cors", help="Comma-separated CORS origins, e.g. http://localhost:3000 or *.")
    ] = None,
    cors_credentials: Annotated[
        bool, typer.Option("--cors-credentials", help="Allow cross-origin authenticated requests.")
    ] = False,
    functions: Annotated[
        list[str] | None, typer.Option("--functions", help="Load only these functions (repeat, or space-separate).")
    ] = None,
    task_hub: Annotated[str | None, typer.Option("--task-hub", help="Task hub name (default: host.json).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show the host's own detail in the log.")] = False,
    watch: Annotated[bool, typer.Option("--watch/--no-watch", help="Restart the host when the app changes.")] = True,
    enforce_keys: Annotated[
        bool, typer.Option("--enforce-keys", help="Require function keys on FUNCTION and ADMIN routes.")
    ] = False,
    listen_fd: Annotated[int | None, typer.Option("--listen-fd", hidden=True)] = None,
    supervisor_pid: Annotated[int | None, typer.Option("--supervisor-pid", hidden=True)] = None,
) -> None:
    """Run the function app in APP_DIR: HTTP triggers, durable functions and the management API.

    Values in local.settings.json become environment variables (unless already set); when the app uses
    development storage and nothing answers, Azurite is started and stopped with the host.

    Example: dfx start --port 7072 --cors "*"
    """
    if supervisor_pid is not None:  # a host under --watch: first of all, tie it to its supervisor
        from dfx.emulator.parent import die_with_parent

        die_with_parent(supervisor_pid)
    # A folder with no app is refused at once, before Azurite or the port (--watch and --no-watch alike); a host
    # under the supervisor (listen_fd) serves a 503 with the reason instead, until the app is back.
    if listen_fd is None:
        require_project_root(app_dir)
    names = tuple(name for item in functions or () for name in item.split())
    settings = load_settings(
        app_dir,
        task_hub=task_hub,
        port=port,
        cors=cors,
        cors_credentials=cors_credentials or None,
        functions=names,
        enforce_keys=enforce_keys,
        verbose=verbose,
        watch=watch,
    )
    if listen_fd is None:
        require_app_script(settings)
    if watch and listen_fd is None:
        child_args = [str(settings.app_dir), "--port", str(settings.port)]
        child_args += [arg for name in names for arg in ("--functions", name)]
        child_args += ["--task-hub", task_hub] if task_hub else []
        child_args += ["--cors", cors] if cors is not None else []
        child_args += ["--cors-credentials"] if cors_credentials else []
        child_args += ["--verbose"] if verbose else []
        child_args += ["--enforce-keys"] if enforce_keys else []
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "dfx.emulator.supervisor", *child_args])

    from dfx.emulator.host import run_host
    from dfx.emulator.logs import HostConsole
    from dfx.emulator.storage.errors import StorageRefusedError

    # A host under a supervisor stays up when the app fails to load: the next change restarts it.
    try:
        run_host(
            dataclasses.replace(settings, watch=listen_fd is not None),
            fd=listen_fd,
            console=HostConsole(verbose=verbose),
            supervisor_pid=supervisor_pid,
        )
    except StorageRefusedError as exc:
        if listen_fd is None:
            raise
        from dfx.cli.console import print_error
        from dfx.emulator.parent import EXIT_REFUSED

        print_error(exc)  # the supervisor stops on this code instead of restarting the host
        raise SystemExit(EXIT_REFUSED) from None
