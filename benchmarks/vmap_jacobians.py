"""Per-sample Jacobians and Hessians over 1e5 samples: ct.vmap(ct.jacfwd(f)) and
ct.vmap(ct.hessian(f)) against JAX's jit(vmap(jacfwd)) and jit(vmap(hessian)) and PyTorch's
torch.func.vmap(jacfwd) / vmap(hessian), in one process, on the same inputs, float64, on 1 and 2
CPU threads for cotangent (JAX and PyTorch as they run by default), and on the GPU where numba.cuda
finds one (JAX then runs on the GPU too when jax[cuda] is installed). autograd has no vmap: it is
timed on a Python loop over 1000 samples and scaled to the batch.

f is a pose residual (a 2-D point moved by a pose (x, y, angle), minus its match: R^3 -> R^2,
the per-point Jacobian of Gauss-Newton) and, for Hessians, a per-point energy R^3 -> R.

    python benchmarks/vmap_jacobians.py [--n 100000] [--repeat 3]"""
from __future__ import annotations

import argparse
import sys

import numba
import numpy as np

import cotangent as ct
from harness import best_of, gpu_available


def pose_residual(pose, p, q):
    c, s = np.cos(pose[2]), np.sin(pose[2])
    return np.array([c * p[0] - s * p[1] + pose[0] - q[0], s * p[0] + c * p[1] + pose[1] - q[1]])


def point_energy(w, x):
    return np.sum(np.tanh(w * x) ** 2) + w[0] * x[1] * x[2]


def cotangent_runs(pose, P, Q, w, X, repeat):
    jac = ct.vmap(ct.jacfwd(ct.differentiable(pose_residual)), in_axes=(None, 0, 0))
    hes = ct.vmap(ct.hessian(ct.differentiable(point_energy)), in_axes=(None, 0))
    out = {}
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        out[f"cotangent, {threads} thread{'s' if threads > 1 else ''}"] = (
            best_of(lambda: jac(pose, P, Q), repeat), best_of(lambda: hes(w, X), repeat))
    if gpu_available():          # point_energy's whole-array tanh is not device code: its loop form
        jac_gpu = ct.vmap(ct.jacfwd(pose_residual), in_axes=(None, 0, 0), target="cuda")
        hes_gpu = ct.vmap(ct.hessian(point_energy_loops), in_axes=(None, 0), target="cuda")
        out["cotangent, CUDA"] = (best_of(lambda: jac_gpu(pose, P, Q), repeat), best_of(lambda: hes_gpu(w, X), repeat))
    return out


def point_energy_loops(w, x):
    """point_energy with a loop for the sum, as device code needs it."""
    s = 0.0
    for i in range(w.shape[0]):
        s += np.tanh(w[i] * x[i]) ** 2
    return s + w[0] * x[1] * x[2]


def jax_runs(pose, P, Q, w, X, repeat):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def residual(pose, p, q):
        c, s = jnp.cos(pose[2]), jnp.sin(pose[2])
        return jnp.array([c * p[0] - s * p[1] + pose[0] - q[0], s * p[0] + c * p[1] + pose[1] - q[1]])

    def energy(w, x):
        return jnp.sum(jnp.tanh(w * x) ** 2) + w[0] * x[1] * x[2]

    jac = jax.jit(jax.vmap(jax.jacfwd(residual), in_axes=(None, 0, 0)))
    hes = jax.jit(jax.vmap(jax.hessian(energy), in_axes=(None, 0)))
    args_j = (jnp.asarray(pose), jnp.asarray(P), jnp.asarray(Q))
    w_j, X_j = jnp.asarray(w), jnp.asarray(X)
    return {"JAX jit(vmap)": (best_of(lambda: np.asarray(jac(*args_j).block_until_ready()), repeat),
                              best_of(lambda: np.asarray(hes(w_j, X_j).block_until_ready()), repeat))}


def torch_runs(pose, P, Q, w, X, repeat):
    import torch
    from torch.func import hessian, jacfwd, vmap

    def residual(pose, p, q):
        c, s = torch.cos(pose[2]), torch.sin(pose[2])
        return torch.stack([c * p[0] - s * p[1] + pose[0] - q[0], s * p[0] + c * p[1] + pose[1] - q[1]])

    def energy(w, x):
        return torch.sum(torch.tanh(w * x) ** 2) + w[0] * x[1] * x[2]

    jac = vmap(jacfwd(residual), in_dims=(None, 0, 0))
    hes = vmap(hessian(energy), in_dims=(None, 0))
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    return {"PyTorch func.vmap": (best_of(lambda: jac(t(pose), t(P), t(Q)).numpy(), repeat),
                                  best_of(lambda: hes(t(w), t(X)).numpy(), repeat))}


def autograd_runs(pose, P, Q, w, X, repeat, sample=1000):
    import autograd
    import autograd.numpy as anp

    def residual(pose, p, q):
        c, s = anp.cos(pose[2]), anp.sin(pose[2])
        return anp.array([c * p[0] - s * p[1] + pose[0] - q[0], s * p[0] + c * p[1] + pose[1] - q[1]])

    def energy(w, x):
        return anp.sum(anp.tanh(w * x) ** 2) + w[0] * x[1] * x[2]

    jac, hes = autograd.jacobian(residual), autograd.hessian(energy)
    scale = len(P) / sample
    (tj, J), (th, H) = (best_of(lambda: np.array([jac(pose, P[i], Q[i]) for i in range(sample)]), repeat),
                        best_of(lambda: np.array([hes(w, X[i]) for i in range(sample)]), repeat))
    return {f"autograd (loop, {sample} scaled)": ((tj * scale, J), (th * scale, H))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    ns = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    pose, P, Q = rng.standard_normal(3), rng.standard_normal((ns.n, 2)), rng.standard_normal((ns.n, 2))
    w, X = rng.standard_normal(3), rng.standard_normal((ns.n, 3))
    results = cotangent_runs(pose, P, Q, w, X, ns.repeat)
    (_, J_ref), (_, H_ref) = results["cotangent, 1 thread"]
    for runs in (jax_runs, torch_runs, autograd_runs):
        try:
            results.update(runs(pose, P, Q, w, X, ns.repeat))
        except ImportError as e:
            print(f"skipped {runs.__name__}: {e}")
    print(f"per-sample Jacobians (pose residual, R^3 -> R^2) and Hessians (R^3 -> R) over {ns.n} samples, float64")
    base_j, base_h = results["cotangent, 1 thread"][0][0], results["cotangent, 1 thread"][1][0]
    print(f"{'':34s} {'jacfwd ms':>10s} {'/ cotangent':>12s} {'hessian ms':>11s} {'/ cotangent':>12s}")
    for name, ((tj, J), (th, H)) in results.items():
        k = len(J)
        assert np.allclose(J, J_ref[:k], rtol=1e-10, atol=1e-12), name
        assert np.allclose(H, H_ref[:len(H)], rtol=1e-10, atol=1e-12), name
        print(f"{name:34s} {tj * 1e3:10.1f} {tj / base_j:12.2f} {th * 1e3:11.1f} {th / base_h:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
