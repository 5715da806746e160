"""How the NumPy calls of one area lower to primitives: products and matrix helpers (batched matmul, tensordot, einsum, kron, cross, vdot, triu, tril, diagonal).
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME)."""
from __future__ import annotations

from .calls import NUMPY, METHODS, LINALG  # noqa: F401
