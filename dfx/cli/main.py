"""The ``dfx`` command: a local runtime for Azure Durable Functions."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Annotated, Any

import typer

from dfx import __version__
from dfx.cli import azurite, doctor, durable, inspect, scaffold, start, taskhub
from dfx.cli.console import print_error
from dfx.errors import DfxError


def _show_flags_as_flags() -> None:
    """Leave the type out of a flag's row in ``--help``: no ``--version <bool>``, which reads as if it took a value.

    Typer's rich help gives every option a type column, flags included (typer 0.2x: ``display_type_rich``); a
    flag (``--json``, ``--watch/--no-watch``, ``--help``) takes no value, so it shows none, as click's plain help
    does. Options that take a value keep theirs (``--port <int range>``). Typer releases without the method
    already show flags so and are left alone.
    """
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if option is None or shown is None or getattr(shown, "dfx_flags_plain", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return shown(self, ctx)

    display_type_rich.dfx_flags_plain = True  # type: ignore[attr-defined]
    setattr(option, "display_type_rich", display_type_rich)  # noqa: B010 (a method of typer's, replaced once)


_show_flags_as_flags()

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


#: Core Tools' boolean options that take a value (``func durable get-runtime-status --show-input true``).
CORE_TOOLS_BOOLEANS = frozenset({"--show-input", "--show-output"})
STATUS_COMMANDS = (["inspect", "status"], ["durable", "get-runtime-status"])
"""The commands whose --show-input/--show-output also take Core Tools' ``true|false`` value."""
_BOOLEAN_WORDS = ("true", "false")


def core_tools_booleans(args: list[str]) -> list[str]:
    """``args`` with Core Tools' ``--show-input true|false`` as dfx's flags ``--show-input`` / ``--no-show-input``.

    Without this, click would take the ``true`` for the positional instance id (an instance named ``true`` or
    ``false`` is then given with ``--id``, as Core Tools gives every id).
    """
    if [a for a in args if not a.startswith("-")][:2] not in STATUS_COMMANDS:
        return args
    result: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return result + args[index:]
        name, equals, value = arg.partition("=")
        if name in CORE_TOOLS_BOOLEANS:
            if not equals and index + 1 < len(args) and args[index + 1].lower() in _BOOLEAN_WORDS:
                value, index = args[index + 1], index + 1
            if value.lower() in _BOOLEAN_WORDS:
                arg = name if value.lower() == "true" else "--no-" + name.removeprefix("--")
        result.append(arg)
        index += 1
    return result


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush cannot fail on a closed pipe."""
    with contextlib.suppress(OSError, ValueError):  # not a real file descriptor (a test's capture)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main() -> None:
    """Entry point of the console script: expected failures print one line and a hint, never a traceback.

    A storage service's error answer is one of them: the storage layer types every one
    (``StorageServiceError``, with its status and code). Usage errors, ``--help`` and Ctrl-C are left to
    typer's standalone mode (usage text, exit 2; "Aborted", exit 1), so this does not depend on where a typer
    release keeps its click exceptions.

    Output piped into a reader that stops early (``| head``) ends the command quietly with exit code 1: what
    typer and rich already do when the failed write happens inside them, and Python's documented recipe; a
    shell pipeline takes the reader's exit code anyway.
    """
    try:
        try:
            app(args=core_tools_booleans(sys.argv[1:]), prog_name="dfx")
        finally:
            sys.stdout.flush()  # a reader gone away shows here, not in the interpreter's flush at exit
    except BrokenPipeError:
        _silence_stdout()
        raise SystemExit(1) from None
    except DfxError as exc:
        print_error(exc)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
