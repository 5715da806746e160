"""np.linalg: every function and call form against central differences (reverse mode), forward
mode against reverse mode, Numba against the Python target, Hessians where the function is twice
differentiable; then the identities the rules rely on, the conventions (lower-triangle reads,
repeated eigenvalues and singular values, zero derivatives) and the errors of unsupported forms.

Inputs are well conditioned: "spd" draws symmetric positive definite matrices (distinct
eigenvalues almost surely), "wellcond" square or rectangular matrices with singular values
well apart from 0. Eigenvectors and singular vectors are determined up to sign, so their rows
check sign-invariant functions of them (v ** 2, U @ Vt, v * v[0])."""
from __future__ import annotations

import numpy as np
import pytest

import cotangent as ct
from rule_check import DOMAINS, check, check_hessian, hessian_matrix, matrix, row


def _spd(rng, s):
    m = rng.uniform(-1.0, 1.0, s)
    return m @ m.T + s[0] * np.eye(s[0])


def _wellcond(rng, s):
    return rng.uniform(-1.0, 1.0, s) + 2.5 * np.eye(*s)


DOMAINS["spd"] = _spd
DOMAINS["wellcond"] = _wellcond

SQ = ("wellcond", (3, 3))
SPD = ("spd", (3, 3))

SOLVERS = [
    row("np.linalg.inv(A)", A=SQ), row("np.linalg.inv(A)", A=("wellcond", (4, 4)), numba=False),
    row("np.linalg.inv(A)", A=("wellcond", (1, 1)), numba=False),
    row("np.linalg.solve(A, b)", A=SQ, b=("real", (3,))),
    row("np.linalg.solve(A, B)", A=SQ, B=("real", (3, 2))),
    row("np.linalg.solve(A, B)", A=("wellcond", (2, 2)), B=("real", (2, 4)), numba=False),
    row("np.linalg.det(A)", A=SQ), row("np.linalg.det(A)", A=("real", (4, 4)), numba=False),
    row("np.linalg.slogdet(A)[1]", A=SQ),
    row("np.linalg.slogdet(A)[0] * np.linalg.slogdet(A)[1]", A=("real", (3, 3)), numba=False),
    row("np.linalg.pinv(A)", A=SQ), row("np.linalg.pinv(A)", A=("wellcond", (4, 2)), numba=False),
    row("np.linalg.pinv(A)", A=("wellcond", (2, 4)), numba=False),
    row("np.linalg.lstsq(A, b, rcond=None)[0]", A=("wellcond", (4, 2)), b=("real", (4,))),
    row("np.linalg.lstsq(A, B, rcond=None)[0]", A=("wellcond", (5, 3)), B=("real", (5, 2)), numba=False),
    row("np.linalg.lstsq(A, b, rcond=None)[0]", A=SQ, b=("real", (3,)), numba=False),
]

DECOMPOSITIONS = [
    row("np.linalg.cholesky(A)", A=SPD), row("np.linalg.cholesky(A)", A=("spd", (4, 4)), numba=False),
    row("np.linalg.cholesky(A, upper=True)", A=SPD, numba=False),
    row("np.linalg.eigh(A)[0]", A=SPD), row("np.linalg.eigh(A)[1] ** 2", A=SPD),
    row("np.linalg.eigh(A)[1] * np.linalg.eigh(A)[1][0]", A=("spd", (4, 4)), numba=False),
    row("np.linalg.eigh(A, UPLO='U')[1] ** 2", A=SPD, numba=False),
    row("np.linalg.eigvalsh(A)", A=SPD), row("np.linalg.eigvalsh(A)", A=("spd", (2, 2)), numba=False),
    row("np.linalg.svd(A, compute_uv=False)", A=SQ),
    row("np.linalg.svd(A, compute_uv=False)", A=("wellcond", (4, 2)), numba=False),
    row("np.linalg.svd(A, compute_uv=False)", A=("wellcond", (2, 4)), numba=False),
    row("np.linalg.svd(A, full_matrices=False)[0] ** 2", A=("wellcond", (4, 3))),
    row("np.linalg.svd(A, full_matrices=False)[2] ** 2", A=("wellcond", (3, 4)), numba=False),
    row("np.linalg.svd(A, full_matrices=False)[0] @ np.linalg.svd(A, full_matrices=False)[2]", A=SQ,
        numba=False),
    row("np.linalg.svd(A, full_matrices=False)[0] @ np.linalg.svd(A, full_matrices=False)[2]",
        A=("wellcond", (4, 2)), numba=False),
    row("np.linalg.svd(A, full_matrices=False)[0] @ np.linalg.svd(A, full_matrices=False)[2]",
        A=("wellcond", (2, 4)), numba=False),
    row("np.linalg.qr(A)[0]", A=SQ), row("np.linalg.qr(A)[1]", A=("wellcond", (4, 3))),
    row("np.linalg.qr(A)[0]", A=("wellcond", (4, 3)), numba=False),
    row("np.linalg.qr(A, mode='r')", A=SQ, numba=False),
]

PRODUCTS = [
    row("np.linalg.matrix_power(A, 3)", A=("unit", (3, 3))),
    row("np.linalg.matrix_power(A, 0)", A=("real", (3, 3)), numba=False),
    row("np.linalg.matrix_power(A, 1)", A=("real", (3, 3)), numba=False),
    row("np.linalg.matrix_power(A, 2)", A=("real", (2, 2)), numba=False),
    row("np.linalg.matrix_power(A, 6)", A=("unit", (3, 3)), numba=False),
    row("np.linalg.matrix_power(A, -2)", A=SQ),
    row("np.linalg.matrix_power(A, -1)", A=SQ, numba=False),
    row("np.linalg.multi_dot([A, B, C])", A=("real", (2, 3)), B=("real", (3, 4)), C=("real", (4, 2))),
    row("np.linalg.multi_dot([A, B, c])", A=("real", (2, 3)), B=("real", (3, 4)), c=("real", (4,)),
        numba=False),
    row("np.linalg.multi_dot((a, B, C))", a=("real", (3,)), B=("real", (3, 4)), C=("real", (4, 2)),
        numba=False),
    row("np.linalg.multi_dot([A, B])", A=("real", (2, 3)), B=("real", (3, 2)), numba=False),
]

NORMS = [
    row("np.linalg.norm(x)", x=("real", (4,)), numba=False),
    row("np.linalg.norm(x, 2)", x=("real", (4,)), numba=False),
    row("np.linalg.norm(x, 1)", x=("nonzero", (4,))),
    row("np.linalg.norm(x, np.inf)", x=("real", (4,)), numba=False),
    row("np.linalg.norm(x, -np.inf)", x=("real", (4,)), numba=False),
    row("np.linalg.norm(x, 3)", x=("real", (4,))),
    row("np.linalg.norm(x, ord=0.5)", x=("nonzero", (4,)), numba=False),
    row("np.linalg.norm(x, 1.5)", x=("nonzero", (4,)), numba=False),
    row("np.linalg.norm(x, 0)", x=("nonzero", (4,)), numba=False),
    row("np.linalg.norm(x, axis=1)", x=("real", (3, 4))),
    row("np.linalg.norm(x, axis=0, keepdims=True)", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x, np.inf, axis=-1)", x=("real", (2, 3, 4)), numba=False),
    row("np.linalg.norm(x, 4, axis=1, keepdims=True)", x=("real", (2, 3, 4)), numba=False),
    row("np.linalg.norm(x, keepdims=True)", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x)", x=("real", (2, 3, 4)), numba=False),
    row("np.linalg.norm(x, 'fro')", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x, 1)", x=("real", (3, 4))),
    row("np.linalg.norm(x, -1)", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x, np.inf)", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x, -np.inf)", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x, 2)", x=("real", (3, 4))),
    row("np.linalg.norm(x, -2)", x=("wellcond", (4, 3)), numba=False),
    row("np.linalg.norm(x, 'nuc')", x=("real", (3, 4))),
    row("np.linalg.norm(x, 'nuc', axis=(1, 0), keepdims=True)", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x, 1, axis=(1, 0))", x=("real", (3, 4)), numba=False),
    row("np.linalg.norm(x, 1, axis=(0, 2), keepdims=True)", x=("real", (3, 2, 4)), numba=False),
    row("np.linalg.norm(x, np.inf, axis=(2, 0))", x=("real", (3, 2, 4)), numba=False),
    row("np.linalg.norm(x, 'fro', axis=(0, 2))", x=("real", (3, 2, 4)), numba=False),
    row("np.linalg.norm(x, axis=(2, 1), keepdims=True)", x=("real", (3, 2, 4)), numba=False),
]

ROWS = SOLVERS + DECOMPOSITIONS + PRODUCTS + NORMS

# twice differentiable at the drawn inputs (the norms built on |x|, max and min are not)
TWICE = [
    row("np.linalg.inv(A)", A=SQ), row("np.linalg.solve(A, B)", A=SQ, B=("real", (3, 2))),
    row("np.linalg.solve(A, b)", A=("wellcond", (2, 2)), b=("real", (2,))),
    row("np.linalg.det(A)", A=SQ), row("np.linalg.slogdet(A)[1]", A=SQ),
    row("np.linalg.pinv(A)", A=("wellcond", (3, 2))),
    row("np.linalg.lstsq(A, b, rcond=None)[0]", A=("wellcond", (3, 2)), b=("real", (3,))),
    row("np.linalg.cholesky(A)", A=SPD), row("np.linalg.eigh(A)[0]", A=SPD),
    row("np.linalg.eigh(A)[1] ** 2", A=SPD), row("np.linalg.eigvalsh(A)", A=("spd", (2, 2))),
    row("np.linalg.svd(A, compute_uv=False)", A=("wellcond", (3, 2))),
    row("np.linalg.svd(A, full_matrices=False)[0] ** 2", A=("wellcond", (3, 2))),
    row("np.linalg.svd(A, full_matrices=False)[2] ** 2", A=("wellcond", (2, 3))),
    row("np.linalg.qr(A)[0]", A=("wellcond", (3, 2))), row("np.linalg.qr(A)[1]", A=SQ),
    row("np.linalg.matrix_power(A, 3)", A=("unit", (2, 2))),
    row("np.linalg.matrix_power(A, -2)", A=("wellcond", (2, 2))),
    row("np.linalg.multi_dot([A, B, c])", A=("real", (2, 3)), B=("real", (3, 2)), c=("real", (2,))),
    row("np.linalg.norm(x)", x=("real", (4,))), row("np.linalg.norm(x, 3)", x=("real", (3,))),
    row("np.linalg.norm(x, axis=1)", x=("real", (2, 3))),
    row("np.linalg.norm(x, 'fro')", x=("real", (2, 3))),
    row("np.linalg.norm(x, 'nuc')", x=("wellcond", (3, 2))),
]


@pytest.mark.parametrize("expr, args, target", matrix(ROWS))
def test_rule(expr, args, target):
    check(expr, args, target)


@pytest.mark.parametrize("expr, args", hessian_matrix(TWICE))
def test_hessian(expr, args):
    check_hessian(expr, args)


# --- the unpacked forms, on both targets ----------------------------------------------------
TARGETS = ["python", "cpu"]


def logdet_unpacked(A):
    sign, logdet = np.linalg.slogdet(A)
    return sign * logdet


def eigh_unpacked(A, c):
    w, v = np.linalg.eigh(A)
    return np.sum(w * c) + np.sum((v @ np.diag(c) @ v.T) ** 2)


def svd_unpacked(A):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return np.sum(np.sin(U @ np.diag(np.sqrt(s)) @ Vt))


def qr_unpacked(A):
    Q, R = np.linalg.qr(A)
    return np.sum(Q[:, 0] * 2.0) + np.sum(R ** 3)


def _rng_matrix(shape, seed=3, spd=False):
    rng = np.random.default_rng(seed)
    return _spd(rng, shape) if spd else _wellcond(rng, shape)


UNPACKED = [(logdet_unpacked, (_rng_matrix((3, 3)) - 2.5 * np.eye(3),)),
            (eigh_unpacked, (_rng_matrix((3, 3), spd=True), np.array([0.5, -1.0, 2.0]))),
            (svd_unpacked, (_rng_matrix((4, 3)),)), (qr_unpacked, (_rng_matrix((4, 3)),))]


@pytest.mark.parametrize("fn, args", UNPACKED, ids=[f.__name__ for f, _ in UNPACKED])
def test_unpacked_decompositions_on_both_targets(fn, args):
    py = ct.differentiable(fn, target="python")
    ct.check_grad(py, *args, argnums=0)
    value, grad = ct.value_and_grad(py)(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
    cpu_value, cpu_grad = ct.value_and_grad(ct.differentiable(fn, target="cpu"))(*args)
    np.testing.assert_allclose(cpu_value, value, rtol=1e-10)
    np.testing.assert_allclose(cpu_grad, grad, rtol=1e-9, atol=1e-12)


# --- identities -----------------------------------------------------------------------------
def logdet(A):
    return np.linalg.slogdet(A)[1]


@pytest.mark.parametrize("target", TARGETS)
def test_gradient_of_logdet_is_the_inverse_transposed(target):
    A = _rng_matrix((4, 4)) - 2.5 * np.eye(4)            # not symmetric, det of either sign
    g = ct.grad(ct.differentiable(logdet, target=target))(A)
    np.testing.assert_allclose(g, np.linalg.inv(A).T, rtol=1e-10, atol=1e-12)


def solve_weighted(A, b, w):
    return np.sum(np.linalg.solve(A, b) * w)


def test_adjoint_of_solve_solves_the_transposed_system():
    A, b, w = _rng_matrix((4, 4)), np.arange(1.0, 5.0), np.array([1.0, -2.0, 0.5, 3.0])
    fn = ct.differentiable(solve_weighted, target="python")
    gA, gb = ct.grad(fn, argnums=(0, 1))(A, b, w)
    b_bar = np.linalg.solve(A.T, w)
    np.testing.assert_allclose(gb, b_bar, rtol=1e-12)
    np.testing.assert_allclose(gA, -np.outer(b_bar, np.linalg.solve(A, b)), rtol=1e-12)
    source = ct.source(ct.grad(fn, argnums=(0, 1)), A, b, w)
    assert "np.linalg.solve(" in source and "inv(" not in source


def cholesky_weighted(A, W):
    return np.sum(np.linalg.cholesky(A) * W)


def cholesky_of_symmetrized(B, W):
    return np.sum(np.linalg.cholesky(0.5 * (B + B.T)) * W)


def test_cholesky_reconstructs_and_reads_the_lower_triangle():
    A, W = _rng_matrix((4, 4), spd=True), np.tril(np.arange(16.0).reshape(4, 4) - 7.0)
    L = ct.differentiable(lambda_free_cholesky, target="python")(A)
    np.testing.assert_allclose(L @ L.T, A, rtol=1e-12)
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=1e-14)
    g = ct.grad(ct.differentiable(cholesky_weighted, target="python"))(A, W)
    assert np.all(np.triu(g, 1) == 0.0)                   # the upper triangle is never read
    # the symmetric gradient, (g + g.T) / 2, is the gradient of the symmetrized input's function
    g_sym = ct.grad(ct.differentiable(cholesky_of_symmetrized, target="python"))(A, W)
    np.testing.assert_allclose(g_sym, 0.5 * (g + g.T), rtol=1e-10, atol=1e-12)


def lambda_free_cholesky(A):
    return np.linalg.cholesky(A)


def eigh_weighted(A, W):
    w, v = np.linalg.eigh(A)
    return np.sum(v ** 2 * W) + np.sum(w * W[0])


def test_eigh_reads_the_lower_triangle():
    A, W = _rng_matrix((3, 3), spd=True), np.arange(9.0).reshape(3, 3)
    g = ct.grad(ct.differentiable(eigh_weighted, target="python"))(A, W)
    assert np.all(np.triu(g, 1) == 0.0)
    upper = ct.grad(ct.differentiable(eigh_upper, target="python"))(A.T, W)
    np.testing.assert_allclose(upper, g.T, rtol=1e-10, atol=1e-12)      # UPLO='U' reads A.T's


def eigh_upper(A, W):
    w, v = np.linalg.eigh(A, UPLO="U")
    return np.sum(v ** 2 * W) + np.sum(w * W[0])


# --- degenerate inputs ----------------------------------------------------------------------
def inverse_sum(A):
    return np.sum(np.linalg.inv(A))


def solve_sum(A, b):
    return np.sum(np.linalg.solve(A, b))


def det_of(A):
    return np.linalg.det(A)


SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


@pytest.mark.parametrize("target", TARGETS)
def test_a_singular_matrix_raises_linalg_error_at_the_users_line(target):
    with pytest.raises(ct.CompileError, match="LinAlgError: Singular matrix") as info:
        ct.grad(ct.differentiable(inverse_sum, target=target))(SINGULAR)
    assert "test_rules_linalg.py" in str(info.value)
    with pytest.raises(ct.CompileError, match="LinAlgError: Singular matrix"):
        ct.differentiable(solve_sum, target="python")(SINGULAR, np.ones(2))


def test_det_of_a_singular_matrix_is_zero_and_its_gradient_raises():
    assert ct.differentiable(det_of, target="python")(SINGULAR) == 0.0
    with pytest.raises(ct.CompileError, match="LinAlgError: Singular matrix"):
        ct.grad(ct.differentiable(det_of, target="python"))(SINGULAR)


def eigenvectors(A, W):
    return np.sum(np.linalg.eigh(A)[1] ** 2 * W)


def eigenvalue_sum(A):
    return np.sum(np.linalg.eigvalsh(A))


@pytest.mark.parametrize("target", TARGETS)
def test_repeated_eigenvalues_raise_for_eigenvectors_only(target):
    A, W = np.diag([1.0, 1.0, 2.0]), np.arange(9.0).reshape(3, 3)
    with pytest.raises(ct.CompileError, match="eigh: the eigenvectors' derivative needs distinct eigenvalues"):
        ct.grad(ct.differentiable(eigenvectors, target=target))(A, W)
    # the trace's gradient, exact at repeated eigenvalues (lower-triangle read: the diagonal)
    g = ct.grad(ct.differentiable(eigenvalue_sum, target=target))(np.eye(3))
    np.testing.assert_allclose(g, np.eye(3), atol=1e-14)


def singular_vectors(A):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return np.sum(U ** 2 * np.arange(1.0, 1.0 + U.size).reshape(U.shape)) + np.sum(Vt ** 2 * Vt[0])


def nuclear(A):
    return np.sum(np.linalg.svd(A, compute_uv=False))


def test_repeated_or_zero_singular_values_raise_for_singular_vectors():
    fn = ct.grad(ct.differentiable(singular_vectors, target="python"))
    with pytest.raises(ct.CompileError, match="distinct singular values"):
        fn(2.0 * np.eye(3))
    with pytest.raises(ct.CompileError, match="non-square matrix needs nonzero singular values"):
        fn(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    # a square matrix of rank 1: its zero singular value needs no projection (U and V are square)
    ct.check_grad(ct.differentiable(singular_vectors, target="python"), np.outer([1.0, 2.0], [0.5, -1.5]))
    # singular values alone: U Vt, the nuclear norm's gradient, at repeated values too
    np.testing.assert_allclose(ct.grad(ct.differentiable(nuclear, target="python"))(2.0 * np.eye(3)), np.eye(3),
                               atol=1e-14)


def qr_q(A):
    return np.sum(np.linalg.qr(A)[0])


def test_qr_of_a_wide_matrix_raises():
    with pytest.raises(ct.CompileError, match="only square or tall matrices"):
        ct.differentiable(qr_q, target="python")(np.ones((2, 3)))


def power0(A):
    return np.linalg.matrix_power(A, 0)


def power1_sum(A):
    return np.sum(np.linalg.matrix_power(A, 1))


def test_matrix_power_zero_is_the_identity_with_zero_derivative():
    A = _rng_matrix((3, 3))
    np.testing.assert_array_equal(ct.differentiable(power0, target="python")(A), np.eye(3))
    jac = ct.jacrev(ct.differentiable(power0, target="python"))(A)
    assert np.all(np.asarray(jac) == 0.0)
    with pytest.raises(ct.CompileError, match="must be square"):
        ct.differentiable(power1_sum, target="python")(np.ones((2, 3)))


def norm2(x):
    return np.linalg.norm(x, 2)


def norm1(x):
    return np.linalg.norm(x, 1)


def test_vector_norms_at_zero():
    """The 2-norm's derivative at 0 is nan, as np.linalg.norm(x)'s (JAX's convention); the
    1-norm's is 0 (|x|'s)."""
    with np.errstate(all="ignore"):
        assert np.all(np.isnan(ct.grad(ct.differentiable(norm2, target="python"))(np.zeros(3))))
    assert np.all(ct.grad(ct.differentiable(norm1, target="python"))(np.zeros(3)) == 0.0)


# --- unsupported forms ----------------------------------------------------------------------
M3 = np.ones((3, 3))
UNSUPPORTED = [
    ("np.linalg.svd(A)", {"A": M3}, "full_matrices=True is not supported"),
    ("np.linalg.svd(A, full_matrices=False, hermitian=True)[1]", {"A": M3}, "hermitian=True"),
    ("np.linalg.inv(A)", {"A": np.ones((2, 3, 3))}, "np.linalg.inv needs a matrix \\(rank 2\\)"),
    ("np.linalg.det(A)", {"A": np.ones((3, 3), dtype=np.int64)}, "needs a float matrix"),
    ("np.linalg.eig(A)[0]", {"A": M3}, "np.linalg.eig is not supported"),
    ("np.linalg.eigh(A, UPLO='X')[0]", {"A": M3}, "UPLO='X' is not supported"),
    ("np.linalg.solve(A, B)", {"A": M3, "B": np.ones((2, 3, 3))}, "vector or matrix b"),
    ("np.linalg.qr(A, mode='complete')[0]", {"A": M3}, "mode='complete' is not supported"),
    ("np.linalg.lstsq(A, b, rcond=1e-3)[0]", {"A": M3, "b": np.ones(3)}, "rcond=0.001 is not supported"),
    ("np.linalg.lstsq(A, b, rcond=None)[2] * 1.0", {"A": M3, "b": np.ones(3)}, "only the solution"),
    ("np.linalg.pinv(A, 1e-3)", {"A": M3}, "rcond"),
    ("np.linalg.matrix_power(A, 1.5)", {"A": M3}, "n must be an integer"),
    ("np.linalg.matrix_power(A, 2)", {"A": np.ones((2, 3, 3))}, "needs a matrix"),
    ("np.linalg.multi_dot([A])", {"A": M3}, "at least two arrays"),
    ("np.linalg.multi_dot([A, x, A])", {"A": M3, "x": np.ones(3)}, "array 1 must be a matrix"),
    ("np.linalg.norm(x, 'fro')", {"x": np.ones(3)}, "is not a vector norm"),
    ("np.linalg.norm(x, -3)", {"x": np.ones(3)}, "not supported for vectors"),
    ("np.linalg.norm(x, 3)", {"x": M3}, "is not a matrix norm"),
    ("np.linalg.norm(x, 2, axis=(1, 2))", {"x": np.ones((2, 3, 3))}, "stack of matrices"),
    ("np.linalg.norm(x, 1)", {"x": np.ones((2, 3, 3))}, "needs axis="),
    ("np.linalg.norm(x, axis=(1, 1))", {"x": M3}, "names one axis twice"),
    ("np.linalg.norm(x, axis=(0, 1, 2))", {"x": np.ones((2, 3, 3))}, "pair of axes"),
]


@pytest.mark.parametrize("expr, args, message", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_forms_are_compile_errors(expr, args, message):
    from rule_check import define
    f = define(", ".join(args), expr)
    with pytest.raises(ct.CompileError, match=message):
        ct.differentiable(f, target="python")(*args.values())
