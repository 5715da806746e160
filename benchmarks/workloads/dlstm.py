"""ADBench's D-LSTM: a diagonal LSTM language model (every gate weight is a vector, so each layer
is elementwise products on b = 14 channels), its loss over a character sequence, and the gradient
with respect to main_params (2l rows of 4b: each layer's weights and biases for the forget, input,
output and change gates) and extra_params (3 rows of b: input scale, output scale, output shift).

The loss follows ../shared/adbench/README.md, including ADBench's "2 +" inside the log of the
normalizer: ŷn = ŷ − log(2 + Σ exp ŷ). The work is c − 1 short steps through l layers, each a
few dozen operations on 14 numbers, so what a tool spends per operation (dispatch, temporaries,
tape bookkeeping) weighs as much as the arithmetic.

cotangent runs it in two formulations: `objective`, loops over time and layers on 14-vectors with
NumPy elementwise operations (what a NumPy user writes), and `objective_loops`, the same with an
explicit loop over the channels on numbers (what a Numba user writes). JAX gets `lax.scan` over
time with the layers unrolled in the step; PyTorch (eager, `.backward()`) and autograd get the
vector formulation with Python loops, as ADBench's own ports are written."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

try:                                   # imported as benchmarks.workloads.dlstm
    from ..harness import Case, Impl, Result
except ImportError:                    # imported as workloads.dlstm, with benchmarks/ on sys.path
    from harness import Case, Impl, Result

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "adbench" / "data" / "lstm"
BITS = 14                              # b: channels per character, fixed by ADBench

SIZES: dict[str, list[tuple[str, int, int]]] = {
    "tiny": [("l2c8", 2, 8)],
    "full": [("l2c1024", 2, 1024), ("l4c1024", 4, 1024)],
}
REFERENCE = {"l2c1024": 0.66666517955885218, "l4c1024": 0.71067663855842755}
PARAMS = ("main_params", "extra_params")

Problem = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]   # main, extra, state, sequence


# --- the objective, as cotangent differentiates it ------------------------------------------------

def sigmoid(x: float | np.ndarray) -> float | np.ndarray:
    """The logistic function, on a number or elementwise on an array."""
    return 1.0 / (1.0 + np.exp(-x))


def lstm_cell(weight: np.ndarray, bias: np.ndarray, hidden: np.ndarray, cell: np.ndarray,
              x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One diagonal LSTM layer: the new (hidden, cell) from the layer's 4b weights and biases."""
    b = hidden.shape[0]
    forget = sigmoid(x * weight[0:b] + bias[0:b])
    ingate = sigmoid(hidden * weight[b:2 * b] + bias[b:2 * b])
    outgate = sigmoid(x * weight[2 * b:3 * b] + bias[2 * b:3 * b])
    change = np.tanh(hidden * weight[3 * b:] + bias[3 * b:])
    cell = cell * forget + ingate * change
    hidden = outgate * np.tanh(cell)
    return hidden, cell


def objective(main_params: np.ndarray, extra_params: np.ndarray, state: np.ndarray,
              sequence: np.ndarray) -> float:
    """ADBench's D-LSTM loss, loops over time and layers on 14-vectors: the mean over the predicted
    characters and bits of −sequence[t+1] · log-normalized prediction."""
    layers = state.shape[0] // 2
    c = sequence.shape[0]
    b = sequence.shape[1]
    s = state.copy()                   # rows 2j, 2j+1: layer j's hidden and cell state
    total = 0.0
    for t in range(c - 1):
        z = sequence[t] * extra_params[0]
        for j in range(layers):
            h, cell = lstm_cell(main_params[2 * j], main_params[2 * j + 1], s[2 * j], s[2 * j + 1], z)
            s[2 * j] = h
            s[2 * j + 1] = cell
            z = h
        y = z * extra_params[1] + extra_params[2]
        ynorm = y - np.log(2.0 + np.sum(np.exp(y)))
        total += np.sum(sequence[t + 1] * ynorm)
    return -total / ((c - 1) * b)


def objective_loops(main_params: np.ndarray, extra_params: np.ndarray, state: np.ndarray,
                    sequence: np.ndarray) -> float:
    """The same loss with an explicit loop over the b channels on numbers."""
    layers = state.shape[0] // 2
    c = sequence.shape[0]
    b = sequence.shape[1]
    s = state.copy()
    z = np.zeros(b)
    total = 0.0
    for t in range(c - 1):
        for k in range(b):
            z[k] = sequence[t, k] * extra_params[0, k]
        for j in range(layers):
            w = 2 * j
            for k in range(b):
                x = z[k]
                h = s[w, k]
                f = sigmoid(x * main_params[w, k] + main_params[w + 1, k])
                i = sigmoid(h * main_params[w, b + k] + main_params[w + 1, b + k])
                o = sigmoid(x * main_params[w, 2 * b + k] + main_params[w + 1, 2 * b + k])
                g = math.tanh(h * main_params[w, 3 * b + k] + main_params[w + 1, 3 * b + k])
                cell = s[w + 1, k] * f + i * g
                h = o * math.tanh(cell)
                s[w + 1, k] = cell
                s[w, k] = h
                z[k] = h
        lse = 0.0
        for k in range(b):
            lse += math.exp(z[k] * extra_params[1, k] + extra_params[2, k])
        lse = math.log(2.0 + lse)
        for k in range(b):
            total += sequence[t + 1, k] * (z[k] * extra_params[1, k] + extra_params[2, k] - lse)
    return -total / ((c - 1) * b)


# --- inputs --------------------------------------------------------------------------------------

def load(layers: int, chars: int) -> Problem:
    """ADBench's input file lstm_l{layers}_c{chars}.txt: a header `l c b`, then main_params,
    extra_params, state and sequence as blocks of rows separated by blank lines."""
    text = (DATA / f"lstm_l{layers}_c{chars}.txt").read_text()
    header, *blocks = [blk for blk in text.strip().split("\n\n") if blk.strip()]
    l, c, b = (int(v) for v in header.split())
    main, extra, state, seq = (np.array([[float(v) for v in row.split()] for row in blk.strip().splitlines()])
                               for blk in blocks)
    assert main.shape == (2 * l, 4 * b) and extra.shape == (3, b), (main.shape, extra.shape)
    assert state.shape == (2 * l, b) and seq.shape == (c, b), (state.shape, seq.shape)
    return main, extra, state, seq


def random_problem(layers: int, chars: int, bits: int = BITS, seed: int = 0) -> Problem:
    """Inputs of ADBench's shapes, uniform in [0, 1) like its generated files."""
    rng = np.random.default_rng(seed)
    return (rng.random((2 * layers, 4 * bits)), rng.random((3, bits)), rng.random((2 * layers, bits)),
            rng.random((chars, bits)))


def problem(scale: str, layers: int, chars: int) -> Problem:
    """The data file at full scale, random inputs of the same definition at tiny scale."""
    return load(layers, chars) if scale == "full" else random_problem(layers, chars)


# --- cotangent -----------------------------------------------------------------------------------

def cotangent_step(fn: Callable[..., float], p: Problem) -> Callable[[], Result]:
    """cotangent's value and gradient of `fn` with respect to main_params and extra_params."""
    import cotangent as ct
    value_and_grad = ct.value_and_grad(fn, argnums=(0, 1))

    def step() -> Result:
        value, grads = value_and_grad(*p)
        return float(value), list(grads)
    return step


def cotangent_objective(fn: Callable[..., float], p: Problem) -> Callable[[], float]:
    """The compiled primal of `fn` (what calling a @ct.differentiable function runs), for J/F."""
    import cotangent as ct
    primal = ct.differentiable(fn)
    return lambda: float(primal(*p))


def _first_call(fn_name: str, scale: str, layers: int, chars: int) -> str:
    """A snippet that imports, loads the inputs and computes `fn_name`'s gradient once."""
    return (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport cotangent as ct\n"
            f"from benchmarks.workloads import dlstm\np = dlstm.problem({scale!r}, {layers}, {chars})\n"
            f"ct.value_and_grad(dlstm.{fn_name}, argnums=(0, 1))(*p)\n")


# --- competitors ---------------------------------------------------------------------------------

def _layer(xp, sig, weight, bias, hidden, cell, x, b: int):
    """lstm_cell for any array module `xp` with its own logistic function `sig`."""
    cell = (cell * sig(x * weight[:b] + bias[:b])
            + sig(hidden * weight[b:2 * b] + bias[b:2 * b]) * xp.tanh(hidden * weight[3 * b:] + bias[3 * b:]))
    return sig(x * weight[2 * b:3 * b] + bias[2 * b:3 * b]) * xp.tanh(cell), cell


def _log_likelihood(xp, extra, z, target):
    """Σ target · (ŷ − log(2 + Σ exp ŷ)) for the prediction ŷ = z ⊙ w_out + b_out."""
    y = z * extra[1] + extra[2]
    return xp.sum(target * (y - xp.log(2.0 + xp.sum(xp.exp(y)))))


def _eager_loss(xp, sig, main, extra, state, seq):
    """The loss with Python loops over time and layers, the state held in per-layer lists."""
    layers, (c, b) = state.shape[0] // 2, seq.shape
    hidden = [state[2 * j] for j in range(layers)]
    cells = [state[2 * j + 1] for j in range(layers)]
    total = 0.0
    for t in range(c - 1):
        z = seq[t] * extra[0]
        for j in range(layers):
            hidden[j], cells[j] = _layer(xp, sig, main[2 * j], main[2 * j + 1], hidden[j], cells[j], z, b)
            z = hidden[j]
        total = total + _log_likelihood(xp, extra, z, seq[t + 1])
    return -total / ((c - 1) * b)


def jax_step(p: Problem) -> Callable[[], Result]:
    """jit(value_and_grad) of a lax.scan over time, the layers unrolled inside the step."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def jloss(main, extra, state, seq):
        layers, (c, b) = state.shape[0] // 2, seq.shape

        def step(carry, xs):
            hidden, cells = carry
            x, target = xs
            z = x * extra[0]
            new_h, new_c = [], []
            for j in range(layers):
                z, cell = _layer(jnp, jax.nn.sigmoid, main[2 * j], main[2 * j + 1], hidden[j], cells[j], z, b)
                new_h.append(z)
                new_c.append(cell)
            return (jnp.stack(new_h), jnp.stack(new_c)), _log_likelihood(jnp, extra, z, target)

        _, terms = jax.lax.scan(step, (state[0::2], state[1::2]), (seq[:-1], seq[1:]))
        return -jnp.sum(terms) / ((c - 1) * b)

    value_and_grad = jax.jit(jax.value_and_grad(jloss, argnums=(0, 1)))
    args = [jnp.asarray(a) for a in p]

    def step() -> Result:
        value, grads = value_and_grad(*args)
        return float(value), [np.asarray(g) for g in grads]
    return step


def torch_step(p: Problem) -> Callable[[], Result]:
    """Eager PyTorch in float64: the loss built step by step, then .backward()."""
    import torch
    main, extra = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in p[:2])
    state, seq = (torch.tensor(a, dtype=torch.float64) for a in p[2:])

    def step() -> Result:
        main.grad = extra.grad = None
        out = _eager_loss(torch, torch.sigmoid, main, extra, state, seq)
        out.backward()
        return out.item(), [main.grad.numpy(), extra.grad.numpy()]
    return step


def autograd_step(p: Problem) -> Callable[[], Result]:
    """HIPS autograd's value_and_grad of the same loops, on (main_params, extra_params) as one tuple."""
    import autograd
    import autograd.numpy as anp

    def sig(x):
        return 1.0 / (1.0 + anp.exp(-x))

    value_and_grad = autograd.value_and_grad(
        lambda params, state, seq: _eager_loss(anp, sig, params[0], params[1], state, seq))

    def step() -> Result:
        value, grads = value_and_grad(p[:2], p[2], p[3])
        return float(value), list(grads)
    return step


def cases(scale: str) -> list[Case]:
    """One case per (layers, characters); `scale` is "tiny" (tests) or "full" (the table)."""
    out = []
    for size, layers, chars in SIZES[scale]:
        p = problem(scale, layers, chars)
        impls = [Impl(tool, lambda fn=fn, p=p: cotangent_step(fn, p),
                      objective=lambda fn=fn, p=p: cotangent_objective(fn, p),
                      first_call=_first_call(fn.__name__, scale, layers, chars))
                 for tool, fn in (("cotangent", objective), ("cotangent loops", objective_loops))]
        impls += [Impl("jax", lambda p=p: jax_step(p)), Impl("torch", lambda p=p: torch_step(p)),
                  Impl("autograd", lambda p=p: autograd_step(p))]
        out.append(Case("D-LSTM", size, impls, reference_value=REFERENCE.get(size),
                        work=float(layers * (chars - 1)),
                        notes=["loss with ADBench's log(2 + Σ exp ŷ) normalizer",
                               "cotangent: loops over time and layers on 14-vectors; cotangent loops: "
                               "the same with a loop over the channels on numbers"]))
    return out
