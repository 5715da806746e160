"""Vector forward mode: whole Jacobians and Hessians with the primal run once per block of
directions, against JAX's jit(jacfwd) / jit(hessian), PyTorch's torch.func and autograd, in one
process, on the same inputs, float64, one thread.

Two problems, written as users write them:

- `ring_forces`, R^n -> R^n: the forces on n coupled oscillators, a `for` loop of scalar
  statements (sin, exp, powers). The figure of merit is jacfwd time / primal time: one JVP per
  input direction costs at least n primals; carrying the directions together costs far less.
- `logistic_loss`, the negative log-likelihood of logistic regression with an L2 penalty: its
  Hessian (forward over reverse), the Newton step of a GLM fit.

    python benchmarks/forward_mode.py [--n 64] [--points 1000] [--features 16]"""
from __future__ import annotations

import os
import sys

# One core for every tool, set before NumPy, JAX or PyTorch load (as benchmarks/run.py does).
if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import one_core
    one_core.pin()

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import cotangent as ct  # noqa: E402
from harness import median_time  # noqa: E402


def ring_forces(x):
    n = x.shape[0]
    f = np.empty(n)
    for i in range(n):
        left = x[i - 1]
        right = x[i + 1 - n]
        f[i] = np.sin(left - x[i]) + np.sin(right - x[i]) - 0.1 * x[i] ** 3 + np.exp(-x[i] * x[i])
    return f


def logistic_loss(w, X, y):
    z = w[0] + X @ w[1:]
    return np.mean(np.log1p(np.exp(z)) - y * z) + 1e-3 * np.sum(w * w)


def timed(thunk) -> tuple[float, object]:
    out = thunk()
    thunk()
    return median_time(thunk, min_total=0.5, min_runs=20, max_runs=5000), out


def cotangent_runs(x, w, X, y) -> dict:
    primal = ct.differentiable(ring_forces)
    jac = ct.jacfwd(primal)
    hes = ct.hessian(ct.differentiable(logistic_loss))
    loss = ct.differentiable(logistic_loss)
    t_primal, _ = timed(lambda: primal(x))
    t_loss, _ = timed(lambda: loss(w, X, y))
    return {"cotangent": (t_primal, timed(lambda: jac(x)), t_loss, timed(lambda: hes(w, X, y)))}


def jax_runs(x, w, X, y) -> dict:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def forces(x):
        left, right = jnp.roll(x, 1), jnp.roll(x, -1)
        return jnp.sin(left - x) + jnp.sin(right - x) - 0.1 * x ** 3 + jnp.exp(-x * x)

    def loss(w, X, y):
        z = w[0] + X @ w[1:]
        return jnp.mean(jnp.log1p(jnp.exp(z)) - y * z) + 1e-3 * jnp.sum(w * w)

    f, jac = jax.jit(forces), jax.jit(jax.jacfwd(forces))
    l, hes = jax.jit(loss), jax.jit(jax.hessian(loss))
    xj, wj, Xj, yj = (jnp.asarray(a) for a in (x, w, X, y))
    t_primal, _ = timed(lambda: f(xj).block_until_ready())
    t_loss, _ = timed(lambda: l(wj, Xj, yj).block_until_ready())
    return {"JAX jit": (t_primal, timed(lambda: np.asarray(jac(xj).block_until_ready())),
                        t_loss, timed(lambda: np.asarray(hes(wj, Xj, yj).block_until_ready())))}


def torch_runs(x, w, X, y) -> dict:
    import torch
    from torch.func import hessian, jacfwd
    torch.set_num_threads(1)

    def forces(x):
        left, right = torch.roll(x, 1), torch.roll(x, -1)
        return torch.sin(left - x) + torch.sin(right - x) - 0.1 * x ** 3 + torch.exp(-x * x)

    def loss(w, X, y):
        z = w[0] + X @ w[1:]
        return torch.mean(torch.log1p(torch.exp(z)) - y * z) + 1e-3 * torch.sum(w * w)

    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    xt, wt, Xt, yt = t(x), t(w), t(X), t(y)
    jac, hes = jacfwd(forces), hessian(loss)
    t_primal, _ = timed(lambda: forces(xt))
    t_loss, _ = timed(lambda: loss(wt, Xt, yt))
    return {"PyTorch func": (t_primal, timed(lambda: jac(xt).numpy()), t_loss, timed(lambda: hes(wt, Xt, yt).numpy()))}


def autograd_runs(x, w, X, y) -> dict:
    import autograd
    import autograd.numpy as anp

    def forces(x):
        left, right = anp.roll(x, 1), anp.roll(x, -1)
        return anp.sin(left - x) + anp.sin(right - x) - 0.1 * x ** 3 + anp.exp(-x * x)

    def loss(w, X, y):
        z = w[0] + anp.dot(X, w[1:])
        return anp.mean(anp.log1p(anp.exp(z)) - y * z) + 1e-3 * anp.sum(w * w)

    jac, hes = autograd.jacobian(forces), autograd.hessian(loss)
    t_primal, _ = timed(lambda: forces(x))
    t_loss, _ = timed(lambda: loss(w, X, y))
    return {"autograd": (t_primal, timed(lambda: jac(x)), t_loss, timed(lambda: hes(w, X, y)))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="oscillators: inputs of ring_forces")
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--features", type=int, default=16)
    ns = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(ns.n)
    X = rng.standard_normal((ns.points, ns.features))
    y = (rng.random(ns.points) < 0.5).astype(float)
    w = 0.1 * rng.standard_normal(ns.features + 1)
    results = cotangent_runs(x, w, X, y)
    for runs in (jax_runs, torch_runs, autograd_runs):
        try:
            results.update(runs(x, w, X, y))
        except ImportError as e:
            print(f"skipped {runs.__name__}: {e}")
    _, (_, J_ref), _, (_, H_ref) = results["cotangent"]
    print(f"jacfwd of ring_forces (R^{ns.n} -> R^{ns.n}) and the Hessian of logistic_loss "
          f"({ns.points} points, {ns.features + 1} weights), float64, one thread")
    base_j, base_h = results["cotangent"][1][0], results["cotangent"][3][0]
    print(f"{'':14s} {'primal us':>10s} {'jacfwd us':>10s} {'/ primal':>9s} {'/ cotangent':>12s}"
          f" {'hessian us':>11s} {'/ cotangent':>12s}")
    for name, (tp, (tj, J), tl, (th, H)) in results.items():
        assert np.allclose(np.asarray(J), J_ref, rtol=1e-10, atol=1e-12), name
        assert np.allclose(np.asarray(H), H_ref, rtol=1e-10, atol=1e-12), name
        print(f"{name:14s} {tp * 1e6:10.1f} {tj * 1e6:10.1f} {tj / tp:9.1f} {tj / base_j:12.2f}"
              f" {th * 1e6:11.1f} {th / base_h:12.2f}")
    print(f"target: cotangent jacfwd / primal <= {0.5 * ns.n:.0f} (0.5 n); hessian <= 1.0x JAX")
    return 0


if __name__ == "__main__":
    sys.exit(main())
