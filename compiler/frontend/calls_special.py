"""How the NumPy calls of one area lower to primitives: scipy.special and the elementwise functions with their own argument conventions.
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME)."""
from __future__ import annotations

from .calls import NUMPY, METHODS, LINALG  # noqa: F401
