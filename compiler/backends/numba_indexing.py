"""Numba versions of the helpers in support_indexing.py (indexing (masks, lists of indices, mixed indices))."""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from . import support_indexing


@overload(support_indexing.add_at)
def _ol_add_at(z, pos, g):
    # Positions come from np.arange(x.size) indexed like x, so they are in range: no check here.
    if isinstance(g, types.Array):
        def impl(z, pos, g):
            out = z.astype(np.float64)
            flat_out = out.reshape(out.size)
            flat = np.ascontiguousarray(pos).reshape(pos.size)
            values = np.ascontiguousarray(g).reshape(g.size)
            for k in range(flat.size):
                flat_out[flat[k]] += values[k]
            return out
        return impl

    def impl_number(z, pos, g):
        out = z.astype(np.float64)
        flat_out = out.reshape(out.size)
        flat = np.ascontiguousarray(pos).reshape(pos.size)
        for k in range(flat.size):
            flat_out[flat[k]] += g
        return out
    return impl_number


@overload(support_indexing.mask_nonzero)
def _ol_mask_nonzero(mask, x, axis):
    def impl(mask, x, axis):
        for k in range(mask.ndim):
            if x.shape[axis + k] != mask.shape[k]:
                raise IndexError("boolean index did not match indexed array")
        return np.nonzero(mask)
    return impl


@overload(support_indexing.last_written)
def _ol_last_written(pos, x):
    def impl(pos, x):
        flat = np.ascontiguousarray(pos).reshape(pos.size)
        latest = np.full(x.size, -1)
        for k in range(flat.size):
            latest[flat[k]] = k
        out = np.empty(flat.size, dtype=np.bool_)
        for k in range(flat.size):
            out[k] = latest[flat[k]] == k
        return out.reshape(pos.shape)
    return impl
