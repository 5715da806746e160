"""np.linalg: inverse, solve, determinants, Cholesky, eigh, SVD, QR, pseudo-inverse, least squares.

A decomposition with several outputs is one statement that computes them together (a tuple with
no derivative of its own, like `x.shape`) and one primitive per output that reads its item. The
output primitives take the matrix and the tuple: their rules differentiate with respect to the
matrix and read the other outputs through the builder, so the adjoints of every output add up
and each rule is differentiable again (a Hessian is forward mode over these adjoints).

Conventions:
- Symmetric inputs (cholesky, eigh, eigvalsh) are read from their lower triangle, as NumPy and
  LAPACK read them, and the derivatives are those of that function: a tangent dA acts through
  sym(dA) = tril(dA) + tril(dA, -1).T, and the adjoint of a symmetric result G is
  Phi(G + G.T) (lower triangle, diagonal once): the upper triangle gets zero adjoint.
- eigh: Giles (2008), F_ij = 1 / (w_j - w_i). Eigenvector derivatives at eigenvalues that are
  repeated (gap <= 1e-10 * max|w|) raise LinAlgError at run time; eigenvalue derivatives need no
  gap (at a repeated eigenvalue they are V diag(w_bar) V.T for the eigenvectors LAPACK returns).
- svd (reduced): U and Vt need distinct singular values, and nonzero ones for a non-square
  matrix (else LinAlgError at run time); s alone needs neither.
- cholesky: Murray (2016), dL = L Phi(L^-1 dA L^-T), A_bar = Phi(S + S.T) with
  S = L^-T Phi(L.T L_bar) L^-1.
- qr: reduced, square or tall matrices (a wide one raises LinAlgError at run time).
- pinv and lstsq: the derivative of the fixed-rank pseudo-inverse (Golub and Pereyra, 1973).
- inv, solve, det, slogdet: a singular matrix raises NumPy's LinAlgError (for det and slogdet,
  in the derivative, which needs inv(A))."""
from __future__ import annotations

from ..ir.types import Type, TupleType, FLOAT
from .hand import prim
from .table import TypeRuleError, register_helpers

register_helpers("eigh_gaps", "svd_gaps", "qr_reduced", "lstsq_solution", "square_matrix")

VECTOR, MATRIX, NUMBER = Type(FLOAT, 1), Type(FLOAT, 2), Type(FLOAT, 0)


def float_matrix(t, what: str) -> Type:
    """The type rule's check of a matrix operand: float, rank 2 (stacks are not supported)."""
    if not isinstance(t, Type) or t.rank != 2:
        hint = "loop over the leading axis" if isinstance(t, Type) and t.rank > 2 else ""
        raise TypeRuleError(f"{what} needs a matrix (rank 2), got {t}", hint=hint)
    if not t.is_float:
        raise TypeRuleError(f"{what} needs a float matrix, got {t}", hint="convert it with 1.0 * A")
    return t


def _matrix_rule(what, out):
    def infer(types, params):
        float_matrix(types[0], what)
        return out
    return infer


def _item_rule(what, out):
    """The type of an output primitive (matrix, tuple of the decomposition)."""
    def infer(types, params):
        float_matrix(types[0], what)
        if not isinstance(types[1], TupleType):
            raise TypeRuleError(f"{what}: the second operand must be the decomposition's tuple")
        return out
    return infer


# --- small builder helpers ------------------------------------------------------------------
def T(b, x):
    return b.call("transpose", x)


def left_solve(b, a, x):
    """a^-1 x, by a solve (never the inverse)."""
    return b.call("solve", a, x)


def right_solve(b, x, a):
    """x a^-1 = (a^-T x^T)^T."""
    return T(b, b.call("solve", T(b, a), T(b, x)))


def row(b, v):
    """v[None, :], a vector as a row that scales the columns of a matrix."""
    return b.call("expand_dims", v, axis=0)


def col(b, v):
    return b.call("expand_dims", v, axis=1)


def phi(b, x):
    """Phi(x): the strict lower triangle and half the diagonal (linear and self-adjoint)."""
    return b.call("tril_half", x)


def sym_lower(b, t):
    """The symmetric matrix whose lower triangle is t's: what a symmetric input is read as."""
    return b.call("sym_lower", t)


def lower_adjoint(b, g):
    """The adjoint, in the lower triangle read, of a symmetric input's adjoint g."""
    return phi(b, g + T(b, g))


# --- the triangle maps ----------------------------------------------------------------------
def _same_matrix(what):
    return lambda types, params: float_matrix(types[0], what)


prim("tril_half", _same_matrix("tril_half"), "np.tril({0}, -1) + np.diag(0.5 * np.diag({0}))",
     jvp=lambda b, out, args, tg, p: phi(b, tg[0]),
     vjp=lambda b, g, out, args, active, p: [phi(b, g)],
     doc="the strict lower triangle and half the diagonal (Murray's Phi)")
prim("sym_lower", _same_matrix("sym_lower"), "np.tril({0}) + np.tril({0}, -1).T",
     jvp=lambda b, out, args, tg, p: sym_lower(b, tg[0]),
     vjp=lambda b, g, out, args, active, p: [lower_adjoint(b, g)],
     doc="the symmetric matrix with the lower triangle of the operand")


# --- inv, solve, det, slogdet ---------------------------------------------------------------
prim("inv", _matrix_rule("np.linalg.inv", MATRIX), "np.linalg.inv({0})",
     jvp=lambda b, out, args, tg, p: -(out @ tg[0] @ out),
     vjp=lambda b, g, out, args, active, p: [-(T(b, out) @ g @ T(b, out))])


def _solve_type(types, params):
    a, rhs = types
    float_matrix(a, "np.linalg.solve")
    if not isinstance(rhs, Type) or rhs.rank not in (1, 2) or not rhs.is_float:
        raise TypeRuleError(f"np.linalg.solve needs a float vector or matrix b, got {rhs}",
                            hint="stacks of right-hand sides are not supported; use a matrix b")
    return rhs


def _solve_jvp(b, out, args, tg, p):
    a, _ = args
    ta, tb = tg
    rhs = tb if ta is None else (-(ta @ out) if tb is None else tb - ta @ out)
    return left_solve(b, a, rhs)


def _solve_vjp(b, g, out, args, active, p):
    """The adjoint solves the transposed system: b_bar = A^-T g, A_bar = -b_bar x^T."""
    a, _ = args
    gb = left_solve(b, T(b, a), g)
    ga = None
    if active[0]:
        ga = -b.call("outer", gb, out) if out.rank == 1 else -(gb @ T(b, out))
    return [ga, gb if active[1] else None]


prim("solve", _solve_type, "np.linalg.solve({0}, {1})", jvp=_solve_jvp, vjp=_solve_vjp)


def _trace_solve(b, a, t):
    """trace(A^-1 t): the derivative of log|det A| along t."""
    return b.call("trace", left_solve(b, a, t))


prim("det", _matrix_rule("np.linalg.det", NUMBER), "np.linalg.det({0})",
     jvp=lambda b, out, args, tg, p: out * _trace_solve(b, args[0], tg[0]),
     vjp=lambda b, g, out, args, active, p: [(g * out) * T(b, b.call("inv", args[0]))],
     doc="the adjoint is g det(A) inv(A).T: a singular A raises LinAlgError there")
prim("slogdet", _matrix_rule("np.linalg.slogdet", TupleType((NUMBER, NUMBER))), "np.linalg.slogdet({0})",
     differentiable=False, doc="(sign, log|det|) together; the sign has derivative zero")
prim("slogdet_logabs", _item_rule("np.linalg.slogdet", NUMBER), "{1}[1]",
     jvp=lambda b, out, args, tg, p: _trace_solve(b, args[0], tg[0]),
     vjp=lambda b, g, out, args, active, p: [g * T(b, b.call("inv", args[0])), None],
     doc="log|det A| from slogdet's tuple; its gradient is inv(A).T")


# --- cholesky -------------------------------------------------------------------------------
def _cholesky_jvp(b, out, args, tg, p):
    low = out
    m = right_solve(b, left_solve(b, low, sym_lower(b, tg[0])), T(b, low))
    return low @ phi(b, m)


def _cholesky_vjp(b, g, out, args, active, p):
    low = out
    s = right_solve(b, left_solve(b, T(b, low), phi(b, T(b, low) @ g)), low)
    return [phi(b, s + T(b, s))]


prim("cholesky", _matrix_rule("np.linalg.cholesky", MATRIX), "np.linalg.cholesky({0})",
     jvp=_cholesky_jvp, vjp=_cholesky_vjp,
     doc="lower factor L of A = L L.T, reading A's lower triangle (Murray 2016)")


# --- eigh -----------------------------------------------------------------------------------
def _eigh_w_jvp(b, out, args, tg, p):
    v = b.call("eigh_v", *args)
    return b.call("sum", v * (sym_lower(b, tg[0]) @ v), axis=0)


def _eigh_w_vjp(b, g, out, args, active, p):
    v = b.call("eigh_v", *args)
    return [lower_adjoint(b, (v * row(b, g)) @ T(b, v)), None]


def _eigh_v_jvp(b, out, args, tg, p):
    w, v = b.call("eigh_w", *args), out
    f = b.call("eigh_gaps", w)
    return v @ (f * (T(b, v) @ sym_lower(b, tg[0]) @ v))


def _eigh_v_vjp(b, g, out, args, active, p):
    w, v = b.call("eigh_w", *args), out
    f = b.call("eigh_gaps", w)
    return [lower_adjoint(b, v @ (f * (T(b, v) @ g)) @ T(b, v)), None]


prim("eigh", _matrix_rule("np.linalg.eigh", TupleType((VECTOR, MATRIX))), "np.linalg.eigh({0})",
     differentiable=False, doc="(w, v) together; the outputs' primitives carry the derivatives")
prim("eigh_w", _item_rule("np.linalg.eigh", VECTOR), "{1}[0]", jvp=_eigh_w_jvp, vjp=_eigh_w_vjp,
     doc="eigenvalues (ascending) from eigh's tuple")
prim("eigh_v", _item_rule("np.linalg.eigh", MATRIX), "{1}[1]", jvp=_eigh_v_jvp, vjp=_eigh_v_vjp,
     doc="eigenvectors (columns) from eigh's tuple; needs distinct eigenvalues")


def _gaps_type(types, params):
    if not isinstance(types[0], Type) or types[0].rank != 1:
        raise TypeRuleError(f"the eigenvalue gaps need a vector, got {types[0]}")
    return MATRIX


def _gaps_jvp(b, out, args, tg, p):
    """F_ij = 1 / (w_j - w_i): dF = -F * F * (dw_j - dw_i)."""
    tw = tg[0]
    return -(out * out) * (row(b, tw) - col(b, tw))


def _gaps_vjp(b, g, out, args, active, p):
    h = g * out * out
    return [b.call("sum", h, axis=1) - b.call("sum", h, axis=0)] + [None] * (len(args) - 1)


prim("eigh_gaps", _gaps_type, "eigh_gaps({0})", jvp=_gaps_jvp, vjp=_gaps_vjp,
     doc="F_ij = 1 / (w_j - w_i), 0 on the diagonal; LinAlgError for repeated eigenvalues")
prim("svd_gaps", _gaps_type, "svd_gaps({0}, {1})", jvp=_gaps_jvp, vjp=_gaps_vjp,
     doc="F_ij = 1 / (q_j - q_i) for q = s**2 (the second operand gives the matrix's shape); "
         "LinAlgError for repeated singular values, or a zero one of a non-square matrix")


# --- svd (reduced) --------------------------------------------------------------------------
def _svd_parts(b, args):
    a, pair = args
    return b.call("svd_u", a, pair), b.call("svd_s", a, pair), b.call("svd_vt", a, pair)


def _svd_gaps(b, a, s):
    return b.call("svd_gaps", s * s, a)


def _inverse_s(b, s):
    """1 / s, with 0 where s is 0 (only a square matrix gets there: see _projected)."""
    zero = s.eq(0.0)
    return b.call("where", zero, 0.0, 1.0 / b.call("where", zero, 1.0, s))


def _projected(b, a, term, s, tall):
    """term / s (columns), the part of dU outside U's span for a tall matrix (`tall`), of dV outside
    V's span for a wide one; 0 otherwise, where U (or V) is square and the term is rounding
    error that a small singular value would magnify."""
    rows, cols = b.call("dim", a, axis=0), b.call("dim", a, axis=1)
    needed = rows > cols if tall else cols > rows
    return b.call("where", needed, term * row(b, _inverse_s(b, s)), 0.0)


def _svd_s_jvp(b, out, args, tg, p):
    u, _, vt = _svd_parts(b, args)
    return b.call("sum", u * (tg[0] @ T(b, vt)), axis=0)


def _svd_s_vjp(b, g, out, args, active, p):
    u, _, vt = _svd_parts(b, args)
    return [(u * row(b, g)) @ vt, None]


def _svd_u_jvp(b, out, args, tg, p):
    u, s, vt = _svd_parts(b, args)
    ta, v = tg[0], T(b, vt)
    f = _svd_gaps(b, args[0], s)
    av = ta @ v
    ds = (T(b, u) @ av) * row(b, s)
    return u @ (f * (ds + T(b, ds))) + _projected(b, args[0], av - u @ (T(b, u) @ av), s, True)


def _svd_u_vjp(b, g, out, args, active, p):
    u, s, vt = _svd_parts(b, args)
    f = _svd_gaps(b, args[0], s)
    utg = T(b, u) @ g
    j = f * utg
    inner = (j + T(b, j)) * row(b, s)
    return [u @ inner @ vt + _projected(b, args[0], g - u @ utg, s, True) @ vt, None]


def _svd_vt_jvp(b, out, args, tg, p):
    u, s, vt = _svd_parts(b, args)
    ta, v = tg[0], T(b, vt)
    f = _svd_gaps(b, args[0], s)
    atu = T(b, ta) @ u
    ds = col(b, s) * (T(b, atu) @ v)
    dv = v @ (f * (ds + T(b, ds))) + _projected(b, args[0], atu - v @ (vt @ atu), s, False)
    return T(b, dv)


def _svd_vt_vjp(b, g, out, args, active, p):
    u, s, vt = _svd_parts(b, args)
    f = _svd_gaps(b, args[0], s)
    k = f * (vt @ T(b, g))
    inner = col(b, s) * (k + T(b, k))
    return [u @ inner @ vt + T(b, _projected(b, args[0], T(b, g - (g @ T(b, vt)) @ vt), s, False) @ T(b, u)),
            None]


prim("svd", _matrix_rule("np.linalg.svd", TupleType((MATRIX, VECTOR, MATRIX))),
     "np.linalg.svd({0}, full_matrices=False)", differentiable=False,
     doc="(U, s, Vt) of the reduced SVD together")
prim("svd_u", _item_rule("np.linalg.svd", MATRIX), "{1}[0]", jvp=_svd_u_jvp, vjp=_svd_u_vjp)
prim("svd_s", _item_rule("np.linalg.svd", VECTOR), "{1}[1]", jvp=_svd_s_jvp, vjp=_svd_s_vjp,
     doc="singular values (descending); their derivative needs no gap")
prim("svd_vt", _item_rule("np.linalg.svd", MATRIX), "{1}[2]", jvp=_svd_vt_jvp, vjp=_svd_vt_vjp)


# --- qr (reduced, square or tall) -----------------------------------------------------------
def _qr_jvp(which):
    def jvp(b, out, args, tg, p):
        a, pair = args
        q, r = b.call("qr_q", a, pair), b.call("qr_r", a, pair)
        e = right_solve(b, tg[0], r)                    # dA R^-1
        c = T(b, q) @ e
        low = b.call("tril_strict", c)
        omega = low - T(b, low)                         # Q^T dQ, antisymmetric
        return q @ (omega - c) + e if which == "q" else (c - omega) @ r
    return jvp


def _qr_vjp(which):
    def vjp(b, g, out, args, active, p):
        a, pair = args
        q, r = b.call("qr_q", a, pair), b.call("qr_r", a, pair)
        m = -(T(b, q) @ g) if which == "q" else g @ T(b, r)
        c = m + b.call("tril_strict", T(b, m) - m)     # M with its upper triangle copied below
        e = q @ c + g if which == "q" else q @ c
        return [T(b, left_solve(b, r, T(b, e))), None]  # E R^-T
    return vjp


prim("qr", _matrix_rule("np.linalg.qr", TupleType((MATRIX, MATRIX))), "qr_reduced({0})",
     differentiable=False, doc="(Q, R) of the reduced QR; LinAlgError for a wide matrix")
prim("qr_q", _item_rule("np.linalg.qr", MATRIX), "{1}[0]", jvp=_qr_jvp("q"), vjp=_qr_vjp("q"))
prim("qr_r", _item_rule("np.linalg.qr", MATRIX), "{1}[1]", jvp=_qr_jvp("r"), vjp=_qr_vjp("r"))
prim("tril_strict", _same_matrix("tril_strict"), "np.tril({0}, -1)",
     jvp=lambda b, out, args, tg, p: b.call("tril_strict", tg[0]),
     vjp=lambda b, g, out, args, active, p: [b.call("tril_strict", g)])


# --- pinv and lstsq -------------------------------------------------------------------------
def pinv_jvp(b, a, x, ta):
    """dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X, X = pinv(A)."""
    w = T(b, ta)
    xxt, xtx = x @ T(b, x), T(b, x) @ x
    return -(x @ ta @ x) + xxt @ (w - (w @ a) @ x) + (w - x @ (a @ w)) @ xtx


def pinv_vjp(b, a, x, g):
    """A_bar = -X^T G X^T + (I - A X) G^T X X^T + X^T X G^T (I - X A)."""
    gt = T(b, g)
    y = gt @ (x @ T(b, x))
    z = (T(b, x) @ x) @ gt
    return -(T(b, x) @ g @ T(b, x)) + (y - a @ (x @ y)) + (z - (z @ x) @ a)


prim("pinv", _matrix_rule("np.linalg.pinv", MATRIX), "np.linalg.pinv({0})",
     jvp=lambda b, out, args, tg, p: pinv_jvp(b, args[0], out, tg[0]),
     vjp=lambda b, g, out, args, active, p: [pinv_vjp(b, args[0], out, g)],
     doc="Moore-Penrose pseudo-inverse; derivative of the fixed-rank map (Golub-Pereyra)")


def _lstsq_type(types, params):
    a, rhs = types
    float_matrix(a, "np.linalg.lstsq")
    if not isinstance(rhs, Type) or rhs.rank not in (1, 2) or not rhs.is_float:
        raise TypeRuleError(f"np.linalg.lstsq needs a float vector or matrix b, got {rhs}")
    return rhs


def _lstsq_jvp(b, out, args, tg, p):
    a, rhs = args
    ta, tb = tg
    x = b.call("pinv", a)
    parts = []
    if ta is not None:
        parts.append(pinv_jvp(b, a, x, ta) @ rhs)
    if tb is not None:
        parts.append(x @ tb)
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _lstsq_vjp(b, g, out, args, active, p):
    a, rhs = args
    x = b.call("pinv", a)
    ga = None
    if active[0]:
        gx = b.call("outer", g, rhs) if rhs.rank == 1 else g @ T(b, rhs)
        ga = pinv_vjp(b, a, x, gx)
    return [ga, T(b, x) @ g if active[1] else None]


prim("lstsq", _lstsq_type, "lstsq_solution({0}, {1})", jvp=_lstsq_jvp, vjp=_lstsq_vjp,
     doc="np.linalg.lstsq(A, b, rcond=None)[0] = pinv(A) b; derivative through pinv")


# --- a square check for matrix_power(A, 0) and (A, 1) ---------------------------------------
def _any_matrix(types, params):
    if not isinstance(types[0], Type) or types[0].rank != 2:
        raise TypeRuleError(f"np.linalg.matrix_power needs a matrix (rank 2), got {types[0]}")
    return types[0]


prim("square_matrix", _any_matrix, "square_matrix({0})",
     jvp=lambda b, out, args, tg, p: tg[0],
     vjp=lambda b, g, out, args, active, p: [g],
     doc="the matrix itself, after a LinAlgError if it is not square")
