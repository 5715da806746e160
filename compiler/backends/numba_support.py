"""Numba versions of the helpers in support.py. Axis arguments arrive as compile-time constants,
so each overload generates a loop nest for the array's rank and that axis."""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import support


def _literal_axis(axis, what):
    if isinstance(axis, types.IntegerLiteral):
        return axis.literal_value
    if isinstance(axis, (types.NoneType, types.Omitted)) or axis is None:
        return None
    raise TypingError(f"{what}: the axis must be a constant")


def _lane_code(name, nd, axis, body_lines, out_rank_same):
    """Source of impl(x, axis) looping over every index but `axis` and handing the 1-D lane
    x[..., :, ...] to `body_lines` (which read `lane` and write `out[...]`)."""
    others = [k for k in range(nd) if k != axis]
    lane = ", ".join(":" if k == axis else f"i{k}" for k in range(nd))
    outidx = ", ".join(f"i{k}" for k in others)
    if out_rank_same:
        shape = "x.shape"
    else:
        shape = "(" + "".join(f"x.shape[{k}], " for k in others) + ")"
    lines = [f"def {name}(x, axis):", f"    out = np.empty({shape})"]
    ind = "    "
    for k in others:
        lines.append(f"{ind}for i{k} in range(x.shape[{k}]):")
        ind += "    "
    lines.append(f"{ind}lane = x[{lane}]")
    for b in body_lines:
        lines.append(ind + b.format(out=f"out[{outidx}]" if not out_rank_same else f"out[{lane}]"))
    lines.append("    return out")
    return "\n".join(lines)


def _compile(src, name, extra=None):
    ns = {"np": np, "__name__": __name__}   # so cached machine code can find its module again
    ns.update(extra or {})
    exec(src, ns)
    return ns[name]


def _reduction(fn, lane_expr):
    @overload(fn)
    def ol(x, axis):
        a = _literal_axis(axis, fn.__name__)
        if a is None or x.ndim == 1:
            return lambda x, axis: lane_expr_all(x)
        return _compile(_lane_code("impl", x.ndim, a, [f"{{out}} = {lane_expr}"], False), "impl")
    lane_expr_all = njit(_compile(f"def f(x):\n    return {lane_expr.replace('lane', 'x')}", "f"))
    return ol


_reduction(support.mean, "np.mean(lane)")
_reduction(support.amax, "np.max(lane)")
_reduction(support.amin, "np.min(lane)")
_reduction(support.prod, "np.prod(lane)")

_prod_others_1d = register_jitable(support._prod_others_1d)


@overload(support.prod_others)
def _ol_prod_others(x, axis=None):
    a = _literal_axis(axis, "prod_others")
    if a is None or x.ndim == 1:
        def impl(x, axis=None):
            flat = np.ascontiguousarray(x).ravel().astype(np.float64)
            return _prod_others_1d(flat).reshape(x.shape)
        return impl
    src = _lane_code("impl", x.ndim, a, ["{out} = _prod_others_1d(lane.astype(np.float64))"], True)
    return _compile(src.replace("def impl(x, axis):", "def impl(x, axis=None):"), "impl",
                    {"_prod_others_1d": _prod_others_1d})


@overload(support.squeeze)
def _ol_squeeze(x, axis):
    a = _literal_axis(axis, "squeeze")
    shape = "(" + "".join(f"x.shape[{k}], " for k in range(x.ndim) if k != a) + ")"
    return _compile(f"def impl(x, axis):\n    return np.ascontiguousarray(x).reshape({shape})", "impl")


@overload(support.unbroadcast)
def _ol_unbroadcast(g, like):
    if not isinstance(like, types.Array):
        return lambda g, like: np.sum(g)
    lead = g.ndim - like.ndim
    same_rank = lead == 0

    def impl(g, like):
        if same_rank and g.shape == like.shape:
            return np.ascontiguousarray(g).astype(np.float64)
        out = np.zeros(like.shape)
        flat_out = out.reshape(out.size)
        gc = np.ascontiguousarray(g)
        flat_g = gc.reshape(gc.size)
        for k in range(flat_g.size):
            rem = k
            pos = 0
            stride = 1
            for a in range(g.ndim - 1, -1, -1):
                i = rem % g.shape[a]
                rem //= g.shape[a]
                b = a - lead
                if b >= 0:
                    n = like.shape[b]
                    if n != 1:
                        pos += i * stride
                    stride *= n
            flat_out[pos] += flat_g[k]
        return out
    return impl


@overload(support.index_add)
def _ol_index_add(z, idx, g):
    def impl(z, idx, g):
        out = z.copy()
        flat = idx.ravel()
        gg = np.ascontiguousarray(g).reshape((flat.size,) + out.shape[1:])
        for k in range(flat.size):
            out[flat[k]] += gg[k]
        return out
    return impl


@overload(support.diag_embed_like)
def _ol_diag_embed_like(g, like):
    def impl(g, like):
        out = np.zeros(like.shape)
        for i in range(min(out.shape[0], out.shape[1])):
            out[i, i] = g[i]
        return out
    return impl
