"""Functions and data shared by the PyTorch, JAX and SciPy bridge tests (tests/test_interop_*.py),
so that each is generated and compiled once for all of them."""
import numpy as np


def nll(w, X, y):
    """Logistic regression: mean negative log-likelihood (bias w[0]) plus a small ridge term."""
    z = w[0] + X @ w[1:]
    return np.mean(np.log1p(np.exp(z)) - y * z) + 1e-3 * np.sum(w * w)


def settle(x, p):
    """An array result through a data-dependent while loop per element: x[i] is multiplied by
    p[0] until it drops to 0.1 (at most 50 times), then p[1] * sin(x[i]) is added."""
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        t = x[i]
        k = 0
        while t > 0.1 and k < 50:
            t = t * p[0]
            k += 1
        out[i] = t + p[1] * np.sin(x[i])
    return out


def energy(params, n):
    """A dict argument and an int one: n terms of tanh energies."""
    s = 0.0
    for i in range(n):
        s += np.sum(np.tanh(params["W"] * (i + 1.0) + params["b"]) ** 2)
    return s


def data(seed=0, n=40):
    """(w, X, y) for nll: 3 features and a bias, labels drawn from the model at w_true."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    w_true = np.array([0.5, 1.0, -2.0, 0.3])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(w_true[0] + X @ w_true[1:])))).astype(float)
    return 0.1 * rng.standard_normal(4), X, y


# settle's points keep away from the while loop's threshold, where its result jumps
SETTLE_X = np.array([0.23, 0.47, 0.81, 1.13, 1.66, 2.05])
SETTLE_P = np.array([0.7, 1.5])
