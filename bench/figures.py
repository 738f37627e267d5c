"""A reported figure: one operation's rate, what one operation is, and the raw rate it compares with."""

from __future__ import annotations

from dataclasses import dataclass

from bench.timing import Rate


@dataclass(frozen=True)
class Figure:
    """One measured operation, with the raw figure its ratio is taken against (None for the raw rows)."""

    operation: str
    rate: Rate
    meaning: str
    events: int | None = None
    baseline: Figure | None = None

    @property
    def ratio(self) -> float | None:
        """This rate divided by the baseline's (1.0 = as fast as Azurite's raw operation)."""
        if self.baseline is None or self.baseline.rate.per_second <= 0:
            return None
        return self.rate.per_second / self.baseline.rate.per_second

    @property
    def events_per_second(self) -> float | None:
        return self.rate.per_second * self.events if self.events is not None else None
