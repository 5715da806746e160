"""cotangent on Ray: throughput with 1 and 2 workers, the all-reduce's cost per step, and the
difference from one process.

1. Data-parallel training (`rt.fit(..., workers=N)`): a 64-256-320-10 MLP (102,090 parameters) on
   the 1,797 8x8 digits, Adam, global batches of 256 and of 1,024 (`--batches`), against the same
   training in this process; and batches of 8, where a step computes almost nothing, so that a
   step with 2 workers costs what distributing it costs.
   Throughput is samples per second once the workers have started; the all-reduce's cost is the
   time worker 0 spends summing the buffers of a step (waiting for the other worker included),
   for Ray's collective all-reduce (Gloo) and for the tree reduce through the object store.
2. `ct.distributed_sum` of the GMM log-likelihood's gradient (d=2, K=5) over 10^6 points, in
   chunks of one CPU each, the points put into the object store once (`ct.shard`) or shipped with
   every call, against the same ct.vmap gradient in this process on one thread.

Everything runs on one thread per process (BLAS and Numba), so N workers use N cores. Best of
`--repeat` runs after a warm-up. The load average is printed: other work on the machine disturbs
the numbers; `--nice -10` raises the priority of this process, of the Ray processes it starts and
of their session's scheduler autogroup (as root), for measuring beside other jobs.

Numba's machine code goes to a cache of its own (NUMBA_CACHE_DIR, unless set): the optimizers'
kernels are cached beside runtime/_kernels.py whatever LLVM optimization level compiled them, and
a test run (NUMBA_OPT=0) leaves unoptimized ones there (Adam: 12 ms a step for 100k parameters
instead of 0.2 ms), which would be measured instead.

    python benchmarks/distributed.py [--repeat 3] [--steps 400] [--batches 8 256 1024] [--points 1000000]"""
from __future__ import annotations

import contextlib
import os
import tempfile

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")       # before NumPy loads BLAS; Ray's workers inherit it
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "cotangent-benchmark-numba"))

import argparse  # noqa: E402
import atexit  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cotangent as ct  # noqa: E402
from cotangent import runtime as rt  # noqa: E402
from cotangent.models.digits import load_digits  # noqa: E402
from gmm_model import gmm_point, random_problem  # noqa: E402
from harness import best_of  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


NICE: int | None = None


def renice(pids=None) -> None:
    """With --nice: this process and every process it started (Ray's, which Ray starts at
    niceness 0) at that niceness, and their scheduler autogroup too (Linux shares the CPUs fairly
    between sessions, whatever the niceness of the processes inside them)."""
    if NICE is None:
        return
    with contextlib.suppress(OSError, IndexError):      # no autogroup to change here
        with open("/proc/self/autogroup") as f:
            before = f.read().split()[-1]
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(NICE))
        if before != str(NICE):
            atexit.register(lambda: open("/proc/self/autogroup", "w").write(before))     # the session's own again
    if pids is None:
        children: dict = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        pids, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo += children.get(pid, [])
    for pid in pids:
        with contextlib.suppress(OSError):     # a process that has exited
            os.setpriority(os.PRIO_PROCESS, pid, NICE)


def mlp() -> rt.Sequential:
    return rt.Sequential([rt.Dense(256, "relu", init="he_uniform"), rt.Dense(320, "relu", init="he_uniform"),
                          rt.Dense(10)], loss="softmax_cross_entropy", input_shape=(64,), name="bench_mlp", seed=0)


def train(x, y, epochs: int, batch: int, workers: int | None, allreduce: str = "auto") -> tuple[float, dict, np.ndarray]:
    """(samples per second, the workers' timings, the final parameters)."""
    from cotangent.runtime import distributed
    model = mlp()
    settings = dict(epochs=epochs, batch_size=batch, seed=0, progress=False)
    if workers is None:
        model.compile(x[:1], np.eye(10)[y[:1]])
        start = time.perf_counter()
        rt.fit(model, x, y, rt.Adam(lr=1e-3), **settings)
        return len(y) * epochs / (time.perf_counter() - start), {}, model.params.data.copy()
    distributed._BLOCK_HOOK = lambda group, epoch, done: renice(group.pids) if epoch == 0 and done <= 2 else None
    h = distributed.fit(model, x, y, rt.Adam(lr=1e-3), workers=workers, allreduce=allreduce, **settings)
    distributed._BLOCK_HOOK = None
    return len(y) * epochs / h.distributed["train_seconds"], h.distributed, model.params.data.copy()


def training(opts, batch: int) -> None:
    x, y = load_digits()
    epochs = -(-opts.steps // -(-len(y) // batch))                     # at least --steps steps
    print(f"\n## Data-parallel training: MLP 64-256-320-10 ({len(mlp().params):,} parameters) on {len(y)} digits, "
          f"batch {batch}, {epochs} epochs ({load()})\n")
    print("| run | samples/s | vs 1 worker | ms per step | all-reduce ms per step | overhead ms per step "
          "| max abs diff from one process |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    _, _, reference = train(x, y, epochs, batch, None)              # warm-up: compiles into the cache
    runs = [("one process", None, "auto")] + [(f"{n} worker{'s' * (n > 1)}" + (f", {r}" if n > 1 else ""), n, r)
                                              for n in range(1, opts.workers + 1)
                                              for r in (("shared_memory", "collective", "object_store") if n > 1 else ("auto",))]
    base, one_step = None, None
    steps = epochs * -(-len(y) // batch)
    for name, workers, allreduce in runs:
        best, timings, params = 0.0, {}, reference
        for _ in range(opts.repeat):
            rate, t, p = train(x, y, epochs, batch, workers, allreduce)
            if rate > best:
                best, timings, params = rate, t, p
        step_ms = 1e3 * len(y) * epochs / best / steps
        if workers == 1:
            base, one_step = best, step_ms
        ratio = f"{best / base:.2f}" if base and workers else "-"
        reduce_ms = f"{timings['reduce_ms']:.2f}" if timings.get("workers", 1) > 1 else "-"
        # what a step costs beyond an equal share of one worker's step: the reduce, waiting, Ray
        overhead = f"{step_ms - one_step / workers:.2f}" if workers and workers > 1 else "-"
        print(f"| {name} | {best:,.0f} | {ratio} | {step_ms:.2f} | {reduce_ms} | {overhead} | "
              f"{np.max(np.abs(params - reference)):.1e} |", flush=True)
    print(f"\n({load()})")


def gmm(opts) -> None:
    p = random_problem(2, 5, opts.points)
    args = [p[k] for k in ("alphas", "means", "icf", "x")]
    g = ct.grad(ct.vmap(gmm_point, (None, None, None, 0), reduce="sum"), argnums=(0, 1, 2))
    print(f"\n## ct.distributed_sum: GMM gradient (d=2, K=5) over {opts.points:,} points ({load()})\n")
    print("| run | seconds | vs 1 chunk | max rel diff from one process |")
    print("|---|---:|---:|---:|")
    numba.set_num_threads(1)
    t_local, reference = best_of(lambda: g(*args), opts.repeat)
    renice()
    rel = lambda out: max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(out, reference))
    print(f"| one process, 1 thread | {t_local:.3f} | - | 0 |", flush=True)
    base = None
    for chunks in range(1, opts.workers + 1):
        dg = ct.distributed_sum(g, chunks=chunks)
        x = ct.shard(args[3], chunks=chunks)
        for label, data in (("ct.shard", x), ("shipped per call", args[3])):
            dg(*args[:3], data)             # warm-up: each task process generates the batch loop once
            renice()
            t, out = best_of(lambda: dg(*args[:3], data), opts.repeat)
            if chunks == 1 and label == "ct.shard":
                base = t
            print(f"| {chunks} chunk{'s' * (chunks > 1)}, {label} | {t:.3f} | {base / t:.2f} | {rel(out):.1e} |",
                  flush=True)
    print(f"\n({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400, help="training steps (whole epochs) per run")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, nargs="*", default=[8, 256, 1024], help="global batch sizes")
    parser.add_argument("--workers", type=int, default=2, help="up to this many workers (and chunks)")
    parser.add_argument("--nice", type=int, default=None, help="niceness of this process and its Ray processes")
    parser.add_argument("--skip", nargs="*", default=[], choices=("training", "gmm"))
    opts = parser.parse_args()
    global NICE
    NICE = opts.nice
    import ray
    ray.init(num_cpus=opts.workers, include_dashboard=False, logging_level="WARNING")
    renice()
    print(f"{os.cpu_count()} cores, Ray {ray.__version__} with {opts.workers} CPUs, numpy {np.__version__}, "
          f"numba {numba.__version__}")
    if "training" not in opts.skip:
        for batch in opts.batches:
            training(opts, batch)
    if "gmm" not in opts.skip:
        gmm(opts)


if __name__ == "__main__":
    main()
