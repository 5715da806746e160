"""maximum, minimum, where, clip and casts: piecewise-linear primitives with hand-written rules.

Ties: a constant absorbs the tie, so relu written as maximum(x, 0.0) or maximum(0.0, x) has
derivative 0 at 0; between two active operands the tie is split 1/2 and 1/2, so maximum(x, x)
still has derivative 1."""
from __future__ import annotations

from ..ir.types import Type, BOOL, FLOAT, INT, promote
from .hand import prim, first_type
from .elementwise import ARITH


def _weights(b, a, c, active, better):
    """The share of the adjoint each operand of max/min gets."""
    wins = better(a, c)
    if active[0] and active[1]:
        w_a = wins + 0.5 * a.eq(c)
        return w_a, 1.0 - w_a
    if active[0]:
        return wins, None
    return None, better(c, a)


def _extremum(name, scalar_fn, better):
    def vjp(b, g, out, args, active, params):
        w_a, w_b = _weights(b, args[0], args[1], active, better)
        return [g * w_a if w_a is not None else None, g * w_b if w_b is not None else None]

    def jvp(b, out, args, tangents, params):
        active = [t is not None for t in tangents]
        w_a, w_b = _weights(b, args[0], args[1], active, better)
        parts = [w * t for w, t in zip((w_a, w_b), tangents) if w is not None]
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]

    def emit(a, p, t):
        if t[0].rank == 0 and t[1].rank == 0:
            return f"{scalar_fn}({a[0]}, {a[1]})"
        return f"np.{name}({a[0]}, {a[1]})"

    prim(name, ARITH, emit, jvp, vjp, broadcasting=True)


_extremum("maximum", "max", lambda a, c: a > c)
_extremum("minimum", "min", lambda a, c: a < c)


def _where_emit(a, p, t):
    if all(x.rank == 0 for x in t):
        return f"{a[1]} if {a[0]} else {a[2]}"
    return f"np.where({a[0]}, {a[1]}, {a[2]})"


def _where_type(types, params):
    return Type(promote(types[1].kind, types[2].kind), max(t.rank for t in types))


prim("where", _where_type, _where_emit,
     jvp=lambda b, out, args, tg, params: _where_jvp(b, args, tg),
     vjp=lambda b, g, out, args, active, params: [
         None,
         b.call("where", args[0], g, 0.0) if active[1] else None,
         b.call("where", args[0], 0.0, g) if active[2] else None],
     broadcasting=True)


def _where_jvp(b, args, tangents):
    t1 = tangents[1] if tangents[1] is not None else 0.0
    t2 = tangents[2] if tangents[2] is not None else 0.0
    return b.call("where", args[0], t1, t2)


def _clip_type(types, params):
    return Type(promote(*[t.kind for t in types]), max(t.rank for t in types))


def _clip_masks(b, x, lo, hi, active):
    """Inside the interval the derivative goes to x; on or past a bound, to that bound."""
    m_x = None
    if active[0]:
        parts = []
        if not (lo.is_const and lo.const_value() is None):
            parts.append(x > lo)
        if not (hi.is_const and hi.const_value() is None):
            parts.append(x < hi)
        m_x = parts[0] if len(parts) == 1 else b.call("logical_and", *parts)
    m_lo = (x <= lo) if active[1] else None
    m_hi = (x >= hi) if active[2] else None
    return m_x, m_lo, m_hi


def _clip_emit(a, p, t):
    if any(x.rank for x in t):
        return f"np.clip({a[0]}, {a[1]}, {a[2]})"
    out = a[0]     # numbers (Numba's np.clip takes arrays only): np.clip's max, then min
    if a[1] != "None":
        out = f"max({out}, {a[1]})"
    if a[2] != "None":
        out = f"min({out}, {a[2]})"
    return out


prim("clip", _clip_type, _clip_emit,
     jvp=lambda b, out, args, tg, params: _clip_jvp(b, args, tg),
     vjp=lambda b, g, out, args, active, params: [
         None if m is None else g * m for m in _clip_masks(b, *args, active)],
     broadcasting=True)


def _clip_jvp(b, args, tangents):
    masks = _clip_masks(b, *args, [t is not None for t in tangents])
    parts = [m * t for m, t in zip(masks, tangents) if t is not None]
    acc = parts[0]
    for p in parts[1:]:
        acc = acc + p
    return acc


# --- copies and casts ---
prim("alias", first_type, "{0}", jvp=lambda b, out, args, tg, p: tg[0],
     vjp=lambda b, g, out, args, active, p: [g])
prim("copy", first_type, lambda a, p, t: f"{a[0]}.copy()" if t[0].rank else a[0],
     jvp=lambda b, out, args, tg, p: b.call("copy", tg[0]), vjp=lambda b, g, out, args, active, p: [g])
prim("float", lambda types, p: Type(FLOAT, 0), "float({0})",
     jvp=lambda b, out, args, tg, p: tg[0], vjp=lambda b, g, out, args, active, p: [g])
prim("int", lambda types, p: Type(INT, 0), "int({0})", differentiable=False)
prim("bool", lambda types, p: Type(BOOL, 0), "bool({0})", differentiable=False)
