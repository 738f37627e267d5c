"""``dfx doctor``: explain why an instance is stuck or a task hub is unhealthy (being built)."""

from __future__ import annotations


def doctor() -> None:
    """Diagnose a task hub or an instance (not built yet)."""
