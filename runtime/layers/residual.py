"""Residual connections: out = x + block(x) (He et al., 2016), the block being a list of layers."""
from __future__ import annotations

from .base import Layer, Emitter


class Residual(Layer):
    """x + block(x). The block's layers are written into the same generated function as the rest of
    the model (their parameters are named and allocated by the model, through `sublayers`), and
    must give back samples of the shape they were given."""

    kind = "residual"

    def __init__(self, layers):
        super().__init__()
        self.block = list(layers)
        if not self.block:
            raise ValueError("Residual needs at least one layer in its block")

    def sublayers(self):
        return self.block

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self.block:
            shape = layer.build(shape)
        if tuple(shape) != tuple(input_shape):
            raise ValueError(f"{self.name}: its block maps samples of shape {input_shape} to {tuple(shape)}; "
                             f"x + block(x) needs the block to keep the shape")
        return shape

    def emit(self, e: Emitter, x: str) -> str:
        h = x
        for layer in self.block:
            e.line(f"# {layer.name}: {layer.describe()}")
            h = layer.emit(e, h)
        out = e.fresh(self.name)
        e.line(f"{out} = {x} + {h}    # {self.name}: x + block(x)")
        return out

    def describe(self):
        return f"Residual({', '.join(layer.describe() for layer in self.block)})"
