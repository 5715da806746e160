"""Linear algebra: matmul (also of stacks of matrices)/dot, outer, inner, trace, diag, transpose,
norm. The adjoint of a product is the product with the other factor, transposed to fit (the
textbook backprop lines)."""
from __future__ import annotations

from ..ir.types import Type, FLOAT, promote
from .hand import prim, need_array
from .table import TypeRuleError, register_helpers

register_helpers("matmul_stack")


def _dot_type(types, params):
    a, b = types
    if a.rank == 0 or b.rank == 0:
        raise TypeRuleError(f"matrix product of {a} and {b}: both operands must be arrays",
                            hint="use * to scale by a scalar")
    if a.rank > 2 or b.rank > 2:
        raise TypeRuleError(f"np.dot of {a} and {b}: this primitive takes vectors and matrices",
                            hint="np.dot of higher ranks lowers to a contraction in the frontend")
    return Type(promote(a.kind, b.kind), a.rank + b.rank - 2)


def matmul_rank(ra: int, rb: int) -> int:
    """The rank of np.matmul's result: the broadcast leading axes, then the rows of a (unless a is a
    vector) and the columns of b (unless b is a vector)."""
    if ra <= 2 and rb <= 2:
        return ra + rb - 2
    return max(ra, rb, 2) - 2 + (ra > 1) + (rb > 1)


def _matmul_type(types, params):
    a, b = types
    if a.rank == 0 or b.rank == 0:
        raise TypeRuleError(f"matrix product of {a} and {b}: both operands must be arrays",
                            hint="use * to scale by a scalar")
    return Type(promote(a.kind, b.kind), matmul_rank(a.rank, b.rank))


def _matmul_emit(a, p, t):
    if t[0].rank <= 2 and t[1].rank <= 2:
        return f"{a[0]} @ {a[1]}"
    return f"matmul_stack({a[0]}, {a[1]})"


def _swap_last(b, x):
    """x with its last two axes swapped (the transpose of each matrix of a stack)."""
    perm = tuple(range(x.rank - 2)) + (x.rank - 1, x.rank - 2)
    return b.call("transpose", x, axes=perm)


def _stack_matmul_vjp(b, g, args, active):
    """Adjoints of a product where an operand has rank > 2: a vector operand is a matrix of one row
    (a) or one column (b), and each adjoint is summed over the leading axes its operand was
    broadcast along."""
    x, y = args
    xm = x if x.rank > 1 else b.call("expand_dims", x, axis=0)
    ym = y if y.rank > 1 else b.call("expand_dims", y, axis=1)
    gm = g if y.rank > 1 else b.call("expand_dims", g, axis=g.rank)
    gm = gm if x.rank > 1 else b.call("expand_dims", gm, axis=gm.rank - 1)
    dx = dy = None
    if active[0]:
        dx = gm @ _swap_last(b, ym)
        dx = dx if x.rank > 1 else b.call("squeeze", dx, axis=dx.rank - 2)
        dx = b.call("unbroadcast", dx, x)
    if active[1]:
        dy = _swap_last(b, xm) @ gm
        dy = dy if y.rank > 1 else b.call("squeeze", dy, axis=dy.rank - 1)
        dy = b.call("unbroadcast", dy, y)
    return [dx, dy]


def _matmul_vjp(b, g, out, args, active, params):
    x, y = args
    if x.rank > 2 or y.rank > 2:
        return _stack_matmul_vjp(b, g, args, active)
    dx = dy = None
    if x.rank == 2 and y.rank == 2:
        dx = (g @ b.call("transpose", y)) if active[0] else None
        dy = (b.call("transpose", x) @ g) if active[1] else None
    elif x.rank == 2 and y.rank == 1:
        dx = b.call("outer", g, y) if active[0] else None
        dy = (b.call("transpose", x) @ g) if active[1] else None
    elif x.rank == 1 and y.rank == 2:
        dx = (y @ g) if active[0] else None
        dy = b.call("outer", x, g) if active[1] else None
    else:
        dx = (g * y) if active[0] else None
        dy = (g * x) if active[1] else None
    return [dx, dy]


def _bilinear_jvp(name):
    def jvp(b, out, args, tangents, params):
        x, y = args
        tx, ty = tangents
        parts = []
        if tx is not None:
            parts.append(b.call(name, tx, y))
        if ty is not None:
            parts.append(b.call(name, x, ty))
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]
    return jvp


prim("matmul", _matmul_type, _matmul_emit, _bilinear_jvp("matmul"), _matmul_vjp,
     doc="np.matmul: vectors, matrices and stacks of them (broadcast over the leading axes)")
prim("dot", _dot_type, "np.dot({0}, {1})", _bilinear_jvp("dot"), _matmul_vjp)


def _outer_type(types, params):
    for t in types:
        need_array(t, "np.outer", 1, 1)
    return Type(promote(types[0].kind, types[1].kind), 2)


prim("outer", _outer_type, "np.outer({0}, {1})", _bilinear_jvp("outer"),
     lambda b, g, out, args, active, p: [g @ args[1] if active[0] else None,
                                          b.call("transpose", g) @ args[0] if active[1] else None])


def _trace_type(types, params):
    need_array(types[0], "np.trace", 2, 2)
    return Type(types[0].kind, 0)


prim("trace", _trace_type, "np.trace({0})",
     jvp=lambda b, out, args, tg, p: b.call("trace", tg[0]),
     vjp=lambda b, g, out, args, active, p: [b.call("eye_like", args[0]) * g])
prim("eye_like", lambda types, p: Type(FLOAT, 2), "np.eye({0}.shape[0], {0}.shape[1])",
     differentiable=False)


def _diag_type(types, params):
    t = need_array(types[0], "np.diag", 1, 2)
    if params.get("k", 0) and t.rank == 2:
        raise TypeRuleError("np.diag of a matrix with k lowers to diagonal",
                            hint="the frontend writes np.diag(x, k) of a matrix as np.diagonal(x, k)")
    return Type(t.kind, 3 - t.rank)


def _diag_vjp(b, g, out, args, active, p):
    x, k = args[0], p.get("k", 0)
    if x.rank == 1:
        return [b.call("diag", g) if not k else b.call("diagonal", g, offset=k, axis1=0, axis2=1)]
    return [b.call("diag_embed_like", g, x)]


def _diag_emit(a, p, t):
    k = p.get("k", 0)
    return f"np.diag({a[0]})" if not k else f"np.diag({a[0]}, {k})"


prim("diag", _diag_type, _diag_emit, jvp=lambda b, out, args, tg, p: b.call("diag", tg[0], **p),
     vjp=_diag_vjp, doc="np.diag: a vector onto diagonal k of a square matrix, or the diagonal of a matrix")
prim("diag_embed_like", lambda types, p: Type(FLOAT, 2), "diag_embed_like({0}, {1})",
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("diag_embed_like", tg[0], args[1]),
     vjp=lambda b, g, out, args, active, p: [b.call("diag", g) if active[0] else None, None],
     doc="a matrix shaped like the second argument with the first on its diagonal (linear in the "
         "first; the second only gives the shape)")


def _transpose_type(types, params):
    t = types[0]
    perm = params.get("axes")
    if perm is not None and sorted(perm) != list(range(t.rank)):
        raise TypeRuleError(f"transpose axes {perm} are not a permutation of the {t.rank} axes of {t}")
    return t


def _transpose_emit(a, p, t):
    perm = p.get("axes")
    if perm is None:
        return f"{a[0]}.T" if t[0].rank > 0 else a[0]
    return f"np.transpose({a[0]}, {tuple(perm)})"


def _transpose_vjp(b, g, out, args, active, p):
    perm = p.get("axes")
    if perm is None:
        return [b.call("transpose", g)]
    inverse = tuple(sorted(range(len(perm)), key=lambda i: perm[i]))
    return [b.call("transpose", g, axes=inverse)]


prim("transpose", _transpose_type, _transpose_emit,
     jvp=lambda b, out, args, tg, p: b.call("transpose", tg[0], **p), vjp=_transpose_vjp)


def _norm_type(types, params):
    return Type(FLOAT, 0)


prim("norm", _norm_type, "np.linalg.norm({0})",
     jvp=lambda b, out, args, tg, p: b.call("sum", args[0] * tg[0]) / out,
     vjp=lambda b, g, out, args, active, p: [g * args[0] / out],
     doc="2-norm of a vector, Frobenius norm of a matrix; its derivative at 0 is undefined (nan)")
