"""The GMM log-likelihood written per point, its gradient summed over 1e5-1e6 points.

cotangent: ct.grad(ct.vmap(gmm_point, in_axes, reduce="sum")) on 1 and 2 CPU threads (and on the
GPU when numba.cuda finds one), and the same for gmm_point_scratch, which keeps the K component
terms in a scratch array sized by the shared alphas (each thread is given its own, once). JAX: jit(vmap(grad(point))) summed over the batch. PyTorch:
torch.func.vmap(torch.func.grad(point)) summed over the batch. All in float64, each checked
against cotangent's gradient, best of `--repeat` runs after a warm-up call.

    python benchmarks/gmm_vmap.py                  # d=2, K=5 at 1e5 and 1e6 points; d=10, K=25 at 1e5
    python benchmarks/gmm_vmap.py --sizes 2,5,100000 --repeat 5"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cotangent as ct  # noqa: E402
from gmm_model import gmm_point, gmm_point_scratch, random_problem, scatter  # noqa: E402
from harness import best_of, gpu_available  # noqa: E402

AXES = (None, None, None, 0)


def jax_gradient(p: dict):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
    d = p["d"]
    S = jnp.asarray(scatter(d))

    def point(alphas, means, icf, x):
        q, l = icf[:, :d], icf[:, d:]
        xc = x[None, :] - means
        L = (l @ S).reshape(-1, d, d)
        qx = jnp.exp(q) * xc + jnp.einsum("kij,kj->ki", L, xc)
        lk = alphas + q.sum(1) - 0.5 * (qx * qx).sum(1)
        return logsumexp(lk) - logsumexp(alphas) - 0.5 * d * math.log(2 * math.pi)

    per_sample = jax.vmap(jax.grad(point, argnums=(0, 1, 2)), in_axes=AXES)
    summed = jax.jit(lambda a, m, i, x: [g.sum(0) for g in per_sample(a, m, i, x)])
    args = [jnp.asarray(p[k]) for k in ("alphas", "means", "icf", "x")]
    return lambda: [np.asarray(g.block_until_ready()) for g in summed(*args)]


def torch_gradient(p: dict, threads: int):
    import torch
    from torch.func import grad, vmap
    torch.set_num_threads(threads)
    d = p["d"]
    S = torch.tensor(scatter(d))

    def point(alphas, means, icf, x):
        q, l = icf[:, :d], icf[:, d:]
        xc = x[None, :] - means
        L = (l @ S).reshape(-1, d, d)
        qx = torch.exp(q) * xc + torch.einsum("kij,kj->ki", L, xc)
        lk = alphas + q.sum(1) - 0.5 * (qx * qx).sum(1)
        return torch.logsumexp(lk, 0) - torch.logsumexp(alphas, 0) - 0.5 * d * math.log(2 * math.pi)

    per_sample = vmap(grad(point, argnums=(0, 1, 2)), in_dims=AXES)
    args = [torch.tensor(p[k]) for k in ("alphas", "means", "icf", "x")]
    return lambda: [g.sum(0).numpy() for g in per_sample(*args)]


def cotangent_gradient(p: dict, target: str, threads: int = 1, point=gmm_point):
    g = ct.grad(ct.vmap(point, AXES, reduce="sum", target=target), argnums=(0, 1, 2))
    args = [p[k] for k in ("alphas", "means", "icf", "x")]

    def run():
        numba.set_num_threads(threads)
        return list(g(*args))
    return run


def max_rel(a: list, b: list) -> float:
    return max(float(np.max(np.abs(x - y)) / np.max(np.abs(y))) for x, y in zip(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=["2,5,100000", "2,5,1000000", "10,25,100000"],
                        help="d,K,n triples")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], help="jax, torch")
    opts = parser.parse_args()
    cores = os.cpu_count() or 1
    gpu = gpu_available()
    print(f"{cores} CPU cores; numba threads up to {numba.config.NUMBA_NUM_THREADS}; "
          f"GPU: {numba.cuda.get_current_device().name.decode() if gpu else 'none'}")
    print(f"{'d':>3} {'K':>3} {'n':>8}  {'tool':<28} {'seconds':>9}  {'vs ct 1 thread':>14}  max rel diff")
    for size in opts.sizes:
        d, K, n = (int(v) for v in size.split(","))
        p = random_problem(d, K, n)
        rows = []
        t1, ref = best_of(cotangent_gradient(p, "cpu", 1), opts.repeat)
        rows.append(("cotangent cpu, 1 thread", t1, ref))
        if numba.config.NUMBA_NUM_THREADS >= 2:
            rows.append(("cotangent cpu, 2 threads", *best_of(cotangent_gradient(p, "cpu", 2), opts.repeat)))
        for threads in (1, 2)[:numba.config.NUMBA_NUM_THREADS]:     # K values in a scratch array
            rows.append((f"ct scratch array, {threads} thr", *best_of(
                cotangent_gradient(p, "cpu", threads, gmm_point_scratch), opts.repeat)))
        if gpu:
            rows.append(("cotangent cuda", *best_of(cotangent_gradient(p, "cuda"), opts.repeat)))
            rows.append(("cotangent cuda, scratch array", *best_of(
                cotangent_gradient(p, "cuda", 1, gmm_point_scratch), opts.repeat)))
        if "jax" not in opts.skip:
            rows.append(("jax jit(vmap(grad)), all cores", *best_of(jax_gradient(p), opts.repeat)))
        if "torch" not in opts.skip:
            for threads in (1, 2):
                rows.append((f"torch.func vmap(grad), {threads} thr", *best_of(torch_gradient(p, threads), opts.repeat)))
        for name, t, out in rows:
            print(f"{d:>3} {K:>3} {n:>8}  {name:<28} {t:>9.4f}  {t / t1:>14.2f}  {max_rel(out, ref):.1e}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
