"""Layers stay one-way: storage knows nothing of the durable engine, the event model nothing of either, and
the scaffolding (dfx init / dfx new) nothing of the host."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DFX = Path(__file__).resolve().parents[2] / "dfx"


def imported_modules(package: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(DFX.parent))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("emulator/storage", ("dfx.emulator.durable", "dfx.emulator.http", "dfx.cli")),
        ("model", ("dfx.emulator", "dfx.cli")),
        ("scaffold", ("dfx.emulator", "dfx.cli")),
        ("emulator", ("dfx.doctor", "dfx.cli")),
    ],
)
def test_a_lower_layer_imports_nothing_from_the_layers_above_it(package: str, forbidden: tuple[str, ...]):
    offending = {
        module: sorted(n for n in names if n.startswith(forbidden))
        for module, names in imported_modules(DFX / package).items()
        if any(n.startswith(forbidden) for n in names)
    }
    assert offending == {}
