"""Matrix helpers and the products that are not matrix products: diagonals (np.diagonal, the
diagonal with offset of np.diag and np.trace), np.triu and np.tril, np.cross.

Each is linear in every operand, so its tangent is itself applied to the tangents and its adjoint
is its transpose: the diagonal's adjoint puts an adjoint back on the diagonal of zeros, a mask is
its own adjoint, and a cross product's adjoints are cross products with the other factor."""
from __future__ import annotations

from ..ir.types import Type, FLOAT, promote
from .hand import prim, need_array
from .table import TypeRuleError, register_helpers

register_helpers("diagonal_of", "diagonal_put", "cross3")


def _check_diagonal(rank: int, params, what: str) -> None:
    a1, a2, offset = params["axis1"], params["axis2"], params["offset"]
    if not (0 <= a1 < rank and 0 <= a2 < rank) or a1 == a2:
        raise TypeRuleError(f"{what}: axes {a1} and {a2} must be two different axes of an array of rank {rank}")
    if not isinstance(offset, int):
        raise TypeRuleError(f"{what}: the offset must be an integer constant")


def _diagonal_type(types, params):
    t = need_array(types[0], "np.diagonal", 2)
    _check_diagonal(t.rank, params, "np.diagonal")
    return Type(t.kind, t.rank - 1)


def _diagonal_put_type(types, params):
    like = types[1]
    _check_diagonal(like.rank, params, "diagonal_put")
    if types[0].rank != like.rank - 1:
        raise TypeRuleError(f"diagonal_put: a diagonal of {types[0]} does not fit an array of {like}")
    return Type(FLOAT, like.rank)


def _diag_text(name, a, p):
    square = ", True" if p.get("square") else ""
    return f"{name}({', '.join(a)}, {p['offset']}, {p['axis1']}, {p['axis2']}{square})"


def _put_params(p):
    return {k: v for k, v in p.items() if k != "square"}


prim("diagonal", _diagonal_type, lambda a, p, t: _diag_text("diagonal_of", a, p),
     jvp=lambda b, out, args, tg, p: b.call("diagonal", tg[0], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("diagonal_put", g, args[0], **_put_params(p))],
     doc="np.diagonal(x, offset, axis1, axis2) as a fresh array: the other axes, then the diagonal; "
         "square=True: the two axes must have one length (np.einsum's repeated labels)")
prim("diagonal_put", _diagonal_put_type, lambda a, p, t: _diag_text("diagonal_put", a, p),
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("diagonal_put", tg[0], args[1], **p),
     vjp=lambda b, g, out, args, active, p: [b.call("diagonal", g, **p) if active[0] else None, None],
     doc="zeros shaped like the second argument with the first on the diagonal np.diagonal reads "
         "(linear in the first; the second only gives the shape)")


# --- triangles ---
def _triangle_type(name):
    def infer(types, params):
        t = need_array(types[0], f"np.{name}", 1)
        if not isinstance(params.get("k"), int):
            raise TypeRuleError(f"np.{name}: k must be an integer constant")
        return Type(t.kind, max(t.rank, 2))
    return infer


def _triangle_vjp(name):
    def vjp(b, g, out, args, active, p):
        masked = b.call(name, g, **p)
        return [masked if args[0].rank > 1 else b.call("sum", masked, axis=0)]
    return vjp


for _name in ("triu", "tril"):
    prim(_name, _triangle_type(_name), lambda a, p, t, _n=_name: f"np.{_n}({a[0]}, {p['k']})",
         jvp=lambda b, out, args, tg, p, _n=_name: b.call(_n, tg[0], **p), vjp=_triangle_vjp(_name),
         doc=f"np.{_name}(x, k) over the last two axes; a vector is repeated as the rows of a matrix first")


# --- cross product ---
def _cross_type(types, params):
    a = need_array(types[0], "np.cross", 1)
    c = need_array(types[1], "np.cross", 1)
    return Type(promote(a.kind, c.kind, FLOAT), max(a.rank, c.rank))


def _cross_jvp(b, out, args, tangents, p):
    x, y = args
    tx, ty = tangents
    parts = [b.call("cross", t, y) for t in (tx,) if t is not None]
    parts += [b.call("cross", x, t) for t in (ty,) if t is not None]
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _cross_vjp(b, g, out, args, active, p):
    """<g, x × y> = <x, y × g> = <y, g × x>; each summed back over the axes its operand was broadcast along."""
    x, y = args
    return [b.call("unbroadcast", b.call("cross", y, g), x) if active[0] else None,
            b.call("unbroadcast", b.call("cross", g, x), y) if active[1] else None]


prim("cross", _cross_type, "cross3({0}, {1})", jvp=_cross_jvp, vjp=_cross_vjp,
     doc="np.cross of 3-vectors along the last axis (broadcast over the others); other lengths raise at run time")
