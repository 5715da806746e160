"""How the NumPy calls of one area lower to primitives: np.linalg (inv, solve, det, slogdet, cholesky, eigh, svd, qr, lstsq, pinv, matrix_power, multi_dot, norm).
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME)."""
from __future__ import annotations

from .calls import NUMPY, METHODS, LINALG  # noqa: F401
