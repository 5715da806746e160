"""Products and matrix helpers: stacked matmul, np.dot of higher ranks, inner, vdot, tensordot,
einsum, kron, cross, triu/tril, diagonal, diag with k, trace with offset; both modes on both
targets, Hessians (forward over reverse), conventions and the errors of unsupported forms."""
from __future__ import annotations

import numpy as np
import pytest

import cotangent as ct
from rule_check import row, matrix, check, check_hessian, hessian_matrix, define

R = "real"

MATMUL_ROWS = [
    row("x @ y", x=(R, (2, 3, 4)), y=(R, (2, 4, 5))),
    row("np.matmul(x, y)", x=(R, (4,)), y=(R, (2, 4, 5))),
    row("x @ y", x=(R, (2, 3, 4)), y=(R, (4,)), numba=False),
    row("x @ y", x=(R, (2, 1, 3, 4)), y=(R, (4, 2)), numba=False),
    row("x @ y", x=(R, (3, 4)), y=(R, (2, 4, 5)), numba=False),
    row("np.matmul(x, y)", x=(R, (1, 3, 4)), y=(R, (2, 4, 2)), numba=False),
    row("np.sin(x @ y) @ x", x=(R, (2, 3, 3)), y=(R, (3, 3)), numba=False),
]

DOT_ROWS = [
    row("np.dot(x, y)", x=(R, (2, 3, 4)), y=(R, (5, 4, 2))),
    row("np.dot(x, y)", x=(R, (2, 3, 4)), y=(R, (4,)), numba=False),
    row("np.dot(x, y)", x=(R, (3,)), y=(R, (2, 3, 4)), numba=False),
    row("x.dot(y)", x=(R, (2, 4)), y=(R, (3, 4, 2)), numba=False),
    row("np.dot(x, 2.5)", x=(R, (2, 3))),
    row("np.dot(x, y)", x=(R, ()), y=(R, (3,)), numba=False),
    row("np.inner(x, y)", x=(R, (2, 3)), y=(R, (4, 3))),
    row("np.inner(x, y)", x=(R, (2, 2, 3)), y=(R, (3,)), numba=False),
    row("np.inner(x, y)", x=(R, (3,)), y=(R, ()), numba=False),
    row("np.vdot(x, y)", x=(R, (2, 3)), y=(R, (3, 2))),
    row("np.vdot(x, y)", x=(R, (4,)), y=(R, (4,)), numba=False),
    row("np.tensordot(x, y)", x=(R, (2, 3, 4)), y=(R, (3, 4, 5))),
    row("np.tensordot(x, y, axes=1)", x=(R, (2, 3)), y=(R, (3, 4)), numba=False),
    row("np.tensordot(x, y, 0)", x=(R, (2,)), y=(R, (3, 2)), numba=False),
    row("np.tensordot(x, y, axes=([0, 2], [2, 0]))", x=(R, (2, 3, 4)), y=(R, (4, 5, 2))),
    row("np.tensordot(x, y, axes=(1, -1))", x=(R, (2, 3)), y=(R, (4, 3)), numba=False),
]

EINSUM_ROWS = [
    row("np.einsum('ij,jk', x, y)", x=(R, (2, 3)), y=(R, (3, 4))),
    row("np.einsum('ij,jk->ik', x, y)", x=(R, (2, 3)), y=(R, (3, 4)), numba=False),
    row("np.einsum('ij,jk->ki', x, y)", x=(R, (2, 3)), y=(R, (3, 4)), numba=False),
    row("np.einsum('ii->i', x)", x=(R, (3, 3))),
    row("np.einsum('ii', x)", x=(R, (3, 3))),
    row("np.einsum('bii->bi', x)", x=(R, (2, 3, 3)), numba=False),
    row("np.einsum('bij,bjk->bik', x, y)", x=(R, (2, 3, 4)), y=(R, (2, 4, 5))),
    row("np.einsum('...ij,...jk->...ik', x, y)", x=(R, (2, 3, 4)), y=(R, (4, 5))),
    row("np.einsum('...ij,...jk->...ik', x, y)", x=(R, (2, 1, 3, 4)), y=(R, (5, 4, 2)), numba=False),
    row("np.einsum('...ij,...jk', x, y)", x=(R, (3, 4)), y=(R, (4, 2)), numba=False),
    row("np.einsum('i...->...', x)", x=(R, (3, 2)), numba=False),
    row("np.einsum('i,i->', x, y)", x=(R, (3,)), y=(R, (3,))),
    row("np.einsum('i,j->ij', x, y)", x=(R, (3,)), y=(R, (2,))),
    row("np.einsum('ij,ij->', x, y)", x=(R, (2, 3)), y=(R, (2, 3)), numba=False),
    row("np.einsum('bi,bi->b', x, y)", x=(R, (4, 3)), y=(R, (4, 3)), numba=False),
    row("np.einsum('ij->', x)", x=(R, (2, 3)), numba=False),
    row("np.einsum('ba', x)", x=(R, (2, 3)), numba=False),
    row("np.einsum('ij,jk,kl->il', x, y, z)", x=(R, (2, 3)), y=(R, (3, 4)), z=(R, (4, 2))),
    row("np.einsum('ij,jk,ki', x, y, z)", x=(R, (2, 3)), y=(R, (3, 4)), z=(R, (4, 2)), numba=False),
    row("np.einsum('abc,cd,bd->ad', x, y, z)", x=(R, (2, 3, 4)), y=(R, (4, 5)), z=(R, (3, 5)), numba=False),
    row("np.einsum(',ij->ji', s, x)", s=(R, ()), x=(R, (2, 3)), numba=False),
    row("np.einsum('ijk,ikl->jl', x, y)", x=(R, (2, 3, 4)), y=(R, (2, 4, 3)), numba=False),
    row("np.einsum('iij,jk->ik', x, y)", x=(R, (3, 3, 2)), y=(R, (2, 4)), numba=False),
    row("np.einsum('ij,jk->ijk', x, y)", x=(R, (2, 3)), y=(R, (3, 4)), numba=False),
    row("np.einsum('...i,...i', x, y)", x=(R, (2, 3)), y=(R, (4, 1, 3)), numba=False),
    row("np.einsum('ab,bc,cd,da->', x, y, z, w2)", x=(R, (2, 3)), y=(R, (3, 2)), z=(R, (2, 2)), w2=(R, (2, 2)),
        numba=False),
]

OTHER_ROWS = [
    row("np.kron(x, y)", x=(R, (2, 3)), y=(R, (3, 2))),
    row("np.kron(x, y)", x=(R, (3,)), y=(R, (2,)), numba=False),
    row("np.kron(x, y)", x=(R, (2,)), y=(R, (2, 3)), numba=False),
    row("np.kron(x, y)", x=(R, ()), y=(R, (2, 3)), numba=False),
    row("np.cross(x, y)", x=(R, (3,)), y=(R, (3,))),
    row("np.cross(x, y)", x=(R, (4, 3)), y=(R, (3,)), numba=False),
    row("np.cross(x, y)", x=(R, (2, 1, 3)), y=(R, (4, 3)), numba=False),
]

HELPER_ROWS = [
    row("np.triu(x)", x=(R, (3, 3))),
    row("np.triu(x, 1)", x=(R, (3, 4)), numba=False),
    row("np.triu(x, k=-1)", x=(R, (2, 3, 3)), numba=False),
    row("np.triu(x, 1)", x=(R, (4,)), numba=False),
    row("np.tril(x, -1)", x=(R, (4, 3))),
    row("np.tril(x, 2)", x=(R, (3,)), numba=False),
    row("np.diagonal(x)", x=(R, (3, 4))),
    row("np.diagonal(x, 1, 0, 2)", x=(R, (3, 2, 4)), numba=False),
    row("np.diagonal(x, offset=-1, axis1=2, axis2=0)", x=(R, (3, 2, 4)), numba=False),
    row("x.diagonal(-1)", x=(R, (3, 4))),
    row("x.diagonal(axis1=1, axis2=2)", x=(R, (2, 3, 3)), numba=False),
    row("np.diag(x, 1)", x=(R, (3,))),
    row("np.diag(x, k=-2)", x=(R, (3,)), numba=False),
    row("np.diag(x, -1)", x=(R, (3, 4))),
    row("np.diag(x, 2)", x=(R, (4, 4)), numba=False),
    row("np.trace(x, 1)", x=(R, (3, 4))),
    row("np.trace(x, -1)", x=(R, (4, 4)), numba=False),
    row("np.trace(x, axis1=1, axis2=2)", x=(R, (2, 3, 3)), numba=False),
    row("x.trace()", x=(R, (3, 3))),
    row("x.trace(offset=1, axis1=0, axis2=2)", x=(R, (2, 3, 4)), numba=False),
]

ROWS = MATMUL_ROWS + DOT_ROWS + EINSUM_ROWS + OTHER_ROWS + HELPER_ROWS


@pytest.mark.parametrize("expr, args, target", matrix(ROWS))
def test_rule(expr, args, target):
    check(expr, args, target)


# second derivatives: products (each factor's derivative depends on the other) and linear helpers
# applied to nonlinear values, so that every Hessian block is nonzero
HESSIAN_ROWS = [
    row("x @ y", x=(R, (2, 3, 4)), y=(R, (2, 4, 2))),
    row("x @ y", x=(R, (3,)), y=(R, (2, 3, 2))),
    row("np.sin(x) @ y", x=(R, (2, 1, 2, 3)), y=(R, (3,))),
    row("np.dot(x, y)", x=(R, (2, 2, 3)), y=(R, (2, 3, 2))),
    row("np.inner(x, y * y)", x=(R, (2, 3)), y=(R, (2, 3))),
    row("np.vdot(x, np.sin(y))", x=(R, (2, 3)), y=(R, (3, 2))),
    row("np.tensordot(x, y, axes=([0, 2], [2, 0]))", x=(R, (2, 3, 2)), y=(R, (2, 2, 2))),
    row("np.einsum('ij,jk', x, y)", x=(R, (2, 3)), y=(R, (3, 2))),
    row("np.einsum('ii->i', x @ x)", x=(R, (3, 3))),
    row("np.einsum('ii', x * x)", x=(R, (3, 3))),
    row("np.einsum('bij,bjk->bik', x, y)", x=(R, (2, 2, 3)), y=(R, (2, 3, 2))),
    row("np.einsum('...ij,...jk->...ik', x, y)", x=(R, (2, 2, 3)), y=(R, (3, 2))),
    row("np.einsum('i,i->', x, np.exp(x))", x=(R, (3,))),
    row("np.einsum('ij,jk,kl->il', x, y, z)", x=(R, (2, 2)), y=(R, (2, 3)), z=(R, (3, 2))),
    row("np.kron(x, y)", x=(R, (2, 2)), y=(R, (2, 3))),
    row("np.cross(x, y)", x=(R, (2, 3)), y=(R, (3,))),
    row("np.cross(x, x * y)", x=(R, (3,)), y=(R, (3,))),
    row("np.triu(x * x, 1)", x=(R, (3, 3))),
    row("np.tril(np.sin(x), -1)", x=(R, (3,))),
    row("np.diagonal(x * x, 1, 0, 2)", x=(R, (3, 2, 3))),
    row("np.diag(x * x, 1)", x=(R, (3,))),
    row("np.diag(x @ x, -1)", x=(R, (3, 3))),
    row("np.trace(x @ x, 1)", x=(R, (3, 3))),
    row("(x * x).trace(axis1=1, axis2=2)", x=(R, (2, 3, 3))),
]


@pytest.mark.parametrize("expr, args", hessian_matrix(HESSIAN_ROWS))
def test_hessian(expr, args):
    check_hessian(expr, args)


# --- conventions ------------------------------------------------------------------------------

TARGETS = ["python", pytest.param("cpu", marks=pytest.mark.slow)]


def _grad(params: str, expr: str, target: str, *values):
    f = ct.differentiable(define(params, expr), target=target)
    return ct.grad(f, argnums=tuple(range(len(values))))(*values)


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_diagonal_past_the_edge_is_empty(target):
    """An offset past the matrix gives an empty diagonal (NumPy's convention): no element is read,
    so the gradient is zero."""
    x = np.arange(9.0).reshape(3, 3)
    f = ct.differentiable(define("x", "np.sum(np.diagonal(x, 5)) + np.trace(x, -4)"), target=target)
    assert f(x) == 0.0
    np.testing.assert_array_equal(ct.grad(f)(x), np.zeros((3, 3)))


def test_trace_and_triangle_gradients_are_masks():
    """The gradients of a trace with offset and of a triangle are exactly their masks."""
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(_grad("x", "np.trace(x, 1)", "python", x)[0], np.eye(3, 4, k=1))
    np.testing.assert_array_equal(_grad("x", "np.sum(np.triu(x, -1))", "python", x)[0],
                                  np.triu(np.ones((3, 4)), -1))
    v = np.arange(3.0)
    # np.tril of a vector repeats it as rows: element j is kept in the rows i >= j - k
    np.testing.assert_array_equal(_grad("v", "np.sum(np.tril(v))", "python", v)[0], [3.0, 2.0, 1.0])


def test_einsum_implicit_output_is_alphabetical():
    """The implicit output lists the labels used once in alphabetical order (uppercase first)."""
    x = np.arange(6.0).reshape(2, 3)
    f = ct.differentiable(define("x", "np.einsum('bA', x)"), target="python")
    np.testing.assert_array_equal(f(x), x.T)


@pytest.mark.parametrize("target", TARGETS)
def test_einsum_repeated_label_needs_equal_lengths(target):
    """'ii' of a matrix that is not square is NumPy's error, never the trace of its square part."""
    f = ct.differentiable(define("x", "np.einsum('ii', x)"), target=target)
    with pytest.raises((ValueError, ct.CompileError), match="repeated in one operand"):
        f(np.ones((2, 3)))


@pytest.mark.parametrize("target", TARGETS)
def test_cross_of_2_vectors_raises(target):
    """np.cross of 2-vectors is a number per pair (a lower rank), which the compiled types cannot
    follow: it raises at run time instead of giving a value of another shape."""
    f = ct.differentiable(define("x, y", "np.sum(np.cross(x, y))"), target=target)
    with pytest.raises((ValueError, ct.CompileError), match="length 3"):
        f(np.ones(2), np.ones(2))


def test_matmul_stack_mismatch_raises_on_numba():
    """Numba's stacked product checks the shapes NumPy's matmul checks: a mismatch raises, never
    reads past an operand."""
    f = ct.differentiable(define("x, y", "np.sum(x @ y)"), target="cpu")
    assert f(np.ones((2, 3, 4)), np.ones((2, 4, 2))) == 48.0
    with pytest.raises((ValueError, ct.CompileError), match="broadcast"):
        f(np.ones((2, 3, 4)), np.ones((3, 4, 2)))
    with pytest.raises((ValueError, ct.CompileError), match="mismatch|dimension"):
        f(np.ones((2, 3, 4)), np.ones((2, 3, 2)))


# --- unsupported forms --------------------------------------------------------------------------

ERRORS = [
    ("np.einsum(s, x)", "subscripts as a string literal"),
    ("np.einsum('ij,jk->ik', x)", "name 2 operands"),
    ("np.einsum('ijk', x)", "3 labels for an operand of rank 2"),
    ("np.einsum('ij->k', x)", "output label 'k'"),
    ("np.einsum('ij->ii', x)", "more than once"),
    ("np.einsum('...j->j', x)", "no '...'"),
    ("np.einsum('i1', x)", "character '1'"),
    ("np.einsum('ij', x, out=x)", "keyword 'out'"),
    ("np.tensordot(x, x, axes=([0], [0, 1]))", "1 axes of the first operand against 2"),
    ("np.tensordot(x, x, axes=3)", "rank at least 3"),
    ("np.tensordot(x, x, axes=([0, 0], [0, 1]))", "repeats an axis"),
    ("np.tensordot(x, x, axes=s)", "constant"),
    ("np.cross(x, x, axis=0)", "axis= is not supported"),
    ("np.diag(x[None])", "vector or a matrix"),
    ("np.trace(x[0])", "rank 2 or more"),
    ("np.diagonal(x, axis1=1, axis2=-1)", "same axis"),
    ("np.vdot(x, s)", "same size"),
    ("np.triu(x, s)", "constant"),
    ("x @ s", "both operands must be arrays"),
]


@pytest.mark.parametrize("expr, message", ERRORS, ids=[e for e, _ in ERRORS])
def test_unsupported_forms(expr, message):
    f = ct.differentiable(define("x, s", f"np.sum({expr})"), target="python")
    with pytest.raises(ct.CompileError, match=message):
        f(np.ones((2, 3)), 2)
