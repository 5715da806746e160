"""Helpers that generated code calls for np.linalg, where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_linalg.py overloads the same names.

The gap helpers give F_ij = 1 / (x_j - x_i) (0 on the diagonal), the factor of the eigenvector
and singular-vector derivatives, and raise LinAlgError where it does not exist: values closer
than GAP_TOL relative to the largest (numerically repeated)."""
from __future__ import annotations

import numpy as np

__all__ = ["eigh_gaps", "svd_gaps", "qr_reduced", "lstsq_solution", "square_matrix"]

GAP_TOL = 1e-10


def _inverse_gaps(x, scale):
    """F_ij = 1 / (x_j - x_i), 0 on the diagonal; None when two values are within the tolerance."""
    n = x.shape[0]
    out = np.zeros((n, n))
    tol = GAP_TOL * scale
    for i in range(n):
        for j in range(n):
            if i != j:
                d = x[j] - x[i]
                if abs(d) <= tol:
                    return None
                out[i, j] = 1.0 / d
    return out


def _scale(x):
    return np.max(np.abs(x)) if x.shape[0] else 0.0


def eigh_gaps(w):
    """F_ij = 1 / (w_j - w_i) for eigenvector derivatives: needs distinct eigenvalues."""
    out = _inverse_gaps(w, _scale(w))
    if out is None:
        raise np.linalg.LinAlgError("np.linalg.eigh: the eigenvectors' derivative needs distinct "
                                    "eigenvalues, and two are repeated")
    return out


def svd_gaps(q, a):
    """F_ij = 1 / (q_j - q_i), q the squared singular values of `a`, for the derivatives of U and
    Vt: needs distinct singular values, and nonzero ones when `a` is not square."""
    scale = _scale(q)
    out = _inverse_gaps(q, scale)
    if out is None:
        raise np.linalg.LinAlgError("np.linalg.svd: the derivative of U and Vt needs distinct "
                                    "singular values, and two are repeated")
    if a.shape[0] != a.shape[1] and q.shape[0] and np.min(q) <= GAP_TOL * scale:
        raise np.linalg.LinAlgError("np.linalg.svd: the derivative of U and Vt of a non-square "
                                    "matrix needs nonzero singular values")
    return out


def qr_reduced(a):
    """np.linalg.qr(a) (reduced) for a square or tall matrix, the ones it differentiates."""
    if a.shape[0] < a.shape[1]:
        raise np.linalg.LinAlgError("np.linalg.qr: only square or tall matrices (rows >= columns) "
                                    "are supported")
    return np.linalg.qr(a)


def lstsq_solution(a, b):
    """np.linalg.lstsq(a, b, rcond=None)[0]: singular values below eps * max(a.shape) times the
    largest are cut."""
    return np.linalg.lstsq(a, b, rcond=None)[0]


def square_matrix(a):
    """`a` itself, after np.linalg's error for a matrix that is not square."""
    if a.shape[0] != a.shape[1]:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    return a
