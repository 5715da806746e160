"""Embedding: integer token ids (batch, T) to vectors (batch, T, dim), by looking rows up in a
learned (vocab, dim) table. The ids are an integer input and are never differentiated; the table's
gradient adds up the gradients of every position that used a row (cotangent's rule for `x[idx]`
with repeated indices). Ids must lie in [0, vocab): compiled code does not check them."""
from __future__ import annotations

from .. import initializers
from ..params import ParamSpec
from .base import Layer, Emitter


def embedding(ids, table):
    """Rows of table (vocab, dim) for ids (batch, T) of integers: (batch, T, dim)."""
    flat = ids.reshape(ids.size)
    rows = table[flat]
    return rows.reshape((ids.shape[0], ids.shape[1], table.shape[1]))


class Embedding(Layer):
    """A learned vector for each of `vocab` token ids; takes (batch, T) integer ids."""

    kind = "embedding"

    def __init__(self, vocab: int, dim: int, init: str = "uniform"):
        super().__init__()
        for what, v in (("vocab", vocab), ("dim", dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Embedding: {what} must be a positive int, got {v!r}")
        self.vocab, self.dim = vocab, dim
        self.init = initializers.get(init)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"{self.name}: Embedding takes samples of token ids of shape (T,), "
                             f"got shape {input_shape}")
        return (input_shape[0], self.dim)

    def param_specs(self):
        return [ParamSpec("table", (self.vocab, self.dim), self.init)]

    def emit(self, e: Emitter, x: str) -> str:
        return e.call(embedding, [x, e.param(self, "table")], self.name, f"vocab {self.vocab} -> {self.dim}")

    def describe(self):
        return f"Embedding({self.vocab}, {self.dim})"
