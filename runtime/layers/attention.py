"""Attention: scaled dot-product attention and multi-head self-attention (Vaswani et al., 2017).

Numba's matrix product takes vectors and matrices only, so each head projects all the (batch * T,
d_model) rows of the batch at once, and attention itself loops over the heads and the sequences of
the batch, writing each sequence's (T, dv) result into an array made with np.zeros. Weights are
stored per head, Wq (heads, d_model, dk), so every product reads contiguous memory.

Masks are additive: a bias of 0 where a query may look at a key and -1e9 where it may not, added
to the scores before the softmax, so a masked key gets a weight of exactly 0 (exp underflows)."""
from __future__ import annotations

import numpy as np

from .. import initializers
from ..activations import softmax
from ..params import ParamSpec
from .base import Layer, Emitter
from .recurrent import mask_input


def scaled_dot_product_attention(q, k, v, bias=0.0):
    """softmax(q k^T / sqrt(d) + bias) v for one sequence: q (Tq, d), k (Tk, d), v (Tk, dv) ->
    (Tq, dv). `bias` is added to the (Tq, Tk) scores: a number, or an array that broadcasts."""
    scores = (q @ k.T) * (1.0 / np.sqrt(q.shape[1])) + bias
    return softmax(scores, axis=1) @ v


def attention_bias(mask, causal=False):
    """The additive bias (batch, T, T) of self-attention over sequences with mask (batch, T):
    -1e9 where the key is padding or, with causal, comes after the query; 0 elsewhere."""
    n, T = mask.shape
    bias = np.zeros((n, T, T))
    for t in range(T):
        bias[:, t, :] = (1.0 - mask) * -1e9
        if causal:
            bias[:, t, t + 1:] = -1e9
    return bias


def multi_head_attention(x, bias, Wq, bq, Wk, bk, Wv, bv, Wo, bo):
    """Multi-head self-attention of x (batch, T, d_model) -> (batch, T, d_out).

    Head j projects with Wq[j], Wk[j] (d_model, dk) and Wv[j] (d_model, dv) and biases bq[j],
    bk[j], bv[j]; its output goes out through Wo[j] (dv, d_out), so the sum over heads is the
    concatenated heads times one (heads * dv, d_out) matrix; then + bo. `bias` (batch, T, T)
    masks keys, as attention_bias makes it."""
    n, T, d = x.shape
    rows = x.reshape((n * T, d))
    out = np.zeros((n * T, Wo.shape[2]))
    for j in range(Wq.shape[0]):
        q = (rows @ Wq[j] + bq[j]).reshape((n, T, Wq.shape[2]))
        k = (rows @ Wk[j] + bk[j]).reshape((n, T, Wk.shape[2]))
        v = (rows @ Wv[j] + bv[j]).reshape((n, T, Wv.shape[2]))
        head = np.zeros((n, T, Wv.shape[2]))
        for i in range(n):
            head[i] = scaled_dot_product_attention(q[i], k[i], v[i], bias[i])
        out = out + head.reshape((n * T, Wv.shape[2])) @ Wo[j]
    return (out + bo).reshape((n, T, Wo.shape[2]))


def per_head(init, split: str):
    """An initializer for a stack of per-head weights that draws them as the one matrix they make
    side by side, so the scale is that of an ordinary projection: split="columns" for
    (heads, d, dk) from (d, heads * dk), "rows" for (heads, dv, d_out) from (heads * dv, d_out)."""
    def fill(shape, rng=None):
        h, rows, cols = shape
        if split == "rows":
            return init((h * rows, cols), rng).reshape(shape)
        return init((rows, h * cols), rng).reshape((rows, h, cols)).transpose(1, 0, 2)
    return fill


class MultiHeadAttention(Layer):
    """Self-attention over samples of shape (T, d_model), with `num_heads` heads of `key_dim`
    (default d_model // num_heads) and an output projection back to d_model (or `output_dim`).

    `causal=True` lets each position attend only to itself and earlier ones; `mask` names a model
    input (batch, T) of 1.0/0.0 whose padded positions no query attends to."""

    kind = "attention"

    def __init__(self, num_heads: int, key_dim: int | None = None, output_dim: int | None = None,
                 causal: bool = False, mask: str | None = None, init: str = "glorot_uniform"):
        super().__init__()
        self.num_heads = int(num_heads)
        self.key_dim = key_dim
        self.output_dim = output_dim
        self.causal = bool(causal)
        self.mask = mask
        self.init = initializers.get(init)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: MultiHeadAttention takes sequences, samples of shape "
                             f"(T, d_model), got samples of shape {input_shape}")
        d = input_shape[1]
        if self.key_dim is None and d % self.num_heads:
            raise ValueError(f"{self.name}: d_model {d} is not a multiple of num_heads {self.num_heads}; "
                             "give key_dim")
        return (input_shape[0], self.output_dim or d)

    def param_specs(self):
        h, d = self.num_heads, self.input_shape[1]
        dk = self.key_dim or d // h
        out = self.output_dim or d
        zeros, columns = initializers.get("zeros"), per_head(self.init, "columns")
        specs = []
        for name in "qkv":
            specs += [ParamSpec(f"W{name}", (h, d, dk), columns),
                      ParamSpec(f"b{name}", (h, dk), zeros, regularize=False)]
        return specs + [ParamSpec("Wo", (h, dk, out), per_head(self.init, "rows")),
                        ParamSpec("bo", (out,), zeros, regularize=False)]

    def emit(self, e: Emitter, x: str) -> str:
        mask = mask_input(self, e, x)
        bias = e.call(attention_bias, [mask, f"causal={self.causal}"], f"{self.name}_bias",
                      "0 where a query may attend a key, -1e9 where not")
        params = [e.param(self, f"{w}{n}") for n in "qkvo" for w in "Wb"]
        return e.call(multi_head_attention, [x, bias, *params], self.name, f"{self.num_heads} heads")

    def describe(self):
        opts = "".join([", causal" if self.causal else "", f", mask={self.mask!r}" if self.mask else ""])
        return f"MultiHeadAttention({self.num_heads}{opts})"
