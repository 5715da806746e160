"""Helpers that generated code calls for products and matrix helpers, where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_products.py overloads the same names."""
from __future__ import annotations

import numpy as np

__all__: list[str] = ["matmul_stack", "diagonal_of", "diagonal_put", "cross3"]


def matmul_stack(a, b):
    """a @ b where an operand has rank > 2 (stacks of matrices, broadcast over the leading axes)."""
    return np.matmul(a, b)


def diagonal_of(x, offset, axis1, axis2, square=False):
    """np.diagonal as a fresh array (NumPy's is a read-only view): the other axes, then the diagonal.
    square: the two axes must have one length (a label repeated in np.einsum's subscripts)."""
    if square and np.shape(x)[axis1] != np.shape(x)[axis2]:
        raise ValueError("np.einsum: a label repeated in one operand's subscripts "
                         "stands for axes of different lengths")
    return np.diagonal(x, offset, axis1, axis2).copy()


def diagonal_put(g, like, offset, axis1, axis2):
    """Zeros shaped like `like` with g on the diagonal that diagonal_of reads: its adjoint."""
    out = np.zeros(np.shape(like))
    moved = np.moveaxis(out, (axis1, axis2), (-2, -1))
    i = np.arange(np.shape(g)[-1])
    moved[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return out


def cross3(a, b):
    """np.cross of 3-vectors along the last axis, broadcast over the others. Other lengths raise:
    np.cross of 2-vectors (deprecated since NumPy 2.0) has a lower rank, and ranks are fixed
    before run time."""
    if np.shape(a)[-1] != 3 or np.shape(b)[-1] != 3:
        raise ValueError("np.cross in a differentiable function needs vectors of length 3 along the last axis "
                         f"(got {np.shape(a)[-1]} and {np.shape(b)[-1]}); give 2-vectors a zero third component")
    return np.cross(a, b)
