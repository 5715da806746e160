"""Shape primitives: reshape, ravel, concatenate, stack, expand_dims, squeeze, and the shape
queries (x.shape, len, x.size), which are integers and carry no derivative."""
from __future__ import annotations

from ..ir.types import Type, TupleType, INT, FLOAT, promote
from .hand import prim, need_array, check_axis, tup, shape_tuple
from .table import TypeRuleError


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


prim("stop_gradient", lambda types, p: types[0], "{0}", differentiable=False,
     doc="the operand itself, with no derivative through it (ct.stop_gradient)")
