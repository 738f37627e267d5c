"""``dfx init``, ``dfx new`` and ``dfx templates``: scaffold a Python v2-model function app and add functions."""

from __future__ import annotations

import functools
import os
import shlex
import stat
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dfx.cli.console import AppDirOption, JsonOption, out, print_json
from dfx.errors import DfxError
from dfx.scaffold import (
    APP_SCRIPT,
    STARTER_ROUTE_EXAMPLE,
    TEMPLATES,
    NewFunction,
    Plan,
    ScaffoldError,
    app_files,
    compose,
    related_files,
)
from dfx.scaffold.compose import OPTION_FLAGS

_DEFAULT_PORT = 7071
_DEFAULT_PREFIX = "api"
_IGNORED_FOLDERS = frozenset({".venv", "venv", "__pycache__", ".git", ".dfx", ".python_packages", "node_modules"})


def _only(option: str, value: str | None, allowed: str) -> None:
    """Core Tools options dfx takes for compatibility: only the one value that means a Python v2 app."""
    if value is not None and value.lower() != allowed.lower():
        raise ScaffoldError(
            f"{option} {value!r}: dfx hosts Python v2 apps only.",
            hint=f"Leave {option} out (or give {allowed}); use Core Tools' func init for other runtimes.",
        )


def _read(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as file:
            return file.read()
    except UnicodeDecodeError:
        raise ScaffoldError(
            f"{path} is not UTF-8 text.", hint="Save it as UTF-8, then run the command again."
        ) from None
    except OSError as exc:
        raise ScaffoldError(f"cannot read {path}: {exc.strerror}.") from None


def _stage(path: Path, text: str) -> Path:
    """``text`` in a new file beside ``path``, flushed to disk and with ``path``'s mode, to rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.dfx-tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # a new file's mode: less the umask
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _write_all(files: list[tuple[Path, str]]) -> None:
    """Write ``files``, each one whole: none of them is touched unless every text could be staged.

    Each text first goes to a temporary file beside its target (flushed to disk); only then are they renamed
    over their targets, in the order given (an atomic replace each, so a rename that fails midway leaves the
    earlier files replaced and the later ones as they were). A full disk or Ctrl-C while staging leaves every
    file as it was, and no file is ever left truncated. A symlink keeps its link: the file it points to is
    replaced; hard links and extended attributes are not kept.
    """
    staged: list[tuple[Path, Path]] = []
    path = Path()
    try:
        for path, text in files:
            target = path.resolve() if path.is_symlink() else path
            staged.append((_stage(target, text), target))
        for temporary, target in staged:
            path = target
            os.replace(temporary, target)
    except OSError as exc:
        raise ScaffoldError(f"cannot write {path}: {exc.strerror or exc}.") from None
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def _local_url(app_dir: Path, route: str) -> str:
    """The URL ``dfx start`` serves ``route`` on for this app (its host.json prefix and port, where readable)."""
    port, prefix = _DEFAULT_PORT, _DEFAULT_PREFIX
    try:
        from dfx.emulator.config import load_settings

        settings = load_settings(app_dir)
        port, prefix = settings.port, settings.route_prefix
    except DfxError:
        pass
    path = "/".join(part.strip("/") for part in (prefix, route) if part.strip("/"))
    return f"http://localhost:{port}/{path}"


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the app (created if missing).")] = Path("."),
    name: Annotated[str | None, typer.Option("--name", "-n", help="The app's name (default: the folder's).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the files dfx init writes if they exist.")] = False,
    worker_runtime: Annotated[
        str | None, typer.Option("--worker-runtime", help="Core Tools' option; dfx takes only python.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Core Tools' option; dfx takes only V2.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a Durable Functions app (Python v2 model) that runs under dfx start and deploys to Azure as it is.

    Writes function_app.py (HTTP starter, orchestrator, activity), host.json, local.settings.json and more.

    Refuses to overwrite any of those files without --force.

    Example: dfx init demo && cd demo && dfx start
    """
    _only("--worker-runtime", worker_runtime, "python")
    _only("--model", model, "V2")
    if directory.exists() and not directory.is_dir():
        raise ScaffoldError(
            f"{directory} is a file, not a folder.", hint="Give dfx init a folder to create the app in."
        )
    title = (name if name is not None else directory.resolve().name).strip() or "app"
    files = app_files(title)
    if not force:
        taken = next((directory / f for f in files if (directory / f).exists()), None)
        if taken is not None:
            raise ScaffoldError(
                f"{taken} already exists.", hint="dfx init --force overwrites it and the other files dfx init writes."
            )
    _write_all([(directory / file_name, text) for file_name, text in files.items()])
    written = [str(directory / file_name) for file_name in files]
    if json_output:
        print_json(written)
        return
    out.print(f"Created the function app [bold]{escape(title)}[/] in {escape(str(directory))}:", highlight=False)
    for path in written:
        out.print(f"  {path}", markup=False, highlight=False)
    out.print("\nNext:", style="bold")
    if directory.resolve() != Path.cwd().resolve():
        out.print(f"  cd {shlex.quote(str(directory))}", markup=False, highlight=False)
    out.print("  dfx start", highlight=False)
    url = f"http://localhost:{_DEFAULT_PORT}/{_DEFAULT_PREFIX}/{STARTER_ROUTE_EXAMPLE}"
    out.print(f"  curl -X POST {url}", markup=False, highlight=False, soft_wrap=True)


def new(
    template: Annotated[
        str, typer.Option("--template", "-t", help="Template: its short or Core Tools name (see dfx templates).")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="The function's name (a Python identifier).")],
    auth_level: Annotated[
        str | None,
        typer.Option(
            "--auth-level", "--authlevel", help="HTTP templates: function, anonymous or admin (default: the app's)."
        ),
    ] = None,
    route: Annotated[str | None, typer.Option("--route", help="HTTP templates: the route template.")] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help='timer: the NCRONTAB schedule (default "0 */5 * * * *").')
    ] = None,
    queue_name: Annotated[
        str | None, typer.Option("--queue-name", help="queue: the queue to watch (default: NAME-items).")
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option("--connection", help="queue: the app setting with the connection (default: AzureWebJobsStorage)."),
    ] = None,
    activity: Annotated[
        str | None, typer.Option("--activity", help="orchestrator: the activity it calls (default: hello).")
    ] = None,
    blueprint: Annotated[
        str | None,
        typer.Option("--blueprint", help="Add to this blueprint module (created and registered if need be)."),
    ] = None,
    app_dir: AppDirOption = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Add a function from a template to function_app.py, or to a blueprint module registered on the app.

    Existing code stays as it is: the function joins the app object the file defines, missing imports are added.

    A name or route the app already has is refused; requirements.txt and host.json get what Azure needs.

    Example: dfx new --template http --name greet --auth-level anonymous
    """
    request = NewFunction(
        template=template,
        name=name,
        auth_level=auth_level,
        route=route,
        schedule=schedule,
        queue_name=queue_name,
        connection=connection,
        activity=activity,
        blueprint=blueprint,
    )
    script = app_dir / APP_SCRIPT
    if not script.is_file():
        raise ScaffoldError(f"{script} not found.", hint="Create an app with: dfx init (or pass --app-dir)")
    files = {APP_SCRIPT: _read(script)}
    for path in related_files(request, files[APP_SCRIPT]):
        if (app_dir / path).is_file():
            files[path] = _read(app_dir / path)
    local = [
        p.stem if p.suffix == ".py" else p.name
        for p in app_dir.iterdir()
        if not p.name.startswith(".") and p.name not in _IGNORED_FOLDERS and (p.is_dir() or p.suffix == ".py")
    ]
    plan = compose(request, files, local)
    # New files first and function_app.py last, in case a rename fails: the app never imports a missing module.
    ordered = sorted(plan.changes, key=lambda c: (c.path == APP_SCRIPT, not c.created))
    _write_all([(app_dir / change.path, change.text) for change in ordered])
    if json_output:
        print_json(
            {
                "template": plan.template.name,
                "functions": list(plan.functions),
                "files": [{"path": str(app_dir / c.path), "created": c.created} for c in plan.changes],
                "routes": list(plan.routes),
                "startRoute": plan.start_route,
                "notes": list(plan.notes),
            }
        )
        return
    _print_plan(plan, app_dir)


def _print_plan(plan: Plan, app_dir: Path) -> None:
    where = next((c.path for c in plan.changes if c.path.endswith(".py") and c.path != APP_SCRIPT), APP_SCRIPT)
    functions = ", ".join(plan.functions)
    say = functools.partial(out.print, markup=False, highlight=False)  # paths, routes and names as written
    say(f"Added {functions} ({plan.template.display_name}) to {where}.")
    for change in plan.changes:
        say(f"  {'created' if change.created else 'updated'} {app_dir / change.path}")
    for note in plan.notes:
        say(f"  {note}", style="dim")
    for route in plan.routes:
        say(f"Try it: dfx start, then curl {_local_url(app_dir, route)}", soft_wrap=True)
    if plan.start_route:
        say(f"Start it: dfx start, then curl -X POST {_local_url(app_dir, plan.start_route)}", soft_wrap=True)


def templates(json_output: JsonOption = False) -> None:
    """List the templates dfx new adds, with the Core Tools names it takes too.

    Example: dfx templates --json
    """
    if json_output:
        print_json(
            [
                {
                    "name": t.name,
                    "displayName": t.display_name,
                    "description": t.description,
                    "options": [OPTION_FLAGS[o] for o in t.options],
                }
                for t in TEMPLATES
            ]
        )
        return
    table = Table(title="dfx new --template T --name N", title_justify="left")
    table.add_column("Template", style="bold", no_wrap=True)
    table.add_column("Core Tools name", no_wrap=True)
    table.add_column("Description")
    table.add_column("Options", no_wrap=True)
    for t in TEMPLATES:
        table.add_row(t.name, t.display_name, t.description, " ".join(OPTION_FLAGS[o] for o in t.options))
    out.print(table)
