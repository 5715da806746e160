"""Shape primitives: reshape, ravel, concatenate, stack, expand_dims, squeeze, the linear maps that
move or copy elements (roll, tile, repeat, broadcast_to, with the sums that are their adjoints),
casts, and the shape queries (x.shape, len, x.size), which are integers and carry no derivative."""
from __future__ import annotations

from ..ir.types import Type, TupleType, INT, FLOAT, BOOL, promote
from .hand import prim, need_array, check_axis, tup, shape_tuple
from .table import TypeRuleError, register_helpers

register_helpers("roll_along", "tile_blocks", "sum_tiles", "repeat_along", "sum_repeats", "split_length",
                 "sample_count")


def _reshape_type(types, params):
    for t in types[1:]:
        if not (isinstance(t, Type) and t.rank == 0 and t.kind == INT):
            raise TypeRuleError("reshape needs integer sizes", hint="write x.reshape((n, m)) with ints")
    return Type(types[0].kind, len(types) - 1)


def _reshape_like(b, g, x):
    return b.call("reshape_like", g, x)


prim("reshape", _reshape_type, lambda a, p, t: f"{a[0]}.reshape({tup(a[1:])})",
     jvp=lambda b, out, args, tg, p: b.call("reshape", tg[0], *args[1:]),
     vjp=lambda b, g, out, args, active, p: [_reshape_like(b, g, args[0])] + [None] * (len(args) - 1))
prim("reshape_like", lambda types, p: Type(types[0].kind, types[1].rank),
     lambda a, p, t: f"np.ascontiguousarray({a[0]}).reshape({a[1]}.shape)" if t[1].rank else f"{a[0]}.item()" if t[0].rank else a[0],
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("reshape_like", tg[0], args[1]),
     vjp=lambda b, g, out, args, active, p: [b.call("reshape_like", g, args[0]), None])
prim("ravel", lambda types, p: Type(need_array(types[0], "ravel").kind, 1), "{0}.ravel()",
     jvp=lambda b, out, args, tg, p: b.call("ravel", tg[0]),
     vjp=lambda b, g, out, args, active, p: [_reshape_like(b, g, args[0])])


def _expand_type(types, params):
    t = types[0]
    check_axis(params["axis"], t.rank + 1, "expand_dims")
    return Type(t.kind, t.rank + 1)


prim("expand_dims", _expand_type, "np.expand_dims({0}, {axis})",
     jvp=lambda b, out, args, tg, p: b.call("expand_dims", tg[0], **p),
     vjp=lambda b, g, out, args, active, p: [_reshape_like(b, g, args[0])])


def _squeeze_type(types, params):
    t = need_array(types[0], "squeeze")
    check_axis(params["axis"], t.rank, "squeeze")
    return Type(t.kind, t.rank - 1)


prim("squeeze", _squeeze_type, "squeeze({0}, {axis})",
     jvp=lambda b, out, args, tg, p: b.call("squeeze", tg[0], **p),
     vjp=lambda b, g, out, args, active, p: [_reshape_like(b, g, args[0])])


# --- joining arrays ---
def _concat_type(types, params):
    rank = types[0].rank
    for t in types:
        if not isinstance(t, Type) or t.rank != rank or rank == 0:
            raise TypeRuleError("concatenate needs arrays of one rank, got " + ", ".join(map(str, types)))
    check_axis(params["axis"], rank, "concatenate")
    return Type(promote(*[t.kind for t in types]), rank)


def _slice_along(b, g, axis, start, stop):
    pattern = (("slice", True, True, False),)
    pattern = (("slice", False, False, False),) * axis + pattern
    return b.call("getitem", g, start, stop, index=pattern)


def _concat_vjp(b, g, out, args, active, p):
    axis = p["axis"]
    result, offset = [], b.const(0)
    for x, act in zip(args, active):
        end = offset + b.call("dim", x, axis=axis)
        result.append(_slice_along(b, g, axis, offset, end) if act else None)
        offset = end
    return result


def _joined_jvp(name):
    def jvp(b, out, args, tangents, p):
        parts = [t if t is not None else b.call("zeros_like", x) for x, t in zip(args, tangents)]
        return b.call(name, *parts, **p)
    return jvp


prim("concatenate", _concat_type, lambda a, p, t: f"np.concatenate({tup(a)}, axis={p['axis']})",
     jvp=_joined_jvp("concatenate"), vjp=_concat_vjp)


def _stack_type(types, params):
    rank = types[0].rank
    for t in types:
        if not isinstance(t, Type) or t.rank != rank:
            raise TypeRuleError("stack needs values of one rank, got " + ", ".join(map(str, types)))
    check_axis(params["axis"], rank + 1, "stack")
    return Type(promote(*[t.kind for t in types]), rank + 1)


def _stack_vjp(b, g, out, args, active, p):
    axis = p["axis"]
    pattern = (("slice", False, False, False),) * axis + (("int",),)
    return [b.call("getitem", g, b.const(i), index=pattern) if act else None
            for i, act in enumerate(active)]


def _stack_emit(a, p, t):
    if all(x.rank == 0 for x in t) and p["axis"] == 0:
        return f"np.array([{', '.join(a)}])"
    return f"np.stack({tup(a)}, axis={p['axis']})"


prim("stack", _stack_type, _stack_emit, jvp=_joined_jvp("stack"), vjp=_stack_vjp)


# --- moving and copying elements: each map and its adjoint are a pair of linear primitives ---
def _need_int(t, what: str) -> None:
    if not (isinstance(t, Type) and t.rank == 0 and t.kind in (INT, BOOL)):
        raise TypeRuleError(f"{what} must be an integer, got {t}")


def _roll_type(types, params):
    x = need_array(types[0], "roll")
    _need_int(types[1], "roll's shift")
    check_axis(params["axis"], x.rank, "roll")
    return x


prim("roll", _roll_type, "roll_along({0}, {1}, {axis})",
     jvp=lambda b, out, args, tg, p: b.call("roll", tg[0], args[1], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("roll", g, -args[1], **p), None],
     doc="np.roll along one axis: element i moves to (i + shift) mod n; the adjoint rolls back")


def _tile_type(types, params):
    x = need_array(types[0], "tile")
    if len(params["reps"]) != x.rank:
        raise TypeRuleError(f"tile: {len(params['reps'])} repetitions for an array of rank {x.rank}")
    return x


def _sum_tiles_type(types, params):
    g, like = types
    if not isinstance(g, Type) or not isinstance(like, Type) or g.rank != like.rank:
        raise TypeRuleError("sum_tiles needs an adjoint of its operand's rank")
    return Type(promote(g.kind), like.rank)


def _reps_text(p):
    return tup(str(r) for r in p["reps"])


prim("tile", _tile_type, lambda a, p, t: f"tile_blocks({a[0]}, {_reps_text(p)})",
     jvp=lambda b, out, args, tg, p: b.call("tile", tg[0], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("sum_tiles", g, args[0], **p)],
     doc="np.tile with one repetition count per axis (the frontend makes the ranks agree)")
prim("sum_tiles", _sum_tiles_type, lambda a, p, t: f"sum_tiles({a[0]}, {a[1]}, {_reps_text(p)})",
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("sum_tiles", tg[0], args[1], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("tile", g, **p), None],
     doc="the sum of the tiles of the first argument, shaped like the second (the adjoint of tile)")


def _repeat_type(types, params):
    x = need_array(types[0], "repeat")
    _need_int(types[1], "repeat's count")
    check_axis(params["axis"], x.rank, "repeat")
    return x


def _sum_repeats_type(types, params):
    g, like, count = types
    _need_int(count, "the repeat count")
    if not isinstance(g, Type) or not isinstance(like, Type) or g.rank != like.rank:
        raise TypeRuleError("sum_repeats needs an adjoint of its operand's rank")
    check_axis(params["axis"], g.rank, "sum_repeats")
    return Type(promote(g.kind), like.rank)


prim("repeat", _repeat_type, "repeat_along({0}, {1}, {axis})",
     jvp=lambda b, out, args, tg, p: b.call("repeat", tg[0], args[1], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("sum_repeats", g, args[0], args[1], **p), None],
     doc="np.repeat with one count along one axis: each element `count` times in a row")
prim("sum_repeats", _sum_repeats_type, "sum_repeats({0}, {1}, {2}, {axis})",
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("sum_repeats", tg[0], args[1], args[2], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("repeat", g, args[2], **p), None, None],
     doc="the sum of each run of `count` elements along the axis, shaped like the second argument "
         "(the adjoint of repeat)")


def _broadcast_to_type(types, params):
    x = types[0]
    if not isinstance(x, Type):
        raise TypeRuleError("broadcast_to needs an array, got a tuple")
    for t in types[1:]:
        if not (isinstance(t, Type) and t.rank == 0 and t.kind == INT):
            raise TypeRuleError("broadcast_to needs integer sizes", hint="write np.broadcast_to(x, (n, m))")
    if x.rank > len(types) - 1:
        raise TypeRuleError(f"broadcast_to: an array of rank {x.rank} cannot broadcast to rank {len(types) - 1}")
    return Type(x.kind, len(types) - 1)


prim("broadcast_to", _broadcast_to_type, lambda a, p, t: f"np.broadcast_to({a[0]}, {tup(a[1:])}).copy()",
     jvp=lambda b, out, args, tg, p: b.call("broadcast_to", tg[0], *args[1:]),
     vjp=lambda b, g, out, args, active, p: [b.call("unbroadcast", g, args[0])] + [None] * (len(args) - 1),
     doc="a copy of the array broadcast to the shape (a copy: the result may be written into)")


# --- casts ---
_DTYPE_TEXT = {FLOAT: "np.float64", INT: "np.int64", BOOL: "np.bool_"}

prim("astype", lambda types, p: Type(p["dtype"], need_array(types[0], "astype").rank),
     lambda a, p, t: f"{a[0]}.astype({_DTYPE_TEXT[p['dtype']]})", differentiable=False,
     doc="an array cast to int or bool (no derivative), or an int array cast to float")


# --- sizes checked at run time ---
prim("split_length", lambda types, p: Type(INT, 0), "split_length({0}, {1})", differentiable=False,
     doc="the length of each of `sections` equal parts of an axis; a ValueError, as in np.split, "
         "when they cannot be equal")
prim("sample_count", lambda types, p: Type(INT, 0), "sample_count({0})", differentiable=False,
     doc="np.linspace's number of samples, a ValueError when it is negative")


# --- shape queries (integers) ---
prim("shape", lambda types, p: shape_tuple(types[0].rank), "{0}.shape", differentiable=False)
prim("dim", lambda types, p: Type(INT, 0), "{0}.shape[{axis}]", differentiable=False)
prim("size", lambda types, p: Type(INT, 0), "{0}.size", differentiable=False)


def _tuple_getitem_type(types, params):
    t, i = types[0], params["i"]
    if not isinstance(t, TupleType) or not -len(t.elts) <= i < len(t.elts):
        raise TypeRuleError(f"index {i} is out of range for {t}")
    return t.elts[i]


def _tuple_getitem_jvp(b, out, args, tangents, p):
    # the tangent of a tuple (the result of a call to a unit) is the tuple of its items' tangents
    return None if tangents[0] is None else b.op("tuple_getitem", tangents[0], i=p["i"])


prim("tuple_getitem", _tuple_getitem_type, "{0}[{i}]", jvp=_tuple_getitem_jvp,
     vjp=lambda b, g, out, args, active, p: [None],
     doc="an item of a tuple: a size from x.shape (no derivative), or a result of a call to a unit")


prim("make_tuple", lambda types, p: TupleType(tuple(types)), lambda a, p, t: f"({', '.join(a)},)",
     differentiable=False, doc="a tuple of values: the placeholder of a call's residuals on a path without the call")


prim("stop_gradient", lambda types, p: types[0], "{0}", differentiable=False,
     doc="the operand itself, with no derivative through it (ct.stop_gradient)")
