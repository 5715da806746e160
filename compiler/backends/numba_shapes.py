"""Numba versions of the helpers in support_shapes.py (shape functions). An axis arrives as a
compile-time constant and the rank is known when an overload is typed, so each overload is the
source of a few slice assignments for that rank and axis, compiled once per signature."""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from . import support_shapes


def _axis(axis, what: str) -> int:
    if isinstance(axis, types.IntegerLiteral):
        return axis.literal_value
    raise TypingError(f"{what}: the axis must be a constant")


def _compile(src: str, name: str = "impl"):
    ns = {"np": np, "__name__": __name__}   # so cached machine code can find its module again
    exec(src, ns)
    return ns[name]


def _index(nd: int, axis: int, part: str) -> str:
    """An index that is `part` along the axis and `:` along the others."""
    return ", ".join(part if k == axis else ":" for k in range(nd))


def _shape(nd: int, axis: int, length: str, source: str = "x") -> str:
    return "(" + "".join((length if k == axis else f"{source}.shape[{k}]") + ", " for k in range(nd)) + ")"


@overload(support_shapes.roll_along)
def _ol_roll_along(x, shift, axis):
    a, nd = _axis(axis, "roll_along"), x.ndim
    return _compile(f"""
def impl(x, shift, axis):
    n = x.shape[{a}]
    out = np.empty(x.shape, x.dtype)
    if n == 0:
        return out
    s = shift % n
    out[{_index(nd, a, "s:")}] = x[{_index(nd, a, ":n - s")}]
    out[{_index(nd, a, ":s")}] = x[{_index(nd, a, "n - s:")}]
    return out
""")


def _blocks(nd: int, body: str) -> list:
    """Loops over the block (j0, j1, ...) of every axis, running `body` in the innermost one."""
    lines, ind = [], "    "
    for k in range(nd):
        lines.append(f"{ind}for j{k} in range(reps[{k}]):")
        ind += "    "
    return lines + [ind + body]


def _block_index(nd: int) -> str:
    return ", ".join(f"j{k} * n{k}:(j{k} + 1) * n{k}" for k in range(nd))


@overload(support_shapes.tile_blocks)
def _ol_tile_blocks(x, reps):
    nd = x.ndim
    sizes = [f"    n{k} = x.shape[{k}]" for k in range(nd)]
    shape = "(" + "".join(f"n{k} * reps[{k}], " for k in range(nd)) + ")"
    lines = ["def impl(x, reps):", *sizes, f"    out = np.empty({shape}, x.dtype)",
             *_blocks(nd, f"out[{_block_index(nd)}] = x"), "    return out"]
    return _compile("\n".join(lines))


@overload(support_shapes.sum_tiles)
def _ol_sum_tiles(g, like, reps):
    nd = like.ndim
    sizes = [f"    n{k} = like.shape[{k}]" for k in range(nd)]
    lines = ["def impl(g, like, reps):", *sizes, "    out = np.zeros(like.shape)",
             *_blocks(nd, f"out += g[{_block_index(nd)}]"), "    return out"]
    return _compile("\n".join(lines))


@overload(support_shapes.repeat_along)
def _ol_repeat_along(x, count, axis):
    a, nd = _axis(axis, "repeat_along"), x.ndim
    return _compile(f"""
def impl(x, count, axis):
    out = np.empty({_shape(nd, a, f"x.shape[{a}] * count")}, x.dtype)
    for j in range(count):
        out[{_index(nd, a, "j::count")}] = x
    return out
""")


@overload(support_shapes.sum_repeats)
def _ol_sum_repeats(g, like, count, axis):
    a, nd = _axis(axis, "sum_repeats"), g.ndim
    return _compile(f"""
def impl(g, like, count, axis):
    out = np.zeros(like.shape)
    for j in range(count):
        out += g[{_index(nd, a, "j::count")}]
    return out
""")


@overload(support_shapes.split_length)
def _ol_split_length(n, sections):
    def impl(n, sections):
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        if n % sections:
            raise ValueError("array split does not result in an equal division")
        return n // sections
    return impl


@overload(support_shapes.sample_count)
def _ol_sample_count(num):
    def impl(num):
        if num < 0:
            raise ValueError("Number of samples must be non-negative.")
        return num
    return impl
