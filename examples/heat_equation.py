"""The gradient of a 1-D heat-equation simulation, with the time loop checkpointed.

u' = d/dx (kappa du/dx) on [0, 1], u = 0 at both ends, explicit finite differences: each step
reads the whole state u and writes its interior in place. The loss is the squared distance of the
final state to a target; its gradient with respect to the diffusivity field kappa (and the initial
state) is what an inverse problem needs ("which conductivity made this profile?").

Reverse mode records every step on a tape, the whole state each time: steps x points x 8 bytes.
`ct.checkpointed(range(steps), snapshots=s)` keeps s copies of the state instead and runs steps
again in the reverse sweep (binomial checkpointing): memory s x points x 8 bytes, each step run
about log(steps) times. The gradient is the same to rounding.

    python examples/heat_equation.py [--points 400] [--steps 4000] [--snapshots 20] [--out out/heat_equation]"""
from __future__ import annotations

import argparse
import time

import numpy as np

import cotangent as ct


def simulate(u0, kappa, target, steps, snapshots):
    """0.5 * |u(T) - target|^2 after `steps` explicit steps (dt chosen stable: r <= 0.4)."""
    u = u0.copy()
    n = u.shape[0]
    r = 0.4 / np.max(kappa)             # dt / dx^2, times the largest kappa, stays <= 0.4
    for t in ct.checkpointed(range(steps), snapshots=snapshots):
        flux = 0.5 * (kappa[1:] + kappa[:-1]) * (u[1:] - u[:-1])
        u[1:n - 1] = u[1:n - 1] + r * (flux[1:] - flux[:-1])
    return 0.5 * np.sum((u - target) ** 2)


def simulate_taped(u0, kappa, target, steps, snapshots):
    """The same simulation recorded step by step (for comparison)."""
    u = u0.copy()
    n = u.shape[0]
    r = 0.4 / np.max(kappa)
    for t in range(steps):
        flux = 0.5 * (kappa[1:] + kappa[:-1]) * (u[1:] - u[:-1])
        u[1:n - 1] = u[1:n - 1] + r * (flux[1:] - flux[:-1])
    return 0.5 * np.sum((u - target) ** 2)


def problem(points: int):
    """A bump that diffuses; the target is what a diffusivity with a slow region would give."""
    x = np.linspace(0.0, 1.0, points)
    u0 = np.exp(-((x - 0.5) / 0.1) ** 2)
    u0[0] = u0[-1] = 0.0
    kappa = np.ones(points)
    target = np.exp(-((x - 0.45) / 0.15) ** 2) * 0.6
    target[0] = target[-1] = 0.0
    return x, u0, kappa, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=400)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--snapshots", type=int, default=20)
    parser.add_argument("--out", default=None, help="folder for a plot of the gradient (needs matplotlib)")
    args = parser.parse_args()
    x, u0, kappa, target = problem(args.points)
    checkpointed = ct.value_and_grad(simulate, argnums=(0, 1))
    taped = ct.value_and_grad(simulate_taped, argnums=(0, 1))
    for name, f in (("checkpointed", checkpointed), ("taped", taped)):
        f(u0, kappa, target, 3, args.snapshots)             # compile once, on a short run
        start = time.perf_counter()
        value, (du0, dkappa) = f(u0, kappa, target, args.steps, args.snapshots)
        print(f"{name:>12}: loss {value:.10f}, |d/d kappa| {np.linalg.norm(dkappa):.10f}, "
              f"{time.perf_counter() - start:.3f} s")
        if name == "checkpointed":
            reference = (du0, dkappa)
    difference = max(np.max(np.abs(a - b)) for a, b in zip(reference, (du0, dkappa)))
    state = args.points * 8
    print(f"largest difference between the two gradients: {difference:.2e}")
    print(f"a tape of every step holds {args.steps * state / 2**20:.1f} MiB of states; "
          f"{args.snapshots} snapshots hold {args.snapshots * state / 2**20:.3f} MiB")
    if args.out:
        from pathlib import Path
        from _common import pyplot, save
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        plt = pyplot()
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
        a.plot(x, u0, label="u(0)")
        a.plot(x, target, label="target")
        a.set_xlabel("x")
        a.legend()
        b.plot(x, reference[1])
        b.set_title("d loss / d kappa (checkpointed)")
        b.set_xlabel("x")
        save(fig, out / "heat_equation.png")


if __name__ == "__main__":
    main()
