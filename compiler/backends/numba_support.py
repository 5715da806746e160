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
    lane_expr_all = njit(error_model="numpy")(_compile(f"def f(x):\n    return {lane_expr.replace('lane', 'x')}", "f"))
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
    if isinstance(like, types.UniTuple) and isinstance(like.dtype, types.Integer):   # a recorded shape
        lead_of_shape = g.ndim - like.count
        if lead_of_shape == 0 and g.layout == "C" and g.dtype == types.float64:
            def impl_shape(g, like):
                if g.shape == like:
                    return g
                return _sum_into(g, np.zeros(like), 0)
            return impl_shape
        return lambda g, like: _sum_into(g, np.zeros(like), lead_of_shape)
    if not isinstance(like, types.Array):
        return lambda g, like: np.sum(g)
    lead = g.ndim - like.ndim
    same_rank = lead == 0
    # A C-contiguous float64 adjoint of the right shape is handed back as it is (no copy): the
    # reverse transform copies an adjoint before it updates one in place (_Reverser.own).
    as_is = same_rank and g.layout == "C" and g.dtype == types.float64

    def impl(g, like):
        if same_rank and g.shape == like.shape:
            if as_is:
                return g
            return np.ascontiguousarray(g).astype(np.float64)
        return _sum_into(g, np.zeros(like.shape), lead)
    return impl


@register_jitable
def _sum_into(g, out, lead):
    """Add g into out, summing over g's leading axes and the axes where out has length 1: one pass
    over g in memory order, an odometer over the outer axes (no division per element)."""
    flat_out = out.reshape(out.size)
    gc = np.ascontiguousarray(g)
    flat_g = gc.reshape(gc.size)
    nd = gc.ndim
    if flat_g.size == 0:
        return out
    ostride = np.zeros(nd, np.int64)    # where a step along each axis of g moves in out (0: summed)
    step = 1
    for a in range(nd - 1, -1, -1):
        b = a - lead
        if b >= 0:
            n = out.shape[b]
            if n != 1:
                ostride[a] = step
            step *= n
    inner = gc.shape[nd - 1]
    istride = ostride[nd - 1]
    counter = np.zeros(nd, np.int64)
    pos = 0
    for k0 in range(0, flat_g.size, inner):
        if istride == 0:
            acc = 0.0
            for j in range(inner):
                acc += flat_g[k0 + j]
            flat_out[pos] += acc
        else:
            for j in range(inner):
                flat_out[pos + j * istride] += flat_g[k0 + j]
        a = nd - 2
        while a >= 0:
            counter[a] += 1
            pos += ostride[a]
            if counter[a] < gc.shape[a]:
                break
            pos -= ostride[a] * gc.shape[a]
            counter[a] = 0
            a -= 1
    return out


@overload(support.index_add)
def _ol_index_add(z, idx, g):
    # An overload is compiled without the caller's boundscheck, so it checks its indices itself
    # (as np.add.at does in Python): one comparison per row added.
    def impl(z, idx, g):
        out = z.copy()
        flat = idx.ravel()
        gg = np.ascontiguousarray(g).reshape((flat.size,) + out.shape[1:])
        n = out.shape[0]
        for k in range(flat.size):
            if flat[k] >= n or flat[k] < -n:
                raise IndexError("index out of bounds in an integer-array index")
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


# the Numba versions of each NumPy area's helpers
from . import numba_reductions, numba_shapes, numba_products, numba_linalg, numba_special, numba_indexing, numba_lists  # noqa: E402,F401
from . import numba_checkpoint  # noqa: E402,F401
