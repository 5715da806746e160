"""Helpers that generated code calls for shape functions, where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_shapes.py overloads the same names."""
from __future__ import annotations

import numpy as np  # noqa: F401

__all__: list[str] = []
