"""Numba versions of the helpers in support_shapes.py (shape functions)."""
from __future__ import annotations

import numpy as np  # noqa: F401
from numba.extending import overload  # noqa: F401

from . import support_shapes  # noqa: F401
