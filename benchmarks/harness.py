"""What every workload hands the runner, and how the runner times it.

A workload module (benchmarks/workloads/<name>.py) has `cases(scale) -> list[Case]`, scale being
"tiny" (the test's size: seconds) or "full" (the table's sizes). A case holds one problem and its
implementations: cotangent's (one or more formulations) and each competitor's best idiomatic one.
Each implementation is prepared lazily (imports, JIT set-up) and returns a thunk computing the value
and the gradient as NumPy float64 arrays, so the runner can time, compare and measure memory the
same way for every tool."""
from __future__ import annotations

import contextlib
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Result = tuple[float, list[np.ndarray]]        # (value, gradient arrays in a fixed order)


@dataclass
class Impl:
    """One tool's formulation of a case.

    `prepare()` does the imports and set-up and returns the thunk that computes (value, grads);
    the first call of that thunk includes any JIT compilation. `objective()`, where given, returns a
    thunk computing the value alone with the same tool (cotangent: the compiled primal, for J/F).
    `first_call`, for cotangent, is a Python snippet that imports, builds and calls the gradient
    once; the runner times it in a fresh process with an empty and with a warm cache."""
    tool: str
    prepare: Callable[[], Callable[[], Result]]
    objective: Callable[[], Callable[[], float]] | None = None
    first_call: str | None = None
    threads: int = 1

    @property
    def is_cotangent(self) -> bool:
        return self.tool.startswith("cotangent")


@dataclass
class Case:
    workload: str                     # "GMM", "D-LSTM", "MLP step", "while loop"
    size: str                         # "1k d=2 K=5", "l2c1024", ...
    impls: list[Impl]
    reference_value: float | None = None   # a published value (ADBench), checked to 1e-8 relative
    work: float | None = None         # a size measure for growth checks (GMM: points)
    notes: list[str] = field(default_factory=list)


def median_time(thunk: Callable[[], object], min_total: float = 0.3, min_runs: int = 5,
                max_runs: int = 200) -> float:
    """Median wall time of repeated calls (after the caller's warm-up), run until `min_total`
    seconds have passed and at least `min_runs` calls were made."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < min_total):
        t = time.perf_counter()
        thunk()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def best_of(thunk: Callable[[], object], repeat: int) -> tuple[float, object]:
    """(the shortest of `repeat` timed calls, the last result), after one untimed warm-up call
    (compilation, tracing)."""
    out = thunk()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = thunk()
        times.append(time.perf_counter() - start)
    return min(times), out


def gpu_available() -> bool:
    """A real GPU (not Numba's simulator) that numba.cuda can run kernels on."""
    import os
    try:
        from numba import cuda
        return cuda.is_available() and not os.environ.get("NUMBA_ENABLE_CUDASIM")
    except ImportError:
        return False


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+)", f.read()).group(1))


def _release_free_memory() -> None:
    """Give freed heap pages back to the system, so that the next call's allocations show in the
    resident set instead of reusing memory an earlier call left behind (glibc's malloc_trim)."""
    import ctypes
    with contextlib.suppress(OSError, AttributeError):     # not glibc: nothing to give back
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def peak_memory_mib(thunk: Callable[[], object]) -> float | None:
    """How far the resident set rises above its starting size during one call (MiB).

    Linux resets the high-water mark when "5" is written to /proc/self/clear_refs; that sees every
    allocator (NumPy, Numba's runtime, XLA, PyTorch) alike, which tracemalloc does not."""
    try:
        _release_free_memory()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_kib("VmRSS")
        thunk()
        return max(0, _status_kib("VmHWM") - before) / 1024.0
    except OSError:
        return None


def max_relative_difference(a: Result, b: Result) -> float:
    """The larger of the value's and the worst gradient array's difference, relative to b's size."""
    worst = abs(a[0] - b[0]) / max(abs(b[0]), 1e-300)
    for x, y in zip(a[1], b[1]):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(y))), 1e-300) if y.size else 1.0
        worst = max(worst, float(np.max(np.abs(x - y))) / scale if y.size else 0.0)
    return worst
