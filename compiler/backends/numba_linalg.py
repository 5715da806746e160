"""Numba versions of the helpers in support_linalg.py (np.linalg)."""
from __future__ import annotations

import numpy as np
from numba.extending import overload, register_jitable

from . import support_linalg

_inverse_gaps = register_jitable(support_linalg._inverse_gaps)
_scale = register_jitable(support_linalg._scale)
_EPS = float(np.finfo(np.float64).eps)


@overload(support_linalg.eigh_gaps)
def _ol_eigh_gaps(w):
    def impl(w):
        out = _inverse_gaps(w, _scale(w))
        if out is None:
            raise np.linalg.LinAlgError("np.linalg.eigh: the eigenvectors' derivative needs distinct "
                                        "eigenvalues, and two are repeated")
        return out
    return impl


@overload(support_linalg.svd_gaps)
def _ol_svd_gaps(q, a):
    tol = support_linalg.GAP_TOL

    def impl(q, a):
        scale = _scale(q)
        out = _inverse_gaps(q, scale)
        if out is None:
            raise np.linalg.LinAlgError("np.linalg.svd: the derivative of U and Vt needs distinct "
                                        "singular values, and two are repeated")
        if a.shape[0] != a.shape[1] and q.shape[0] and np.min(q) <= tol * scale:
            raise np.linalg.LinAlgError("np.linalg.svd: the derivative of U and Vt of a non-square "
                                        "matrix needs nonzero singular values")
        return out
    return impl


@overload(support_linalg.qr_reduced)
def _ol_qr_reduced(a):
    def impl(a):
        if a.shape[0] < a.shape[1]:
            raise np.linalg.LinAlgError("np.linalg.qr: only square or tall matrices (rows >= columns) "
                                        "are supported")
        q, r = np.linalg.qr(a)
        return np.asfortranarray(q), r       # Numba's q is a slice (layout A): slower products
    return impl


@overload(support_linalg.lstsq_solution)
def _ol_lstsq_solution(a, b):
    def impl(a, b):
        return np.linalg.lstsq(a, b, rcond=_EPS * max(a.shape[0], a.shape[1]))[0]
    return impl


@overload(support_linalg.square_matrix)
def _ol_square_matrix(a):
    def impl(a):
        if a.shape[0] != a.shape[1]:
            raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
        return a
    return impl
