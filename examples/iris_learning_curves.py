"""Learning curves of the 4-8-3 Iris MLP: the training loss per epoch under SGD, momentum, RMSprop,
AdaGrad and Adam, and under several learning rates for SGD and for Adam. Every run starts from the
same weights and sees the same batches, through one compiled model (cotangent.models.mlp).

    python examples/iris_learning_curves.py [--epochs 100] [--out out/iris_learning_curves] [--target cpu|python]
"""
from __future__ import annotations

import time
from pathlib import Path

from cotangent import runtime as rt
from cotangent.models import mlp

from _common import pyplot, save, setup

OPTIMIZERS = {"SGD (lr 0.1)": lambda: rt.SGD(lr=0.1),
              "momentum 0.9 (lr 0.05)": lambda: rt.Momentum(lr=0.05, momentum=0.9),
              "RMSprop (lr 0.01)": lambda: rt.RMSprop(lr=0.01),
              "AdaGrad (lr 0.1)": lambda: rt.AdaGrad(lr=0.1),
              "Adam (lr 0.01)": lambda: rt.Adam(lr=0.01)}
RATES = {"SGD": (rt.SGD, (0.001, 0.01, 0.1, 1.0, 10.0)), "Adam": (rt.Adam, (0.0001, 0.001, 0.01, 0.1, 1.0))}


def plot(panels: dict[str, dict], path: Path, title: str) -> None:
    fig, axes = pyplot().subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for ax, (name, curves) in zip(axes[0], panels.items()):
        for label, losses in curves.items():
            if losses is None:
                ax.plot([], [], ls=":", label=f"{label}: diverged")
            else:
                ax.plot(range(1, len(losses) + 1), losses, label=label)
        ax.set(yscale="log", xlabel="epoch", ylabel="training loss (clipped at 10)", title=name)
        ax.set_ylim(top=min(ax.get_ylim()[1], 10.0))      # a run that blows up would squash the others
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    save(fig, path)


def main() -> None:
    args = setup("iris_learning_curves", "Learning curves of the Iris MLP", epochs=100)

    start = time.perf_counter()
    optimizers = mlp.learning_curves({k: make() for k, make in OPTIMIZERS.items()}, epochs=args.epochs,
                                     target=args.target, progress=True)
    rates = {name: mlp.learning_curves({f"lr {lr:g}": cls(lr=lr) for lr in lrs}, epochs=args.epochs,
                                       target=args.target, progress=True)
             for name, (cls, lrs) in RATES.items()}
    print(f"\n{sum(map(len, [optimizers, *rates.values()]))} runs of {args.epochs} epochs in "
          f"{time.perf_counter() - start:.1f} s (compile included)")
    print("\nfinal training loss")
    for group, curves in (("", optimizers), *((f"{name}, ", c) for name, c in rates.items())):
        for label, losses in curves.items():
            print(f"  {group + label:<24} {'diverged' if losses is None else f'{losses[-1]:.4f}'}")

    plot({"optimizers": optimizers}, args.out / "iris_optimizers.png",
         "4-8-3 MLP on Iris, batches of 16, same initial weights")
    plot({f"{name}: learning rates": curves for name, curves in rates.items()}, args.out / "iris_learning_rates.png",
         "4-8-3 MLP on Iris: too small a rate crawls, too large a rate stalls or diverges")


if __name__ == "__main__":
    main()
