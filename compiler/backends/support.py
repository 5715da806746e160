"""Helpers the generated code calls where NumPy has no single function (unbroadcast, the
product of the other elements) or where Numba lacks an argument (mean/max/min/prod over an axis).
These are the plain NumPy versions, used by target="python"; numba_support.py gives Numba
versions of the same names."""
from __future__ import annotations

import numpy as np


def unbroadcast(g, like):
    """Sum g over the axes along which `like` was broadcast, so the result has like's shape (`like`
    may be the shape itself, recorded instead of the array)."""
    shape = like if isinstance(like, tuple) else np.shape(like)
    g = np.asarray(g)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def mean(x, axis):
    return np.mean(x, axis=axis)


def amax(x, axis):
    return np.max(x, axis=axis)


def amin(x, axis):
    return np.min(x, axis=axis)


def prod(x, axis):
    return np.prod(x, axis=axis)


def _prod_others_1d(v):
    """Products of all elements but one, from prefix and suffix products: exact with zeros."""
    n = v.shape[0]
    out = np.empty(n)
    acc = 1.0
    for i in range(n):
        out[i] = acc
        acc *= v[i]
    acc = 1.0
    for i in range(n - 1, -1, -1):
        out[i] *= acc
        acc *= v[i]
    return out


def prod_others(x, axis=None):
    """For each element, the product of the other elements (along `axis`, or of the whole array)."""
    x = np.asarray(x, dtype=np.float64)
    if axis is None:
        return _prod_others_1d(x.ravel()).reshape(x.shape)
    return np.apply_along_axis(_prod_others_1d, axis, x)


def squeeze(x, axis):
    return np.squeeze(x, axis=axis)


def index_add(z, idx, g):
    """z[idx] += g with repeated indices accumulating (the adjoint of x[idx])."""
    out = z.copy()
    np.add.at(out, idx, g)
    return out


def diag_embed_like(g, like):
    out = np.zeros(np.shape(like))
    n = min(out.shape)
    out[np.arange(n), np.arange(n)] = g
    return out


# the helpers of each NumPy area (plain NumPy versions; numba_support imports their Numba versions)
from .support_reductions import *  # noqa: E402,F401,F403
from .support_shapes import *  # noqa: E402,F401,F403
from .support_products import *  # noqa: E402,F401,F403
from .support_linalg import *  # noqa: E402,F401,F403
from .support_special import *  # noqa: E402,F401,F403
from .support_indexing import *  # noqa: E402,F401,F403
from .support_lists import *  # noqa: E402,F401,F403
from .support_checkpoint import *  # noqa: E402,F401,F403
