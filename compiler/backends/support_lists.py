"""Helpers for lists used as stacks (rules/lists.py): plain NumPy versions; numba_lists.py
overloads the same names."""
from __future__ import annotations

import numpy as np

__all__ = ["list_room", "list_head", "list_pad", "list_index", "list_top"]


def list_room(items, count, item):
    """The items with room after the first `count`: the array itself, or when it is full a copy
    with twice the rows (at least 8), the new rows zero."""
    n = items.shape[0]
    if count < n:
        return items
    out = np.zeros((max(2 * n, 8),) + np.shape(item), dtype=items.dtype)
    if n:
        out[:n] = items
    return out


def list_head(g, like):
    """The first len(like) rows of g, shaped like `like` (which may have no rows and another
    shape): g itself when it has as many rows."""
    n = like.shape[0]
    if n == g.shape[0]:
        return g
    if n == 0:
        return np.zeros(like.shape, dtype=g.dtype)
    return g[:n].copy()


def list_pad(h, like):
    """h followed by zero rows, shaped like `like`."""
    out = np.zeros(like.shape, dtype=h.dtype)
    n = h.shape[0]
    if n:
        out[:n] = h
    return out


def list_index(i, n):
    """Where item i of a list of n items is; IndexError as a list raises it."""
    if i < 0:
        i += n
    if i < 0 or i >= n:
        raise IndexError("list index out of range")
    return i


def list_top(n):
    if n < 1:
        raise IndexError("pop from empty list")
    return n - 1
