"""Numba versions of the helpers in support_lists.py (lists used as stacks). The plain versions
compile as they are, except making room, whose new shape Numba builds differently for number and
array items."""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload, register_jitable

from . import support_lists

for _helper in (support_lists.list_head, support_lists.list_pad, support_lists.list_index,
                support_lists.list_top):
    register_jitable(_helper)


@overload(support_lists.list_room)
def _ol_list_room(items, count, item):
    if isinstance(item, types.Array):
        def impl(items, count, item):
            n = items.shape[0]
            if count < n:
                return items
            out = np.zeros((max(2 * n, 8),) + item.shape, dtype=items.dtype)
            if n:
                out[:n] = items
            return out
        return impl

    def impl_number(items, count, item):
        n = items.shape[0]
        if count < n:
            return items
        out = np.zeros(max(2 * n, 8), dtype=items.dtype)
        if n:
            out[:n] = items
        return out
    return impl_number
