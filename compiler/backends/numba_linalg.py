"""Numba versions of the helpers in support_linalg.py (np.linalg)."""
from __future__ import annotations

import numpy as np  # noqa: F401
from numba.extending import overload  # noqa: F401

from . import support_linalg  # noqa: F401
