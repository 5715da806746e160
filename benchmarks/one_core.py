"""One core for every tool: the thread counts of OpenBLAS, OpenMP, MKL, Numba and XLA set to one, and
the process pinned to one core (XLA still runs some work on a second thread). A benchmark script
calls `pin()` before NumPy, Numba, JAX or PyTorch load, so this module imports none of them."""
from __future__ import annotations

import os


def pin() -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
