"""Helpers that generated code calls for indexing (masks, lists of indices, mixed indices), where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_indexing.py overloads the same names."""
from __future__ import annotations

import numpy as np  # noqa: F401

__all__: list[str] = []
