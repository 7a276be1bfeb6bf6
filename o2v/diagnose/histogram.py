"""A log-bucket histogram: percentiles of millions of latencies in a few kilobytes."""

from __future__ import annotations

import math

_PER_DECADE = 64  # ~3.7 % bucket width: finer than the noise of any latency measurement


class LogHistogram:
    """Percentiles to within one bucket (a few per cent), in memory bounded by the value range."""

    __slots__ = ("buckets", "count", "zeros")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.zeros = 0

    def add(self, value: float) -> None:
        self.count += 1
        if value <= 0:
            self.zeros += 1
            return
        index = math.floor(math.log10(value) * _PER_DECADE)
        self.buckets[index] = self.buckets.get(index, 0) + 1

    def percentile(self, pct: float) -> float | None:
        """Value at ``pct`` (0..100), the geometric middle of its bucket; None when empty."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(self.count * pct / 100))
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return float(10 ** ((index + 0.5) / _PER_DECADE))
        return None  # pragma: no cover - unreachable: counts add up
