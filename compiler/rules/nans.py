"""Elementwise primitives that treat NaN and infinities specially, with hand-written rules: fmax and
fmin (maximum and minimum that ignore a NaN operand) and nan_to_num.

fmax/fmin ties follow maximum/minimum (select.py): between two active operands the tie is split 1/2
and 1/2; an inactive operand (a constant) absorbs it. Where one operand is NaN the result is the
other one, and so is the derivative. nan_to_num passes the derivative through where x is finite and
sends it to the replacement value where x is NaN, +inf or -inf."""
from __future__ import annotations

import math

from ..ir.types import Type, FLOAT
from .hand import prim
from .elementwise import ARITH
from .table import TypeRuleError


def _weights(b, a, c, active, better):
    """The share of the adjoint each operand gets: the one that wins, or the one that is not NaN."""
    def wins(u, v):
        return b.call("logical_or", better(u, v), b.call("isnan", v))
    if active[0] and active[1]:
        w_a = wins(a, c) + 0.5 * a.eq(c)
        return w_a, 1.0 - w_a
    if active[0]:
        return wins(a, c), None
    return None, wins(c, a)


def _nan_extremum(name, better):
    def vjp(b, g, out, args, active, params):
        w_a, w_c = _weights(b, args[0], args[1], active, better)
        return [g * w_a if w_a is not None else None, g * w_c if w_c is not None else None]

    def jvp(b, out, args, tangents, params):
        w_a, w_c = _weights(b, args[0], args[1], [t is not None for t in tangents], better)
        parts = [w * t for w, t in zip((w_a, w_c), tangents) if w is not None]
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]

    prim(name, ARITH, f"np.{name}({{0}}, {{1}})", jvp, vjp, broadcasting=True,
         doc=f"{name}: NaN-ignoring {'maximum' if name == 'fmax' else 'minimum'}")


_nan_extremum("fmax", lambda a, c: a > c)
_nan_extremum("fmin", lambda a, c: a < c)


def _nan_to_num_type(types, params):
    x = types[0]
    if not isinstance(x, Type) or any(not isinstance(t, Type) or t.rank for t in types[1:]):
        raise TypeRuleError("nan_to_num takes an array and numbers for nan, posinf and neginf")
    return Type(FLOAT, x.rank)


def _nan_to_num_masks(b, x):
    """Where the derivative goes: to x where it is finite, else to the value that replaced it."""
    return [b.call("isfinite", x), b.call("isnan", x), x.eq(math.inf), x.eq(-math.inf)]


def _nan_to_num_jvp(b, out, args, tangents, params):
    masks = _nan_to_num_masks(b, args[0])
    parts = [b.call("where", m, t, 0.0) for m, t in zip(masks, tangents) if t is not None]
    acc = parts[0]
    for p in parts[1:]:
        acc = acc + p
    return acc


def _nan_to_num_vjp(b, g, out, args, active, params):
    masks = _nan_to_num_masks(b, args[0])
    return [b.call("where", m, g, 0.0) if act else None for m, act in zip(masks, active)]


_DEFAULTS = (("nan", 0.0), ("posinf", 1.7976931348623157e308), ("neginf", -1.7976931348623157e308))


def _is_number(text: str, value: float) -> bool:
    try:
        return float(text.strip("()")) == value
    except ValueError:
        return False


def _nan_to_num_emit(a, p, t):
    """np.nan_to_num with the keywords that differ from NumPy's defaults (0 and the largest floats)."""
    keys = [f"{k}={v}" for (k, default), v in zip(_DEFAULTS, a[1:]) if not _is_number(v, default)]
    return f"np.nan_to_num({', '.join([a[0], *keys])})"


prim("nan_to_num", _nan_to_num_type, _nan_to_num_emit,
     _nan_to_num_jvp, _nan_to_num_vjp, broadcasting=True,
     doc="nan_to_num(x, nan, posinf, neginf): derivative 1 where x is finite, 0 where replaced")
