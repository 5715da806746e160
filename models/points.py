"""Generated 2-D point sets for classifiers whose decision boundaries can be drawn, and the grid
of predictions a boundary plot shades.

Every set is drawn from a seeded generator, so a test and an example see the same points."""
from __future__ import annotations

from typing import Callable

import numpy as np


def moons(n: int = 200, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles (2 classes): not linearly separable, so a linear model fails
    and a hidden layer is needed. Returns points (n, 2) and integer labels (n,)."""
    rng = np.random.default_rng(seed)
    n_a = n // 2
    angle = np.pi * rng.random(n)
    upper = np.c_[np.cos(angle[:n_a]), np.sin(angle[:n_a])]
    lower = np.c_[1.0 - np.cos(angle[n_a:]), 0.5 - np.sin(angle[n_a:])]
    x = np.r_[upper, lower] + rng.normal(scale=noise, size=(n, 2))
    y = np.r_[np.zeros(n_a, dtype=np.int64), np.ones(n - n_a, dtype=np.int64)]
    return _shuffled(x - np.array([0.5, 0.25]), y, rng)


def spirals(n: int = 400, classes: int = 4, noise: float = 0.2, turns: float = 1.0,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`classes` spiral arms around the origin, n // classes points each: the classic set whose
    boundaries need two hidden layers. `noise` jitters each point's angle (radians)."""
    rng = np.random.default_rng(seed)
    per_class = n // classes
    xs, ys = [], []
    for k in range(classes):
        radius = np.linspace(0.05, 1.0, per_class)
        angle = 2 * np.pi * (turns * radius + k / classes) + rng.normal(scale=noise, size=per_class)
        xs.append(np.c_[radius * np.sin(angle), radius * np.cos(angle)])
        ys.append(np.full(per_class, k, dtype=np.int64))
    return _shuffled(np.concatenate(xs), np.concatenate(ys), rng)


def xor(n: int = 4, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The four XOR corners (n = 4), or n noisy points around them: label = x1 xor x2."""
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0])
    if n == 4 and noise == 0.0:
        return corners, labels
    rng = np.random.default_rng(seed)
    pick = np.arange(n) % 4
    return corners[pick] + rng.normal(scale=noise, size=(n, 2)), labels[pick]


def _shuffled(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return np.ascontiguousarray(x[order]), y[order]


def decision_grid(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, resolution: int = 200,
                  margin: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class a model predicts at every point of a grid over the data's bounding box (plus a
    margin): (xx, yy, classes), each (resolution, resolution), ready for `plt.contourf`.
    `predict` maps points (m, 2) to logits (m, classes), or to one logit per point for a binary
    classifier."""
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    logits = np.asarray(predict(np.c_[xx.ravel(), yy.ravel()]))
    if logits.ndim == 2 and logits.shape[1] > 1:
        classes = np.argmax(logits, axis=1)
    else:
        classes = (logits.reshape(-1) > 0.0).astype(np.int64)
    return xx, yy, classes.reshape(xx.shape)
