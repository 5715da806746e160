"""Logistic regression on a generated 2-class problem, fitted by gradient descent and by Newton's
method (cotangent.models.logistic). Newton's method (rt.Newton, on the Hessian cotangent generates
as forward mode over reverse mode) converges in a handful of steps; gradient descent with the safe
step 1/L needs hundreds. Plots the loss and gradient norm against the step for both, and the data
with the fitted boundary.

    python examples/logistic_regression.py [--out out/logistic_regression] [--target cpu|python]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import cotangent as ct
from cotangent.models import logistic

from _common import pyplot, save, setup


def plot(fits: dict, x: np.ndarray, y: np.ndarray, path: Path) -> None:
    fig, axes = pyplot().subplots(1, 3, figsize=(15, 4.2))
    for name, fit in fits.items():
        label = f"{'Newton' if name == 'newton' else 'gradient descent (1/L)'}: {fit.steps} steps"
        steps = np.arange(len(fit.losses))
        axes[0].plot(steps + 1, fit.losses, "o-" if name == "newton" else "-", ms=4, label=label)
        axes[1].plot(steps + 1, fit.grad_norms, "o-" if name == "newton" else "-", ms=4, label=label)
    axes[0].set(xscale="log", xlabel="step + 1", ylabel="mean cross-entropy", title="loss")
    axes[1].set(xscale="log", yscale="log", xlabel="step + 1", ylabel="|gradient|", title="gradient norm")
    axes[1].axhline(fits["newton"].tol, color="gray", lw=0.8, ls=":")
    w0, w1, b = fits["newton"].params
    for label, marker in ((0, "o"), (1, "^")):
        axes[2].scatter(*x[y == label].T, marker=marker, s=14, alpha=0.7, label=f"class {label}")
    xs = np.linspace(x[:, 0].min(), x[:, 0].max(), 2)
    axes[2].plot(xs, -(w0 * xs + b) / w1, "k-", label="p = 0.5")
    axes[2].set(xlabel="$x_1$", ylabel="$x_2$", title="data and fitted boundary", ylim=(x[:, 1].min() - 0.5,
                                                                                   x[:, 1].max() + 0.5))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, path)


def main() -> None:
    args = setup("logistic_regression", "Logistic regression by Newton's method and gradient descent")

    x, y = logistic.make_data()
    start = time.perf_counter()
    fits = logistic.train(target=args.target, progress=True)
    seconds = time.perf_counter() - start
    newton, gd = fits["newton"], fits["gd"]
    print("\nNewton's method (rt.Newton):")
    for step, (loss, norm) in enumerate(zip(newton.losses, newton.grad_norms)):
        print(f"  step {step}: loss {loss:.12f}  |grad| {norm:.2e}")
    print(f"gradient descent, step 1/L = {1 / logistic.smoothness(x):.3f}: {gd.steps} steps to |grad| < {gd.tol:g}")
    print(f"same optimum: max |w_newton - w_gd| = {np.max(np.abs(newton.params - gd.params)):.1e}; "
          f"training accuracy {logistic.accuracy(newton, x, y):.3f}; both fits took {seconds:.1f} s")

    model = newton.model
    print("\nThe model source (the user's logistic_loss, called on views of the flat parameters):\n")
    print(model.source())
    grad = model.source("grad")
    print("The generated gradient (first lines):\n")
    print("\n".join(grad[grad.index("def logreg_train_grad"):].splitlines()[:24]), "\n    ...")
    objective = model.objective(x, y.astype(np.float64))
    hessian = ct.source(ct.hessian(objective.fn), model.params.data, *objective.args)
    print("\nThe Hessian rt.Newton solves with (forward mode over reverse mode), its driver loop:\n")
    print(hessian[hessian.index("def logreg_loss_hessian"):])

    plot(fits, x, y, args.out / "logistic_regression.png")


if __name__ == "__main__":
    main()
