"""Activation functions, each a plain differentiable function: cotangent derives their gradients.

They are written so that every intermediate stays finite for any float input (softplus, softmax and
log-softmax subtract a maximum before exponentiating), which keeps both values and gradients exact
far out in the tails."""
from __future__ import annotations

import numpy as np

from cotangent import stop_gradient


def sigmoid(x):
    """1 / (1 + exp(-x)) written as (1 + tanh(x/2)) / 2: it never overflows, is exact to rounding
    (absolute error ~1e-16, so values below that in the far negative tail read as 0), and compiles
    to three operations instead of a branch."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def tanh(x):
    return np.tanh(x)


def relu(x):
    return np.maximum(x, 0.0)


def leaky_relu(x, alpha=0.01):
    return np.where(x > 0.0, x, alpha * x)


def elu(x, alpha=1.0):
    """x for x > 0, alpha (e^x - 1) otherwise (expm1 of x - max(x, 0), which is min(x, 0): no overflow on
    the unused side, and the derivative at 0 is alpha, the left one, where min's tie would give 0)."""
    return np.where(x > 0.0, x, alpha * np.expm1(x - np.maximum(x, 0.0)))


def softplus(x):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|), with -|x| written x - 2 max(x, 0): the kinks of
    max and abs cancel at 0, and this form keeps their derivatives consistent there (1/2, where
    abs'(0) = 0 would give 0)."""
    positive = np.maximum(x, 0.0)
    return positive + np.log1p(np.exp(x - 2.0 * positive))


def softsign(x):
    return x / (1.0 + np.abs(x))


def arctan(x):
    return np.arctan(x)


def identity(x):
    return x


def softmax(x, axis=-1):
    """exp(x) normalized along `axis`, after subtracting the maximum (a shift that cannot change the
    result, so no derivative flows through it: ct.stop_gradient)."""
    z = np.exp(x - stop_gradient(np.max(x, axis=axis, keepdims=True)))
    return z / np.sum(z, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`, computed from the shifted values (the shift's derivative is
    zero, so it is stopped)."""
    shifted = x - stop_gradient(np.max(x, axis=axis, keepdims=True))
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


ACTIVATIONS = {f.__name__: f for f in (sigmoid, tanh, relu, leaky_relu, elu, softplus, softsign, arctan,
                                        identity, softmax, log_softmax)}


def get(name):
    """The activation function called `name` (a function passes through unchanged)."""
    if callable(name):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(sorted(ACTIVATIONS))}") from None
