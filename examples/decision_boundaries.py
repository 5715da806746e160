"""Decision boundaries of an MLP with two hidden layers of 32 ReLU units and an L2 penalty, on
generated 2-D points: two moons (2 classes) and four spiral arms (4 classes), each without L2 and
with two strengths of it (cotangent.models.mlp.train_points). The stronger the penalty, the smaller
the weights and the smoother the boundary.

The six models share their compiled layers (one Dense and one ReLU function per signature).

    python examples/decision_boundaries.py [--epochs 200] [--out out/decision_boundaries] [--target python|cpu]
"""
from __future__ import annotations

import time
from pathlib import Path

from cotangent import runtime as rt
from cotangent.models import mlp, points

from _common import pyplot, save, setup, training_source

SETS = {"moons": 300, "spirals": 400}        # kind -> number of points
L2 = (0.0, 1e-3, 1e-2)


def plot(results: list, path: Path) -> None:
    fig, axes = pyplot().subplots(len(SETS), len(L2), figsize=(4.2 * len(L2), 4 * len(SETS)), squeeze=False)
    for ax, (kind, l2, model, (x, y), accuracy) in zip(axes.ravel(), results):
        xx, yy, grid = points.decision_grid(model.predict, x, resolution=250)
        classes = int(y.max()) + 1
        ax.contourf(xx, yy, grid, levels=[k - 0.5 for k in range(classes + 1)], cmap="tab10", vmin=0, vmax=9,
                    alpha=0.3)
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=10, edgecolors="k", linewidths=0.3)
        ax.set_title(f"{kind}, L2 = {l2:g}: {accuracy:.1%}, |W| = {mlp.weight_norm(model):.1f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("MLP 2-32-32-k (ReLU), softmax cross-entropy + L2 * |W|^2 / 2")
    save(fig, path)


def main() -> None:
    args = setup("decision_boundaries", "Decision boundaries of two-hidden-layer MLPs", epochs=200)

    start = time.perf_counter()
    results = []
    for kind, n in SETS.items():
        for l2 in L2:
            print(f"{kind}, L2 = {l2:g}:")
            model, _, (x, y) = mlp.train_points(kind, n=n, epochs=args.epochs, l2=l2, target=args.target,
                                                progress=True)
            results.append((kind, l2, model, (x, y), rt.evaluate(model, x, y)["accuracy"]))
    print(f"\n{len(results)} models trained in {time.perf_counter() - start:.1f} s")
    for kind, l2, model, _, accuracy in results:
        print(f"  {kind:<8} L2 = {l2:<6g} training accuracy {accuracy:.4f}  weight norm {mlp.weight_norm(model):.2f}")

    model = results[-1][2]
    print("\nThe generated model source (training function), the L2 penalty on its last lines:\n")
    print(training_source(model))
    plot(results, args.out / "decision_boundaries.png")


if __name__ == "__main__":
    main()
