"""Reductions, sorting and selection: each rule against central differences (rule_check), the
Hessians of the twice-differentiable ones, and exactly the conventions at ties, zeros, NaN and
degenerate inputs, and the errors of the forms that are not supported."""
from __future__ import annotations

import numpy as np
import pytest

import cotangent as ct
from rule_check import DOMAINS, check, check_hessian, define, hessian_matrix, matrix, row


def _with_nans(rng, shape):
    v = rng.uniform(-2.0, 2.0, shape)
    mask = rng.random(shape) < 0.3
    mask.flat[0] = True
    return np.where(mask, np.nan, v)


DOMAINS["nan"] = _with_nans
DOMAINS["distinct"] = lambda rng, s: rng.permutation(np.arange(np.prod(s, dtype=int))).reshape(s) * 0.37 - 1.0

_ZEROS = np.array([[0.7, -1.3, 1.1, 0.9], [1.2, 0.8, 0.0, -1.4], [0.0, 1.5, -0.6, 0.0]])  # 1, then 2 zeros
_ONE_ZERO = np.array([[0.7, -1.3, 1.1, 0.9], [1.2, 0.0, 0.8, -1.4], [0.0, 1.5, -0.6, 0.5]])
_SORTED = np.array([-1.0, -0.25, 0.5, 1.25])

# --- tuples of axes ---------------------------------------------------------------------------

AXES_ROWS = [
    row("np.sum(x, axis=(0, 2))", x=("real", (2, 3, 4))),
    row("np.sum(x, axis=(0, -1), keepdims=True)", x=("real", (2, 3, 4)), numba=False),
    row("np.sum(x, axis=(1, 0))", x=("real", (3, 4)), numba=False),
    row("x.sum(axis=(1, 2))", x=("real", (2, 3, 4)), numba=False),
    row("np.mean(x, axis=(1, 2))", x=("real", (2, 3, 4)), numba=False),
    row("np.mean(x, axis=(0, 2), keepdims=True)", x=("real", (2, 3, 4)), numba=False),
    row("np.max(x, axis=(0, -1), keepdims=True)", x=("real", (2, 3, 4))),
    row("np.max(x, axis=(1, 2))", x=("real", (2, 3, 4)), numba=False),
    row("np.min(x, axis=(0, 1))", x=("real", (2, 3, 4)), numba=False),
    row("x.min(axis=(0, 2), keepdims=True)", x=("real", (2, 3, 4)), numba=False),
    row("np.prod(x, axis=(0, 2))", x=("pos", (2, 3, 4))),
    row("np.prod(x, axis=(0, 1), keepdims=True)", x=("nonzero", (2, 3, 2)), numba=False),
    row("np.var(x, axis=(0, 2))", x=("real", (2, 3, 4))),
    row("np.std(x, axis=(1, 2), keepdims=True)", x=("real", (2, 3, 4)), numba=False),
    row("np.nansum(x, axis=(0, 1))", x=("nan", (2, 3, 2)), numba=False),
    row("np.nanmean(x, axis=(0, 2))", x=("real", (2, 3, 4)), numba=False),
]

# --- var, std -------------------------------------------------------------------------------

MOMENT_ROWS = [
    row("np.var(x)", x=("real", (5,)), numba=False), row("np.var(x, axis=1)", x=("real", (3, 4))),
    row("np.var(x, axis=0, ddof=1, keepdims=True)", x=("real", (3, 4)), numba=False),
    row("np.var(x, ddof=2)", x=("real", (4,)), numba=False), row("np.var(x)", x=("real", (2, 3, 2)), numba=False),
    row("np.var(x, ddof=d)", x=("real", (3, 4)), d=1),
    row("x.var()", x=("real", (3, 4)), numba=False), row("x.var(1)", x=("real", (3, 4)), numba=False),
    row("np.var(x)", x=("real", ())),
    row("np.std(x)", x=("real", (5,)), numba=False), row("np.std(x, axis=-1, ddof=1)", x=("real", (3, 4))),
    row("x.std(axis=0, keepdims=True)", x=("real", (3, 4)), numba=False),
    row("np.std(x, None, None, None, 1)", x=("real", (2, 3)), numba=False),
    row("np.std([x, y, 2.0 * x], axis=0)", x=("real", (3,)), y=("real", (3,)), numba=False),
]

# --- nansum, nanmean --------------------------------------------------------------------------

NAN_ROWS = [
    row("np.nansum(x)", x=("nan", (6,)), numba=False), row("np.nansum(x, axis=1)", x=("nan", (3, 4))),
    row("np.nansum(x, axis=0, keepdims=True)", x=("nan", (3, 4)), numba=False),
    row("np.nanmean(x)", x=("nan", (6,)), numba=False), row("np.nanmean(x, axis=0)", x=("nan", (4, 3))),
    row("np.nanmean(x, axis=-1, keepdims=True)", x=("nan", (3, 4)), numba=False),
    row("np.nansum(x) + np.nanmean(x)", x=("real", ())),
    row("np.nansum(x, axis=0) * y", x=("real", (3, 4)), y=("real", (4,)), numba=False),
]

# --- cumprod, diff ----------------------------------------------------------------------------

CUMULATIVE_ROWS = [
    row("np.cumprod(x)", x=("real", (5,))), row("np.cumprod(x, axis=1)", x=("real", (3, 4)), numba=False),
    row("np.cumprod(x, axis=0)", x=("real", (3, 4)), numba=False),
    row("np.cumprod(x)", x=("real", (2, 3)), numba=False),
    row("x.cumprod(axis=-1)", x=("real", (2, 3, 2)), numba=False),
    row("np.cumprod(x)", x=("real", ()), numba=False),
    row("np.cumprod(x, axis=1)", x=_ZEROS), row("np.cumprod(x, axis=0)", x=_ZEROS, numba=False),
    row("np.cumprod(x)", x=_ZEROS, numba=False), row("np.cumprod(x)", x=_ZEROS[1], numba=False),
    row("np.cumsum(x)", x=("real", ()), numba=False),
    row("np.diff(x)", x=("real", (5,)), numba=False), row("np.diff(x, axis=0)", x=("real", (3, 4))),
    row("np.diff(x, n=2)", x=("real", (3, 5)), numba=False),
    row("np.diff(x, 2, 0)", x=("real", (4, 3)), numba=False), row("np.diff(x, n=0)", x=("real", (3,)), numba=False),
    row("np.diff(x, n=3)", x=("real", (3,)), numba=False),
    row("np.diff(x, prepend=0.5)", x=("real", (4,))),
    row("np.diff(x, axis=1, append=y)", x=("real", (3, 4)), y=("real", (3, 1)), numba=False),
    row("np.diff(x, axis=0, prepend=y, append=y)", x=("real", (2, 3)), y=("real", ()), numba=False),
]

# --- average, argmax, builtin sum, reductions of lists ----------------------------------------

AVERAGE_ROWS = [
    row("np.average(x)", x=("real", (5,)), numba=False), row("np.average(x, axis=0)", x=("real", (3, 4)), numba=False),
    row("np.average(x, weights=v)", x=("real", (3, 4)), v=("pos", (3, 4))),
    row("np.average(x, axis=1, weights=v)", x=("real", (3, 4)), v=("pos", (4,))),
    row("np.average(x, axis=0, weights=v)", x=("real", (3, 4)), v=("pos", (3,)), numba=False),
    row("np.average(x, axis=(0, 2), weights=v)", x=("real", (2, 3, 2)), v=("pos", (2, 3, 2)), numba=False),
    row("np.average(x, axis=1, weights=v, keepdims=True)", x=("real", (3, 4)), v=("pos", (4,)), numba=False),
    row("np.average(x, weights=v)", x=("real", ()), v=("pos", ()), numba=False),
    row("np.average(x, axis=0, weights=v, returned=True)[0] * np.average(x, axis=0, weights=v, returned=True)[1]",
        x=("real", (3, 4)), v=("pos", (3, 4)), numba=False),
    row("np.average(x, axis=1, returned=True)[1] * x[:, 0]", x=("real", (3, 4)), numba=False),
]

ARG_ROWS = [
    row("x * np.argmax(x)", x=("distinct", (3, 4))), row("x * np.argmax(x, axis=0)", x=("distinct", (3, 4))),
    row("x * np.argmin(x, axis=1, keepdims=True)", x=("distinct", (3, 4)), numba=False),
    row("x * x.argmax()", x=("distinct", (5,)), numba=False),
    row("x * x.argmin(axis=0)", x=("distinct", (3, 4)), numba=False),
    row("x * np.argmin(x, axis=None, keepdims=True)", x=("distinct", (3, 4)), numba=False),
    row("np.take_along_axis(x, np.argmax(x, axis=1, keepdims=True), axis=1)", x=("distinct", (3, 4))),
    row("x * np.argmax(x)", x=("real", ()), numba=False),
]

SUM_ROWS = [
    row("sum([x, y, x])", x=("real", (3,)), y=("real", (3,))), row("sum((x, 2.0 * y))", x=("real", ()), y=("real", ())),
    row("sum(x)", x=("real", (3, 4)), numba=False), row("sum(x)", x=("real", (5,)), numba=False),
    row("sum([x, y], 1.5)", x=("real", (2, 3)), y=("real", (3,)), numba=False),
    row("sum((x,), start=y)", x=("real", (3,)), y=("real", ()), numba=False),
    row("sum([x])", x=("real", (3,)), numba=False),
    row("np.mean([x, y], axis=0)", x=("real", (3,)), y=("real", (3,))),
    row("np.sum((x, y, x), axis=1)", x=("real", (3, 4)), y=("real", (3, 4)), numba=False),
    row("np.max([x, 2.0 * y, -x])", x=("nonzero", ()), y=("small", ())),
    row("np.prod([x, y])", x=("real", (2,)), y=("real", (2,)), numba=False),
    row("np.cumsum([x, y])", x=("real", ()), y=("real", ()), numba=False),
    row("np.var([[x, y], [y, 1.0]])", x=("real", ()), y=("real", ()), numba=False),
]

# --- sorting and selection --------------------------------------------------------------------

SORT_ROWS = [
    row("np.sort(x)", x=("real", (5,)), numba=False), row("np.sort(x, axis=0)", x=("real", (3, 4))),
    row("np.sort(x)", x=("real", (3, 4)), numba=False), row("np.sort(x, axis=None)", x=("real", (3, 4)), numba=False),
    row("np.sort(x, axis=1, kind='stable')", x=("real", (2, 3, 4)), numba=False),
    row("np.sort(x)[-1] - np.sort(x)[0]", x=("real", (6,)), numba=False),
    row("x[np.argsort(x)]", x=("real", (5,))), row("x * np.argsort(x, axis=0)", x=("real", (3, 4)), numba=False),
    row("x * x.argsort()", x=("real", (3, 4)), numba=False),
    row("np.take_along_axis(x, x.argsort(axis=0), axis=0)", x=("real", (3, 4)), numba=False),
    row("np.partition(x, 2)[2]", x=("real", (5,)), numba=False), row("np.partition(x, (1, 3))[1:4]", x=("real", (5,)), numba=False),
    row("np.partition(x, 1, axis=0)[1]", x=("real", (3, 4))),
    row("np.sum(np.partition(x, -2, axis=None)[-2:])", x=("real", (3, 4)), numba=False),
    row("x[np.argpartition(x, 1)[1]]", x=("real", (5,)), numba=False),
    row("x[x.argpartition(1)[:2]]", x=("real", (5,)), numba=False),
]

TAKE_ROWS = [
    row("np.take(x, idx)", x=("real", (3, 4)), idx=np.array([0, 5, 5, 11])),
    row("np.take(x, idx, axis=1)", x=("real", (3, 4)), idx=np.array([3, 0, 3]), numba=False),
    row("np.take(x, idx, axis=0)", x=("real", (3, 4)), idx=np.array([[2, 0], [2, 2]])),
    row("x.take(idx, axis=-1)", x=("real", (2, 3, 2)), idx=np.array([[0, 1], [1, 1], [-1, 0]]), numba=False),
    row("np.take(x, 1, axis=1)", x=("real", (3, 4)), numba=False), row("np.take(x, -1)", x=("real", (3, 4)), numba=False),
    row("np.take(x, [2, 0, 2])", x=("real", (4,)), numba=False),
    row("np.take(x, idx, axis=0)", x=("real", (4,)), idx=np.array([[3, 3], [0, 1]]), numba=False),
    row("np.take_along_axis(x, idx, axis=1)", x=("real", (3, 4)), idx=np.array([[0, 0], [3, 1], [2, -2]])),
    row("np.take_along_axis(x, idx, axis=0)", x=("real", (3, 4)), idx=np.array([[2, 0, 1, 1], [2, 2, 0, 1]]),
        numba=False),
    row("np.take_along_axis(x, idx, 1)", x=("real", (1, 4)), idx=np.array([[0, 3], [3, 3], [1, 2]])),
    row("np.take_along_axis(x, idx, None)", x=("real", (2, 3)), idx=np.array([5, 0, 5]), numba=False),
    row("np.take_along_axis(x, idx)", x=("real", (2, 3)), idx=np.array([[2], [0]]), numba=False),
]

SELECT_ROWS = [
    row("np.select([x > 0.5, x < -0.5], [x * x, np.sin(x)], y)", x=("clip", (2, 3)), y=("real", (2, 3))),
    row("np.select([x > 0.5], [x])", x=("clip", (4,)), numba=False),
    row("np.select((c, x < 0.0), (x, y), default=1.5)", c=np.array([True, False, False, True]),
        x=("clip", (4,)), y=("real", ()), numba=False),
    row("np.select([x > 0.0, x > 0.0], [2.0 * x, 3.0 * x], x)", x=("nonzero", (2, 2)), numba=False),
    row("x * np.searchsorted(a, x)", x=("real", (2, 3)), a=_SORTED),
    row("x * np.searchsorted(a, x, side='right')", x=("real", (4,)), a=_SORTED, numba=False),
    row("x * a.searchsorted(x[0])", x=("real", (3,)), a=_SORTED, numba=False),
]

ALL_ROWS = (AXES_ROWS + MOMENT_ROWS + NAN_ROWS + CUMULATIVE_ROWS + AVERAGE_ROWS + ARG_ROWS + SUM_ROWS + SORT_ROWS
            + TAKE_ROWS + SELECT_ROWS)

HESSIAN_ROWS = [
    row("np.sum(x, axis=(0, 2)) ** 2", x=("real", (2, 2, 3))), row("np.mean(x ** 3, axis=(1, 2))", x=("real", (2, 2, 2))),
    row("np.prod(x, axis=(0, 2))", x=("nonzero", (2, 2, 2))), row("np.var(x, axis=(0, 2))", x=("real", (2, 2, 3))),
    row("np.var(x, axis=1, ddof=1)", x=("real", (3, 3))), row("np.std(x)", x=("real", (5,))),
    row("np.std(x, axis=0, keepdims=True)", x=("real", (3, 2))),
    row("np.nansum(x, axis=0) ** 2", x=("nan", (3, 2))), row("np.nanmean(np.exp(x))", x=("nan", (5,))),
    row("np.cumprod(x)", x=("real", (4,))), row("np.cumprod(x, axis=1)", x=("real", (2, 3))),
    row("np.cumprod(x, axis=1)", x=_ONE_ZERO), row("np.cumprod(x)", x=np.array([0.5, 0.0, -1.5, 2.0])),
    row("np.cumprod(x, axis=1)", x=_ZEROS), row("np.cumprod(x)", x=np.array([0.0, 1.5, 0.0, -0.6, 0.0])),
    row("np.cumprod(x, axis=0)", x=np.array([[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]])),
    row("np.diff(x ** 2, n=2)", x=("real", (5,))), row("np.diff(x * y, axis=0, prepend=y)", x=("real", (2, 3)), y=("real", ())),
    row("np.average(x ** 2, axis=1, weights=v)", x=("real", (2, 3)), v=("pos", (3,))),
    row("np.average(x, weights=v)", x=("real", (2, 3)), v=("pos", (2, 3))),
    row("sum([x * y, y, x ** 3])", x=("real", (3,)), y=("real", (3,))), row("np.mean([x, y * y], axis=0)", x=("real", (2,)), y=("real", (2,))),
    row("np.sort(x) ** 2", x=("real", (5,))), row("np.sort(x * x, axis=0)", x=("real", (3, 2))),
    row("np.partition(x ** 3, 1)[1]", x=("real", (4,))),
    row("np.take(x ** 2, idx, axis=1)", x=("real", (2, 3)), idx=np.array([2, 2, 0])),
    row("np.take(x, idx) ** 3", x=("real", (2, 3)), idx=np.array([[5, 5], [0, 1]])),
    row("np.take_along_axis(x, idx, axis=1) ** 2", x=("real", (2, 3)), idx=np.array([[0, 0], [2, 1]])),
    row("np.take_along_axis(x ** 2, idx, 1)", x=("real", (1, 3)), idx=np.array([[0, 2], [2, 2]])),
    row("np.select([x > 0.5, x < -0.5], [x * x, np.sin(x)], x ** 3)", x=("clip", (2, 3))),
    row("np.max(x * x, axis=(0, 1))", x=("distinct", (2, 3, 2))),
]


@pytest.mark.parametrize("expr, args, target", matrix(ALL_ROWS))
def test_rule(expr, args, target):
    check(expr, args, target)


@pytest.mark.parametrize("expr, args", hessian_matrix(HESSIAN_ROWS))
def test_hessian(expr, args):
    check_hessian(expr, args)


# --- conventions, checked exactly --------------------------------------------------------------

TARGETS = ["python", "cpu"]


def _grad_and_tangent(expr: str, x, target: str, v=None):
    f = ct.differentiable(define("x", f"np.sum({expr})"), target=target)
    g = ct.grad(f)(x)
    v = np.linspace(0.5, 1.5, np.size(x)).reshape(np.shape(x)) if v is None else v
    _, tangent = ct.jvp(f, (x,), (v,))
    return g, tangent, v


CONVENTIONS = [  # (expression, x, the gradient of np.sum(EXPR) there)
    # a stable sort: equal elements keep their order, each output's derivative goes to the element
    # placed there
    ("np.sort(x) * np.array([1.0, 2.0, 3.0, 4.0])", [3.0, 1.0, 3.0, 2.0], [3.0, 1.0, 4.0, 2.0]),
    ("np.sort(x, axis=0) * np.array([[1.0], [10.0]])", [[2.0, 5.0], [2.0, 1.0]], [[1.0, 10.0], [10.0, 1.0]]),
    ("np.partition(x, 1) * np.array([1.0, 2.0, 3.0])", [1.0, 1.0, 0.5], [2.0, 3.0, 1.0]),
    # ties in a max over several axes share its derivative equally, across lanes too
    ("np.max(x, axis=(0, 2))", [[[1.0, 3.0], [2.0, 0.0]], [[3.0, 3.0], [2.0, 1.0]]],
     [[[0.0, 1 / 3], [0.5, 0.0]], [[1 / 3, 1 / 3], [0.5, 0.0]]]),
    ("np.min(x, axis=(0, 1), keepdims=True)", [[[1.0, 0.0]], [[1.0, 0.0]]], [[[0.5, 0.5]], [[0.5, 0.5]]]),
    # cumprod is exact where elements are zero
    ("np.cumprod(x)", [2.0, 0.0, 3.0, 0.0, 5.0], [1.0, 2.0 + 2.0 * 3.0, 0.0, 0.0, 0.0]),
    ("np.cumprod(x)", [2.0, 3.0, 0.0, 5.0], [1.0 + 3.0, 2.0, 2.0 * 3.0 + 2.0 * 3.0 * 5.0, 0.0]),
    ("np.cumprod(x)", [0.0, 0.0], [1.0, 0.0]),
    # NaN elements get a zero derivative
    ("np.nansum(3.0 * x)", [1.0, np.nan, -2.0], [3.0, 0.0, 3.0]),
    ("np.nanmean(x, axis=0)[0]", [[1.0, np.nan], [np.nan, np.nan], [3.0, np.nan]], [[0.5, 0.0], [0.0, 0.0], [0.5, 0.0]]),
    # integer results have no derivative
    ("np.argsort(x) * x", [0.5, -1.0, 2.0], [1.0, 0.0, 2.0]),
    ("1.5 * (np.argmax(x, axis=1) + np.argmin(x) + np.searchsorted(np.sort(x[0]), x[1]))", [[0.5, -1.0], [2.0, 1.0]],
     [[0.0, 0.0], [0.0, 0.0]]),
    # repeated indices add up
    ("np.take(x, np.array([[1, 1], [0, 1]]), axis=1)", [[1.0, 2.0], [3.0, 4.0]], [[1.0, 3.0], [1.0, 3.0]]),
    ("np.take_along_axis(x, np.array([[1, 1, 1]]), axis=1)", [[1.0, 2.0, 3.0]], [[0.0, 3.0, 0.0]]),
    ("sum([x, x, x])", [1.0, 2.0], [3.0, 3.0]),
]


# on Numba by default: the conventions its own helpers implement (stable sorts, scatters that add)
_NUMBA_CONVENTIONS = {0, 1, 2, 3, 5, 12, 13}


def _convention_params():
    params = []
    for k, (expr, x, expected) in enumerate(CONVENTIONS):
        for target in TARGETS:
            marks = [pytest.mark.slow] if target == "cpu" and k not in _NUMBA_CONVENTIONS else []
            params.append(pytest.param(expr, x, expected, target, marks=marks, id=f"{target} {expr} at {x}"))
    return params


@pytest.mark.filterwarnings("ignore:.*encountered in divide:RuntimeWarning")   # an all-NaN lane's 0 / 0
@pytest.mark.parametrize("expr, x, expected, target", _convention_params())
def test_convention(expr, x, expected, target):
    x = np.array(x, dtype=float)
    g, tangent, v = _grad_and_tangent(expr, x, target)
    np.testing.assert_allclose(g, expected, rtol=1e-14, atol=0.0)
    assert tangent == pytest.approx(np.sum(np.array(expected) * v), rel=1e-13, abs=1e-15)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
@pytest.mark.parametrize("target", TARGETS)
def test_std_at_zero_variance_has_nan_derivative(target):
    """The value is 0; d sqrt(v)/dv is infinite at v = 0, so the derivative is nan (not 0, not
    a silent finite number), in reverse and forward mode, as NumPy's formula would give."""
    f = ct.differentiable(define("x", "np.sum(np.std(x, axis=1))"), target=target)
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    value, g = ct.value_and_grad(f)(x)
    assert value == pytest.approx(np.std(x[1]), rel=1e-14)
    assert np.all(np.isnan(g[0])) and np.all(np.isfinite(g[1]))
    _, tangent = ct.jvp(f, (x,), (np.ones_like(x),))
    assert np.isnan(tangent)


@pytest.mark.parametrize("target", TARGETS)
def test_var_ddof_beyond_count_divides_by_zero(target):
    f = ct.differentiable(define("x", "np.var(x, ddof=3)"), target=target)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert f(np.array([1.0, 2.0])) == np.inf
        assert np.isnan(f(np.array([2.0, 2.0])))


@pytest.mark.parametrize("target", TARGETS)
def test_nanmean_of_only_nan(target):
    f = ct.differentiable(define("x", "np.sum(np.nanmean(x, axis=0) * np.array([0.0, 1.0]))"), target=target)
    x = np.array([[np.nan, 1.0], [np.nan, 3.0]])
    with np.errstate(invalid="ignore"):
        assert np.isnan(f(x))
        g = ct.grad(f)(x)
    np.testing.assert_array_equal(g, [[0.0, 0.5], [0.0, 0.5]])


@pytest.mark.parametrize("target", TARGETS)
def test_partition_is_the_sorted_array(target):
    f = ct.differentiable(define("x", "np.partition(x, 2, axis=0)"), target=target)
    x = np.random.default_rng(5).standard_normal((6, 3))
    np.testing.assert_array_equal(f(x), np.sort(x, axis=0))


@pytest.mark.parametrize("target", TARGETS)
def test_partition_kth_out_of_range(target):
    f = ct.differentiable(define("x", "np.partition(x, 4)"), target=target)
    with pytest.raises((ValueError, ct.CompileError), match="kth"):
        f(np.arange(3.0))


def test_integer_reductions_keep_integers():
    f = ct.differentiable(define("i", "np.cumprod(i) + np.argmax(i) + np.diff(i)[0]"), target="python")
    out = f(np.array([2, 3, 4]))
    np.testing.assert_array_equal(out, np.cumprod([2, 3, 4]) + 2 + 1)
    assert out.dtype.kind == "i"


def stack_sum(x, w):
    s = []
    s.append(x)
    s.append(2.0 * x)
    return np.sum(sum(s) * w)


@pytest.mark.parametrize("target", TARGETS)
def test_builtin_sum_of_a_stack(target):
    x, w = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    value, g = ct.value_and_grad(ct.differentiable(stack_sum, target=target))(x, w)
    assert value == pytest.approx(np.sum(3.0 * x * w), rel=1e-14)
    np.testing.assert_allclose(g, 3.0 * w, rtol=1e-14)


# --- forms that are not supported: a CompileError naming the function ---------------------------

UNSUPPORTED = [
    ("x.sort()", "sorts in place"), ("x.partition(1)", "partitions in place"),
    ("np.sort(x, order='a')", "order"), ("np.take(x, np.array([0]), mode='wrap')", "mode"),
    ("np.take(x, np.array([0.5]))", "integer indices"), ("np.argmax(x, axis=(0, 1))", "tuple of axes"),
    ("np.cumprod(x, axis=(0, 1))", "tuple of axes"), ("np.diff(x > 0.0)", "booleans"),
    ("np.diff(x, n=-1)", "n must be"), ("np.average(x, weights=np.ones(3))", "weights"),
    ("np.select([x > 0.0], [x, x])", "same number"), ("np.select([x], [x])", "boolean"),
    ("np.searchsorted(x, 0.5)", "1-D"), ("np.searchsorted(x[0], 0.5, sorter=np.arange(3))", "sorter"),
    ("sum(v for v in x)", "generator"), ("sum(x[0, 0])", "not iterable"), ("np.sum(x, axis=(0, 0))", "twice"),
    ("np.sum(x, axis=(0, 2))", "out of range"), ("np.var(x, dtype=np.float64)", "dtype"),
    ("np.take_along_axis(x, np.array([0, 1]), axis=1)", "rank"), ("np.partition(x, x.shape[0])", "kth"),
    ("np.nansum(x, out=x)", "out"), ("np.sort(x, kind='fast')", "kind"), ("np.sum(x, axis=())", "no axis"),
]


@pytest.mark.parametrize("expr, message", UNSUPPORTED, ids=[e for e, _ in UNSUPPORTED])
def test_unsupported_form(expr, message):
    f = ct.differentiable(define("x", f"np.sum({expr})"), target="python")
    with pytest.raises(ct.CompileError, match=message):
        ct.grad(f)(np.ones((2, 3)))
