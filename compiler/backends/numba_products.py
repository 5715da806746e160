"""Numba versions of the helpers in support_products.py (products and matrix helpers)."""
from __future__ import annotations

import numpy as np  # noqa: F401
from numba.extending import overload  # noqa: F401

from . import support_products  # noqa: F401
