"""How the NumPy calls of one area lower to primitives: np.linalg (inv, solve, det, slogdet, cholesky, eigh, svd, qr, lstsq, pinv, matrix_power, multi_dot, norm).
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME).

A decomposition returns a Python tuple of its outputs, each its own primitive over one statement
that computes them all (rules/decompositions.py), so `w, v = np.linalg.eigh(A)` and
`np.linalg.slogdet(A)[1]` lower like any tuple. matrix_power, multi_dot and norm are written
with matrix products, reductions and the singular values."""
from __future__ import annotations

import ast
import math

from ..ir.types import INT, BOOL
from .calls import LINALG, bind_args, static, sequence


def _one_matrix(op):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["a"], 1)
        return lw.b.op(op, lw.value(a["a"]))
    return handler


def _solve(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b"], 2)
    return lw.b.op("solve", lw.value(a["a"]), lw.value(a["b"]))


def _slogdet(lw, e, qual):
    """(sign, log|det|): the sign is an item of the tuple, with no derivative."""
    a = bind_args(lw, e, qual, ["a"], 1)
    x = lw.value(a["a"])
    pair = lw.b.op("slogdet", x)
    return lw.b.op("tuple_getitem", pair, i=0), lw.b.op("slogdet_logabs", x, pair)


def _flag(lw, a, name, default, allowed, qual):
    """A static keyword argument that must be one of `allowed`."""
    node = a.get(name)
    v = default if node is None else static(lw, node, name)
    if v not in allowed:
        lw.error(node, f"{qual}: {name}={v!r} is not supported",
                 hint=f"supported: {', '.join(repr(x) for x in allowed)}")
    return v


def _cholesky(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "upper"], 1)
    x = lw.value(a["a"])
    if _flag(lw, a, "upper", False, (False, True), qual):      # U = L(A.T).T reads the upper triangle
        return lw.b.op("transpose", lw.b.op("cholesky", lw.b.op("transpose", x)))
    return lw.b.op("cholesky", x)


def _symmetric_input(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "UPLO"], 1)
    x = lw.value(a["a"])
    if _flag(lw, a, "UPLO", "L", ("L", "U"), qual) == "U":     # the upper triangle: A.T's lower one
        x = lw.b.op("transpose", x)
    return x


def _eigh(lw, e, qual):
    x = _symmetric_input(lw, e, qual)
    pair = lw.b.op("eigh", x)
    return lw.b.op("eigh_w", x, pair), lw.b.op("eigh_v", x, pair)


def _eigvalsh(lw, e, qual):
    x = _symmetric_input(lw, e, qual)
    return lw.b.op("eigh_w", x, lw.b.op("eigh", x))


def _svd(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "full_matrices", "compute_uv", "hermitian"], 1)
    x = lw.value(a["a"])
    _flag(lw, a, "hermitian", False, (False,), qual)
    compute_uv = _flag(lw, a, "compute_uv", True, (True, False), qual)
    pair = lw.b.op("svd", x)
    if not compute_uv:
        return lw.b.op("svd_s", x, pair)
    if _flag(lw, a, "full_matrices", True, (True, False), qual):
        lw.error(e, f"{qual}: full_matrices=True is not supported: the extra columns of U or Vt of a "
                    "non-square matrix are not unique", hint="pass full_matrices=False")
    return lw.b.op("svd_u", x, pair), lw.b.op("svd_s", x, pair), lw.b.op("svd_vt", x, pair)


def _qr(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "mode"], 1)
    x = lw.value(a["a"])
    mode = _flag(lw, a, "mode", "reduced", ("reduced", "r"), qual)
    pair = lw.b.op("qr", x)
    if mode == "r":
        return lw.b.op("qr_r", x, pair)
    return lw.b.op("qr_q", x, pair), lw.b.op("qr_r", x, pair)


def _pinv(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "rcond", "hermitian"], 1)
    _flag(lw, a, "rcond", None, (None,), qual)
    _flag(lw, a, "hermitian", False, (False,), qual)
    return lw.b.op("pinv", lw.value(a["a"]))


class _LstsqExtra:
    """lstsq's residuals, rank and singular values: not supported, an error where they are used."""

    def __init__(self, what):
        self.what = what


def _lstsq(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b", "rcond"], 2)
    _flag(lw, a, "rcond", None, (None,), qual)
    x = lw.b.op("lstsq", lw.value(a["a"]), lw.value(a["b"]))
    extra = [type(f"the {w} of np.linalg.lstsq (only the solution, [0], is supported)", (_LstsqExtra,), {})(w)
             for w in ("residuals", "rank", "singular values")]
    return (x, *extra)


def _matrix_power(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "n"], 2)
    x, n = lw.value(a["a"]), static(lw, a["n"], "n")
    if not isinstance(n, int) or isinstance(n, bool):
        lw.error(a["n"], f"{qual}: n must be an integer written in the source, got {n!r}")
    if x.rank != 2:
        lw.error(e, f"{qual} needs a matrix (rank 2), got {x.type}",
                 hint="loop over the leading axis" if x.rank > 2 else "")
    b = lw.b
    if n == 0:
        return b.op("eye_like", b.op("square_matrix", x))
    base = b.op("inv", x) if n < 0 else b.op("square_matrix", x)
    result = _power(base, abs(n))
    return b.op("copy", result) if n == 1 else result     # a new array, as NumPy's


def _power(base, n):
    """base ** n by repeated squaring: at most 2 log2(n) matrix products."""
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def _multi_dot(lw, e, qual):
    """A chain of products, from the end with a vector when there is one (vector products)."""
    a = bind_args(lw, e, qual, ["arrays"], 1)
    xs = sequence(lw, a["arrays"], qual)
    if len(xs) < 2:
        lw.error(e, f"{qual} needs at least two arrays")
    for i, x in enumerate(xs):
        ends = i in (0, len(xs) - 1)
        if x.rank != 2 and not (ends and x.rank == 1):
            lw.error(e, f"{qual}: array {i} must be a matrix{' or a vector' if ends else ''}, got {x.type}")
    if xs[-1].rank == 1 and xs[0].rank == 2:
        acc = xs[-1]
        for x in reversed(xs[:-1]):
            acc = x @ acc
        return acc
    acc = xs[0]
    for x in xs[1:]:
        acc = acc @ x
    return acc


# --- norm -----------------------------------------------------------------------------------
def _static_number(lw, node, what):
    """A literal ord: a number, 'fro', 'nuc', None (as `static` reads them), or np.inf / -np.inf /
    math.inf, which lower to constants."""
    if isinstance(node, (ast.Attribute, ast.UnaryOp)) and isinstance(node.operand if isinstance(node, ast.UnaryOp)
                                                                      else node, ast.Attribute):
        v = lw.expr(node)
        if v.is_const:
            return v.const_value()
    return static(lw, node, what)


def _axes(lw, node, rank, qual):
    """None, one axis (an int) or a pair of distinct axes, each in range."""
    v = static(lw, node, "axis")
    if v is None:
        return None
    items = v if isinstance(v, tuple) else (v,)
    if len(items) not in (1, 2) or not all(isinstance(k, int) and -rank <= k < rank for k in items):
        lw.error(node, f"{qual}: axis={v!r} must be an axis or a pair of axes of an array of rank {rank}")
    items = tuple(k % rank for k in items)
    if len(items) == 2 and items[0] == items[1]:
        lw.error(node, f"{qual}: axis={v!r} names one axis twice")
    return items[0] if isinstance(v, int) else items


def _reduce(b, op, x, axis, keep):
    """A reduction over one axis (None over a vector's only axis, as the reductions take it)."""
    return b.op(op, x, axis=None if x.rank == 1 else axis, keepdims=keep)


def _vector_norm(lw, e, qual, x, ord_, axis, keep):
    b = lw.b
    if ord_ is None or ord_ == 2:
        return b.op("sqrt", _reduce(b, "sum", x * x, axis, keep))
    if isinstance(ord_, str) or isinstance(ord_, bool) or not isinstance(ord_, (int, float)):
        lw.error(e, f"{qual}: ord={ord_!r} is not a vector norm",
                 hint="vector norms: None, 2, 1, np.inf, -np.inf, 0 or any positive number")
    if ord_ == 1:
        return _reduce(b, "sum", b.op("abs", x), axis, keep)
    if ord_ == math.inf:
        return _reduce(b, "max", b.op("abs", x), axis, keep)
    if ord_ == -math.inf:
        return _reduce(b, "min", b.op("abs", x), axis, keep)
    if ord_ == 0:                         # the count of nonzero elements: derivative zero
        return _reduce(b, "sum", b.op("ne", x, 0.0), axis, keep) * 1.0
    if ord_ < 0 or math.isnan(ord_):
        lw.error(e, f"{qual}: ord={ord_!r} is not supported for vectors",
                 hint="vector norms: None, 2, 1, np.inf, -np.inf, 0 or any positive number")
    return _reduce(b, "sum", b.op("abs", x) ** float(ord_), axis, keep) ** (1.0 / ord_)


def _matrix_norm(lw, e, qual, x, ord_, axes, keep):
    b = lw.b
    r0, r1 = axes
    if ord_ in (None, "fro"):
        return b.op("sqrt", _sum_two(b, x * x, r0, r1, keep))
    if ord_ in (2, -2, "nuc"):
        if x.rank != 2:
            lw.error(e, f"{qual}: ord={ord_!r} of a stack of matrices is not supported",
                     hint="loop over the leading axes")
        s = b.op("svd_s", x, b.op("svd", x))
        v = b.op("sum" if ord_ == "nuc" else "max" if ord_ == 2 else "min", s)
        return b.op("full", b.const(1), b.const(1), v) if keep else v
    if ord_ in (1, -1, math.inf, -math.inf):
        inner, outer = (r0, r1) if ord_ in (1, -1) else (r1, r0)
        op = "max" if ord_ in (1, math.inf) else "min"
        sums = b.op("sum", b.op("abs", x), axis=inner, keepdims=keep)
        if not keep and outer > inner:
            outer -= 1
        return _reduce(b, op, sums, outer, keep)
    lw.error(e, f"{qual}: ord={ord_!r} is not a matrix norm",
             hint="matrix norms: None, 'fro', 'nuc', 1, -1, 2, -2, np.inf, -np.inf")


def _sum_two(b, x, r0, r1, keep):
    """The sum over two axes (kept as 1s when keep)."""
    if x.rank == 2:
        return b.op("sum", x, axis=None, keepdims=keep)
    hi, lo = max(r0, r1), min(r0, r1)
    return b.op("sum", b.op("sum", x, axis=hi, keepdims=keep), axis=lo, keepdims=keep)


def _norm(lw, e, qual):
    a = bind_args(lw, e, qual, ["x", "ord", "axis", "keepdims"], 1)
    x = lw.value(a["x"])
    if x.rank == 0:
        lw.error(e, f"{qual} needs an array, got a number", hint="use abs(x)")
    ord_ = _static_number(lw, a.get("ord"), "ord")
    axis = _axes(lw, a.get("axis"), x.rank, qual)
    keep = bool(static(lw, a.get("keepdims"), "keepdims") or False)
    if x.type.kind in (INT, BOOL):
        x = x * 1.0
    if axis is None and ord_ is None:
        if not keep and x.rank <= 2:
            return lw.b.op("norm", x)
        return lw.b.op("sqrt", lw.b.op("sum", x * x, axis=None, keepdims=keep))
    if axis is None:
        if x.rank > 2:
            lw.error(e, f"{qual}: ord={ord_!r} needs axis= for an array of rank {x.rank}",
                     hint="NumPy accepts ord without axis only for vectors and matrices")
        axis = None if x.rank == 1 else (0, 1)
    if isinstance(axis, tuple):
        return _matrix_norm(lw, e, qual, x, ord_, axis, keep)
    return _vector_norm(lw, e, qual, x, ord_, axis, keep)


LINALG.update({
    "inv": _one_matrix("inv"), "det": _one_matrix("det"), "pinv": _pinv, "solve": _solve,
    "slogdet": _slogdet, "cholesky": _cholesky, "eigh": _eigh, "eigvalsh": _eigvalsh, "svd": _svd,
    "qr": _qr, "lstsq": _lstsq, "matrix_power": _matrix_power, "multi_dot": _multi_dot, "norm": _norm,
})
