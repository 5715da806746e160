"""Deep Sets (Zaheer et al., 2017): a function of a set is rho(sum over elements of phi(element)).

phi is a small MLP applied to every element on its own (Dense on samples of shape (S, features)
applies the same weights at every position), the sum over the set's elements forgets their order,
and rho is an MLP on the pooled vector. So the model is invariant to permutations of a set by
construction, whatever its weights; `SetPool` is the one new layer it needs.

Sets of different sizes share one padded array x (batch, S, features) with a mask (batch, S) that
is 1.0 at a set's elements and 0.0 at padding; pooling multiplies by the mask, so padding adds
nothing. The task: the maximum of a set of 1 to 16 numbers drawn uniformly from [0, 1]."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cotangent import runtime as rt
from cotangent.runtime.layers.base import Emitter, Layer

from .fitting import fit_cosine

MAX_SIZE = 16


def masked_sum(x, mask):
    """Sum over the elements of each set: x (batch, S, features), mask (batch, S) -> (batch, features)."""
    return np.sum(x * mask[:, :, None], axis=1)


def masked_mean(x, mask):
    """Mean over the elements of each set (padding excluded): (batch, S, features) -> (batch, features)."""
    return masked_sum(x, mask) / np.sum(mask, axis=1)[:, None]


class SetPool(Layer):
    """Sum (or mean) over the set axis of samples (S, features), reading the model input `mask`;
    the permutation-invariant step between phi and rho."""

    kind = "set_pool"

    def __init__(self, mode: str = "sum", mask: str = "mask"):
        super().__init__()
        if mode not in ("sum", "mean"):
            raise ValueError(f"SetPool: mode must be 'sum' or 'mean', got {mode!r}")
        self.mode, self.mask = mode, mask

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: SetPool takes sets, samples of shape (S, features), "
                             f"got {input_shape}")
        return input_shape[1:]

    def emit(self, e: Emitter, x: str) -> str:
        fn = masked_sum if self.mode == "sum" else masked_mean
        return e.call(fn, [x, e.input(self.mask)], self.name, f"{self.mode} over the set, padding masked")

    def describe(self):
        return f"SetPool({self.mode!r}, mask={self.mask!r})"


def max_data(n: int, max_size: int = MAX_SIZE, seed: int = 0):
    """n sets of 1..max_size numbers uniform in [0, 1], padded with zeros: x (n, max_size, 1),
    mask (n, max_size), and each set's maximum y (n, 1)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_size + 1, size=n)
    mask = (np.arange(max_size)[None, :] < sizes[:, None]).astype(np.float64)
    x = rng.uniform(0.0, 1.0, size=(n, max_size, 1)) * mask[:, :, None]
    y = np.max(x[:, :, 0], axis=1, keepdims=True)       # numbers are >= 0, so padding never wins
    return x, mask, y


def permute_sets(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
    """Each set's slots (elements and padding, with their mask entries) in a fresh random order."""
    order = np.argsort(rng.random(mask.shape), axis=1)
    return np.take_along_axis(x, order[:, :, None], axis=1), np.take_along_axis(mask, order, axis=1)


def build_model(units: int = 32, max_size: int = MAX_SIZE, pool: str = "sum", seed: int = 0,
                target: str = "cpu") -> rt.Sequential:
    """phi: two Dense+ReLU layers per element; pool; rho: Dense+ReLU, then one output."""
    return rt.Sequential([rt.Dense(units, "relu"), rt.Dense(units, "relu"),      # phi, per element
                          SetPool(pool),
                          rt.Dense(units, "relu"), rt.Dense(1)],                  # rho
                         loss="squared_error", input_shape=(max_size, 1), inputs=("x", "mask"),
                         name="deep_sets", seed=seed, target=target)


@dataclass
class DeepSetsRun:
    """A trained model, its history, and its test error next to a constant predictor's."""
    model: rt.Sequential
    history: rt.History
    test_mae: float
    baseline_mae: float         # predicting the training targets' mean for every set
    seconds: float              # rt.fit's time, compiling (or loading compiled code) included
    test_set: tuple             # (x, mask, y) of the test sets


def train(n_train: int = 3000, epochs: int = 15, units: int = 32, lr: float = 3e-3, batch_size: int = 64,
          seed: int = 0, target: str = "cpu", progress: bool = True) -> DeepSetsRun:
    """Fit the maximum of a set; the defaults are the small configuration the tests use."""
    x, mask, y = max_data(n_train, seed=seed)
    x_test, mask_test, y_test = max_data(2000, seed=seed + 1000)
    model = build_model(units, seed=seed, target=target)
    history, seconds = fit_cosine(model, (x, mask), y, ((x_test, mask_test), y_test), epochs, lr, batch_size,
                                  seed, progress, lr_min=lr / 30)
    pred = model.predict((x_test, mask_test))
    return DeepSetsRun(model, history, float(np.mean(np.abs(pred - y_test))),
                       float(np.mean(np.abs(y_test - np.mean(y)))), seconds,
                       (x_test, mask_test, y_test))
