"""Reductions (sum, mean, max, min, prod with axis and keepdims) and cumsum.

The adjoint of a reduction spreads the incoming adjoint back over the reduced axis: expand the
reduced axis again (unless keepdims kept it), then broadcast against the input."""
from __future__ import annotations

from ..ir.types import Type, FLOAT, INT, BOOL, promote
from .hand import prim, check_axis, tup
from .table import TypeRuleError

HELPERS = {"mean": "mean", "max": "amax", "min": "amin", "prod": "prod"}


def _reduce_type(kind_rule):
    def infer(types, params):
        (t,) = types
        axis, keep = params.get("axis"), params.get("keepdims", False)
        check_axis(axis, t.rank, "reduction")
        if axis is not None and t.rank == 0:
            raise TypeRuleError("a reduction over an axis needs an array, got a scalar")
        if keep:
            rank = t.rank
        else:
            rank = 0 if axis is None else t.rank - 1
        return Type(kind_rule(t.kind), rank)
    return infer


def _reduce_emit(name):
    def emit(a, p, t):
        axis, keep = p.get("axis"), p.get("keepdims", False)
        x = a[0]
        if t[0].rank == 0:
            return x
        if name == "sum":
            core = f"np.sum({x})" if axis is None else f"np.sum({x}, axis={axis})"
        elif axis is None:
            core = f"np.{name}({x})"
        else:
            core = f"{HELPERS[name]}({x}, {axis})"
        if not keep:
            return core
        if axis is None:
            return f"np.full({tup(['1'] * t[0].rank)}, {core})"
        return f"np.expand_dims({core}, {axis})"
    return emit


def expand_reduced(b, v, x, params):
    """Put the reduced axis of a reduction's output `v` back, so `v` broadcasts against `x`."""
    axis, keep = params.get("axis"), params.get("keepdims", False)
    if keep or axis is None or x.rank == 0:
        return v
    return b.call("expand_dims", v, axis=axis)


def _count(b, x, params):
    axis = params.get("axis")
    return b.call("size", x) if axis is None else b.call("dim", x, axis=axis)


def _spread(b, g, x, params):
    """g, a reduction's adjoint, broadcast to the shape of x."""
    if x.rank == 0:
        return g
    if g.rank == 0:                 # a total reduction: every element gets g (one fill, no product)
        return b.call("full_like", x, g)
    return b.call("ones_like", x) * expand_reduced(b, g, x, params)


def _sum_vjp(b, g, out, args, active, params):
    return [_spread(b, g, args[0], params)]


def _sum_jvp(b, out, args, tangents, params):
    return b.call("sum", tangents[0], **params)


def _mean_vjp(b, g, out, args, active, params):
    x = args[0]
    if x.rank == 0:
        return [g]
    return [_spread(b, g, x, params) / _count(b, x, params)]


def _mean_jvp(b, out, args, tangents, params):
    return b.call("mean", tangents[0], **params)


def _extremum_weights(b, out, x, params):
    """1/k on each of the k elements that attain the max (or min), 0 elsewhere."""
    hit = x.eq(expand_reduced(b, out, x, params))
    return hit / b.call("sum", hit, axis=params.get("axis"), keepdims=True) if params.get("axis") is not None \
        else hit / b.call("sum", hit)


def _extremum_vjp(b, g, out, args, active, params):
    x = args[0]
    if x.rank == 0:
        return [g]
    return [expand_reduced(b, g, x, params) * _extremum_weights(b, out, x, params)]


def _extremum_jvp(b, out, args, tangents, params):
    x = args[0]
    if x.rank == 0:
        return tangents[0]
    w = _extremum_weights(b, out, x, params)
    axis = params.get("axis")
    return b.call("sum", w * tangents[0], axis=axis, keepdims=params.get("keepdims", False))


def _prod_vjp(b, g, out, args, active, params):
    x = args[0]
    if x.rank == 0:
        return [g]
    return [expand_reduced(b, g, x, params) * b.call("prod_others", x, axis=params.get("axis"))]


def _prod_jvp(b, out, args, tangents, params):
    x = args[0]
    if x.rank == 0:
        return tangents[0]
    others = b.call("prod_others", x, axis=params.get("axis"))
    return b.call("sum", others * tangents[0], axis=params.get("axis"),
                  keepdims=params.get("keepdims", False))


_KEEP = lambda k: INT if k == BOOL else k
prim("sum", _reduce_type(_KEEP), _reduce_emit("sum"), _sum_jvp, _sum_vjp)
prim("mean", _reduce_type(lambda k: FLOAT), _reduce_emit("mean"), _mean_jvp, _mean_vjp)
prim("max", _reduce_type(lambda k: k), _reduce_emit("max"), _extremum_jvp, _extremum_vjp)
prim("min", _reduce_type(lambda k: k), _reduce_emit("min"), _extremum_jvp, _extremum_vjp)
prim("prod", _reduce_type(_KEEP), _reduce_emit("prod"), _prod_jvp, _prod_vjp)


def _same_shape(types, params):
    check_axis(params.get("axis"), types[0].rank, "prod_others")
    return Type(FLOAT, types[0].rank)


def _prod_others_dot(b, x, v, axis):
    """sum_j Q[i, j] v_j along the axis, with Q[i, j] = the product of the elements other than i
    and j (0 for i = j): the derivative of prod_others along v. Q is symmetric, so the same
    contraction is also its adjoint. Q comes from prod_others itself, over rows that hold the
    lane with a 1 in place i (so exact where elements are zero, and differentiable again); it
    takes n * n memory per lane of n elements."""
    rank = x.rank
    if axis is None or rank == 1:
        n = b.call("size", x)
        flat = (lambda y: y) if rank == 1 else (lambda y: b.call("ravel", y))
        back = (lambda y: y) if rank == 1 else (lambda y: b.call("reshape_like", y, x))
        last = 1
    else:
        perm = tuple(k for k in range(rank) if k != axis) + (axis,)     # the axis goes last
        inverse = tuple(sorted(range(rank), key=lambda k: perm[k]))
        move = (lambda y, p: y) if axis == rank - 1 else (lambda y, p: b.call("transpose", y, axes=p))
        n = b.call("dim", x, axis=axis)
        flat = lambda y: b.call("expand_dims", move(y, perm), axis=rank - 1)
        back = lambda y: move(y, inverse)
        last = rank
    eye = b.call("eye", n)
    off = 1.0 - eye
    rows = flat(x) * off + eye                     # rows[..., i, k] = x_k, with 1 at k = i
    q = b.call("prod_others", rows, axis=last)     # q[..., i, j] = prod of x_k, k not i or j
    return back(b.call("sum", q * (flat(v) * off), axis=last))


prim("prod_others", _same_shape,
     lambda a, p, t: f"prod_others({a[0]})" if p.get("axis") is None else f"prod_others({a[0]}, {p['axis']})",
     jvp=lambda b, out, args, tg, p: _prod_others_dot(b, args[0], tg[0], p.get("axis")),
     vjp=lambda b, g, out, args, active, p: [_prod_others_dot(b, args[0], g, p.get("axis"))],
     doc="product of the other elements along the axis; exact where elements are zero")


# --- cumsum ---
def _cumsum_type(types, params):
    (t,) = types
    axis = params.get("axis")
    check_axis(axis, t.rank, "cumsum")
    return Type(promote(t.kind), 1 if axis is None else t.rank)


def _cumsum_emit(a, p, t):
    axis = p.get("axis")
    return f"np.cumsum({a[0]})" if axis is None else f"np.cumsum({a[0]}, axis={axis})"


def _cumsum_vjp(b, g, out, args, active, params):
    """Each input element feeds every later output: the adjoint is a reversed cumulative sum."""
    x, axis = args[0], params.get("axis")
    if axis is None:
        r = b.call("flip", b.call("cumsum", b.call("flip", g, axis=0)), axis=0)
        return [r if x.rank == 1 else b.call("reshape_like", r, x)]
    return [b.call("flip", b.call("cumsum", b.call("flip", g, axis=axis), axis=axis), axis=axis)]


prim("cumsum", _cumsum_type, _cumsum_emit,
     jvp=lambda b, out, args, tg, p: b.call("cumsum", tg[0], **p), vjp=_cumsum_vjp)


def _flip_emit(a, p, t):
    axis = p["axis"]
    return f"{a[0]}[{', '.join([':'] * axis + ['::-1'])}]"


prim("flip", lambda types, p: types[0], _flip_emit,
     jvp=lambda b, out, args, tg, p: b.call("flip", tg[0], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("flip", g, **p)])
