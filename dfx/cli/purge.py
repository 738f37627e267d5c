"""What ``dfx durable purge-history`` deletes: the filter, its defaults, and how it is shown before asking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import typer

from dfx.cli.console import iso_time
from dfx.model.history import TERMINAL_STATUSES, OrchestrationStatus

EARLIEST = datetime(1601, 1, 1, tzinfo=timezone.utc)
"""Azure Table's smallest DateTime, the lower bound of a purge given no ``--created-after``."""
PREVIEW_IDS = 10
# The order Core Tools' help lists them in.
PURGEABLE = (
    OrchestrationStatus.Completed,
    OrchestrationStatus.Terminated,
    OrchestrationStatus.Canceled,
    OrchestrationStatus.Failed,
)


def _listing(names: Sequence[str], last: str) -> str:
    """``A``, ``A or B``, ``A, B or C`` (with ``last`` the joining word)."""
    return f"{', '.join(names[:-1])} {last} {names[-1]}" if len(names) > 1 else "".join(names)


@dataclass(frozen=True)
class PurgeFilter:
    """The instances a purge by filter removes: created in a range, in some terminal statuses."""

    created_after: datetime | None = None
    created_before: datetime | None = None
    statuses: frozenset[OrchestrationStatus] = TERMINAL_STATUSES

    @classmethod
    def build(
        cls,
        created_after: datetime | None,
        created_before: datetime | None,
        statuses: frozenset[OrchestrationStatus],
    ) -> PurgeFilter:
        """A checked filter: no statuses means every terminal one; a running status or an empty range is refused.

        The provider would quietly drop non-terminal statuses (and, with none left, purge every status); here
        they are an error, so that a purge never removes instances that are still running.
        """
        running = sorted(statuses - TERMINAL_STATUSES)
        if running:
            names = _listing([s.name for s in running], "and")
            allowed = _listing([s.name for s in PURGEABLE], "or")
            raise typer.BadParameter(
                f"{names} instances cannot be purged, only {allowed} ones (terminate them first).",
                param_hint="--runtime-status",
            )
        if created_after is not None and created_before is not None and created_after > created_before:
            raise typer.BadParameter(
                f"--created-after {iso_time(created_after)} is later than --created-before {iso_time(created_before)}.",
                param_hint="--created-after",
            )
        return cls(created_after, created_before, statuses or TERMINAL_STATUSES)

    @property
    def created_from(self) -> datetime:
        """The lower bound of the purge's created range (Azure Table's earliest time without --created-after)."""
        return self.created_after or EARLIEST

    def describe(self) -> str:
        """The filter in words: ``Completed, Terminated or Failed, created at or after 2026-01-01T00:00:00Z``."""
        parts = [_listing([s.name for s in PURGEABLE if s in self.statuses], "or")]
        if self.created_after is not None:
            parts.append(f"created at or after {iso_time(self.created_after)}")
        if self.created_before is not None:
            parts.append(f"created at or before {iso_time(self.created_before)}")
        return ", ".join(parts)


def preview(instance_ids: Sequence[str], limit: int = PREVIEW_IDS) -> list[str]:
    """The lines listing what is about to be deleted: the first ``limit`` ids, then how many more."""
    lines = [f"  {instance_id}" for instance_id in instance_ids[:limit]]
    if len(instance_ids) > limit:
        lines.append(f"  … and {len(instance_ids) - limit} more")
    return lines


def instances_phrase(count: int) -> str:
    """``1 instance``, ``3 instances``."""
    return f"{count} instance" if count == 1 else f"{count} instances"
