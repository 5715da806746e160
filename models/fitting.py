"""How the sequence, graph, set and transformer models train: Adam with a cosine-decayed learning
rate, validation on the test set every epoch, timed, with one BLAS thread.

One thread, because the products in these models are small ((64, 32) by (32, 128)): a
multithreaded BLAS spends more time waking and synchronizing its threads than multiplying, and on
a busy 2-core machine a training step measured 10 times slower with OpenBLAS's default threads than
with one."""
from __future__ import annotations

import contextlib
import time

from cotangent import runtime as rt


def one_blas_thread():
    """A context in which NumPy's and SciPy's BLAS (which Numba's @ calls) use one thread; a no-op
    when threadpoolctl (installed with scikit-learn) is missing. threadpoolctl limits the libraries
    loaded when the context starts, so SciPy's is loaded first."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS that compiled models call)
    return threadpool_limits(limits=1, user_api="blas")


def fit_cosine(model: rt.Model, inputs: tuple, y, test: tuple, epochs: int, lr: float, batch_size: int,
               seed: int, progress: bool, lr_min: float | None = None,
               warmup: bool = False) -> tuple[rt.History, float]:
    """rt.fit with Adam whose rate falls from lr to lr_min (lr / 20 by default) on a cosine, after
    a linear warmup over the first epoch (or half the steps, if shorter) when `warmup`; `test` is
    (inputs, targets), evaluated after every epoch. Returns the history and rt.fit's seconds
    (compiling, or loading compiled code, included)."""
    steps = epochs * -(-len(y) // batch_size)
    schedule = rt.CosineDecay(lr, total_steps=steps, lr_min=lr / 20 if lr_min is None else lr_min,
                              warmup=min(steps // epochs, steps // 2) if warmup else 0)
    start = time.perf_counter()
    with one_blas_thread():
        history = rt.fit(model, inputs, y, rt.Adam(lr=lr, schedule=schedule), epochs=epochs,
                         batch_size=batch_size, validation_data=test, seed=seed, progress=progress)
    return history, time.perf_counter() - start
