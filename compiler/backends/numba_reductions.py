"""Numba versions of the helpers in support_reductions.py (reductions, sorting and selection).

Axis arguments arrive as compile-time constants, so each overload writes the loop nest for the
array's rank and that axis (as numba_support does)."""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from . import support_reductions as support


def _literal_axis(axis, what: str) -> int:
    """The axis of an overload's call; a TypingError asks Numba to retry with literal types."""
    if isinstance(axis, types.IntegerLiteral):
        return axis.literal_value
    raise TypingError(f"{what}: the axis must be a constant")


def _compile(src: str, name: str, extra: dict | None = None):
    ns = {"np": np, "__name__": __name__}    # so cached machine code can find its module again
    ns.update(extra or {})
    exec(src, ns)
    return ns[name]


def _lane_loops(nd: int, axis: int, shape: str = "x.shape") -> tuple[list, str]:
    """`for` lines over every axis but `axis`, and the index text of the lane they select
    (`i0, :, i2`); the caller indents its lines by the depth returned as len(lines)."""
    lines = [f"{'    ' * (d + 1)}for i{k} in range({shape}[{k}]):"
             for d, k in enumerate(k for k in range(nd) if k != axis)]
    lane = ", ".join(":" if k == axis else f"i{k}" for k in range(nd))
    return lines, lane


@overload(support.cumprod)
def _ol_cumprod(x, axis):
    a = _literal_axis(axis, "cumprod")
    dtype = np.float64 if isinstance(x.dtype, types.Float) else np.int64
    loops, _ = _lane_loops(x.ndim, a)
    ind = "    " * (len(loops) + 1)
    at = ", ".join("j" if k == a else f"i{k}" for k in range(x.ndim))
    src = "\n".join(["def impl(x, axis):", "    out = np.empty(x.shape, dtype)", *loops,
                     f"{ind}acc = dtype(1)", f"{ind}for j in range(x.shape[{a}]):",
                     f"{ind}    acc = acc * x[{at}]", f"{ind}    out[{at}] = acc", "    return out"])
    return _compile(src, "impl", {"dtype": dtype})


def _argsort_source(nd: int, axis: int, head: str, check: str = "") -> str:
    loops, lane = _lane_loops(nd, axis)
    ind = "    " * (len(loops) + 1)
    lines = [head]
    if check:
        lines.append(check)
    lines += ["    out = np.empty(x.shape, np.int64)", *loops,
              f"{ind}out[{lane}] = np.argsort(x[{lane}], kind='mergesort')", "    return out"]
    return "\n".join(lines)


@overload(support.stable_argsort)
def _ol_stable_argsort(x, axis):
    a = _literal_axis(axis, "stable_argsort")
    return _compile(_argsort_source(x.ndim, a, "def impl(x, axis):"), "impl")


@overload(support.stable_argpartition)
def _ol_stable_argpartition(x, kth, axis):
    a = _literal_axis(axis, "stable_argpartition")
    check = (f"    n = x.shape[{a}]\n    for k in kth:\n        if k >= n or k < -n:\n"
             "            raise ValueError('kth out of bounds')")
    return _compile(_argsort_source(x.ndim, a, "def impl(x, kth, axis):", check), "impl")


@overload(support.along_axis_add)
def _ol_along_axis_add(z, idx, g, axis):
    # An overload is compiled without the caller's boundscheck, so it checks its indices itself.
    a = _literal_axis(axis, "along_axis_add")
    nd = z.ndim
    lines = ["def impl(z, idx, g, axis):", "    out = np.ascontiguousarray(z).astype(np.float64)",
             f"    n = out.shape[{a}]"]
    for k in range(nd):     # a step of 1 along axes where idx (or out) has its own length, else 0
        lines.append(f"    si{k} = 0 if idx.shape[{k}] == 1 else 1")
        if k != a:
            lines.append(f"    so{k} = 0 if out.shape[{k}] == 1 else 1")
    lines += [f"{'    ' * (k + 1)}for i{k} in range(g.shape[{k}]):" for k in range(nd)]
    ind = "    " * (nd + 1)
    at_idx = ", ".join(f"i{k} * si{k}" for k in range(nd))
    at_out = ", ".join("k" if k == a else f"i{k} * so{k}" for k in range(nd))
    at_g = ", ".join(f"i{k}" for k in range(nd))
    lines += [f"{ind}k = idx[{at_idx}]",
              f"{ind}if k >= n or k < -n:", f"{ind}    raise IndexError('index out of bounds')",
              f"{ind}if k < 0:", f"{ind}    k += n",
              f"{ind}out[{at_out}] += g[{at_g}]", "    return out"]
    return _compile("\n".join(lines), "impl")


@overload(support.take_add)
def _ol_take_add(z, idx, g, axis):
    def impl(z, idx, g, axis):
        out = np.ascontiguousarray(z).astype(np.float64)
        pre = 1
        for k in range(axis):
            pre *= out.shape[k]
        n = out.shape[axis]
        post = 1
        for k in range(axis + 1, out.ndim):
            post *= out.shape[k]
        flat = idx.ravel()
        m = flat.size
        o3 = out.reshape((pre, n, post))
        g3 = np.ascontiguousarray(g).reshape((pre, m, post))
        for j in range(m):
            k = flat[j]
            if k >= n or k < -n:
                raise IndexError("index out of bounds")
            if k < 0:
                k += n
            for p in range(pre):
                for q in range(post):
                    o3[p, k, q] += g3[p, j, q]
        return out
    return impl
