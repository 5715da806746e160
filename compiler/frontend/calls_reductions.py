"""How the NumPy calls of one area lower to primitives: reductions (var, std, cumprod, diff, nan-reductions, average, argmax) and sorting and selection (sort, argsort, take, select, searchsorted).
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME)."""
from __future__ import annotations

from .calls import NUMPY, METHODS, LINALG  # noqa: F401
