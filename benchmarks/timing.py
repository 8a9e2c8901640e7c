"""Timing rule shared by the benchmarks: one warm-up call, then the best of ``repeat`` timed calls."""
from __future__ import annotations

import time


def best_time(fn, arg, repeat: int) -> float:
    """Seconds of the fastest of ``repeat`` calls ``fn(arg)`` after one untimed warm-up call."""
    fn(arg)
    best = float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - t0)
    return best
