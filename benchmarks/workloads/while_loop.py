"""A `while` loop whose trip count depends on the data: a damped Duffing oscillator stepped until
its energy falls below a tolerance, differentiated with respect to its parameters.

    x'' = -k x - a x^3 - c x',   x(0) = x0, x'(0) = v0,   p = [k, c, a, x0, v0]

Semi-implicit Euler with step dt runs until the energy v^2/2 + k x^2/2 + a x^4/4 drops below `tol`;
the objective is the integral of x^2 over that time. The trip count (thousands of steps) is a
piecewise constant function of p, so the gradient through the loop is well defined away from the
points where it switches. The same Python function is run by every tool: cotangent compiles it,
PyTorch and autograd run it eagerly on their tensors and boxes."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

try:                                   # imported as benchmarks.workloads.while_loop
    from ..harness import Case, Impl, Result
except ImportError:                    # imported as workloads.while_loop, with benchmarks/ on sys.path
    from harness import Case, Impl, Result

ROOT = Path(__file__).resolve().parents[2]

PARAMS = np.array([1.5, 0.3, 0.5, 1.0, 0.0])     # k, c, a, x0, v0
TOL = 1e-6

SIZES: dict[str, list[float]] = {"tiny": [0.1], "full": [0.02, 0.005]}     # dt

JAX_NOTE = ("JAX is left out: it has no reverse mode through lax.while_loop (jax.grad raises), and a "
            "Python while loop on traced values cannot be jitted")


def energy(k, a, x, v):
    """Kinetic plus potential energy of the oscillator."""
    return 0.5 * v * v + 0.5 * k * x * x + 0.25 * a * x * x * x * x


def settle(p, dt, tol):
    """Integral of x^2 dt until the energy falls below tol (plain arithmetic, so NumPy floats,
    torch tensors and autograd boxes all run it)."""
    k = p[0]
    c = p[1]
    a = p[2]
    x = p[3]
    v = p[4]
    cost = 0.0
    e = energy(k, a, x, v)
    while e > tol:
        v = v - dt * (k * x + a * x * x * x + c * v)
        x = x + dt * v
        cost = cost + dt * x * x
        e = energy(k, a, x, v)
    return cost


def trip_count(p: np.ndarray, dt: float, tol: float) -> int:
    """How many trips `settle` runs at p: the loop's state alone, in Python floats."""
    k, c, a, x, v = (float(q) for q in p)
    trips = 0
    while energy(k, a, x, v) > tol:
        v = v - dt * (k * x + a * x * x * x + c * v)
        x = x + dt * v
        trips += 1
    return trips


def cotangent_step(p: np.ndarray, dt: float, tol: float) -> Callable[[], Result]:
    """`settle` differentiated by cotangent: a tape of the loop's state, the trips run backwards."""
    import cotangent as ct
    value_and_grad = ct.value_and_grad(settle, argnums=0)

    def step() -> Result:
        value, grad = value_and_grad(p, dt, tol)
        return float(value), [grad]
    return step


def cotangent_objective(p: np.ndarray, dt: float, tol: float) -> Callable[[], float]:
    """The compiled primal alone, the F of J/F."""
    import cotangent as ct
    primal = ct.differentiable(settle)
    return lambda: float(primal(p, dt, tol))


def torch_step(p: np.ndarray, dt: float, tol: float) -> Callable[[], Result]:
    """`settle` run eagerly on 0-d float64 tensors, then backward(); the grad cleared each call."""
    import torch
    pt = torch.tensor(p, dtype=torch.float64, requires_grad=True)

    def step() -> Result:
        pt.grad = None
        out = settle(pt, dt, tol)
        out.backward()
        return out.item(), [pt.grad.numpy()]
    return step


def autograd_step(p: np.ndarray, dt: float, tol: float) -> Callable[[], Result]:
    """`settle` traced by HIPS autograd on its boxes."""
    import autograd
    value_and_grad = autograd.value_and_grad(settle)

    def step() -> Result:
        value, grad = value_and_grad(p, dt, tol)
        return float(value), [grad]
    return step


def _first_call(dt: float) -> str:
    return (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport numpy as np\nimport cotangent as ct\n"
            f"from benchmarks.workloads import while_loop as w\n"
            f"ct.value_and_grad(w.settle, argnums=0)(w.PARAMS.copy(), {dt!r}, w.TOL)\n")


def cases(scale: str) -> list[Case]:
    """One case per step size (the trip count grows as 1/dt); `scale` is "tiny" or "full"."""
    out = []
    for dt in SIZES[scale]:
        p = PARAMS.copy()
        trips = trip_count(p, dt, TOL)
        impls = [
            Impl("cotangent", lambda p=p, dt=dt: cotangent_step(p, dt, TOL),
                 objective=lambda p=p, dt=dt: cotangent_objective(p, dt, TOL), first_call=_first_call(dt)),
            Impl("torch", lambda p=p, dt=dt: torch_step(p, dt, TOL)),
            Impl("autograd", lambda p=p, dt=dt: autograd_step(p, dt, TOL)),
        ]
        out.append(Case("while loop", f"Duffing dt={dt:g}, {trips:,} trips", impls, work=float(trips),
                        notes=[JAX_NOTE,
                               f"trips at p: {trips:,}; with the damping c 10% larger: "
                               f"{trip_count(p * [1, 1.1, 1, 1, 1], dt, TOL):,}"]))
    return out
