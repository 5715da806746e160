"""Array constructors and *_like helpers: their derivative is zero. The adjoint-side helpers
(unbroadcast) live here too: they are how adjoints are reduced back over broadcast axes."""
from __future__ import annotations

from ..ir.types import Type, TupleType, FLOAT, INT, BOOL
from .hand import prim, tup
from .table import TypeRuleError

DTYPES = {FLOAT: "np.float64", INT: "np.int64", BOOL: "np.bool_"}


def _dims_type(kind_param="dtype", fill_arg=False):
    def infer(types, params):
        dims = types[:-1] if fill_arg else types
        for t in dims:
            if not (t.rank == 0 and t.kind == INT):
                raise TypeRuleError("array sizes must be integers", hint="write np.zeros((n, m)) with ints")
        return Type(params.get(kind_param) or FLOAT, len(dims))
    return infer


def _dims_emit(fn):
    def emit(a, p, t):
        dtype = p.get("dtype")
        suffix = f", dtype={DTYPES[dtype]}" if dtype and dtype != FLOAT else ""
        return f"np.{fn}({tup(a)}{suffix})"
    return emit


for _fn in ("zeros", "ones", "empty"):
    prim(_fn, _dims_type(), _dims_emit(_fn), differentiable=False)


def _full_type(types, params):
    fill = types[-1]
    dims = _dims_type(fill_arg=True)(types, params)
    return Type(params.get("dtype") or (FLOAT if fill.kind == FLOAT else fill.kind), dims.rank)


def _fill_vjp(b, g, out, args, active, params):
    """Every element is the fill value: its adjoint is the sum of the output's."""
    return [None] * (len(args) - 1) + [b.call("sum", g) if active[-1] else None]


prim("full", _full_type, lambda a, p, t: f"np.full({tup(a[:-1])}, {a[-1]})",
     jvp=lambda b, out, args, tg, p: b.call("full", *args[:-1], tg[-1], **p) if tg[-1] is not None else None,
     vjp=_fill_vjp)


def _like_type(types, params):
    t = types[0]
    if isinstance(t, TupleType):          # a recorded shape (the adjoint sweep's zeros of that shape)
        return Type(params.get("dtype") or FLOAT, len(t.elts))
    return Type(params.get("dtype") or t.kind, t.rank)


def _like_emit(fn):
    def emit(a, p, t):
        if isinstance(t[0], TupleType):
            return f"np.{fn.removesuffix('_like')}({a[0]})"
        return f"np.{fn}({a[0]})" if t[0].rank else ("0.0" if fn == "zeros_like" else "1.0")
    return emit


for _fn in ("zeros_like", "ones_like", "empty_like"):
    prim(_fn, _like_type, _like_emit(_fn), differentiable=False)
prim("full_like", _like_type, lambda a, p, t: f"np.full({a[0]}, {a[1]})" if isinstance(t[0], TupleType)
     else f"np.full_like({a[0]}, {a[1]})",
     jvp=lambda b, out, args, tg, p: b.call("full_like", args[0], tg[1]) if tg[1] is not None else None,
     vjp=_fill_vjp)
prim("eye", lambda types, p: Type(FLOAT, 2), lambda a, p, t: f"np.eye({', '.join(a)})", differentiable=False)


def _arange_type(types, params):
    kinds = [t.kind for t in types]
    return Type(FLOAT if FLOAT in kinds else INT, 1)


def _arange_vjp(b, g, out, args, active, params):
    """arange(start, stop, step)[i] = start + i * step; the stop only sets the length."""
    if len(args) == 1:
        return [None]
    d_start = b.call("sum", g) if active[0] else None
    d_step = b.call("sum", g * b.call("arange", b.call("size", out))) if len(args) == 3 and active[2] else None
    return [d_start, None, d_step][:len(args)]


def _arange_jvp(b, out, args, tangents, params):
    parts = []
    if len(args) > 1 and tangents[0] is not None:
        parts.append(b.call("ones_like", out) * tangents[0])
    if len(args) == 3 and tangents[2] is not None:
        parts.append(b.call("arange", b.call("size", out)) * tangents[2])
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


prim("arange", _arange_type, lambda a, p, t: f"np.arange({', '.join(a)})", jvp=_arange_jvp, vjp=_arange_vjp)


def _literal_type(types, params):
    value = params["value"]
    rank, v = 0, value
    while isinstance(v, tuple):
        rank += 1
        v = v[0] if v else 0.0
    flat = list(_flatten(value))
    kind = FLOAT if any(isinstance(x, float) for x in flat) or params.get("dtype") == FLOAT else (
        BOOL if flat and all(isinstance(x, bool) for x in flat) else INT)
    return Type(params.get("dtype") or kind, rank)


def _flatten(v):
    if isinstance(v, tuple):
        for x in v:
            yield from _flatten(x)
    else:
        yield v


def _literal_text(v):
    if isinstance(v, tuple):
        return "[" + ", ".join(_literal_text(x) for x in v) + "]"
    return repr(v)


def _literal_emit(a, p, t):
    dtype = p.get("dtype")
    v = p["value"]
    if dtype == FLOAT:
        v = _floats(v)
    return f"np.array({_literal_text(v)})"


def _floats(v):
    return tuple(_floats(x) for x in v) if isinstance(v, tuple) else float(v)


prim("array_literal", _literal_type, _literal_emit, differentiable=False)


# --- adjoint helpers ---
def _unbroadcast_type(types, params):
    like = types[1]                       # the operand, or its recorded shape
    return Type(FLOAT, len(like.elts) if isinstance(like, TupleType) else like.rank)


prim("unbroadcast", _unbroadcast_type, "unbroadcast({0}, {1})",
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("unbroadcast", tg[0], args[1]),
     vjp=lambda b, g, out, args, active, p: [b.call("zeros_like", args[0]) + g, None],
     doc="sum an adjoint over the axes along which its operand was broadcast")


# --- loops ---
prim("trip_count", lambda types, p: Type(INT, 0), "len(range({0}, {1}, {2}))", differentiable=False,
     doc="how many trips range(start, stop, step) makes; the reverse sweep runs them backwards")


# --- vector forward mode (transforms/directions.py) ---
def _stacked_type(types, params):
    like = types[1]
    return Type(FLOAT, like.rank + 1)


def _stacked_emit(fn):
    def emit(a, p, t):
        return f"np.{fn}(({a[0]},) + {a[1]}.shape)" if t[1].rank else f"np.{fn}({a[0]})"
    return emit


prim("stacked_empty", _stacked_type, _stacked_emit("empty"), differentiable=False,
     doc="room for one tangent per direction: shape (directions,) + the value's shape")
prim("stacked_zeros", _stacked_type, _stacked_emit("zeros"), differentiable=False,
     doc="a zero tangent in every direction: shape (directions,) + the value's shape")
