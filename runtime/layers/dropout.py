"""Dropout (Srivastava et al., 2014), inverted: in training each input is kept with probability
1 - rate and scaled by 1 / (1 - rate), so test mode is the identity and needs no rescaling.

Random numbers are not drawn inside compiled code: the mask is a NoiseSpec, drawn for every
training batch from the training loop's seeded generator and passed to the compiled function as an
argument, already scaled (its entries are 0 or 1 / (1 - rate))."""
from __future__ import annotations

import numpy as np

from .base import Layer, Emitter, NoiseSpec


def dropout(x, mask):
    """x times a mask of zeros and 1 / (1 - rate) (drawn outside, by `Dropout.draw_mask`)."""
    return x * mask


class Dropout(Layer):
    """Zeroes a fraction `rate` of its inputs in training (a fresh mask per batch); identity at test time."""

    kind = "dropout"

    def __init__(self, rate: float):
        super().__init__()
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def draw_mask(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        """Entries 1 / (1 - rate) with probability 1 - rate, else 0."""
        keep = rng.random(shape) >= self.rate
        return keep * (1.0 / (1.0 - self.rate))

    def noise_specs(self):
        return [NoiseSpec("mask", self.draw_mask)]

    def emit(self, e: Emitter, x: str) -> str:
        if not e.train or self.rate == 0.0:
            return x
        return e.call(dropout, [x, e.noise(self, self.noise_specs()[0])], self.name, f"rate {self.rate}")

    def describe(self):
        return f"Dropout({self.rate})"
