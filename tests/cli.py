"""Helpers for tests that drive the dfx command: in process (typer's runner or the console script) or as a process."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from dfx.cli.main import app, main

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> Any:
    """``dfx ARGS`` through typer's test runner; exceptions propagate, so a typed error fails the test loudly."""
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``dfx ARGS`` through the console script's entry point (typed errors become one line), in process."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["dfx", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    code = stopped.value.code
    return code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err


def run_dfx(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``python -m dfx ARGS`` as a real process with no terminal on stdin, as CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "dfx", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def assert_one_line_error(code: int, stderr: str, fragment: str, hint: str | None = None) -> None:
    """Exit 1 with ``error: …`` on one line (and at most a ``hint: …`` line), never a traceback."""
    assert code == 1, stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and fragment in lines[0], stderr
    assert len(lines) <= 2 and "Traceback" not in stderr, stderr
    if hint is not None:
        assert lines[1].startswith("hint: ") and hint in lines[1], stderr


def one_line_error(result: subprocess.CompletedProcess[str], fragment: str, hint: str | None = None) -> None:
    """``assert_one_line_error`` for a finished process."""
    assert_one_line_error(result.returncode, result.stderr, fragment, hint)
