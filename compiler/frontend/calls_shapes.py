"""How the NumPy calls of one area lower to primitives: shape functions (swapaxes, moveaxis, flip, roll, tile, repeat, pad, split, broadcast_to, linspace...).
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME)."""
from __future__ import annotations

from .calls import NUMPY, METHODS, LINALG  # noqa: F401
