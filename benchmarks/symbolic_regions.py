"""Symbolic regions: gradients of functions with loops and branches whose scalar code is made
symbolic (`symbolic=True`), against the ordinary mode and against JAX, PyTorch and autograd, in one
process, on the same inputs, float64, one thread.

Two problems, written as users write them:

- `loglik`, a robust (Huber-tailed) Gaussian log-likelihood summed over the first n points: a loop
  over a run-time count with a branch on the data in each trip. JAX, PyTorch and autograd users
  write it on whole arrays with `where`.
- `pendulum`, a damped pendulum stepped with a `while` loop until a time limit, the loss its final
  angle: a run-time trip count and sines in every trip. JAX needs `lax.while_loop`, which it cannot
  differentiate in reverse mode, so it runs a `lax.fori_loop` over the known step count;
  PyTorch and autograd run the Python loop.

    python benchmarks/symbolic_regions.py [--points 100000] [--steps 2000]"""
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

DT = 0.01


def loglik(theta, data, n):
    mu, log_sigma = theta[0], theta[1]
    total = 0.0
    for i in range(n):
        z = (data[i] - mu) * np.exp(-log_sigma)
        if z > 2.0:
            total = total - 2.0 * z + 2.0 - log_sigma
        elif z < -2.0:
            total = total + 2.0 * z + 2.0 - log_sigma
        else:
            total = total - 0.5 * z * z - log_sigma
    return total


def pendulum(params, t_end):
    """Damping, gravity over length, initial angle; the final angle after t_end seconds."""
    damping, g_over_l, angle = params[0], params[1], params[2]
    velocity = 0.0
    t = 0.0
    while t < t_end:
        accel = -g_over_l * np.sin(angle) - damping * velocity * (1.0 + 0.1 * np.cos(angle))
        velocity = velocity + DT * accel
        angle = angle + DT * velocity
        t = t + DT
    return angle * angle


def cotangent_runs(theta, data, params, t_end) -> dict:
    out = {}
    for label, symbolic in (("cotangent, ordinary", False), ("cotangent, symbolic regions", True)):
        g1 = ct.grad(loglik, symbolic=symbolic)
        g2 = ct.grad(pendulum, symbolic=symbolic)
        n = data.shape[0]
        out[label] = (lambda: g1(theta, data, n), lambda: g2(params, t_end))
    return out


def jax_runs(theta, data, params, t_end) -> dict:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def lik(theta, data):
        z = (data - theta[0]) * jnp.exp(-theta[1])
        tail = -2.0 * jnp.abs(z) + 2.0
        return jnp.sum(jnp.where(jnp.abs(z) > 2.0, tail, -0.5 * z * z) - theta[1])

    steps = int(np.ceil(t_end / DT - 1e-9))

    def pend(params):
        def step(_, state):
            angle, velocity = state
            accel = -params[1] * jnp.sin(angle) - params[0] * velocity * (1.0 + 0.1 * jnp.cos(angle))
            velocity = velocity + DT * accel
            return angle + DT * velocity, velocity
        angle, _ = jax.lax.fori_loop(0, steps, step, (params[2], 0.0))
        return angle * angle
    g1, g2 = jax.jit(jax.grad(lik)), jax.jit(jax.grad(pend))
    d, th, p = jnp.asarray(data), jnp.asarray(theta), jnp.asarray(params)
    return {"JAX jit": (lambda: np.asarray(g1(th, d)), lambda: np.asarray(g2(p)))}


def torch_runs(theta, data, params, t_end) -> dict:
    import torch
    torch.set_num_threads(1)
    d = torch.tensor(data)

    def g1():
        th = torch.tensor(theta, requires_grad=True)
        z = (d - th[0]) * torch.exp(-th[1])
        tail = -2.0 * torch.abs(z) + 2.0
        torch.sum(torch.where(torch.abs(z) > 2.0, tail, -0.5 * z * z) - th[1]).backward()
        return th.grad.numpy()

    def g2():
        p = torch.tensor(params, requires_grad=True)
        angle, velocity, t = p[2], torch.zeros((), dtype=torch.float64), 0.0
        while t < t_end:
            accel = -p[1] * torch.sin(angle) - p[0] * velocity * (1.0 + 0.1 * torch.cos(angle))
            velocity = velocity + DT * accel
            angle = angle + DT * velocity
            t = t + DT
        (angle * angle).backward()
        return p.grad.numpy()
    return {"PyTorch": (g1, g2)}


def autograd_runs(theta, data, params, t_end) -> dict:
    import autograd
    import autograd.numpy as anp

    def lik(theta):
        z = (data - theta[0]) * anp.exp(-theta[1])
        tail = -2.0 * anp.abs(z) + 2.0
        return anp.sum(anp.where(anp.abs(z) > 2.0, tail, -0.5 * z * z) - theta[1])

    def pend(p):
        angle, velocity, t = p[2], 0.0, 0.0
        while t < t_end:
            accel = -p[1] * anp.sin(angle) - p[0] * velocity * (1.0 + 0.1 * anp.cos(angle))
            velocity = velocity + DT * accel
            angle = angle + DT * velocity
            t = t + DT
        return angle * angle
    g1, g2 = autograd.grad(lik), autograd.grad(pend)
    return {"autograd": (lambda: g1(theta), lambda: g2(params))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--t-end", type=float, default=20.0, help="seconds of pendulum (steps of 0.01)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(size=args.points - args.points // 20),
                           rng.standard_cauchy(size=args.points // 20)])
    theta = np.array([0.1, 0.2])
    params = np.array([0.3, 9.81, 1.0])
    runs: dict = {}
    runs.update(cotangent_runs(theta, data, params, args.t_end))
    for name, make in (("JAX", jax_runs), ("PyTorch", torch_runs), ("autograd", autograd_runs)):
        try:
            runs.update(make(theta, data, params, args.t_end))
        except ImportError as e:
            print(f"{name} skipped: {e}")
    reference = [np.asarray(f()) for f in runs["cotangent, ordinary"]]
    rows = []
    for label, thunks in runs.items():
        times, diffs = [], []
        for f, want in zip(thunks, reference):
            got = np.asarray(f())                       # warm-up: compiles
            diffs.append(float(np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want)))))
            times.append(median_time(f, min_total=0.5, min_runs=3, max_runs=50))
        rows.append((label, times, diffs))
    base = rows[1][1]
    print(f"loglik over {args.points:,} points, pendulum over {args.t_end:g} s ({int(round(args.t_end / DT)):,} steps)")
    print()
    print("| | loglik gradient ms | / symbolic regions | pendulum gradient ms | / symbolic regions | max rel diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, times, diffs in rows:
        print(f"| {label} | {times[0] * 1e3:.3g} | {times[0] / base[0]:.2f} | {times[1] * 1e3:.3g} | "
              f"{times[1] / base[1]:.2f} | {max(diffs):.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
