"""Batch normalization and layer normalization, with a learned scale (gamma) and shift (beta).

BatchNorm normalizes each feature (the last axis) over every other axis, so it works after Dense,
(batch, features), and after a convolution, (batch, ..., channels), where a channel's statistics
are taken over the batch and all positions. In training it uses the batch's mean and (biased)
variance and returns them; after each step `update_state` folds them into running averages,

    running = momentum * running + (1 - momentum) * batch statistic      (Keras' convention)

and test mode normalizes with the running averages (which start at mean 0, variance 1).

LayerNorm normalizes each position over its last axis (its features), the same in training and
test mode."""
from __future__ import annotations

import numpy as np

from .. import initializers
from ..params import ParamSpec
from .base import Layer, Emitter, StateSpec


def batch_norm(x, gamma, beta, eps=1e-5):
    """Training mode: normalize each feature of x (..., features) by the batch's statistics over
    all axes but the last; returns (y, batch mean, batch variance)."""
    features = x.shape[-1]
    flat = x.copy().reshape((-1, features))       # a copy: Numba reshapes only contiguous arrays
    mu = np.mean(flat, axis=0)
    centered = flat - mu
    variance = np.mean(centered * centered, axis=0)
    y = centered / np.sqrt(variance + eps) * gamma + beta
    return y.reshape(x.shape), mu, variance


def batch_norm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Test mode: normalize each feature of x (..., features) by the running statistics."""
    return (x - running_mean) / np.sqrt(running_var + eps) * gamma + beta


def layer_norm(x, gamma, beta, eps=1e-5):
    """Normalize x (..., features) over its last axis, then scale by gamma and shift by beta."""
    mu = np.mean(x, axis=-1, keepdims=True)
    centered = x - mu
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    return centered / np.sqrt(variance + eps) * gamma + beta


def _check_eps(layer, eps):
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f"{layer}: eps must be a positive number, got {eps!r}")
    return float(eps)


class _Normalization(Layer):
    """What BatchNorm and LayerNorm share: a feature axis, and gamma and beta of its size."""

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"{self.name}: {type(self).__name__} needs samples with a feature axis, "
                             f"got shape {input_shape}")
        return input_shape

    def param_specs(self):
        features = (self.input_shape[-1],)
        return [ParamSpec("gamma", features, initializers.get("ones"), regularize=False),
                ParamSpec("beta", features, initializers.get("zeros"), regularize=False)]


class BatchNorm(_Normalization):
    """Batch normalization of the last axis (Ioffe & Szegedy, 2015); gamma and beta are not
    regularized. `momentum` is the weight of the old running average in each update."""

    kind = "batch_norm"

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5):
        super().__init__()
        if not (isinstance(momentum, (int, float)) and 0.0 <= momentum < 1.0):
            raise ValueError(f"BatchNorm: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.eps = _check_eps("BatchNorm", eps)

    def state_specs(self):
        features = (self.input_shape[-1],)
        return [StateSpec("mean", features, 0.0), StateSpec("var", features, 1.0)]

    def emit(self, e: Emitter, x: str) -> str:
        gamma, beta = e.param(self, "gamma"), e.param(self, "beta")
        eps = f"eps={self.eps!r}"
        if not e.train:
            return e.call(batch_norm_inference, [x, gamma, beta, e.state(self, "mean"), e.state(self, "var"), eps],
                          self.name, "running statistics")
        y = e.fresh(self.name)
        mean, var = e.fresh(f"{self.name}_batch_mean"), e.fresh(f"{self.name}_batch_var")
        e.line(f"{y}, {mean}, {var} = {e.use(batch_norm)}({x}, {gamma}, {beta}, {eps})    # batch statistics")
        e.output_state(self, "mean", mean)
        e.output_state(self, "var", var)
        return y

    def update_state(self, state, batch):
        m = self.momentum
        for key in ("mean", "var"):
            running = state[f"{self.name}_{key}"]
            running[...] = m * running + (1.0 - m) * batch[key]

    def describe(self):
        return f"BatchNorm(momentum={self.momentum})"


class LayerNorm(_Normalization):
    """Layer normalization over the last axis (Ba, Kiros & Hinton, 2016); gamma and beta are not
    regularized."""

    kind = "layer_norm"

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = _check_eps("LayerNorm", eps)

    def emit(self, e: Emitter, x: str) -> str:
        return e.call(layer_norm, [x, e.param(self, "gamma"), e.param(self, "beta"), f"eps={self.eps!r}"],
                      self.name)

    def describe(self):
        return "LayerNorm()"
