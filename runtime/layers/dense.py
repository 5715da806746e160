"""Fully connected layer and activation layers."""
from __future__ import annotations

import numpy as np

from .. import activations, initializers
from ..params import ParamSpec
from .base import Layer, Emitter


def dense(x, W, b):
    """x @ W + b for x of shape (batch, in) (or (..., in) flattened by the caller), W (in, out)."""
    return x @ W + b


def dense_positions(x, W, b):
    """dense at every position of a sequence batch x (batch, T, in): one (batch * T, in) product,
    as Numba's @ takes matrices only."""
    n, t, f = x.shape
    return (x.reshape((n * t, f)) @ W + b).reshape((n, t, W.shape[1]))


class Dense(Layer):
    """y = activation(x W + b). The input size is taken from the previous layer; on sequences,
    samples of shape (T, in), the same W and b apply at every position."""

    kind = "dense"

    def __init__(self, units: int, activation: str | None = None, init: str = "glorot_uniform",
                 bias_init: str = "zeros"):
        super().__init__()
        self.units = int(units)
        self.activation = activation
        self.init = initializers.get(init)
        self.bias_init = initializers.get(bias_init)

    def compute_output_shape(self, input_shape):
        if len(input_shape) not in (1, 2):
            raise ValueError(f"{self.name}: Dense takes vectors or sequences of vectors, got samples of "
                             f"shape {input_shape}; put Flatten() before it")
        return input_shape[:-1] + (self.units,)

    def param_specs(self):
        n_in = self.input_shape[-1]
        return [ParamSpec("W", (n_in, self.units), self.init),
                ParamSpec("b", (self.units,), self.bias_init, regularize=False)]

    def emit(self, e: Emitter, x: str) -> str:
        fn = dense if len(self.input_shape) == 1 else dense_positions
        h = e.call(fn, [x, e.param(self, "W"), e.param(self, "b")], self.name,
                   f"{self.input_shape[-1]} -> {self.units}")
        if self.activation is not None:
            fn = activations.get(self.activation)
            h = e.call(fn, [h], f"{self.name}_{fn.__name__}")
        return h

    def describe(self):
        act = f", {self.activation}" if self.activation else ""
        return f"Dense({self.units}{act})"


class Activation(Layer):
    """An elementwise (or, for softmax, per-sample) activation function as a layer."""

    kind = "activation"

    def __init__(self, fn):
        super().__init__()
        self.fn = activations.get(fn)
        self.kind = self.fn.__name__

    def emit(self, e, x):
        return e.call(self.fn, [x], self.name)

    def describe(self):
        return f"Activation({self.fn.__name__})"


def _named(cls_name, fn_name):
    cls = type(cls_name, (Activation,), {
        "__init__": lambda self: Activation.__init__(self, fn_name),
        "__doc__": f"The {fn_name} activation as a layer."})
    return cls


ReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Softplus, Softsign, ELU, LeakyReLU, Arctan = (
    _named("ReLU", "relu"), _named("Sigmoid", "sigmoid"), _named("Tanh", "tanh"),
    _named("Softmax", "softmax"), _named("LogSoftmax", "log_softmax"), _named("Softplus", "softplus"),
    _named("Softsign", "softsign"), _named("ELU", "elu"), _named("LeakyReLU", "leaky_relu"),
    _named("Arctan", "arctan"))


def flatten(x):
    """(batch, ...) -> (batch, features)."""
    return x.reshape((x.shape[0], -1))


class Flatten(Layer):
    kind = "flatten"

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def emit(self, e, x):
        return e.call(flatten, [x], "flat")
