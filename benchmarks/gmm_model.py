"""ADBench's GMM objective (../shared/adbench/README.md) written per point, as ct.vmap wants it.

f = Σ_i gmm_point(alphas, means, icf, x_i) + gmm_prior(icf, ...): the per-point term holds the
log-sum-exp over components, the −logsumexp(alpha) and the −(d/2) log 2π of each point; the prior
holds the Wishart terms and the constant. Everything is numbers and loops, so the same source runs
on CPU threads and as a CUDA device function."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "adbench" / "data" / "gmm"


def gmm_point(alphas, means, icf, x):
    """The log-likelihood of one point x (d values) under the mixture, less the prior."""
    d = x.shape[0]
    K = alphas.shape[0]
    amax = alphas[0]                      # logsumexp(alphas), from its largest term
    for k in range(1, K):
        if alphas[k] > amax:
            amax = alphas[k]
    asum = 0.0
    for k in range(K):
        asum += math.exp(alphas[k] - amax)
    lse_alpha = amax + math.log(asum)
    best = -1e300                         # an online logsumexp over the components
    total = 0.0
    for k in range(K):
        sumq = 0.0
        for j in range(d):
            sumq += icf[k, j]
        sq = 0.0                          # ‖Q_k (x − mu_k)‖², Q_k = diag(exp q_k) + strictly-lower L_k
        for i in range(d):
            acc = math.exp(icf[k, i]) * (x[i] - means[k, i])
            for j in range(i):
                idx = d + j * (d - 1) - (j * (j - 1)) // 2 + (i - j - 1)
                acc += icf[k, idx] * (x[j] - means[k, j])
            sq += acc * acc
        lk = alphas[k] + sumq - 0.5 * sq
        if lk > best:
            total = total * math.exp(best - lk) + 1.0
            best = lk
        else:
            total += math.exp(lk - best)
    return best + math.log(total) - lse_alpha - 0.5 * d * math.log(2.0 * math.pi)


def gmm_point_scratch(alphas, means, icf, x):
    """gmm_point as many users write it, with scratch arrays: the K component terms go into
    `vals` (sized by the shared alphas), x − mu_k and Q_k (x − mu_k) into `diff` and `qd` (sized
    by the point), then a two-pass log-sum-exp. L_k is applied column by column, as it is packed."""
    d = x.shape[0]
    K = alphas.shape[0]
    vals = np.empty(K)
    diff = np.empty(d)
    qd = np.empty(d)
    for k in range(K):
        sumq = 0.0
        for i in range(d):
            diff[i] = x[i] - means[k, i]
            qd[i] = math.exp(icf[k, i]) * diff[i]
            sumq += icf[k, i]
        idx = d
        for j in range(d):
            for i in range(j + 1, d):
                qd[i] += icf[k, idx] * diff[j]
                idx += 1
        sq = 0.0
        for i in range(d):
            sq += qd[i] * qd[i]
        vals[k] = alphas[k] + sumq - 0.5 * sq
    best = vals[0]
    amax = alphas[0]
    for k in range(1, K):
        best = max(best, vals[k])
        amax = max(amax, alphas[k])
    total = 0.0
    asum = 0.0
    for k in range(K):
        total += math.exp(vals[k] - best)
        asum += math.exp(alphas[k] - amax)
    return best + math.log(total) - amax - math.log(asum) - 0.5 * d * math.log(2.0 * math.pi)


def gmm_prior(icf, d, gamma, m, const):
    """The Wishart prior: Σ_k ½γ²(‖exp q_k‖² + ‖l_k‖²) − m Σ q_k, less K times the constant."""
    K = icf.shape[0]
    total = 0.0
    for k in range(K):
        for j in range(d):
            total += 0.5 * gamma * gamma * math.exp(2.0 * icf[k, j]) - m * icf[k, j]
        for j in range(d, icf.shape[1]):
            total += 0.5 * gamma * gamma * icf[k, j] * icf[k, j]
    return total - K * const


def wishart_constant(d: int, gamma: float, m: int) -> float:
    """C = n′ d (log γ − ½ log 2) − log Γ_d(n′/2), n′ = d + m + 1 (Γ_d: the multivariate gamma)."""
    n1 = d + m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * n1 + 0.5 * (1 - j)) for j in range(1, d + 1))
    return n1 * d * (math.log(gamma) - 0.5 * math.log(2.0)) - log_gamma_d


def load(name: str) -> dict:
    """An ADBench GMM file (`test.txt`, `1k/gmm_d2_K5.txt`, ...): alphas, means, icf, x, gamma, m."""
    rows = [line.split() for line in (DATA / name).read_text().splitlines() if line.strip()]
    d, K, n = (int(v) for v in rows[0])
    take = lambda start, count: np.array([[float(v) for v in r] for r in rows[start:start + count]])
    alphas = take(1, K).reshape(K)
    means = take(1 + K, K)
    icf = take(1 + 2 * K, K)
    x = take(1 + 3 * K, n)
    gamma, m = float(rows[1 + 3 * K + n][0]), int(float(rows[1 + 3 * K + n][1]))
    return {"alphas": alphas, "means": means, "icf": icf, "x": x, "gamma": gamma, "m": m, "d": d}


def random_problem(d: int, K: int, n: int, seed: int = 0) -> dict:
    """Inputs of ADBench's shapes, drawn as ADBench's generator does (uniform and normal)."""
    rng = np.random.default_rng(seed)
    return {"alphas": rng.normal(size=K), "means": rng.uniform(size=(K, d)),
            "icf": rng.normal(size=(K, d * (d + 1) // 2)), "x": rng.normal(size=(n, d)),
            "gamma": 1.0, "m": 0, "d": d}


def scatter(d: int) -> np.ndarray:
    """S with l @ S = the strictly-lower part of L, flattened (ADBench's column-by-column order)."""
    pairs = [(i, j) for j in range(d) for i in range(j + 1, d)]
    S = np.zeros((len(pairs), d * d))
    for k, (i, j) in enumerate(pairs):
        S[k, i * d + j] = 1.0
    return S
