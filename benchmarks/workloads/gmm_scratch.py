"""ADBench's GMM objective written as a Numba user writes it, not tuned to cotangent: value and
gradient with respect to (alphas, means, icf).

One function, on the same inputs as gmm.py. The lower-triangular factors Q_k are built from icf
into an array first; then a loop over the points, and for each point a loop over the K components
that writes each component's log-likelihood into a scratch array `vals` (allocated once, reused
for every point), followed by a max-shifted log-sum-exp over `vals`. The Mahalanobis term
‖Q_k (x_i − mu_k)‖² is two loops over d on numbers. So the gradient has to go through writes of
differentiable values into arrays the function made, overwritten n times.

JAX, PyTorch and autograd get the vectorized formulation of gmm.py (ADBench's own Python ports)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gmm  # noqa: E402  (puts benchmarks/ on sys.path too)
from gmm import REFERENCE, _available, _inputs, _label, wishart_constant  # noqa: E402
from harness import Case, Impl  # noqa: E402

ARGNUMS = (0, 1, 2)
FULL = gmm.FULL
TINY = ["test.txt", "random 20 3 4"]


def gmm_scratch(alphas, means, icf, x, gamma, m, const):
    """ADBench's GMM objective: loops over points and components, a scratch array per point."""
    n = x.shape[0]
    d = x.shape[1]
    K = alphas.shape[0]

    # Q_k = diag(exp(icf[k, :d])) + the strictly-lower part, column by column from icf[k, d:]
    Qs = np.zeros((K, d, d))
    sum_qs = np.zeros(K)
    for k in range(K):
        idx = d
        for j in range(d):
            Qs[k, j, j] = math.exp(icf[k, j])
            sum_qs[k] += icf[k, j]
            for i in range(j + 1, d):
                Qs[k, i, j] = icf[k, idx]
                idx += 1

    vals = np.zeros(K)
    total = 0.0
    for i in range(n):
        for k in range(K):
            sq = 0.0
            for r in range(d):
                acc = 0.0
                for c in range(r + 1):
                    acc += Qs[k, r, c] * (x[i, c] - means[k, c])
                sq += acc * acc
            vals[k] = alphas[k] + sum_qs[k] - 0.5 * sq
        vmax = np.max(vals)
        total += vmax + np.log(np.sum(np.exp(vals - vmax)))

    amax = np.max(alphas)
    lse_alpha = amax + np.log(np.sum(np.exp(alphas - amax)))

    prior = 0.0
    for k in range(K):
        for j in range(d):
            prior += 0.5 * gamma * gamma * math.exp(2.0 * icf[k, j]) - m * icf[k, j]
        for j in range(d, icf.shape[1]):
            prior += 0.5 * gamma * gamma * icf[k, j] * icf[k, j]

    return total - n * lse_alpha - 0.5 * n * d * math.log(2.0 * math.pi) + prior - K * const


def cases(scale: str) -> list[Case]:
    """gmm.py's problems: ADBench's files where ../shared/adbench is present, generated inputs of
    the same shapes otherwise."""
    return [_case(name) for name in (FULL if scale == "full" else TINY)]


def _case(name: str) -> Case:
    """gmm.py's case for `name`, with cotangent's formulations replaced by `gmm_scratch`."""
    base = gmm._case(name)
    name = _available(name)
    p = _inputs(name)
    const = wishart_constant(p["d"], p["gamma"], p["m"])
    params = (p["alphas"], p["means"], p["icf"])
    data = (p["x"], float(p["gamma"]), float(p["m"]), const)

    prepare, objective, snippet = gmm.cotangent_callables(gmm_scratch, name, params, data, "gmm_scratch")
    competitors = [impl for impl in base.impls if not impl.is_cotangent]
    return Case("GMM scratch", _label(name, p),
                [Impl("cotangent scratch", prepare, objective, snippet), *competitors],
                REFERENCE.get(name), work=float(p["x"].shape[0]))
