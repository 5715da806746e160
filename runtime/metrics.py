"""Targets in the form each loss expects, and accuracy read from a model's outputs."""
from __future__ import annotations

import numpy as np


def prepare_targets(loss_name: str, y: np.ndarray, n_outputs: int | None) -> np.ndarray:
    """Float targets for the loss: integer class labels become one-hot for softmax and multiclass
    losses; a vector of 0/1 (or ±1) labels becomes a column for one-output models."""
    y = np.asarray(y)
    if loss_name in ("softmax_cross_entropy", "multiclass_hinge") and y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError(f"{loss_name} takes integer class labels or one-hot rows")
            y = y.astype(np.int64)
        if n_outputs is None:
            n_outputs = int(y.max()) + 1
        if y.min() < 0 or y.max() >= n_outputs:
            raise ValueError(f"class labels must lie in 0..{n_outputs - 1}, found {y.min()}..{y.max()}")
        return np.eye(n_outputs)[y]
    y = y.astype(np.float64)
    if y.ndim == 1 and n_outputs == 1:
        y = y[:, None]
    return np.ascontiguousarray(y)


def accuracy(loss_name: str, outputs: np.ndarray, targets: np.ndarray) -> float | None:
    """The fraction classified right, or None when the loss is not a classification loss."""
    if loss_name in ("softmax_cross_entropy", "multiclass_hinge"):
        return float(np.mean(np.argmax(outputs, axis=-1) == np.argmax(targets, axis=-1)))
    if loss_name == "binary_cross_entropy":
        return float(np.mean((outputs > 0.0) == (targets > 0.5)))
    if loss_name == "hinge":
        return float(np.mean(np.sign(outputs) == np.sign(targets)))
    return None
