"""Losses and regularizers, each a plain differentiable function of (prediction, target) that
returns the mean over the batch (axis 0). Classification losses take logits and one-hot (or 0/1)
targets and are computed in the stable log-sum-exp form, so no probability is ever rounded to 0
before its logarithm is taken."""
from __future__ import annotations

import numpy as np

from .activations import log_softmax


def squared_error(pred, target):
    """Mean over the batch of the squared error summed over each sample's outputs."""
    r = pred - target
    return np.sum(r * r) / pred.shape[0]


def absolute_error(pred, target):
    return np.sum(np.abs(pred - target)) / pred.shape[0]


def huber(pred, target, delta=1.0):
    """Quadratic within `delta` of the target, linear outside (Huber, 1964)."""
    a = np.abs(pred - target)
    inside = np.minimum(a, delta)
    return np.sum(0.5 * inside * inside + delta * (a - inside)) / pred.shape[0]


def binary_cross_entropy(logits, target):
    """-[t log s(z) + (1-t) log(1 - s(z))] from logits z: max(z, 0) - z t + log1p(e^-|z|), with -|z|
    written z - 2 max(z, 0) so the gradient at z = 0 is s(0) - t (abs'(0) = 0 would drop the 1/2)."""
    positive = np.maximum(logits, 0.0)
    per_element = positive - logits * target + np.log1p(np.exp(logits - 2.0 * positive))
    return np.sum(per_element) / logits.shape[0]


def softmax_cross_entropy(logits, target):
    """-sum_k t_k log softmax(z)_k, averaged over the batch; `target` is one-hot (or soft labels)."""
    return -np.sum(target * log_softmax(logits, axis=1)) / logits.shape[0]


def hinge(scores, target):
    """max(0, 1 - t s) for labels t in {-1, +1}."""
    return np.sum(np.maximum(1.0 - target * scores, 0.0)) / scores.shape[0]


def multiclass_hinge(scores, target, margin=1.0):
    """Weston-Watkins multiclass margin loss: sum over wrong classes j of max(0, s_j - s_y + margin);
    `target` is one-hot."""
    correct = np.sum(scores * target, axis=1, keepdims=True)
    margins = np.maximum(scores - correct + margin, 0.0) * (1.0 - target)
    return np.sum(margins) / scores.shape[0]


def l1_penalty(w):
    return np.sum(np.abs(w))


def l2_penalty(w):
    """Half the squared L2 norm, so its gradient is w itself."""
    return 0.5 * np.sum(w * w)


LOSSES = {f.__name__: f for f in (squared_error, absolute_error, huber, binary_cross_entropy,
                                   softmax_cross_entropy, hinge, multiclass_hinge)}
CLASSIFICATION = {"binary_cross_entropy", "softmax_cross_entropy", "hinge", "multiclass_hinge"}


def get(name):
    if callable(name):
        return name
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(sorted(LOSSES))}") from None
