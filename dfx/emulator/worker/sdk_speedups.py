"""A faster, equivalent timestamp parser for the Durable Functions SDK's history replay.

The SDK parses every history event's ``Timestamp`` with ``dateutil.parser.parse`` on every episode, which
costs ~0.2 ms per event: a 100-activity orchestration spends most of each episode there. dfx writes those
timestamps itself, always in ISO 8601 with a ``Z``, which ``datetime.fromisoformat`` reads ~50 times faster
into the same aware datetime. The SDK module's reference is replaced by a function that takes that fast
path and falls back to dateutil for anything else, so results are identical; user code is untouched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dateutil.parser import parse as dateutil_parse


def parse_timestamp(text: Any, *args: Any, **kwargs: Any) -> datetime:
    """``dateutil.parser.parse`` for the SDK, with ISO 8601 read by ``datetime.fromisoformat`` first."""
    if isinstance(text, str) and not args and not kwargs:
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    return dateutil_parse(text, *args, **kwargs)


def install() -> None:
    """Point the SDK's history-event parser at ``parse_timestamp`` (idempotent)."""
    import importlib

    # The package re-exports the class under the module's name, so the module is looked up explicitly.
    module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    module.dt_parse = parse_timestamp  # type: ignore[attr-defined]
