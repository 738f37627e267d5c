"""``dfx init``, ``dfx new`` and ``dfx templates``: scaffold a Python v2-model function app (being built)."""

from __future__ import annotations


def init() -> None:
    """Create a function app (not built yet)."""


def new() -> None:
    """Add a function from a template (not built yet)."""


def templates() -> None:
    """List the templates (not built yet)."""
