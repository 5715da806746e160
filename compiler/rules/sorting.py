"""Sorting and selection: argsort, argpartition, take_along_axis, take, searchsorted.

np.sort and np.partition lower to an argsort and a gather (take_along_axis), so their derivative
flows through the permutation: the adjoint scatters back to where each element came from
(along_axis_add). The sort is stable: among equal elements, the one that comes first in the input
goes first in the output and takes that output's derivative. Indices have no derivative."""
from __future__ import annotations

from ..ir.types import Type, INT, FLOAT
from .hand import prim, need_array, check_axis
from .table import TypeRuleError, register_helpers

register_helpers("stable_argsort", "stable_argpartition", "along_axis_add", "take_add")


def _indices(t, what: str):
    if not isinstance(t, Type) or t.kind != INT:
        raise TypeRuleError(f"{what} needs integer indices, got {t}")
    return t


def _order_type(types, params):
    t = need_array(types[0], "argsort")
    check_axis(params["axis"], t.rank, "argsort")
    return Type(INT, t.rank)


prim("argsort", _order_type, "stable_argsort({0}, {axis})", differentiable=False,
     doc="indices of a stable sort along the axis (equal elements keep their order)")
prim("argpartition", _order_type, lambda a, p, t: f"stable_argpartition({a[0]}, {p['kth']}, {p['axis']})",
     differentiable=False,
     doc="indices that partition along the axis at each kth: those of a stable sort, after checking kth")


# --- gathers along an axis and their adjoints (scatters that add) ---
def _along_type(types, params):
    x, idx = types
    need_array(x, "take_along_axis")
    _indices(idx, "take_along_axis")
    if idx.rank != x.rank:
        raise TypeRuleError(f"take_along_axis needs indices of the array's rank {x.rank}, got rank {idx.rank}",
                            hint="add axes of length 1, e.g. np.expand_dims(i, axis)")
    check_axis(params["axis"], x.rank, "take_along_axis")
    return Type(x.kind, x.rank)


def _zeros_or(b, t, like):
    return t if t is not None else b.call("zeros_like", like)


def _gather(name: str, add: str, infer, emit: str, what: str) -> None:
    """A gather (`name`: x at the indices along an axis) and its adjoint `add`, which adds values
    into x's shape at those indices (repeated indices add up); each is the other's transpose."""
    prim(name, infer, emit,
         jvp=lambda b, out, args, tg, p: b.call(name, tg[0], args[1], **p),
         vjp=lambda b, g, out, args, active, p: [b.call(add, b.call("zeros_like", args[0]), args[1], g, **p), None])
    prim(add, lambda types, p: Type(FLOAT, types[0].rank), f"{add}({{0}}, {{1}}, {{2}}, {{axis}})",
         jvp=lambda b, out, args, tg, p: b.call(add, _zeros_or(b, tg[0], args[0]), args[1],
                                                _zeros_or(b, tg[2], args[2]), **p),
         vjp=lambda b, g, out, args, active, p: [g, None, b.call(name, g, args[1], **p)],
         doc=f"adds {what} of the third argument into the first at the indices of the second along "
             f"the axis (repeated indices add up): the adjoint of {name}")


_gather("take_along_axis", "along_axis_add", _along_type, "np.take_along_axis({0}, {1}, {axis})", "the elements")


def _take_type(types, params):
    x, idx = types
    need_array(x, "take", min_rank=2)
    _indices(idx, "take")
    if idx.rank != 1:
        raise TypeRuleError("take along an axis is lowered with indices of rank 1")
    check_axis(params["axis"], x.rank, "take")
    return Type(x.kind, x.rank)


_gather("take", "take_add", _take_type, "np.take({0}, {1}, axis={axis})", "the rows (indices of rank 1)")


# --- searching ---
def _searchsorted_type(types, params):
    a, v = types
    need_array(a, "searchsorted", 1, 1)
    if params.get("side", "left") not in ("left", "right"):
        raise TypeRuleError(f"searchsorted: side must be 'left' or 'right', got {params['side']!r}")
    return Type(INT, v.rank)


def _searchsorted_emit(a, p, t):
    side = p.get("side", "left")
    return f"np.searchsorted({a[0]}, {a[1]})" if side == "left" else \
        f'np.searchsorted({a[0]}, {a[1]}, side="{side}")'


prim("searchsorted", _searchsorted_type, _searchsorted_emit, differentiable=False,
     doc="where each value would go in a sorted vector: an integer, no derivative")
