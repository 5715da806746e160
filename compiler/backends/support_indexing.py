"""Helpers that generated code calls for indexing (masks, lists of indices, mixed indices), where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_indexing.py overloads the same names."""
from __future__ import annotations

import numpy as np

__all__: list[str] = ["add_at", "mask_nonzero", "last_written"]


def add_at(z: np.ndarray, pos: np.ndarray, g) -> np.ndarray:
    """A float copy of z with g added at the flat positions pos; repeated positions add up."""
    out = np.array(z, dtype=float)
    np.add.at(out.reshape(-1), np.asarray(pos).reshape(-1), np.broadcast_to(g, np.shape(pos)).reshape(-1))
    return out


def mask_nonzero(mask: np.ndarray, x: np.ndarray, axis: int) -> tuple:
    """np.nonzero(mask), for a mask over the axes of x from `axis` on: IndexError when their
    lengths differ, as NumPy raises it (Numba would read past them)."""
    for k, n in enumerate(mask.shape):
        if x.shape[axis + k] != n:
            raise IndexError(f"boolean index did not match indexed array along axis {axis + k}; size of "
                             f"axis is {x.shape[axis + k]} but size of corresponding boolean axis is {n}")
    return np.nonzero(mask)


def last_written(pos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether each flat position is the last in C order to name its element of x."""
    flat = np.asarray(pos).reshape(-1)
    latest = np.full(x.size, -1)
    order = np.arange(flat.size)
    np.maximum.at(latest, flat, order)
    return (latest[flat] == order).reshape(np.shape(pos))
