"""Vanishing gradients: the norm of the loss gradient for each weight matrix of a 10-hidden-layer
MLP (32 units per layer) at initialization, for sigmoid vs ReLU, Xavier (Glorot) vs He
initialization, with batch normalization and with skip connections (cotangent.models.mlp.deep_mlp).
Every norm comes from the model's generated gradient (`model.loss_and_grad`, split per parameter by
`model.params.grads`), averaged over five initializations.

Through sigmoid layers the gradient shrinks by about 4x per layer (sigmoid' <= 1/4), so the first
layers barely learn. ReLU with Xavier initialization halves the signal's variance at every layer,
so all its gradients are small; with He initialization (twice the variance) they keep their scale.
Batch normalization or skip connections keep the scale even for sigmoid.

    python examples/vanishing_gradients.py [--out out/vanishing_gradients] [--target python|cpu]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from cotangent import runtime as rt
from cotangent.models import mlp, points

from _common import pyplot, save, setup, training_source

VARIANTS = {   # label -> deep_mlp options
    "sigmoid, Xavier": dict(activation="sigmoid", init="glorot_uniform"),
    "sigmoid, He": dict(activation="sigmoid", init="he_uniform"),
    "ReLU, Xavier": dict(activation="relu", init="glorot_uniform"),
    "ReLU, He": dict(activation="relu", init="he_uniform"),
    "sigmoid, Xavier, batch norm": dict(activation="sigmoid", init="glorot_uniform", batch_norm=True),
    "sigmoid, Xavier, skip connections": dict(activation="sigmoid", init="glorot_uniform", residual=True),
    "ReLU, He, batch norm": dict(activation="relu", init="he_uniform", batch_norm=True),
    "ReLU, He, skip connections": dict(activation="relu", init="he_uniform", residual=True),
}
DEPTH, WIDTH, SEEDS = 10, 32, 5


def plot(norms: dict[str, np.ndarray], path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(9, 5.2))
    layers = np.arange(1, DEPTH + 2)
    for label, values in norms.items():
        style = "--" if "batch norm" in label else ":" if "skip" in label else "-"
        ax.plot(layers, values, style, marker="o", ms=4, label=label)
    ax.set(yscale="log", xlabel="layer (1 = input side, 11 = output layer)", ylabel="|dL/dW| at initialization",
           title=f"Gradient norm per layer, {DEPTH} hidden layers of {WIDTH} units (mean of {SEEDS} initializations)")
    ax.set_xticks(layers)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save(fig, path)


def main() -> None:
    args = setup("vanishing_gradients", "Gradient norms per layer of deep MLPs")

    variants = dict(VARIANTS)
    if not hasattr(rt, "BatchNorm"):
        variants = {k: v for k, v in variants.items() if not v.get("batch_norm")}
        print("this cotangent.runtime has no BatchNorm: the batch-normalization variants are left out")
    x, y = points.spirals(256)
    start = time.perf_counter()
    norms = {}
    try:
        from tqdm.auto import tqdm
        bar = tqdm(variants.items(), desc="variants", unit="model")
    except ImportError:
        bar = variants.items()
    for label, options in bar:
        model = mlp.deep_mlp(DEPTH, WIDTH, target=args.target, **options)
        runs = []
        for seed in range(SEEDS):
            model.params.initialize(seed)
            runs.append(mlp.layer_gradient_norms(model, x, y))
        norms[label] = np.mean(runs, axis=0)
    print(f"{len(norms)} models, {SEEDS} initializations each, in {time.perf_counter() - start:.1f} s\n")
    # layer 2 against layer 10: the first layer (2 -> 32 units) is never a skip connection
    print(f"{'':<36}{'layer 1':>10}{'layer 2':>10}{'layer 5':>10}{'layer 10':>10}{'output':>10}   layer 2 / layer 10")
    for label, values in norms.items():
        print(f"{label:<36}" + "".join(f"{values[i]:>10.2e}" for i in (0, 1, 4, 9, 10)) + f"   {values[1] / values[9]:.1e}")

    print("\nThe generated model of the last variant (its skip connections):\n")
    print(training_source(model, lines=20))
    plot(norms, args.out / "vanishing_gradients.png")


if __name__ == "__main__":
    main()
