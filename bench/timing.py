"""Timing async operations one at a time: a warm-up, then timed rounds that alternate two operations."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Operation = Callable[[int], Awaitable[object]]
ROUNDS = 6  # per pair of operations; alternating rounds make a drifting machine speed hit both alike


@dataclass(frozen=True)
class Plan:
    """How much to run per operation: timed count, untimed warm-up, and a cap on its timed seconds."""

    count: int
    warmup: int
    budget: float


FULL = Plan(count=300, warmup=20, budget=7.0)
QUICK = Plan(count=30, warmup=3, budget=1.0)


@dataclass(frozen=True)
class Rate:
    """What one measurement saw: the operations timed, their total wall time and each one's latency."""

    operations: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """The latency below which ``fraction`` of the operations finished, in milliseconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[min(98, max(0, round(fraction * 100) - 1))] * 1000


@dataclass
class _Timer:
    """One operation under measurement: the next index to pass it and what has been timed so far."""

    operation: Operation
    next_index: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    async def run(self, count: int, budget: float) -> None:
        start = time.perf_counter()
        for _ in range(count):
            began = time.perf_counter()
            await self.operation(self.next_index)
            ended = time.perf_counter()
            self.next_index += 1
            self.latencies.append(ended - began)
            if ended - start > budget:
                break
        self.seconds += time.perf_counter() - start

    def rate(self) -> Rate:
        return Rate(operations=len(self.latencies), seconds=self.seconds, latencies=tuple(self.latencies))


async def compare(first: Operation, second: Operation, plan: Plan, *, count: int | None = None) -> tuple[Rate, Rate]:
    """Time two operations, each awaited one call at a time, in alternating rounds; return both rates.

    Each operation gets the indices 0, 1, 2, ... (warm-up first), so it can pick a fresh key or message.
    Each stops early once its timed seconds pass the plan's budget.
    """
    wanted = plan.count if count is None else count
    timers = _Timer(first), _Timer(second)
    for timer in timers:
        for _ in range(plan.warmup):
            await timer.operation(timer.next_index)
            timer.next_index += 1
    per_round = math.ceil(wanted / ROUNDS)
    for round_number in range(ROUNDS):
        for timer in timers if round_number % 2 == 0 else reversed(timers):
            await timer.run(min(per_round, wanted - len(timer.latencies)), plan.budget / ROUNDS)
    return timers[0].rate(), timers[1].rate()
