"""The ``dfx`` command: a local runtime for Azure Durable Functions."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.markup import escape

from dfx import __version__
from dfx.cli import azurite, doctor, durable, inspect, scaffold, start, taskhub
from dfx.cli.console import err
from dfx.errors import DfxError

app = typer.Typer(
    name="dfx",
    help=(
        "A local runtime for Azure Durable Functions: host, durable engine and task hub tools.\n\n"
        "Example: dfx init demo && cd demo && dfx start"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(name="init")(scaffold.init)
app.command(name="new")(scaffold.new)
app.command(name="templates")(scaffold.templates)
app.command(name="start")(start.start)
app.add_typer(durable.app, name="durable")
app.add_typer(inspect.app, name="inspect")
app.add_typer(taskhub.app, name="taskhub")
app.command(name="doctor")(doctor.doctor)
app.add_typer(azurite.app, name="azurite")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dfx {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log dfx's own detail to stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A local runtime for Azure Durable Functions.

    Example: dfx inspect history <instance-id>
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not verbose:
        logging.getLogger("azure").setLevel(logging.ERROR)


def main() -> None:
    """Entry point of the console script: expected failures print one line and a hint, never a traceback.

    Usage errors, ``--help`` and Ctrl-C are left to typer's standalone mode (usage text, exit 2; "Aborted",
    exit 1), so this does not depend on where a typer release keeps its click exceptions.
    """
    try:
        app(prog_name="dfx")
    except DfxError as exc:
        err.print(f"[red]error:[/] {escape(exc.message)}", highlight=False)
        details = getattr(exc, "details", "")
        if details:
            err.print(details, markup=False, highlight=False, style="dim")
        if exc.hint:
            err.print(f"[dim]hint: {escape(exc.hint)}[/]", highlight=False)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
