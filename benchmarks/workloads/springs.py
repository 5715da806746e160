"""A spring-mass chain written as a Numba user writes a simulation, not tuned to cotangent.

P particles in 2-D, neighbours joined by springs of stiffness k[s] and rest length `rest`, under
gravity and linear damping; particle 0 is held fixed (a chain hanging from one end, released
from a near-horizontal shape). T steps of semi-implicit Euler:

    F_p = Σ_springs k_s (|d_s| − rest) d_s / |d_s| − c v_p − m_p g e_y,   v += dt F / m,   x += dt v

The loss is the squared distance of the final positions to a target plus a small penalty on the
final velocities; the gradient is with respect to the stiffnesses k (P−1) and the initial positions
(P×2). cotangent differentiates `simulate`: `for` loops over steps, springs and particles on
numbers, writing into a copy of the position and velocity arrays and a force array reused every
step. JAX gets the same mathematics vectorized over particles with `lax.scan` over the steps;
PyTorch (eager, `.backward()`) and autograd the vectorized step in a Python loop."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

try:                                   # imported as benchmarks.workloads.springs
    from ..harness import Case, Impl, Result
except ImportError:                    # imported as workloads.springs, with benchmarks/ on sys.path
    from harness import Case, Impl, Result

ROOT = Path(__file__).resolve().parents[2]

SIZES: dict[str, list[tuple[int, int]]] = {"tiny": [(4, 10)], "full": [(64, 1000), (256, 200)]}   # (P, T)
DT = 0.01
DAMPING = 0.05
GRAVITY = 0.1
REST = 1.0
VEL_PENALTY = 1e-2
ARGNUMS = (0, 1)                       # k, pos0


# --- the simulation, as cotangent differentiates it -------------------------------------------------

def simulate(k, pos0, vel0, mass, target, dt, damping, gravity, rest, vel_penalty, steps):
    """Loss after `steps` semi-implicit Euler steps of the chain (particle 0 held fixed)."""
    P = pos0.shape[0]
    pos = pos0.copy()
    vel = vel0.copy()
    force = np.zeros((P, 2))
    for t in range(steps):
        for p in range(P):
            force[p, 0] = -damping * vel[p, 0]
            force[p, 1] = -damping * vel[p, 1] - mass[p] * gravity
        for s in range(P - 1):
            dx = pos[s + 1, 0] - pos[s, 0]
            dy = pos[s + 1, 1] - pos[s, 1]
            length = math.sqrt(dx * dx + dy * dy)
            f = k[s] * (length - rest) / length
            force[s, 0] += f * dx
            force[s, 1] += f * dy
            force[s + 1, 0] -= f * dx
            force[s + 1, 1] -= f * dy
        for p in range(1, P):
            vel[p, 0] += dt * force[p, 0] / mass[p]
            vel[p, 1] += dt * force[p, 1] / mass[p]
            pos[p, 0] += dt * vel[p, 0]
            pos[p, 1] += dt * vel[p, 1]
    loss = 0.0
    for p in range(P):
        ex = pos[p, 0] - target[p, 0]
        ey = pos[p, 1] - target[p, 1]
        loss += ex * ex + ey * ey + vel_penalty * (vel[p, 0] * vel[p, 0] + vel[p, 1] * vel[p, 1])
    return loss


# --- the problem ---------------------------------------------------------------------------------------

def problem(P: int, T: int, seed: int = 0) -> dict:
    """A chain laid out along x at its rest length, slightly perturbed; masses and stiffnesses
    vary along it; the target is the initial shape moved down by a tenth of the time simulated."""
    rng = np.random.default_rng(seed)
    pos0 = np.stack([np.arange(P) * REST, np.zeros(P)], axis=1) + 0.05 * rng.normal(size=(P, 2))
    pos0[0] = 0.0
    mass = rng.uniform(0.5, 1.5, size=P)
    k = rng.uniform(1.0, 2.0, size=P - 1) * (5.0 + 2.0 * GRAVITY * mass.sum())  # the top carries the weight
    target = pos0 + np.array([0.0, -0.1 * T * DT])
    return {"k": k, "pos0": pos0, "vel0": np.zeros((P, 2)), "mass": mass, "target": target, "steps": T}


def arguments(prob: dict) -> tuple:
    return (prob["k"], prob["pos0"], prob["vel0"], prob["mass"], prob["target"], DT, DAMPING,
            GRAVITY, REST, VEL_PENALTY, prob["steps"])


# --- the competitors: vectorized over particles -------------------------------------------------------

def vectorized_step(xp, concat, k, mass, weight, free, dt):
    """One semi-implicit Euler step on (P, 2) arrays for an array library `xp` (jax.numpy, torch,
    autograd.numpy); `weight` is the gravity force (0, −m g) per particle, `free` 0 for the fixed
    particle and 1 elsewhere (P, 1)."""
    def step(pos, vel):
        d = pos[1:] - pos[:-1]                                   # (P-1, 2): particle s to s+1
        length = xp.sqrt((d * d).sum(1))
        f = (k * (length - REST) / length)[:, None] * d          # pulls s towards s+1
        zero = xp.zeros_like(pos[:1])
        force = concat([f, zero]) - concat([zero, f]) - DAMPING * vel + weight
        vel = vel + dt * free * force / mass[:, None]
        pos = pos + dt * free * vel
        return pos, vel
    return step


def _weight(prob: dict) -> np.ndarray:
    """(P, 2): the gravity force on each particle, zero in x, −m g in y."""
    return np.stack([np.zeros_like(prob["mass"]), -GRAVITY * prob["mass"]], axis=1)


def vectorized_loss(pos, vel, target):
    e = pos - target
    return (e * e).sum() + VEL_PENALTY * (vel * vel).sum()


def jax_step(prob: dict) -> Callable[[], Result]:
    """`jit(value_and_grad)` of `lax.scan` over the steps, vectorized over particles."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    mass, weight, free = (jnp.asarray(a) for a in (prob["mass"], _weight(prob), _free(prob)))
    vel0, target, T = jnp.asarray(prob["vel0"]), jnp.asarray(prob["target"]), prob["steps"]

    def loss(k, pos0):
        step = vectorized_step(jnp, jnp.concatenate, k, mass, weight, free, DT)
        (pos, vel), _ = lax.scan(lambda c, _: (step(*c), None), (pos0, vel0), None, length=T)
        return vectorized_loss(pos, vel, target)

    g = jax.jit(jax.value_and_grad(loss, argnums=ARGNUMS))
    k, pos0 = jnp.asarray(prob["k"]), jnp.asarray(prob["pos0"])

    def run() -> Result:
        v, grads = g(k, pos0)
        return float(v), [np.asarray(a) for a in grads]
    return run


def torch_step(prob: dict) -> Callable[[], Result]:
    """The vectorized step in a Python loop on float64 tensors, then backward()."""
    import torch
    mass, weight, free = (torch.tensor(a) for a in (prob["mass"], _weight(prob), _free(prob)))
    vel0, target, T = torch.tensor(prob["vel0"]), torch.tensor(prob["target"]), prob["steps"]

    def run() -> Result:
        k = torch.tensor(prob["k"], requires_grad=True)
        pos0 = torch.tensor(prob["pos0"], requires_grad=True)
        step = vectorized_step(torch, torch.cat, k, mass, weight, free, DT)
        pos, vel = pos0, vel0
        for _ in range(T):
            pos, vel = step(pos, vel)
        out = vectorized_loss(pos, vel, target)
        out.backward()
        return out.item(), [k.grad.numpy(), pos0.grad.numpy()]
    return run


def autograd_step(prob: dict) -> Callable[[], Result]:
    """The vectorized step in a Python loop, traced by HIPS autograd."""
    import autograd
    import autograd.numpy as anp
    mass, weight, free = prob["mass"], _weight(prob), _free(prob)
    vel0, target, T = prob["vel0"], prob["target"], prob["steps"]

    def loss(k, pos0):
        step = vectorized_step(anp, anp.concatenate, k, mass, weight, free, DT)
        pos, vel = pos0, vel0
        for _ in range(T):
            pos, vel = step(pos, vel)
        return vectorized_loss(pos, vel, target)

    g = autograd.value_and_grad(loss, argnum=list(ARGNUMS))

    def run() -> Result:
        v, grads = g(prob["k"], prob["pos0"])
        return float(v), [np.asarray(a) for a in grads]
    return run


def _free(prob: dict) -> np.ndarray:
    free = np.ones((prob["pos0"].shape[0], 1))
    free[0] = 0.0
    return free


# --- cotangent -----------------------------------------------------------------------------------------

def cotangent_step(prob: dict) -> Callable[[], Result]:
    import cotangent as ct
    g = ct.value_and_grad(simulate, argnums=ARGNUMS)
    args = arguments(prob)

    def run() -> Result:
        v, grads = g(*args)
        return float(v), list(grads)
    return run


def cotangent_objective(prob: dict) -> Callable[[], float]:
    import cotangent as ct
    f = ct.differentiable(simulate)
    args = arguments(prob)
    return lambda: float(f(*args))


def _first_call(P: int, T: int) -> str:
    return (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport cotangent as ct\n"
            f"from benchmarks.workloads import springs as s\n"
            f"ct.value_and_grad(s.simulate, argnums=(0, 1))(*s.arguments(s.problem({P}, {T})))\n")


def cases(scale: str) -> list[Case]:
    """One case per (particles, steps); `scale` is "tiny" or "full"."""
    out = []
    for P, T in SIZES[scale]:
        prob = problem(P, T)
        impls = [
            Impl("cotangent", lambda prob=prob: cotangent_step(prob),
                 objective=lambda prob=prob: cotangent_objective(prob), first_call=_first_call(P, T)),
            Impl("jax", lambda prob=prob: jax_step(prob)),
            Impl("torch", lambda prob=prob: torch_step(prob)),
            Impl("autograd", lambda prob=prob: autograd_step(prob)),
        ]
        out.append(Case("springs", f"P={P} T={T:,}", impls, work=float(P * T)))
    return out
