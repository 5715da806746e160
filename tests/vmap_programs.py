"""Per-sample functions the ct.vmap tests share (the CPU tests and the CUDA simulator's)."""
import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gmm_model import gmm_point, gmm_prior, wishart_constant, load, random_problem, DATA  # noqa: E402,F401

GMM_AXES = (None, None, None, 0)
PATH_AXES = (None, None, 0, 0)


def hinge_path(theta, scale, x, y):
    """One sample's loss with a loop, a branch, a while loop with a data-dependent trip count, and
    a shared number (scale) beside a shared array (theta)."""
    s = 0.0
    for i in range(x.shape[0]):
        z = theta[i] * x[i] + scale
        if z > 0.0:
            s += z * z
        else:
            s += np.tanh(z) * theta[0]
    t = s
    k = 0
    while t > 1.0 and k < 5:
        t = 0.5 * t + 0.1 * scale
        k += 1
    return t * y + np.sin(s)


def local_buffer(w, x):
    """A per-sample function that fills a small array of constant shape and reads it back."""
    h = np.zeros(3)
    for i in range(3):
        h[i] = np.tanh(w[i] * x[i] + w[3])
    s = 0.0
    for i in range(3):
        s += h[i] * h[(i + 1) % 3]
    return s


def softclip(x, a):
    """A function of numbers with a branch, for ct.elementwise."""
    if x > a:
        return a + np.log1p(x - a)
    return np.tanh(x / a) * a


def path_problem(n: int = 60, d: int = 4, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), 0.3, rng.normal(size=(n, d)), rng.normal(size=n)


def loop_reference(grad_f, args, axes):
    """Per-sample (value, gradients) of a plain ct.grad / ct.value_and_grad, one sample at a time."""
    n = next(a.shape[0] for a, ax in zip(args, axes) if ax is not None)
    return [grad_f(*[a[i] if ax is not None else a for a, ax in zip(args, axes)]) for i in range(n)]


def one_thread(f, *args):
    """f(*args) on one Numba thread: the reference the threaded and CUDA results must match."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return f(*args)
    finally:
        numba.set_num_threads(before)


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def gmm_scratch(alphas, means, icf, x):
    """A GMM point term written the natural way: the K component values go into a scratch array
    sized by a shared argument (k = alphas.shape[0]), then a log-sum-exp over it."""
    k = alphas.shape[0]
    vals = np.empty(k)
    for j in range(k):
        s = 0.0
        logdet = 0.0
        for a in range(x.shape[0]):
            r = (x[a] - means[j, a]) * np.exp(icf[j, a])
            s += r * r
            logdet += icf[j, a]
        vals[j] = alphas[j] + logdet - 0.5 * s
    m = vals[0]
    for j in range(1, k):
        m = max(m, vals[j])
    t = 0.0
    for j in range(k):
        t += np.exp(vals[j] - m)
    return m + np.log(t)


def sized_by_sample(w, x):
    """A scratch array whose length is read from the sample's own data: allowed on the CPU
    (each sample allocates it), refused on CUDA."""
    n = int(x[0] * 0.0) + 2
    h = np.zeros(n)
    for i in range(n):
        h[i] = w[i] * x[i]
    return h[0] * h[1]


def loop_net(x, w, b):
    """A small network written with loops (device code on CUDA): tanh(w @ x + b) summed, times x[0]."""
    s = 0.0
    for i in range(w.shape[0]):
        a = b[i]
        for j in range(x.shape[0]):
            a += w[i, j] * x[j]
        s += np.tanh(a) ** 2 * x[0]
    return s


def loop_net_vector(x, w, b):
    """loop_net's terms as a vector output: one per row of w, made from numbers."""
    a0 = b[0]
    a1 = b[1]
    for j in range(x.shape[0]):
        a0 += w[0, j] * x[j]
        a1 += w[1, j] * x[j]
    return np.array([np.tanh(a0) * x[0], np.tanh(a1) * x[1]])
