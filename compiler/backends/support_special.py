"""Helpers that generated code calls for special functions, where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_special.py overloads the same names."""
from __future__ import annotations

import numpy as np  # noqa: F401

__all__: list[str] = []
