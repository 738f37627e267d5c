"""Every dfx command answers --help with a usage line and an example, and the root knows its version."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dfx import __version__
from dfx.cli.main import app, core_tools_booleans
from tests.cli import assert_one_line_error, run_main

runner = CliRunner()


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path below a group (typer builds click-style groups that hold ``commands``)."""
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*path, name))
        if hasattr(command, "commands"):
            found.extend(_commands(command, (*path, name)))
    return found


ALL_COMMANDS = _commands(typer.main.get_command(app))


def test_the_command_tree_has_the_documented_groups():
    top = {path[0] for path in ALL_COMMANDS}
    assert {"init", "new", "templates", "start", "durable", "inspect", "taskhub", "doctor", "azurite"} <= top


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]):
    result = runner.invoke(app, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "Example" in result.output, f"dfx {' '.join(path)} --help shows no example"


# An option's row in a help panel: a "*" if required, its names (long ones comma-joined, short, --no- form), then
# its type if it shows one, then the help.
OPTION_ROW = re.compile(r"^│ \*? *(?P<names>(?:-[-\w,]+ +)+)(?P<rest>.*)$")


def _command(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _help_rows(path: tuple[str, ...]) -> dict[str, str]:
    """``dfx PATH --help`` on a wide terminal: each option row's first name -> what follows its names."""
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "300"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        if match := OPTION_ROW.match(line):
            rows[match["names"].split()[0].split(",")[0]] = match["rest"].strip()
    return rows


@pytest.mark.parametrize("path", [(), *ALL_COMMANDS], ids=lambda path: " ".join(("dfx", *path)))
def test_flags_show_no_value_in_help(path: tuple[str, ...]):
    """``--version``, ``--json``, ``--watch/--no-watch``, ``--help``: no ``<bool>`` after a flag, as if it took one."""
    flags = {"--help"} | {
        next(o for o in param.opts if o.startswith("--"))
        for param in _command(path).params
        if getattr(param, "is_flag", False) and not getattr(param, "hidden", False) and param.opts
    }
    rows = _help_rows(path)
    assert flags <= rows.keys(), f"flags without a row: {flags - rows.keys()}"
    shown = {flag: rows[flag] for flag in flags if rows[flag].startswith("<")}
    assert not shown, f"dfx {' '.join(path)} --help shows a value for flags: {shown}"


def test_options_that_take_a_value_still_show_its_type():
    rows = _help_rows(("start",))
    assert rows["--port"].startswith("<int range>") and rows["--cors"].startswith("<str>"), rows
    assert rows["--watch"].startswith("Restart the host"), rows


def test_version_prints_the_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"dfx {__version__}"


@pytest.mark.parametrize(
    "args", [["inspect", "history"], ["inspect", "instances", "--top", "0"], ["no-such-command"]], ids=" ".join
)
def test_usage_errors_print_usage_and_exit_2_without_a_traceback(args: list[str]):
    result = subprocess.run([sys.executable, "-m", "dfx", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result
    assert "Usage: dfx" in result.stderr and "Traceback" not in result.stderr


def test_an_error_message_with_brackets_prints_as_written(tmp_path, monkeypatch, capsys):
    (tmp_path / "function_app.py").write_text("import azure.functions as func\n\napp = func.FunctionApp()\n")
    route = "orders/{id:int[/x]}"  # rich would read [/x] as a closing tag and fail with a MarkupError
    code, _, stderr = run_main(monkeypatch, capsys, "new", "-t", "http", "-n", "greet", "--route", route,
                               "--app-dir", str(tmp_path))  # fmt: skip
    assert_one_line_error(code, stderr, "unknown constraint 'int[/x]'", hint="orders/{id:int}")
    folder = tmp_path / "[bold]app"  # and would take [bold] for a style, leaving it out of the message
    code, _, stderr = run_main(monkeypatch, capsys, "new", "-t", "http", "-n", "greet", "--app-dir", str(folder))
    assert_one_line_error(code, stderr, f"{folder / 'function_app.py'} not found")


def test_dfx_init_prints_names_and_paths_with_brackets_as_written(tmp_path):
    folder = tmp_path / "[red]demo"
    result = runner.invoke(app, ["init", str(folder), "--name", "[/x] shop"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"Created the function app [/x] shop in {folder}:" in result.output
    assert f"  {folder / 'function_app.py'}" in result.output


@pytest.mark.parametrize(
    ("args", "parsed"),
    [
        (["--show-input", "true", "--show-output", "False"], ["--show-input", "--no-show-output"]),
        (["--show-input=false", "--id", "x"], ["--no-show-input", "--id", "x"]),
        (["--show-input", "order-42"], ["--show-input", "order-42"]),
        (["--reason", "true", "--", "--show-input", "false"], ["--reason", "true", "--", "--show-input", "false"]),
    ],
)
def test_core_tools_show_input_true_or_false_becomes_dfx_s_flags(args, parsed):
    assert core_tools_booleans(["durable", "get-runtime-status", *args]) == ["durable", "get-runtime-status", *parsed]


def test_other_commands_keep_a_value_that_looks_like_core_tools_booleans():
    args = ["durable", "raise-event", "x", "--event-name", "e", "--event-data", "--show-input", "true"]
    assert core_tools_booleans(args) == args
    assert core_tools_booleans(["-v", "inspect", "status", "x", "--show-input", "false"]) == [
        "-v", "inspect", "status", "x", "--no-show-input"]  # fmt: skip
