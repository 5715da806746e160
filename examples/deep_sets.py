"""Deep Sets (cotangent.models.deepsets) learn the maximum of a set of 1 to 16 numbers: phi on each
element, a masked sum over the set, rho on the sum. Prints the test error next to a constant
predictor's, shows that shuffling every set's elements changes no output by more than rounding,
prints the generated model source; plots predictions against the true maxima and the learning
curves.

    python examples/deep_sets.py [--epochs 30] [--out out/deep_sets] [--target cpu|python]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from cotangent.models import deepsets

from _common import pyplot, save, setup, training_source

N_TRAIN = 8000


def plot(run: deepsets.DeepSetsRun, path: Path) -> None:
    x, mask, y = run.test_set
    pred = run.model.predict((x, mask))[:, 0]
    sizes = mask.sum(axis=1)
    fig, (scatter_ax, curve_ax) = pyplot().subplots(1, 2, figsize=(11, 4.4))
    points = scatter_ax.scatter(y[:, 0], pred, c=sizes, s=6, cmap="viridis")
    scatter_ax.plot([0, 1], [0, 1], "k-", lw=0.8)
    scatter_ax.set(xlabel="true maximum", ylabel="predicted", aspect="equal",
                   title=f"Test sets: mean absolute error {run.test_mae:.3f}")
    fig.colorbar(points, ax=scatter_ax, label="set size")
    h = run.history
    curve_ax.plot(h["epoch"], h["loss"], "-", label="training")
    curve_ax.plot(h["epoch"], h["val_loss"], "--", label="test")
    curve_ax.set(xlabel="epoch", ylabel="squared error", yscale="log", title="Learning curves")
    curve_ax.grid(alpha=0.3)
    curve_ax.legend()
    fig.suptitle("Deep Sets: rho(sum of phi(x_i)) learns max(x_1, ..., x_n)")
    save(fig, path)


def pool_adjoint(grad_source: str) -> str:
    """The lines of the generated gradient that are the adjoint of SetPool's masked sum."""
    lines = grad_source.splitlines()
    start = next(i for i, line in enumerate(lines) if "# adjoint of deepsets.py" in line)
    end = next(i for i in range(start + 1, len(lines)) if "# adjoint of" in lines[i])
    return "\n".join(lines[start:end])


def main() -> None:
    args = setup("deep_sets", "Deep Sets learn the maximum of a set", epochs=30)
    start = time.perf_counter()
    run = deepsets.train(n_train=N_TRAIN, epochs=args.epochs, target=args.target)
    print(f"test mean absolute error {run.test_mae:.4f} (a constant prediction: {run.baseline_mae:.4f}); "
          f"trained in {run.seconds:.1f} s ({time.perf_counter() - start:.1f} s with data)")

    x, mask, y = run.test_set
    outputs = run.model.predict((x, mask))
    shuffled = run.model.predict(deepsets.permute_sets(x, mask, np.random.default_rng(1)))
    print(f"shuffling the elements of all {len(y)} test sets changes the outputs by at most "
          f"{np.max(np.abs(shuffled - outputs)):.1e}")
    for k in range(3):
        n = int(mask[k].sum())
        print(f"  set {np.round(x[k, :n, 0], 2)}: max {y[k, 0]:.3f}, predicted {outputs[k, 0]:.3f}")

    print(f"\n{run.model.describe()}")
    print("\nThe generated model source (training function):\n")
    print(training_source(run.model))
    print("\nIn the generated gradient, the adjoint of the pooling: the pooled vector's adjoint goes back to\n"
          "every element of the set, times its mask entry:\n")
    print(pool_adjoint(run.model.source("grad")))
    plot(run, args.out / "deep_sets.png")


if __name__ == "__main__":
    main()
