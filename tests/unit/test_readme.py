"""README's commands work as written: every `dfx` line names a real command, and nothing points outside the repo."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.main import get_command

from dfx.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_dfx_line_in_readme_is_a_dfx_command():
    root = get_command(app)
    seen = 0
    for line in shell_lines():
        for part in line.split("&&"):
            words = shlex.split(part.replace("<id>", "ID"))
            if not words or words[0] != "dfx":
                continue
            command, rest = root, words[1:]
            while rest and hasattr(command, "commands") and rest[0] in command.commands:  # type: ignore[attr-defined]
                command, rest = command.commands[rest[0]], rest[1:]  # type: ignore[attr-defined]
            assert command is not root, f"README runs {part.strip()!r}, which names no dfx command"
            seen += 1
    assert seen >= 4


def test_readme_puts_dfx_on_path_before_using_it_after_make_run():
    lines = shell_lines()
    make_run = next(i for i, line in enumerate(lines) if line.startswith("make run"))
    later = lines[make_run + 1 :]
    assert later and later[0].startswith(". .venv/bin/activate")


def test_readme_names_no_path_outside_the_repository():
    assert "../" not in README.read_text(encoding="utf-8")


def test_readme_shows_the_install_line_first():
    first = shell_lines()[0]
    assert first.startswith("python -m pip install")
