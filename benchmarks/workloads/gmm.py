"""ADBench's GMM objective: value and gradient with respect to (alphas, means, icf).

cotangent runs it in two formulations: `gmm_arrays`, NumPy array expressions with a loop over the
K components (what a NumPy user writes), and `gmm_loops`, explicit loops over points and
components on numbers (what a Numba user writes; the per-point body is benchmarks/gmm_model.py's).
JAX, PyTorch and autograd get the vectorized formulation ADBench's own Python ports use: all
components at once, the lower-triangular factors scattered from icf by a fixed 0/1 matrix, einsum."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gmm_model import DATA, gmm_point, gmm_prior, load, random_problem, scatter, wishart_constant  # noqa: E402
from harness import Case, Impl  # noqa: E402

ARGNUMS = (0, 1, 2)
FULL = ["1k/gmm_d2_K5.txt", "1k/gmm_d10_K25.txt", "random 1000 64 10", "10k/gmm_d10_K25.txt",
        "10k/gmm_d2_K5.txt"]
REFERENCE = {"1k/gmm_d2_K5.txt": -5240.590562549577, "1k/gmm_d10_K25.txt": -25649.6526211973,
             "10k/gmm_d10_K25.txt": -290193.38797503925, "test.txt": 8.07380408004975791}


def gmm_arrays(alphas, means, icf, x, gamma, m, const):
    """The objective with array expressions: one (n, d) matrix product per component."""
    n, d = x.shape
    K = alphas.shape[0]
    q = icf[:, :d]
    sum_q = np.sum(q, axis=1)
    lk = np.zeros((n, K))
    for k in range(K):
        L = np.zeros((d, d))                      # strictly-lower part of Q_k, column by column
        idx = d
        for j in range(d):
            for i in range(j + 1, d):
                L[i, j] = icf[k, idx]
                idx += 1
        xc = x - means[k]
        qx = xc * np.exp(q[k]) + xc @ L.T         # rows are Q_k (x_i - mu_k)
        lk[:, k] = alphas[k] + sum_q[k] - 0.5 * np.sum(qx * qx, axis=1)
    mx = np.max(lk, axis=1)
    lse = mx + np.log(np.sum(np.exp(lk - mx[:, None]), axis=1))
    amax = np.max(alphas)
    lse_alpha = amax + np.log(np.sum(np.exp(alphas - amax)))
    prior = 0.5 * gamma * gamma * (np.sum(np.exp(2.0 * q)) + np.sum(icf[:, d:] * icf[:, d:])) \
        - m * np.sum(q)
    return np.sum(lse) - n * lse_alpha - 0.5 * n * d * math.log(2.0 * math.pi) + prior - K * const


def gmm_loops(alphas, means, icf, x, gamma, m, const):
    """The objective with loops over points: the per-point log-likelihood plus the prior."""
    n = x.shape[0]
    d = x.shape[1]
    total = 0.0
    for i in range(n):
        total += gmm_point(alphas, means, icf, x[i])
    return total + gmm_prior(icf, d, gamma, m, const)


def vectorized(xp, logsumexp, einsum, S, d: int, n: int, gamma: float, m: float, const: float):
    """The all-components formulation for an array library `xp` (jax.numpy, torch, autograd.numpy)."""
    def objective(alphas, means, icf, x):
        q, l = icf[:, :d], icf[:, d:]
        K = alphas.shape[0]
        L = (l @ S).reshape(K, d, d)
        xc = x[:, None, :] - means[None, :, :]                        # (n, K, d)
        qx = xp.exp(q)[None, :, :] * xc + einsum("kij,nkj->nki", L, xc)
        lk = alphas[None, :] + q.sum(1)[None, :] - 0.5 * (qx * qx).sum(2)
        prior = 0.5 * gamma * gamma * ((xp.exp(q) ** 2).sum() + (l * l).sum()) - m * q.sum()
        return (logsumexp(lk).sum() - n * logsumexp(alphas[None, :])[0]
                - 0.5 * n * d * math.log(2 * math.pi) + prior - K * const)
    return objective


def _inputs(name: str) -> dict:
    if name.startswith("random"):
        _, n, d, K = name.split()
        return random_problem(int(d), int(K), int(n))
    return load(name)


def _label(name: str, p: dict) -> str:
    n, d = p["x"].shape
    return f"{n // 1000}k d={d} K={p['alphas'].shape[0]}" if n >= 1000 else f"n={n} d={d} K={p['alphas'].shape[0]}"


def cases(scale: str) -> list[Case]:
    """ADBench's files where ../shared/adbench is present (generated inputs of the same shapes
    otherwise, without the published values to check against)."""
    names = FULL if scale == "full" else ["test.txt", "random 20 3 4"]
    return [_case(name) for name in names]


def _available(name: str) -> str:
    if name.startswith("random") or (DATA / name).exists():
        return name
    n, d, K = {"test.txt": (1, 2, 3)}.get(name) or _shape_of(name)
    return f"random {n} {d} {K}"


def _shape_of(name: str) -> tuple[int, int, int]:
    """(n, d, K) from a file name such as 10k/gmm_d10_K25.txt."""
    folder, base = name.split("/")
    d, K = base.removeprefix("gmm_d").removesuffix(".txt").split("_K")
    return int(folder.removesuffix("k")) * 1000, int(d), int(K)


def cotangent_callables(fn, name: str, params: tuple, data: tuple, module: str = "gmm") -> tuple:
    """(prepare, objective, cold-start snippet) of cotangent's gradient of one GMM formulation
    `fn`, defined in benchmarks/workloads/<module>.py, on the problem `name`."""
    def prepare():
        import cotangent as ct
        g = ct.value_and_grad(fn, argnums=ARGNUMS)

        def run():
            v, grads = g(*params, *data)
            return float(v), list(grads)
        return run

    def objective():
        import cotangent as ct
        f = ct.differentiable(fn)
        return lambda: f(*params, *data)
    snippet = (f"import sys; sys.path.insert(0, 'benchmarks/workloads'); import {module} as g; "
               f"import cotangent as ct; p = g._inputs({name!r}); "
               f"c = g.wishart_constant(p['d'], p['gamma'], p['m']); "
               f"ct.value_and_grad(g.{fn.__name__}, argnums=(0, 1, 2))(p['alphas'], p['means'], "
               f"p['icf'], p['x'], float(p['gamma']), float(p['m']), c)")
    return prepare, objective, snippet


def _case(name: str) -> Case:
    name = _available(name)
    p = _inputs(name)
    d = p["d"]
    const = wishart_constant(d, p["gamma"], p["m"])
    data = (p["x"], float(p["gamma"]), float(p["m"]), const)
    params = (p["alphas"], p["means"], p["icf"])
    n = p["x"].shape[0]

    def cotangent(fn):
        return cotangent_callables(fn, name, params, data)

    def jax_prepare():
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax.scipy.special import logsumexp
        f = vectorized(jnp, lambda a: logsumexp(a, axis=-1), jnp.einsum, jnp.asarray(scatter(d)),
                       d, n, *data[1:])
        g = jax.jit(jax.value_and_grad(f, argnums=ARGNUMS))
        args = [jnp.asarray(a) for a in (*params, p["x"])]

        def run():
            v, grads = g(*args)
            return float(v), [np.asarray(a) for a in grads]
        return run

    def torch_prepare():
        import torch
        f = vectorized(torch, lambda a: torch.logsumexp(a, -1), torch.einsum,
                       torch.tensor(scatter(d)), d, n, *data[1:])
        x = torch.tensor(p["x"])

        def run():
            args = [torch.tensor(a, requires_grad=True) for a in params]
            v = f(*args, x)
            v.backward()
            return float(v.detach()), [a.grad.numpy() for a in args]
        return run

    def autograd_prepare():
        import autograd
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp
        f = vectorized(anp, lambda a: logsumexp(a, axis=-1), anp.einsum, scatter(d), d, n, *data[1:])
        g = autograd.value_and_grad(lambda a, mu, i: f(a, mu, i, p["x"]), argnum=[0, 1, 2])

        def run():
            v, grads = g(*params)
            return float(v), [np.asarray(a) for a in grads]
        return run

    impls = []
    for fn, tool in ((gmm_arrays, "cotangent arrays"), (gmm_loops, "cotangent loops")):
        prepare, objective, snippet = cotangent(fn)
        impls.append(Impl(tool, prepare, objective, snippet))
    impls += [Impl("jax", jax_prepare), Impl("torch", torch_prepare), Impl("autograd", autograd_prepare)]
    return Case("GMM", _label(name, p), impls, REFERENCE.get(name), work=float(n))
