"""A transformer encoder (Vaswani et al., 2017) that sorts short sequences of digits.

Each of the T input positions holds a digit; the output at position i is the i-th smallest digit,
ten logits per position. A position's input vector is its one-hot digit next to its one-hot
position, so the first Dense layer adds a learned token embedding and a learned position embedding.
Each block is post-norm, as in the paper:

    h = LayerNorm(h + MultiHeadAttention(h))
    h = LayerNorm(h + MLP(h))                      MLP: Dense(2 d, relu), Dense(d)

Sorting needs attention: the digit that belongs at position i depends on every digit of the
sequence (how many are smaller than each), which one attention layer can gather and the MLP can
turn into the i-th order statistic."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cotangent import runtime as rt
from cotangent.runtime.activations import log_softmax, softmax

from .fitting import fit_cosine, one_blas_thread

DIGITS = 10
LENGTH = 6


def position_cross_entropy(logits, target):
    """Softmax cross-entropy at every position, averaged over the batch and the positions:
    logits and one-hot targets (batch, T, classes)."""
    n, t, _ = logits.shape
    return -np.sum(target * log_softmax(logits, axis=2)) / (n * t)


def sort_data(n: int, length: int = LENGTH, seed: int = 0):
    """n sequences of `length` digits (repeats allowed): inputs (n, length, 10 + length), one-hot
    digit then one-hot position; targets, the sorted digits, one-hot (n, length, 10)."""
    rng = np.random.default_rng(seed)
    digits = rng.integers(0, DIGITS, size=(n, length))
    x = np.concatenate([np.eye(DIGITS)[digits], np.broadcast_to(np.eye(length), (n, length, length))], axis=2)
    return x, np.eye(DIGITS)[np.sort(digits, axis=1)]


def encoder_block(d_model: int, heads: int) -> list:
    """Self-attention and an MLP, each with a residual connection and LayerNorm after it."""
    return [rt.Residual([rt.MultiHeadAttention(heads, mask=None)]), rt.LayerNorm(),
            rt.Residual([rt.Dense(2 * d_model, "relu"), rt.Dense(d_model)]), rt.LayerNorm()]


def build_model(length: int = LENGTH, d_model: int = 32, heads: int = 2, blocks: int = 2, seed: int = 0,
                target: str = "cpu") -> rt.Sequential:
    """Embedding (one Dense on digit and position), `blocks` encoder blocks, ten logits per position."""
    layers = [rt.Dense(d_model)]
    for _ in range(blocks):
        layers += encoder_block(d_model, heads)
    layers.append(rt.Dense(DIGITS))
    return rt.Sequential(layers, loss=position_cross_entropy, input_shape=(length, DIGITS + length),
                         name="transformer_sort", seed=seed, target=target)


def accuracies(model: rt.Sequential, x: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """The fraction of positions given the right digit, and of sequences sorted entirely right."""
    right = np.argmax(model.predict(x), axis=-1) == np.argmax(target, axis=-1)
    return float(np.mean(right)), float(np.mean(np.all(right, axis=1)))


def first_attention_weights(model: rt.Sequential, x: np.ndarray) -> np.ndarray:
    """The attention weights (heads, T, T) of the first block for one sequence x (T, features):
    row i says how much position i reads from each position. Recomputed from the parameters, as
    the layer returns only its output."""
    p = model.params
    h = x @ p["dense_0_W"] + p["dense_0_b"]
    q = np.einsum("td,hdk->htk", h, p["attention_0_Wq"]) + p["attention_0_bq"][:, None, :]
    k = np.einsum("td,hdk->htk", h, p["attention_0_Wk"]) + p["attention_0_bk"][:, None, :]
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[2])
    return softmax(scores, axis=2)


@dataclass
class TransformerRun:
    """A trained model, its history (with validation loss on the test set), and test accuracies."""
    model: rt.Sequential
    history: rt.History
    position_accuracy: float
    sequence_accuracy: float
    seconds: float              # rt.fit's time, compiling (or loading compiled code) included
    test_set: tuple             # (x, one-hot sorted digits) of the test sequences


def train(n_train: int = 2000, n_test: int = 1000, epochs: int = 5, length: int = LENGTH, d_model: int = 32,
          heads: int = 2, blocks: int = 2, lr: float = 3e-3, batch_size: int = 64, seed: int = 0,
          target: str = "cpu", progress: bool = True) -> TransformerRun:
    """Train the sorter (Adam; the learning rate warms up over the first epoch, or half the steps
    if shorter, then decays on a cosine); the defaults are the small configuration the tests use."""
    x, y = sort_data(n_train, length, seed=seed)
    x_test, y_test = sort_data(n_test, length, seed=seed + 1000)
    model = build_model(length, d_model, heads, blocks, seed=seed, target=target)
    history, seconds = fit_cosine(model, x, y, (x_test, y_test), epochs, lr, batch_size, seed, progress,
                                  warmup=True)
    with one_blas_thread():
        position, sequence = accuracies(model, x_test, y_test)
    return TransformerRun(model, history, position, sequence, seconds, (x_test, y_test))
