"""Logistic regression written for one sample, its gradient summed over a batch on all CPU cores,
per-sample gradients (as differential privacy clips them), and the same on a GPU when one is there.

    python examples/per_sample_gradients.py
    NUMBA_ENABLE_CUDASIM=1 python examples/per_sample_gradients.py   # CUDA on Numba's simulator"""
import numpy as np
from numba.core import config

import cotangent as ct


def nll(w, b, x, y):
    """The negative log-likelihood of one sample: x has d features, y is 0 or 1."""
    z = b
    for j in range(x.shape[0]):
        z += w[j] * x[j]
    if y > 0.5:
        return np.log1p(np.exp(-z))
    return np.log1p(np.exp(z))


rng = np.random.default_rng(0)
n, d = 20_000, 5
X = rng.normal(size=(n, d))
Y = (X @ np.arange(1.0, d + 1) + rng.normal(size=n) > 0).astype(float)
w, b = np.zeros(d), 0.0

loss = ct.vmap(nll, in_axes=(None, None, 0, 0), reduce="mean")          # target="cpu": threads
for step in range(200):
    dw, db = ct.grad(loss, argnums=(0, 1))(w, b, X, Y)                    # one compiled batch loop
    w, b = w - 1.0 * dw, b - 1.0 * db
print(f"loss {loss(w, b, X, Y):.4f}, w = {np.round(w, 2)}")

# per-sample gradients, clipped to norm 1 and averaged (the step of DP-SGD, without the noise)
gw, gb = ct.vmap(ct.grad(nll, argnums=(0, 1)), in_axes=(None, None, 0, 0))(w, b, X, Y)   # (n, d), (n,)
norms = np.sqrt((gw ** 2).sum(axis=1) + gb ** 2)
scale = 1.0 / np.maximum(1.0, norms)
print(f"per-sample gradient norms: median {np.median(norms):.3f}, max {norms.max():.3f}; "
      f"clipped mean dw = {np.round((gw * scale[:, None]).mean(axis=0), 4)}")

try:
    gpu_loss = ct.vmap(nll, in_axes=(None, None, 0, 0), reduce="mean", target="cuda")
    m = 2_000 if config.ENABLE_CUDASIM else n          # the simulator runs each thread in Python
    dw_gpu, _ = ct.grad(gpu_loss, argnums=(0, 1))(w, b, X[:m], Y[:m])
    dw_cpu, _ = ct.grad(loss, argnums=(0, 1))(w, b, X[:m], Y[:m])
    print(f"CUDA gradient agrees with the CPU's to {np.max(np.abs(dw_gpu - dw_cpu)):.1e}")
except ct.CompileError as e:
    print(f"CUDA: {e.message}")
