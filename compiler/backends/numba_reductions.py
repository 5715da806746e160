"""Numba versions of the helpers in support_reductions.py (reductions, sorting and selection)."""
from __future__ import annotations

import numpy as np  # noqa: F401
from numba.extending import overload  # noqa: F401

from . import support_reductions  # noqa: F401
