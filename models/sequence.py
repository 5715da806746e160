"""The lectures' palindrome task: is a sequence of 1 to 10 digits a palindrome? An LSTM and the
simple RNN beside it, each reading the digits one at a time and classifying from its final state.

Sequences are one-hot digits padded to 10 steps, with a mask (batch, 10) that is 1.0 at a
sequence's digits; the recurrent layers carry their state through padding, so the final state is
the state after each sequence's own last digit. Half the generated sequences are palindromes
(a random first half, mirrored); the other half are uniformly random sequences of 2 to 10 digits
that are not palindromes.

To answer, a network must remember the first digits until it sees the last ones. The first and
last digits of a random non-palindrome agree one time in ten, so comparing just that pair is
right about 95% of the time; beyond that the network must compare inner pairs too, several steps
apart, which is where the LSTM's gated cell state does better than the RNN's tanh state."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cotangent import runtime as rt

from .fitting import fit_cosine

DIGITS = 10
MAX_LEN = 10


def palindrome_data(n: int, max_len: int = MAX_LEN, seed: int = 0):
    """n sequences, half palindromes (in random order): one-hot digits x (n, max_len, 10), mask
    (n, max_len), labels y (n,) with 1 for a palindrome."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, max_len, DIGITS))
    mask = np.zeros((n, max_len))
    y = np.arange(n) % 2
    for i in range(n):
        if y[i]:
            length = rng.integers(1, max_len + 1)
            half = rng.integers(0, DIGITS, size=(length + 1) // 2)
            digits = np.concatenate([half, half[:length // 2][::-1]])
        else:
            length = rng.integers(2, max_len + 1)          # a single digit is always a palindrome
            digits = rng.integers(0, DIGITS, size=length)
            while np.array_equal(digits, digits[::-1]):
                digits = rng.integers(0, DIGITS, size=length)
        x[i, np.arange(length), digits] = 1.0
        mask[i, :length] = 1.0
    order = rng.permutation(n)
    return x[order], mask[order], y[order]


def build_model(cell: str = "lstm", units: int = 32, max_len: int = MAX_LEN, seed: int = 0,
                target: str = "cpu") -> rt.Sequential:
    """A recurrent layer ('lstm' or 'rnn') over the masked digits, then two logits."""
    layers = {"lstm": rt.LSTM, "rnn": rt.SimpleRNN}
    if cell not in layers:
        raise ValueError(f"cell must be 'lstm' or 'rnn', got {cell!r}")
    return rt.Sequential([layers[cell](units, mask="mask"), rt.Dense(2)], loss="softmax_cross_entropy",
                         input_shape=(max_len, DIGITS), inputs=("x", "mask"), name=f"palindrome_{cell}",
                         seed=seed, target=target)


def accuracy_by_length(model: rt.Sequential, x: np.ndarray, mask: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Test accuracy for each sequence length 1..max_len (nan for a length with no sequences)."""
    right = np.argmax(model.predict((x, mask)), axis=1) == y
    lengths = mask.sum(axis=1).astype(int)
    return np.array([np.mean(right[lengths == k]) if np.any(lengths == k) else np.nan
                     for k in range(1, mask.shape[1] + 1)])


@dataclass
class PalindromeRun:
    """A trained model, its history (with validation on the test set), and its test accuracy."""
    model: rt.Sequential
    history: rt.History
    test_accuracy: float
    seconds: float              # rt.fit's time, compiling (or loading compiled code) included
    test_set: tuple             # (x, mask, y) of the test sequences


def train(cell: str = "lstm", n_train: int = 8000, n_test: int = 2000, epochs: int = 8, units: int = 32,
          lr: float = 0.01, batch_size: int = 64, seed: int = 0, target: str = "cpu",
          progress: bool = True) -> PalindromeRun:
    """Train one cell on fresh palindrome data (Adam, cosine-decayed learning rate); the defaults
    are the small configuration the tests use."""
    x, mask, y = palindrome_data(n_train, seed=seed)
    x_test, mask_test, y_test = palindrome_data(n_test, seed=seed + 1000)
    model = build_model(cell, units, seed=seed, target=target)
    history, seconds = fit_cosine(model, (x, mask), y, ((x_test, mask_test), y_test), epochs, lr, batch_size,
                                  seed, progress)
    accuracy = rt.evaluate(model, (x_test, mask_test), y_test)["accuracy"]
    return PalindromeRun(model, history, accuracy, seconds, (x_test, mask_test, y_test))
