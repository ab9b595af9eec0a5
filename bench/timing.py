"""What every benchmark here measures with: the median of repeated runs after a warm-up."""
from __future__ import annotations

import statistics
import time


def timed(fn, repeat: int = 30) -> float:
    """Median milliseconds of ``repeat`` calls of ``fn`` after one warm-up call."""
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)
