"""Helpers that generated code calls for reductions, sorting and selection, where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_reductions.py overloads the same names."""
from __future__ import annotations

import numpy as np

__all__: list[str] = ["cumprod", "stable_argsort", "stable_argpartition", "along_axis_add", "take_add"]


def cumprod(x, axis):
    """np.cumprod along one axis (Numba's np.cumprod has no axis)."""
    return np.cumprod(x, axis=axis)


def stable_argsort(x, axis):
    """The indices that sort x along the axis; equal elements keep their order (a stable sort)."""
    return np.argsort(x, axis=axis, kind="stable")


def _check_kth(kth, n):
    for k in kth:
        if not -n <= k < n:
            raise ValueError(f"kth(={k}) out of bounds ({n})")


def stable_argpartition(x, kth, axis):
    """Indices that partition x along the axis at every kth: those of a stable sort, which puts
    every element in its sorted place (NumPy leaves the order inside each part unspecified)."""
    _check_kth(kth, x.shape[axis])
    return np.argsort(x, axis=axis, kind="stable")


def _check_index(idx, n):
    if idx.size and (idx.max() >= n or idx.min() < -n):
        raise IndexError(f"index out of bounds for an axis of size {n}")


def along_axis_add(z, idx, g, axis):
    """A copy of z with g added at the indices idx along the axis (the adjoint of
    np.take_along_axis): repeated indices add up, and an axis where z has length 1 and g does
    not is summed."""
    out = np.array(z, dtype=np.float64)
    g = np.asarray(g)
    _check_index(np.asarray(idx), out.shape[axis])
    grid = []
    for k in range(out.ndim):
        shape = [1] * out.ndim
        if k == axis:
            grid.append(np.broadcast_to(idx, g.shape))
            continue
        shape[k] = g.shape[k]
        lane = np.arange(g.shape[k]) if out.shape[k] != 1 else np.zeros(g.shape[k], dtype=np.int64)
        grid.append(lane.reshape(shape))
    np.add.at(out, tuple(grid), g)
    return out


def take_add(z, idx, g, axis):
    """A copy of z with g added at the indices idx (1-D) along the axis (the adjoint of
    np.take(x, idx, axis)): repeated indices add up."""
    out = np.array(z, dtype=np.float64)
    _check_index(np.asarray(idx), out.shape[axis])
    np.add.at(out, (slice(None),) * axis + (idx,), g)
    return out
