"""Helpers that generated code calls for shape functions, where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_shapes.py overloads the same names.

Each copying map comes with the sum that is its adjoint: tile_blocks and sum_tiles, repeat_along
and sum_repeats (the sums take the operand, `like`, for its shape, which a count of 0 hides)."""
from __future__ import annotations

import numpy as np

__all__ = ["roll_along", "tile_blocks", "sum_tiles", "repeat_along", "sum_repeats", "split_length",
           "sample_count"]


def roll_along(x: np.ndarray, shift: int, axis: int) -> np.ndarray:
    """np.roll along one axis (Numba's np.roll has no axis)."""
    return np.roll(x, shift, axis=axis)


def tile_blocks(x: np.ndarray, reps: tuple) -> np.ndarray:
    """np.tile with one count per axis of x."""
    return np.tile(x, reps)


def sum_tiles(g: np.ndarray, like: np.ndarray, reps: tuple) -> np.ndarray:
    """The sum of the len(reps) blocks of g, each shaped like `like`: the adjoint of tile_blocks."""
    split = []
    for r, n in zip(reps, np.shape(like)):
        split += [r, n]
    summed = np.asarray(g, dtype=np.float64).reshape(split).sum(axis=tuple(range(0, len(split), 2)))
    return summed.reshape(np.shape(like))


def repeat_along(x: np.ndarray, count: int, axis: int) -> np.ndarray:
    """np.repeat with one count along one axis."""
    return np.repeat(x, count, axis=axis)


def sum_repeats(g: np.ndarray, like: np.ndarray, count: int, axis: int) -> np.ndarray:
    """The sum of each run of `count` elements of g along the axis: the adjoint of repeat_along."""
    shape = np.shape(like)
    g = np.asarray(g, dtype=np.float64)
    runs = g.reshape(shape[:axis] + (shape[axis], count) + shape[axis + 1:])
    return runs.sum(axis=axis + 1)


def split_length(n: int, sections: int) -> int:
    """The length of each of `sections` equal parts of an axis of length n, as np.split requires."""
    if sections <= 0:
        raise ValueError("number sections must be larger than 0.")
    if n % sections:
        raise ValueError("array split does not result in an equal division")
    return n // sections


def sample_count(num: int) -> int:
    """np.linspace's number of samples, checked as NumPy checks it."""
    if num < 0:
        raise ValueError("Number of samples must be non-negative.")
    return num
