"""Numba versions of the helpers in support_indexing.py (indexing (masks, lists of indices, mixed indices))."""
from __future__ import annotations

import numpy as np  # noqa: F401
from numba.extending import overload  # noqa: F401

from . import support_indexing  # noqa: F401
