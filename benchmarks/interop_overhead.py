"""What the PyTorch, JAX and SciPy bridges cost per call, over calling cotangent directly.

    python benchmarks/interop_overhead.py            # needs torch and jax: pip install -e ".[interop]"

For a small function (logistic regression on 40 x 3, a few microseconds of compiled work) and a
medium one (a two-layer MLP's cross-entropy on a batch of 256, 32 -> 64 -> 10), the median time of
one call of:

- cotangent directly: ct.value_and_grad (value and gradient), the compiled primal (value alone);
- ct.to_torch: forward and backward() with the parameters requiring grad; forward under no_grad;
- ct.to_jax: jax.jit(jax.value_and_grad(...)) (callbacks from compiled XLA); the function called
  outside any transformation (no callback); jax.jit of the value alone;
- ct.scipy_objective: .fun (it is ct.value_and_grad) and .hessp against ct.hvp;
- for scale, what PyTorch and JAX take for a call that does nothing: a torch.autograd.Function
  with the same arguments (forward and backward), a jax.jit-compiled pure_callback.

One core, float64. The overhead is the bridge's time minus cotangent's own for the same work."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import one_core  # noqa: E402
one_core.pin()

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import median_time  # noqa: E402

import cotangent as ct  # noqa: E402


def nll(w, X, y):
    z = w[0] + X @ w[1:]
    return np.mean(np.log1p(np.exp(z)) - y * z) + 1e-3 * np.sum(w * w)


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - ct.stop_gradient(np.max(z, axis=1, keepdims=True))
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * log_p, axis=1))


def problems():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    small = ("small: logistic regression 40x3", nll,
             (0.1 * rng.standard_normal(4), X, (rng.random(40) < 0.5).astype(float)), 1)
    X = rng.standard_normal((256, 32))
    Y = np.eye(10)[rng.integers(0, 10, 256)]
    params = (0.2 * rng.standard_normal((32, 64)), np.zeros(64), 0.2 * rng.standard_normal((64, 10)), np.zeros(10))
    medium = ("medium: MLP 256x32 -> 64 -> 10", mlp, (*params, X, Y), 4)
    return [small, medium]


def timed(thunk) -> float:
    thunk()
    thunk()
    return median_time(thunk, min_total=0.5, min_runs=20, max_runs=20000)


def measure(name, f, args, n_params):
    nums = tuple(range(n_params))
    rows = []
    value_and_grad = ct.value_and_grad(f, argnums=nums)
    primal = ct.differentiable(f)
    direct_grad = timed(lambda: value_and_grad(*args))
    direct_value = timed(lambda: primal(*args))
    rows.append(("cotangent: value_and_grad", direct_grad, None))
    rows.append(("cotangent: compiled primal", direct_value, None))

    try:
        import torch
    except ImportError:
        print("(torch not installed: skipped)")
    else:
        torch.set_num_threads(1)
        fn = ct.to_torch(f)
        tensors = [torch.tensor(a) for a in args]
        params = [t.requires_grad_() for t in tensors[:n_params]]

        def torch_step():
            for p in params:
                p.grad = None
            fn(*tensors).backward()
        rows.append(("to_torch: forward + backward()", timed(torch_step), direct_grad))
        floor = _trivial_torch_function(n_params, len(args))

        def floor_step():
            for p in params:
                p.grad = None
            floor(*tensors).backward()
        rows.append(("  PyTorch's floor: a trivial Function", timed(floor_step), 0.0))
        with torch.no_grad():
            rows.append(("to_torch: forward under no_grad", timed(lambda: fn(*tensors)), direct_value))

    try:
        import jax
    except ImportError:
        print("(jax not installed: skipped)")
    else:
        with jax.enable_x64(True):
            fn = ct.to_jax(f)
            jargs = [jax.numpy.asarray(a) for a in args]
            vg = jax.jit(jax.value_and_grad(fn, argnums=nums))
            value = jax.jit(fn)
            rows.append(("to_jax: jit(value_and_grad)", timed(lambda: jax.block_until_ready(vg(*jargs))), direct_grad))
            rows.append(("to_jax: jit (value)", timed(lambda: jax.block_until_ready(value(*jargs))), direct_value))
            rows.append(("to_jax: called directly (value)", timed(lambda: fn(*jargs)), direct_value))
            trivial = jax.jit(lambda *a: jax.pure_callback(lambda *x: np.float64(0.0), jax.ShapeDtypeStruct(
                (), np.float64), *a, vmap_method="expand_dims"))
            rows.append(("  JAX's floor: jit of a trivial callback", timed(
                lambda: jax.block_until_ready(trivial(*jargs))), 0.0))

    if n_params == 1:
        objective = ct.scipy_objective(f)
        p = np.ones_like(args[0])
        rows.append(("scipy_objective.fun", timed(lambda: objective.fun(*args)), direct_grad))
        hvp = timed(lambda: ct.hvp(f, args, (p,) + (None,) * (len(args) - 1)))
        rows.append(("cotangent: ct.hvp", hvp, None))
        rows.append(("scipy_objective.hessp", timed(lambda: objective.hessp(args[0], p, *args[1:])), hvp))

    print(f"\n{name}")
    print(f"  {'':40s} {'per call':>10s} {'overhead':>10s} {'ratio':>7s}")
    for label, t, base in rows:
        extra = f"{(t - base) * 1e6:8.1f}us {t / base:6.2f}x" if base else ""
        extra = "(the tool's own cost of a call that does nothing)" if base == 0.0 else extra
        print(f"  {label:40s} {t * 1e6:8.1f}us {extra}")


def _trivial_torch_function(n_params: int, n_args: int):
    """A torch.autograd.Function of the same arguments that does no work: PyTorch's own cost."""
    import torch

    class Trivial(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.shapes = [x.shape for x in xs[:n_params]]
            return torch.zeros((), dtype=torch.float64)

        @staticmethod
        def backward(ctx, g):
            return (*[g.expand(s) for s in ctx.shapes], *[None] * (n_args - n_params))
    return Trivial.apply


def main():
    for problem in problems():
        measure(*problem)


if __name__ == "__main__":
    main()
