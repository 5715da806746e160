"""Reductions (sum, mean, max, min, prod with axis and keepdims), cumsum and cumprod.

An axis is None (every axis), an int, or a sorted tuple of at least two ints (sum, mean, max and
min; the frontend reduces prod one axis at a time, which is exact). The adjoint of a reduction
spreads the incoming adjoint back over the reduced axes: expand the reduced axes again (unless
keepdims kept them), then broadcast against the input."""
from __future__ import annotations

from ..ir.types import Type, FLOAT, INT, BOOL, promote
from .hand import prim, check_axis, tup
from .table import TypeRuleError, register_helpers

HELPERS = {"mean": "mean", "max": "amax", "min": "amin", "prod": "prod"}
register_helpers("cumprod")


def reduced_axes(axis, rank: int) -> tuple:
    """The axes a reduction removes, as a tuple."""
    if axis is None:
        return tuple(range(rank))
    return axis if isinstance(axis, tuple) else (axis,)


def _check_axes(axis, rank: int, what: str) -> None:
    if isinstance(axis, tuple):
        if len(set(axis)) != len(axis) or list(axis) != sorted(axis):
            raise TypeRuleError(f"{what}: a tuple of axes must be sorted and without repeats, got {axis}")
        for a in axis:
            check_axis(a, rank, what)
    else:
        check_axis(axis, rank, what)


def _reduce_type(kind_rule, many=True):
    def infer(types, params):
        (t,) = types
        axis, keep = params.get("axis"), params.get("keepdims", False)
        if isinstance(axis, tuple) and not many:
            raise TypeRuleError("this reduction takes one axis at a time")
        _check_axes(axis, t.rank, "reduction")
        if axis is not None and t.rank == 0:
            raise TypeRuleError("a reduction over an axis needs an array, got a scalar")
        if keep:
            rank = t.rank
        else:
            rank = 0 if axis is None else t.rank - len(reduced_axes(axis, t.rank))
        return Type(kind_rule(t.kind), rank)
    return infer


def _reduce_emit(name):
    def one_axis(x, axis):
        return f"np.sum({x}, axis={axis})" if name == "sum" else f"{HELPERS[name]}({x}, {axis})"

    def emit(a, p, t):
        axis, keep = p.get("axis"), p.get("keepdims", False)
        x = a[0]
        if t[0].rank == 0:
            return x
        if axis is None:
            core = f"np.{name}({x})"
            return f"np.full({tup(['1'] * t[0].rank)}, {core})" if keep else core
        core = x
        for k in sorted(reduced_axes(axis, t[0].rank), reverse=True):   # one axis at a time, last first
            core = one_axis(core, k)
        if keep:
            for k in reduced_axes(axis, t[0].rank):
                core = f"np.expand_dims({core}, {k})"
        return core
    return emit


def expand_reduced(b, v, x, params):
    """Put the reduced axes of a reduction's output `v` back, so `v` broadcasts against `x`."""
    axis, keep = params.get("axis"), params.get("keepdims", False)
    if keep or axis is None or x.rank == 0:
        return v
    for k in reduced_axes(axis, x.rank):
        v = b.call("expand_dims", v, axis=k)
    return v


def _count(b, x, params):
    """How many elements each output of the reduction combines."""
    axis = params.get("axis")
    if axis is None:
        return b.call("size", x)
    n = None
    for k in reduced_axes(axis, x.rank):
        d = b.call("dim", x, axis=k)
        n = d if n is None else n * d
    return n


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
prim("prod", _reduce_type(_KEEP, many=False), _reduce_emit("prod"), _prod_jvp, _prod_vjp)


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
    check_axis(axis, t.rank, "cumulative sum or product")
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


# --- cumprod ---
def _cumprod_emit(a, p, t):
    axis = p.get("axis")
    return f"np.cumprod({a[0]})" if axis is None else f"cumprod({a[0]}, {axis})"


def _lanes(b, x, params):
    """x and the axis its products run along: x flattened for axis=None."""
    axis = params.get("axis")
    if axis is None and x.rank != 1:
        return b.call("ravel", x), None
    return x, axis


def _reverse_cumsum(b, v, axis):
    """Sums from each element to the end of its lane."""
    a = 0 if axis is None else axis
    return b.call("flip", b.call("cumsum", b.call("flip", v, axis=a), axis=axis), axis=a)


def _cumprod_parts(b, x, axis):
    """Masks of the zeros and of each lane's first zero, x with its zeros read as 1 (a safe
    divisor), the count of zeros so far, and the cumulative product with each lane's first zero
    read as 1: the derivative of the outputs from that zero on with respect to it."""
    zero = x.eq(0.0)
    count = b.call("cumsum", zero, axis=axis)
    first = b.call("logical_and", zero, count.eq(1))
    safe = b.call("where", zero, 1.0, x)
    skip = b.call("cumprod", b.call("where", first, 1.0, x), axis=axis)
    return zero, count, first, safe, skip


def _cumprod_vjp(b, g, out, args, active, params):
    """d out_i / d x_j (j <= i) is out_i / x_j where x_j is not 0, and at a lane's first zero the
    product with that zero read as 1. At the second zero it is the first zero times the product
    with both read as 1 (0, written so that its derivative is exact); at later zeros, 0. Exact
    where elements are zero, and so is its derivative (the Hessian)."""
    x = args[0]
    flat, axis = _lanes(b, x, params)
    zero, count, first, safe, skip = _cumprod_parts(b, flat, axis)
    second = b.call("logical_and", zero, count.eq(2))
    through = _reverse_cumsum(b, g * out, axis) / safe
    at_first = _reverse_cumsum(b, g * skip, axis)
    lead = b.call("sum", b.call("where", first, flat, 0.0), axis=axis, keepdims=axis is not None)
    skip2 = b.call("cumprod", b.call("where", b.call("logical_or", first, second), 1.0, flat), axis=axis)
    at_second = lead * _reverse_cumsum(b, g * skip2, axis)
    r = b.call("where", first, at_first,
               b.call("where", second, at_second, b.call("where", zero, 0.0, through)))
    return [r if flat is x else b.call("reshape_like", r, x)]


def _cumprod_jvp(b, out, args, tangents, params):
    x, t = args[0], tangents[0]
    flat, axis = _lanes(b, x, params)
    if flat is not x:
        t = b.call("ravel", t)
    zero, _, first, safe, skip = _cumprod_parts(b, flat, axis)
    regular = out * b.call("cumsum", b.call("where", zero, 0.0, t / safe), axis=axis)
    return regular + skip * b.call("cumsum", b.call("where", first, t, 0.0), axis=axis)


prim("cumprod", _cumsum_type, _cumprod_emit, jvp=_cumprod_jvp, vjp=_cumprod_vjp,
     doc="cumulative product; gradients exact where elements are zero")


# --- argmax, argmin: integers, no derivative ---
def _arg_emit(name):
    def emit(a, p, t):
        axis, keep = p.get("axis"), p.get("keepdims", False)
        if axis is None:
            core = f"np.{name}({a[0]})"
            return f"np.full({tup(['1'] * t[0].rank)}, {core})" if keep else core
        core = f"np.{name}({a[0]}, axis={axis})"
        return f"np.expand_dims({core}, {axis})" if keep else core
    return emit


for _name in ("argmax", "argmin"):
    prim(_name, _reduce_type(lambda k: INT, many=False), _arg_emit(_name), differentiable=False,
         doc="the index of the first largest (smallest) element: an integer, no derivative")
