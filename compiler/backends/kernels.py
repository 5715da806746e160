"""The library calls of loop-nest code (backends/loops.py), compiled once per machine.

A NumPy call inside generated code is compiled again for every generated function that makes it:
Numba types and compiles the overload of `@` or `np.empty` into each caller, about a tenth of a
second per variant and half a second for a matrix product. Called through these functions instead,
each variant is compiled once and kept in Numba's cache beside this file, so a new gradient links
the machine code it already has. They do what NumPy does; the names say which call they stand for."""
from __future__ import annotations

import numpy as np
from numba import njit

from . import numba_support  # registers the Numba version of support.unbroadcast
from .support import unbroadcast as _unbroadcast

del numba_support               # (imported for that side effect only)


@njit(cache=True, error_model="numpy")
def matmul(a, b):
    """a @ b (a BLAS call for float arrays)."""
    return a @ b


@njit(cache=True, error_model="numpy")
def empty(shape):
    """np.empty(shape): a float array whose every element the nest after it writes."""
    return np.empty(shape)


@njit(cache=True, error_model="numpy")
def zeros(shape):
    """np.zeros(shape): a float array a nest sums into."""
    return np.zeros(shape)


@njit(cache=True, error_model="numpy")
def empty_bool(shape):
    """np.empty(shape, np.bool_): a mask (where an array equals its maximum) a nest writes."""
    return np.empty(shape, np.bool_)


@njit(cache=True, error_model="numpy")
def zeros_int(shape):
    """np.zeros(shape, np.int64): a count (how many elements equal a maximum) a nest adds into."""
    return np.zeros(shape, np.int64)


@njit(cache=True, error_model="numpy")
def zeros_like(a):
    """np.zeros_like(a) for a float array: the start of an adjoint that contributions add into."""
    return np.zeros_like(a)


@njit(cache=True, error_model="numpy")
def full(shape, value):
    """np.full(shape, value): the start of a nest's maximum or minimum (-inf or inf)."""
    return np.full(shape, value)


@njit(cache=True, error_model="numpy")
def unbroadcast(g, like):
    """support.unbroadcast(g, like): an adjoint summed back over the axes its operand was
    broadcast along, where the shapes cannot tell (compiled once per machine: its generic
    Numba version takes about a second to compile into each function)."""
    return _unbroadcast(g, like)
