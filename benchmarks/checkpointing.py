"""Checkpointed reverse mode on a 1-D heat equation (examples/heat_equation.py): time and peak
memory of the gradient with every step taped, with `ct.checkpointed(range(steps), snapshots=s)`,
and with `memory_limit=`, against JAX's `lax.scan` (plain, with `jax.checkpoint` on the step, and
two-level: a checkpointed scan of `chunk` steps inside a scan, about sqrt(steps) states kept) and
PyTorch's autograd (plain, and `torch.utils.checkpoint` on blocks of `chunk` steps).

Memory is the peak resident set size (RSS) of the process during one gradient call, minus the RSS
just before it: each variant runs in a fresh process, which compiles and warms up on a short run,
returns freed heap pages to the system (malloc_trim), resets the kernel's high-water mark
(`echo 5 > /proc/self/clear_refs`) and reads VmHWM from /proc/self/status after the call. It counts everything the call allocates (NumPy, Numba and XLA
buffers alike). Time is the best of `--repeat` calls, one thread (Numba compiles single-threaded
code; JAX is limited to one CPU thread with XLA_FLAGS, PyTorch with torch.set_num_threads).

    python benchmarks/checkpointing.py [--points 10000] [--steps 2000] [--snapshots 20] [--repeat 3]
    python benchmarks/checkpointing.py --headline [--points 1000000] [--steps 10000] [--budget 1GiB]

--headline runs only the checkpointed gradient under the memory budget (storing every step of a
10^6-point state over 10^4 steps would take 80 GB for the states alone)."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"


def rss_now() -> int:
    """Resident set size in bytes (VmRSS)."""
    return _status_bytes("VmRSS")


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(thunk, repeat: int) -> dict:
    """Best time of `repeat` calls and the peak RSS increase of the first one."""
    import ctypes
    import gc
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)     # freed heap pages (the compiler's) leave the RSS first
    Path("/proc/self/clear_refs").write_text("5")
    before = rss_now()
    start = time.perf_counter()
    out = thunk()
    times = [time.perf_counter() - start]
    peak = _status_bytes("VmHWM") - before
    for _ in range(repeat - 1):
        start = time.perf_counter()
        out = thunk()
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "peak_bytes": peak, "value": float(out[0]), "grad_norm": out[1]}


# --- one variant, in this process -----------------------------------------------------------------
def run_cotangent(variant: str, points: int, steps: int, snapshots: int, budget: str, repeat: int) -> dict:
    import numpy as np
    import cotangent as ct
    sys.path.insert(0, str(EXAMPLES))
    from heat_equation import simulate, simulate_taped, problem
    _, u0, kappa, target = problem(points)
    kappa = kappa + 0.5 * np.sin(np.linspace(0.0, 3.0, points)) ** 2
    if variant == "taped":
        f = ct.value_and_grad(simulate_taped, argnums=(0, 1))
    elif variant == "checkpointed":
        f = ct.value_and_grad(simulate, argnums=(0, 1))
    else:
        f = ct.value_and_grad(simulate_taped, argnums=(0, 1), memory_limit=budget)
    f(u0, kappa, target, 3, snapshots)              # compile, and warm up

    def thunk():
        value, (du0, dkappa) = f(u0, kappa, target, steps, snapshots)
        return value, float(np.linalg.norm(dkappa))
    return measure(thunk, repeat)


def run_jax(variant: str, points: int, steps: int, chunk: int, repeat: int) -> dict:
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np
    sys.path.insert(0, str(EXAMPLES))
    from heat_equation import problem
    _, u0, kappa, target = problem(points)
    kappa = kappa + 0.5 * np.sin(np.linspace(0.0, 3.0, points)) ** 2

    def loss(u0, kappa, target):
        r = 0.4 / jnp.max(kappa)
        mid = 0.5 * (kappa[1:] + kappa[:-1])

        def step(u, _):
            flux = mid * (u[1:] - u[:-1])
            return u.at[1:-1].add(r * (flux[1:] - flux[:-1])), None
        if variant == "jax scan":
            u, _ = jax.lax.scan(step, u0, None, length=steps)
        elif variant == "jax checkpoint":
            u, _ = jax.lax.scan(jax.checkpoint(step), u0, None, length=steps)
        else:                                   # two levels: keep a state per chunk
            @jax.checkpoint
            def block(u, _):
                u, _ = jax.lax.scan(step, u, None, length=chunk)
                return u, None
            u, _ = jax.lax.scan(block, u0, None, length=steps // chunk)
            u, _ = jax.lax.scan(step, u, None, length=steps % chunk)
        return 0.5 * jnp.sum((u - target) ** 2)
    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    args = tuple(jnp.asarray(a) for a in (u0, kappa, target))
    jax.block_until_ready(f(*args))

    def thunk():
        value, (du0, dkappa) = jax.block_until_ready(f(*args))
        return float(value), float(np.linalg.norm(np.asarray(dkappa)))
    return measure(thunk, repeat)


def run_torch(variant: str, points: int, steps: int, chunk: int, repeat: int) -> dict:
    import numpy as np
    import torch
    from torch.utils.checkpoint import checkpoint
    torch.set_num_threads(1)
    sys.path.insert(0, str(EXAMPLES))
    from heat_equation import problem
    _, u0, kappa, target = problem(points)
    kappa = kappa + 0.5 * np.sin(np.linspace(0.0, 3.0, points)) ** 2
    u0_t, kappa_t = (torch.tensor(a, requires_grad=True) for a in (u0, kappa))
    target_t = torch.tensor(target)

    def step(u, mid, r):
        flux = mid * (u[1:] - u[:-1])
        return torch.cat([u[:1], u[1:-1] + r * (flux[1:] - flux[:-1]), u[-1:]])

    def loss():
        r = 0.4 / kappa_t.max()
        mid = 0.5 * (kappa_t[1:] + kappa_t[:-1])
        u = u0_t
        if variant == "torch":
            for _ in range(steps):
                u = step(u, mid, r)
        else:                                   # two levels: torch.utils.checkpoint on blocks of steps
            def block(u):
                for _ in range(chunk):
                    u = step(u, mid, r)
                return u
            for _ in range(steps // chunk):
                u = checkpoint(block, u, use_reentrant=False)
            for _ in range(steps % chunk):
                u = step(u, mid, r)
        return 0.5 * torch.sum((u - target_t) ** 2)

    def thunk():
        u0_t.grad = kappa_t.grad = None
        value = loss()
        value.backward()
        return float(value), float(torch.linalg.norm(kappa_t.grad))
    thunk()
    return measure(thunk, repeat)


def in_fresh_process(variant: str, args) -> dict:
    command = [sys.executable, __file__, "--one", variant, "--points", str(args.points), "--steps", str(args.steps),
               "--snapshots", str(args.snapshots), "--budget", args.budget, "--repeat", str(args.repeat),
               "--chunk", str(args.chunk)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--snapshots", type=int, default=20)
    parser.add_argument("--budget", default="64MiB", help="memory_limit of the third cotangent variant")
    parser.add_argument("--chunk", type=int, default=0, help="steps per block of JAX's two-level scan (sqrt(steps))")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--headline", action="store_true", help="only the checkpointed gradient under --budget")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.chunk = args.chunk or max(1, int(round(args.steps ** 0.5)))
    if args.one:
        if args.one.startswith("jax"):
            result = run_jax(args.one, args.points, args.steps, args.chunk, args.repeat)
        elif args.one.startswith("torch"):
            result = run_torch(args.one, args.points, args.steps, args.chunk, args.repeat)
        else:
            result = run_cotangent(args.one, args.points, args.steps, args.snapshots, args.budget, args.repeat)
        print(json.dumps(result))
        return
    state = args.points * 8
    print(f"heat equation: {args.points} points, {args.steps} steps; one state is {state / 2**20:.2f} MiB, "
          f"every step's state {args.steps * state / 2**30:.2f} GiB")
    variants = (["memory_limit"] if args.headline else
                ["taped", "checkpointed", "memory_limit", "jax scan", "jax checkpoint", "jax two-level",
                 "torch", "torch two-level"])
    results = {}
    for v in variants:
        r = in_fresh_process(v, args)
        results[v] = r
        label = {"checkpointed": f"checkpointed s={args.snapshots}", "memory_limit": f"memory_limit={args.budget}",
                 "jax two-level": f"jax two-level (chunk {args.chunk})",
                 "torch two-level": f"torch two-level (chunk {args.chunk})"}.get(v, v)
        if "error" in r:
            print(f"{label:>32}: failed: {r['error']}")
            continue
        ratio = ""
        if "taped" in results and "seconds" in results["taped"] and v != "taped":
            ratio = f"  ({r['seconds'] / results['taped']['seconds']:.2f}x the taped time)"
        print(f"{label:>32}: {r['seconds']:8.3f} s   peak +{r['peak_bytes'] / 2**20:9.1f} MiB   "
              f"loss {r['value']:.12f}  |d/dkappa| {r['grad_norm']:.12f}{ratio}")


if __name__ == "__main__":
    main()
