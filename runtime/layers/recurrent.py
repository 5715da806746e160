"""Recurrent layers: SimpleRNN (tanh), LSTM and GRU over padded batches of sequences.

A batch is `x` of shape (batch, T, features), padded to a common length T, and a mask (batch, T)
that is 1.0 at a sequence's real steps and 0.0 at its padding. Each function loops over the T
steps and overwrites the state; at a padded step the state is carried unchanged,

    h = m * h_new + (1 - m) * h        (m = mask[:, t:t + 1], broadcast over the units)

so the state after the last step is each sequence's state at its own last valid step, and neither
the values nor the gradients depend on how much padding a sequence has or what (finite) values the
padding holds.

Weight layout (H = units, F = features), the gates' columns side by side in one matrix:

    SimpleRNN  Wx (F, H)    Wh (H, H)    b (H,)     h = tanh(x Wx + h Wh + b)
    LSTM       Wx (F, 4H)   Wh (H, 4H)   b (4H,)    gates [i | f | o | g]: input, forget, output, cell
    GRU        Wx (F, 3H)   Wh (H, 3H)   b (3H,)    gates [z | r | n]: update, reset, candidate

The LSTM is Hochreiter & Schmidhuber's with a forget gate (Gers et al., 2000), its forget bias
starting at 1. The GRU is Cho et al. (2014) with the reset gate applied before the recurrent
product (Keras' reset_after=False): n = tanh(x Wn + (r * h) Un + bn), h = z * h + (1 - z) * n.

The input terms x_t Wx + b of all steps are one matrix product before the loop (dense_positions),
so a step multiplies only the state by Wh (the GRU by its two parts: h Uzr, then (r * h) Un).
`*_sequence` functions return every step's state (batch, T, H) (at a padded step, the carried
state); the others return the final state (batch, H), a contiguous copy of the sequence function's
last column."""
from __future__ import annotations

import numpy as np

from .. import initializers
from ..params import ParamSpec
from .base import Layer, Emitter
from .dense import dense_positions


def full_mask(x):
    """The mask of a batch without padding: every step of x (batch, T, features) is valid."""
    return np.ones((x.shape[0], x.shape[1]))


def mask_input(layer: Layer, e: Emitter, x: str) -> str:
    """The mask a sequence layer reads: the model input `layer.mask`, or all ones when it is None."""
    if layer.mask is None:
        return e.call(full_mask, [x], f"{layer.name}_mask", "every step valid")
    try:
        return e.input(layer.mask)
    except ValueError as err:
        raise ValueError(f"{layer.name}: {err} (mask=None for sequences without padding)") from None


def rnn_step(xw_t, h, Wh):
    """One SimpleRNN step: the new state (batch, H) from xw_t = x_t Wx + b and the state h."""
    return np.tanh(xw_t + h @ Wh)


def gate(z):
    """The logistic sigmoid as 0.5 + 0.5 tanh(z / 2): exact, never overflows, and three operations
    (its derivative too), which keeps a recurrent step's gradient short."""
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def lstm_step(xw_t, h, c, Wh):
    """One LSTM step: the new hidden and cell states (batch, H), from xw_t = x_t Wx + b (batch, 4H)."""
    H = h.shape[1]
    z = xw_t + h @ Wh
    gates = gate(z[:, :3 * H])
    i = gates[:, :H]
    f = gates[:, H:2 * H]
    o = gates[:, 2 * H:]
    c_new = f * c + i * np.tanh(z[:, 3 * H:])
    return o * np.tanh(c_new), c_new


def gru_step(xw_t, h, Uzr, Un):
    """One GRU step: the new state (batch, H), from xw_t = x_t Wx + b (batch, 3H) and the recurrent
    weights of the update and reset gates, Uzr (H, 2H), and of the candidate, Un (H, H)."""
    H = h.shape[1]
    zr = gate(xw_t[:, :2 * H] + h @ Uzr)
    z = zr[:, :H]
    r = zr[:, H:]
    n = np.tanh(xw_t[:, 2 * H:] + (r * h) @ Un)
    return z * h + (1.0 - z) * n


def simple_rnn_sequence(x, mask, Wx, Wh, b):
    """Every step's SimpleRNN state (batch, T, H) for x (batch, T, F) and mask (batch, T)."""
    n, T = mask.shape
    xw = dense_positions(x, Wx, b)          # every step's input term in one product
    h = np.zeros((n, Wh.shape[0]))
    states = np.zeros((n, T, Wh.shape[0]))
    for t in range(T):
        m = mask[:, t:t + 1]
        h = m * rnn_step(xw[:, t, :], h, Wh) + (1.0 - m) * h
        states[:, t, :] = h
    return states


def lstm_sequence(x, mask, Wx, Wh, b):
    """Every step's LSTM hidden state (batch, T, H); the cell state starts at zero like h."""
    n, T = mask.shape
    xw = dense_positions(x, Wx, b)
    h = np.zeros((n, Wh.shape[0]))
    c = np.zeros((n, Wh.shape[0]))
    states = np.zeros((n, T, Wh.shape[0]))
    for t in range(T):
        m = mask[:, t:t + 1]
        h_new, c_new = lstm_step(xw[:, t, :], h, c, Wh)
        h = m * h_new + (1.0 - m) * h
        c = m * c_new + (1.0 - m) * c
        states[:, t, :] = h
    return states


def gru_sequence(x, mask, Wx, Wh, b):
    """Every step's GRU state (batch, T, H) for x (batch, T, F) and mask (batch, T)."""
    n, T = mask.shape
    H = Wh.shape[0]
    xw = dense_positions(x, Wx, b)
    Uzr = Wh[:, :2 * H].copy()              # contiguous, for the products in the loop
    Un = Wh[:, 2 * H:].copy()
    h = np.zeros((n, H))
    states = np.zeros((n, T, H))
    for t in range(T):
        m = mask[:, t:t + 1]
        h = m * gru_step(xw[:, t, :], h, Uzr, Un) + (1.0 - m) * h
        states[:, t, :] = h
    return states


def simple_rnn(x, mask, Wx, Wh, b):
    """Each sequence's SimpleRNN state at its last valid step (batch, H)."""
    return simple_rnn_sequence(x, mask, Wx, Wh, b)[:, -1, :].copy()


def lstm(x, mask, Wx, Wh, b):
    """Each sequence's LSTM hidden state at its last valid step (batch, H)."""
    return lstm_sequence(x, mask, Wx, Wh, b)[:, -1, :].copy()


def gru(x, mask, Wx, Wh, b):
    """Each sequence's GRU state at its last valid step (batch, H)."""
    return gru_sequence(x, mask, Wx, Wh, b)[:, -1, :].copy()


def per_gate(init, gates: int):
    """An initializer for a (rows, gates * H) matrix that fills each gate's (rows, H) block on its
    own, so an orthogonal recurrent weight is orthogonal gate by gate."""
    def fill(shape, rng=None):
        rows, cols = shape
        rng = np.random.default_rng(rng)
        return np.concatenate([init((rows, cols // gates), rng) for _ in range(gates)], axis=1)
    return fill


def forget_bias_one(shape, rng=None):
    """An LSTM bias [i | f | o | g]: zeros, and ones for the forget gate, so the cell state is
    kept rather than forgotten at the start of training (Jozefowicz et al., 2015)."""
    b = np.zeros(shape)
    H = shape[0] // 4
    b[H:2 * H] = 1.0
    return b


class Recurrent(Layer):
    """Base of SimpleRNN, LSTM and GRU. Input samples are (T, features); the output is the final
    state (units,), or every step's state (T, units) with return_sequences=True.

    `mask` names the model input holding the (batch, T) mask of valid steps (Sequential's
    `inputs=("x", "mask")`); mask=None treats every step as valid."""

    gates = 1
    sequence_fn = staticmethod(simple_rnn_sequence)
    final_fn = staticmethod(simple_rnn)

    def __init__(self, units: int, return_sequences: bool = False, mask: str | None = "mask",
                 init: str = "glorot_uniform", recurrent_init: str = "orthogonal", bias_init: str = "zeros"):
        super().__init__()
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.mask = mask
        self.init = initializers.get(init)
        self.recurrent_init = per_gate(initializers.get(recurrent_init), self.gates)
        self.bias_init = initializers.get(bias_init)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: {type(self).__name__} takes sequences, samples of shape "
                             f"(T, features), got samples of shape {input_shape}")
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def param_specs(self):
        F, G = self.input_shape[1], self.gates * self.units
        return [ParamSpec("Wx", (F, G), self.init), ParamSpec("Wh", (self.units, G), self.recurrent_init),
                ParamSpec("b", (G,), self.bias_init, regularize=False)]

    def emit(self, e: Emitter, x: str) -> str:
        mask = mask_input(self, e, x)
        fn = self.sequence_fn if self.return_sequences else self.final_fn
        args = [x, mask] + [e.param(self, p) for p in ("Wx", "Wh", "b")]
        shape = "(batch, T, H)" if self.return_sequences else "(batch, H)"
        return e.call(fn, args, self.name, f"{self.input_shape[1]} -> {self.units}, states {shape}")

    def describe(self):
        seq = ", return_sequences" if self.return_sequences else ""
        mask = f", mask={self.mask!r}" if self.mask is not None else ""
        return f"{type(self).__name__}({self.units}{seq}{mask})"


class SimpleRNN(Recurrent):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b)."""
    kind = "rnn"


class LSTM(Recurrent):
    """Long short-term memory; the forget gate's bias starts at 1 unless bias_init is given."""
    kind = "lstm"
    gates = 4
    sequence_fn = staticmethod(lstm_sequence)
    final_fn = staticmethod(lstm)

    def __init__(self, units: int, return_sequences: bool = False, mask: str | None = "mask",
                 init: str = "glorot_uniform", recurrent_init: str = "orthogonal",
                 bias_init=forget_bias_one):
        super().__init__(units, return_sequences, mask, init, recurrent_init, bias_init)


class GRU(Recurrent):
    """Gated recurrent unit, gates [update | reset | candidate]."""
    kind = "gru"
    gates = 3
    sequence_fn = staticmethod(gru_sequence)
    final_fn = staticmethod(gru)
