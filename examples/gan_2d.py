"""A GAN learns a ring of 8 Gaussians (cotangent.models.gan.train): a generator and a
discriminator, two FunctionModels with two generated gradients, updated in turn. The generator's
loss runs through the discriminator, whose weights it takes as inputs, so its gradient holds the
discriminator fixed. Plots generated against real points as training goes (over the
discriminator's belief that a point is real), and the losses and sample statistics per step;
prints the generator's loss function and the first lines of its generated gradient.

    python examples/gan_2d.py [--steps 4000] [--out out/gan_2d] [--target python|cpu]
"""
from __future__ import annotations

import inspect

import numpy as np

from cotangent.models import gan

from _common import pyplot, save, setup, source_from


def plot_samples(model, snapshots: dict, real: np.ndarray, path) -> None:
    steps = sorted(snapshots)
    fig, axes = pyplot().subplots(1, len(steps), figsize=(3.3 * len(steps), 3.6), squeeze=False)
    lim = 3.0
    grid = np.linspace(-lim, lim, 120)
    xx, yy = np.meshgrid(grid, grid)
    realness = model.realness(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    for ax, step in zip(axes[0], steps):
        if step == steps[-1]:           # the discriminator as it is now, under the final samples
            ax.contourf(xx, yy, realness, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.35)
        ax.scatter(real[:, 0], real[:, 1], s=3, c="k", alpha=0.4, label="real")
        ax.scatter(snapshots[step][:, 0], snapshots[step][:, 1], s=3, c="tab:orange", alpha=0.6, label="generated")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"step {step}" + (" (D: blue = real)" if step == steps[-1] else ""), fontsize=10)
    axes[0, 0].legend(loc="lower left", fontsize=8, markerscale=3)
    fig.suptitle("GAN on a ring of 8 Gaussians: generated (orange) vs real (black) points")
    save(fig, path)


def plot_history(history, path) -> None:
    fig, axes = pyplot().subplots(1, 3, figsize=(13, 3.5))
    steps = history["epoch"]
    trained = [r for r in history.records if "d_loss" in r]
    axes[0].plot([r["epoch"] for r in trained], [r["d_loss"] for r in trained], label="discriminator")
    axes[0].plot([r["epoch"] for r in trained], [r["g_loss"] for r in trained], label="generator")
    axes[0].axhline(np.log(2.0), color="gray", lw=0.8, ls=":", label="log 2 (D guesses)")
    axes[0].set_title("losses (one batch)")
    axes[1].plot(steps, history["near_mode"], label="within 0.25 of a mode")
    axes[1].plot(steps, np.array(history["modes_covered"]) / 8, label="modes covered / 8")
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("generated points")
    axes[2].plot(steps, history["energy_distance"])
    axes[2].set_yscale("log")
    axes[2].set_title("energy distance to real points")
    for ax in axes:
        ax.set_xlabel("step")
    axes[0].legend()
    axes[1].legend()
    save(fig, path)


def main() -> None:
    args = setup("gan_2d", "A GAN on a ring of 8 Gaussians", steps=4000)
    snapshots = (0, 250, 1000, args.steps // 2, args.steps)
    model, history, taken, seconds = gan.train(steps=args.steps, snapshots=snapshots, target=args.target,
                                               progress=True)
    print(f"{args.steps} steps in {seconds:.1f} s, compiling included")
    first, last = history.records[0], history.records[-1]
    print(f"\n{'':<22}{'before training':>16}{'after':>10}{'real':>10}")
    real = gan.ring(1000, rng=np.random.default_rng(123))
    ideal = gan.statistics(real, gan.ring(1000, rng=np.random.default_rng(7)), gan.ring_modes())
    for key in ("mean_radius", "near_mode", "modes_covered", "energy_distance"):
        print(f"{key:<22}{first[key]:>16.3f}{last[key]:>10.3f}{ideal[key]:>10.3f}")

    print("\nThe generator's loss (the discriminator's weights d_* are inputs: not differentiated):\n")
    print(inspect.getsource(gan.generator_loss))
    grad = model.generator.source("grad")
    print("Its generated gradient, from the discriminator's logits back through D into G's last layer\n"
          "(D's weights are read, d_W3.T, but no adjoint of them is computed):\n")
    print(source_from(grad, "# adjoint of gan.py", 24))
    held = [name for name in gan.DISC_INPUTS if f"{name}_bar" in grad]
    print(f"adjoints of the discriminator's weights in the generator's gradient: {held or 'none'}")

    plot_samples(model, taken, real, args.out / "gan_samples.png")
    plot_history(history, args.out / "gan_history.png")


if __name__ == "__main__":
    main()
