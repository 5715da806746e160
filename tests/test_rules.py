"""Every derivative rule against central differences, in reverse and in forward mode.

A rule is written below as an expression in its inputs (x, y, ...). `check` turns it into

    def f(x, y, w):
        return np.sum((EXPR) * w)

with a fixed random weight w of the expression's shape, so that every element of the output
matters, and asks ct.check_grad to compare the reverse-mode gradient with central differences and a
JVP along a random direction with the reverse-mode gradient. It also compares the compiled primal,
and the value returned with the gradient, with NumPy running f itself.

Targets: every row runs on target="python" (compiled in milliseconds), over scalars, vectors,
matrices and broadcast pairs, with all the checks above. Every row runs on Numba (target="cpu")
too, where each compile takes most of a second: there the value and the gradient Numba computes
must be the Python target's (the same generated source, checked there), for batches of rows
compiled as one function each (rule_check.check_batch); rows that repeat a rule on more shapes
(`row(..., numba=False)`) run on the Python target only.

Inputs are drawn where each rule is smooth (positive for log and sqrt, |x| < 1 for arcsin, away
from the kinks of abs, maximum, clip and where). The tests at the end check exactly the rules whose
derivative is zero, the conventions at kinks and ties, tuple and dict arguments, and two textbook
examples.
"""
from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import cotangent as ct
from rule_check import check, define, matrix, row, sample


# --- elementwise rules, derived by SymPy ---------------------------------------------------

UNARY = [  # (expression, domain of x)
    ("np.exp(x)", "real"), ("np.log(x)", "pos"), ("np.log1p(x)", "log1p"), ("np.expm1(x)", "real"),
    ("np.log2(x)", "pos"), ("np.log10(x)", "pos"), ("np.sqrt(x)", "pos"), ("np.sin(x)", "real"),
    ("np.cos(x)", "real"), ("np.tan(x)", "unit"), ("np.arcsin(x)", "unit"), ("np.arccos(x)", "unit"),
    ("np.arctan(x)", "real"), ("np.sinh(x)", "real"), ("np.cosh(x)", "real"), ("np.tanh(x)", "real"),
    ("np.abs(x)", "nonzero"), ("np.absolute(x)", "nonzero"), ("np.fabs(x)", "nonzero"),
    ("abs(x)", "nonzero"), ("np.square(x)", "real"), ("np.negative(x)", "real"), ("-x", "real"),
    ("np.sign(x) * x", "nonzero"),
    # operators with a constant operand: SymPy differentiates with the constant substituted
    ("x ** 2", "real"), ("x ** 3", "real"), ("x ** 0.5", "pos"), ("x ** -1.5", "pos"),
    ("2.0 ** x", "real"), ("np.power(x, 3)", "real"), ("1.0 / x", "nonzero"), ("3 - x", "real"),
    ("x / 4", "real"), ("2 * x + 1", "real"), ("x % 1.2", "mod"), ("np.mod(x, 1.2)", "mod"),
    ("np.fmod(x, 1.2)", "mod"), ("7.0 % x", "divisor"),
]
SPELLINGS = {"np.absolute(x)", "np.fabs(x)", "abs(x)", "np.negative(x)", "x ** 3", "x ** -1.5",
             "np.power(x, 3)", "3 - x", "x / 4", "2 * x + 1", "np.mod(x, 1.2)", "np.sign(x) * x"}
UNARY_ROWS = [row(e, x=(d, s), numba=s == (2, 3) and e not in SPELLINGS) for e, d in UNARY for s in [(), (4,), (2, 3)]]

BINARY = [  # (expression, domain of x, domain of y)
    ("x + y", "real", "real"), ("x - y", "real", "real"), ("x * y", "real", "real"),
    ("x / y", "real", "nonzero"), ("x ** y", "pos", "real"), ("np.power(x, y)", "pos", "real"),
    ("x % y", "mod", "divisor"), ("np.fmod(x, y)", "mod", "divisor"),
    ("np.arctan2(x, y)", "nonzero", "nonzero"), ("np.hypot(x, y)", "nonzero", "nonzero"),
    ("np.maximum(x, y)", "nonzero", "small"), ("np.minimum(x, y)", "nonzero", "small"),
    ("np.add(x, y)", "real", "real"), ("np.subtract(x, y)", "real", "real"),
    ("np.multiply(x, y)", "real", "real"), ("np.divide(x, y)", "real", "nonzero"),
    ("np.where(x > 0, x, y)", "nonzero", "real"), ("np.where(y > 0, x * y, 2.0 * x)", "real", "nonzero"),
    ("np.where(x > 0, np.exp(y), 0.0)", "nonzero", "real"),
]
BROADCAST = [((), ()), ((4,), (4,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)), ((2, 3), ()),
             ((), (2, 3)), ((4, 1, 3), (2, 3))]
BINARY_ROWS = [row(e, x=(dx, sx), y=(dy, sy), numba=e == "x * y" or (sx, sy) == ((2, 3), (3,)) and e[:6] not in
                   ("np.add", "np.sub", "np.mul", "np.div", "np.pow"))
               for e, dx, dy in BINARY for sx, sy in BROADCAST]

SCALAR_ROWS = [  # the math module and builtins: numbers only
    row("math.exp(x)", x=("real", ())), row("math.log(x)", x=("pos", ())),
    row("math.log(x, 2.0)", x=("pos", ())), row("math.log1p(x)", x=("log1p", ())),
    row("math.expm1(x)", x=("real", ())), row("math.log2(x)", x=("pos", ())),
    row("math.log10(x)", x=("pos", ())), row("math.sqrt(x)", x=("pos", ())),
    row("math.sin(x)", x=("real", ())), row("math.cos(x)", x=("real", ())),
    row("math.tan(x)", x=("unit", ())), row("math.asin(x)", x=("unit", ())),
    row("math.acos(x)", x=("unit", ())), row("math.atan(x)", x=("real", ())),
    row("math.sinh(x)", x=("real", ())), row("math.cosh(x)", x=("real", ())),
    row("math.tanh(x)", x=("real", ())), row("math.fabs(x)", x=("nonzero", ())),
    row("math.pow(x, y)", x=("pos", ()), y=("real", ())), row("math.pow(x, 3)", x=("real", ())),
    row("math.atan2(x, y)", x=("nonzero", ()), y=("nonzero", ())),
    row("math.hypot(x, y)", x=("nonzero", ()), y=("nonzero", ())),
    row("math.fmod(x, y)", x=("mod", ()), y=("divisor", ())),
    row("math.exp(x) * math.pi + math.e", x=("real", ())),
    row("abs(x) * y", x=("nonzero", ()), y=("real", ())),
    row("max(x, y)", x=("nonzero", ()), y=("small", ())),
    row("min(x, y)", x=("nonzero", ()), y=("small", ())),
    row("max(x, y, 0.5 * x)", x=("pos", ()), y=("small", ())),
    row("min(x, 2.0 * y)", x=("nonzero", ()), y=("small", ())),
    row("x if x > y else y * y", x=("nonzero", ()), y=("small", ())),
    row("float(x) * y", x=("real", ()), y=("real", ())),
]

CLIP_ROWS = [
    row("np.clip(x, -0.5, 0.5)", x=("clip", (2, 3))), row("np.clip(x, -0.5, 0.5)", x=("clip", ())),
    row("x.clip(-0.5, 0.5)", x=("clip", (4,))), row("np.clip(x, 0.5, None)", x=("clip", (2, 3))),
    row("np.clip(x, None, 0.5)", x=("clip", (2, 3))),
    row("np.clip(x, lo, hi)", x=("clip", ()), lo=("lo", ()), hi=("hi", ())),
    row("np.clip(x, lo, hi)", x=("clip", (2, 3)), lo=("lo", ()), hi=("hi", ())),
    row("np.clip(x, lo, hi)", x=("clip", (2, 3)), lo=("lo", (3,)), hi=("hi", (2, 1))),
    row("np.where(c, x, y)", c=np.array([[True, False, True], [False, False, True]]),
        x=("real", (2, 3)), y=("real", (3,))),
]

# --- reductions and cumsum -----------------------------------------------------------------

_OPS = ("sum", "mean", "max", "min", "prod")
_AXES = ["", ", axis=None", ", axis=0", ", axis=1", ", axis=-1"]
_NUMBA_AXES = ["", ", axis=1", ", axis=0, keepdims=True", ", axis=None, keepdims=True"]
_ZEROS = np.array([[0.7, -1.3, 1.1, 0.9], [1.2, 0.8, 0.0, -1.4], [0.0, 1.5, -0.6, 0.0]])  # 1, then 2 zeros
REDUCTION_ROWS = (
    [row(f"np.{op}(x{a}{k})", x=("pos" if op == "prod" else "real", (3, 4)), numba=a + k in _NUMBA_AXES)
     for op in _OPS for a in _AXES for k in ["", ", keepdims=True"]]
    + [row(f"np.{op}(x{a})", x=("real", (5,)), numba=op in ("sum", "max") and a == ", axis=0")
       for op in _OPS for a in ("", ", axis=0", ", keepdims=True")]
    + [row(f"np.{op}(x, axis=1)", x=("pos", (2, 3, 4)), numba=op == "max") for op in _OPS]
    + [row("x.sum(axis=0)", x=("real", (3, 4)), numba=False), row("x.mean(1)", x=("real", (3, 4)), numba=False),
       row("x.max(axis=1, keepdims=True)", x=("real", (3, 4)), numba=False),
       row("x.min()", x=("real", (3, 4)), numba=False), row("x.prod(axis=0)", x=("nonzero", (3, 4))),
       row("np.amax(x, axis=0)", x=("real", (3, 4)), numba=False),
       row("np.amin(x, 1)", x=("real", (3, 4)), numba=False), row("np.sum(x)", x=("real", ()))]
    + [row("np.prod(x)", x=_ZEROS[1]), row("np.prod(x, axis=1)", x=_ZEROS),
       row("np.prod(x, axis=0, keepdims=True)", x=_ZEROS, numba=False),
       row("np.prod(x)", x=_ZEROS[:2])]
    + [row("np.cumsum(x)", x=("real", (5,))), row("np.cumsum(x)", x=("real", (2, 3))),
       row("np.cumsum(x, axis=0)", x=("real", (3, 4)), numba=False),
       row("np.cumsum(x, axis=1)", x=("real", (3, 4))),
       row("x.cumsum(axis=-1)", x=("real", (2, 3)), numba=False),
       row("np.cumsum(x, axis=1)", x=("real", (2, 3, 2)), numba=False)]
)

# --- linear algebra ------------------------------------------------------------------------

_RANKS = [((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 4)), ((3,), (3,))]
LINALG_ROWS = (
    [row(e, x=("real", sx), y=("real", sy), numba=e in ("x @ y", "np.dot(x, y)") or sy == (3, 4))
     for e in ("x @ y", "np.dot(x, y)", "np.matmul(x, y)", "x.dot(y)") for sx, sy in _RANKS]
    + [row("np.outer(x, y)", x=("real", (3,)), y=("real", (4,))),
       row("np.inner(x, y)", x=("real", (3,)), y=("real", (3,))),
       row("np.trace(x)", x=("real", (3, 3))), row("np.trace(x)", x=("real", (2, 3))),
       row("np.diag(x)", x=("real", (3,))), row("np.diag(x)", x=("real", (3, 3))),
       row("np.diag(x)", x=("real", (3, 4))), row("np.diag(x)", x=("real", (4, 2))),
       row("x.T", x=("real", (2, 3))), row("x.T", x=("real", (3,))),
       row("np.transpose(x)", x=("real", (2, 3))), row("x.transpose()", x=("real", (2, 3, 4))),
       row("np.transpose(x, (1, 2, 0))", x=("real", (2, 3, 4))),
       row("x.transpose((2, 0, 1))", x=("real", (2, 3, 4))),
       row("np.transpose(x, (0, -1, 1))", x=("real", (2, 3, 4))),
       row("np.linalg.norm(x)", x=("real", (4,))), row("np.linalg.norm(x)", x=("real", (2, 3))),
       row("x.T @ y @ x", x=("real", (3, 2)), y=("real", (3, 3)))]
)

# --- shapes ----------------------------------------------------------------------------------

SHAPE_ROWS = [
    row("x.reshape(3, 2)", x=("real", (2, 3)), numba=False), row("x.reshape(-1)", x=("real", (2, 3))),
    row("x.reshape((3, -1))", x=("real", (2, 3))), row("np.reshape(x, (-1, 2))", x=("real", (2, 3)), numba=False),
    row("np.reshape(x, (2, 3))", x=("real", (6,))), row("x.reshape(2, 1, 3)", x=("real", (2, 3))),
    row("x.reshape(x.shape[1], x.shape[0])", x=("real", (2, 3)), numba=False),
    row("np.ravel(x)", x=("real", (2, 3))), row("x.ravel()", x=("real", (2, 3, 2)), numba=False),
    row("x.flatten()", x=("real", (2, 3))),
    row("np.concatenate((x, y))", x=("real", (2, 3)), y=("real", (1, 3))),
    row("np.concatenate((x, y), axis=1)", x=("real", (2, 3)), y=("real", (2, 2))),
    row("np.concatenate([x, y], axis=-1)", x=("real", (2, 3)), y=("real", (2, 1)), numba=False),
    row("np.concatenate((x, y, x))", x=("real", (3,)), y=("real", (2,))),
    row("np.concatenate((x, 2.0 * x), axis=0)", x=("real", (2, 2)), numba=False),
    row("np.stack((x, y))", x=("real", (3,)), y=("real", (3,))),
    row("np.stack((x, y), axis=1)", x=("real", (2, 3)), y=("real", (2, 3))),
    row("np.stack([x, y, x], axis=-1)", x=("real", (2, 3)), y=("real", (2, 3)), numba=False),
    row("np.stack((x, y))", x=("real", ()), y=("real", ())),
    row("np.hstack((x, y))", x=("real", (3,)), y=("real", (2,))),
    row("np.hstack((x, y))", x=("real", (2, 3)), y=("real", (2, 1))),
    row("np.hstack((x, y))", x=("real", ()), y=("real", ())),
    row("np.vstack((x, y))", x=("real", (3,)), y=("real", (3,))),
    row("np.vstack((x, y))", x=("real", (2, 3)), y=("real", (1, 3))),
    row("np.vstack((x, y))", x=("real", ()), y=("real", ())),
    row("np.array([x, 2.0 * y, 1.0])", x=("real", ()), y=("real", ())),
    row("np.expand_dims(x, 0)", x=("real", (2, 3))), row("np.expand_dims(x, axis=1)", x=("real", (2, 3))),
    row("np.expand_dims(x, -1)", x=("real", (3,))), row("np.squeeze(x, axis=1)", x=("real", (3, 1, 2))),
    row("x.squeeze(axis=0)", x=("real", (1, 3))), row("np.squeeze(x, -1)", x=("real", (2, 1))),
    row("np.copy(x)", x=("real", (2, 3))), row("x.copy()", x=("real", (2, 3)), numba=False),
    row("np.array(x)", x=("real", (2, 3)), numba=False), row("np.asarray(x)", x=("real", (4,)), numba=False),
    row("np.copy(x)", x=("real", ())),
    # shape queries are integers: arithmetic with them has the derivative of the scale
    row("x * x.shape[0]", x=("real", (2, 3)), numba=False), row("x * x.shape[-1]", x=("real", (2, 3))),
    row("x * len(x)", x=("real", (2, 3))), row("x / x.size", x=("real", (2, 3))),
    row("x * x.ndim", x=("real", (4,)), numba=False), row("x * float(len(x))", x=("real", (3,))),
    row("np.sum(x) / x.shape[1] + x", x=("real", (2, 3))),
]

# --- indexing --------------------------------------------------------------------------------

INDEX_ROWS = [
    row("x[1]", x=("real", (4,))), row("x[-1]", x=("real", (4,))), row("x[1, 2]", x=("real", (2, 3))),
    row("x[-1, -3]", x=("real", (2, 3))), row("x[1]", x=("real", (2, 3)), numba=False),
    row("x[-2]", x=("real", (2, 3))), row("x[1:3]", x=("real", (5,)), numba=False),
    row("x[::2]", x=("real", (5,)), numba=False), row("x[1::2]", x=("real", (5,))),
    row("x[::-1]", x=("real", (4,))), row("x[-3:-1]", x=("real", (5,)), numba=False),
    row("x[4:0:-2]", x=("real", (5,))),
    row("x[:, 1]", x=("real", (2, 3)), numba=False), row("x[:, -1]", x=("real", (2, 3))),
    row("x[:, ::2]", x=("real", (2, 3))), row("x[::-1, 1:]", x=("real", (2, 3))),
    row("x[1, :2]", x=("real", (2, 3))), row("x[None, :]", x=("real", (3,))),
    row("x[:, None]", x=("real", (3,)), numba=False), row("x[:, None, :]", x=("real", (2, 3))),
    row("x[np.newaxis]", x=("real", (3,)), numba=False), row("x[1:, 1][0] * x", x=("real", (3, 3))),
    row("x[idx]", x=("real", (4,)), idx=np.array([0, 2, 2, 1, 2])),       # repeated indices add up
    row("x[idx]", x=("real", (3, 2)), idx=np.array([2, 0, 2])),
    row("x[idx] * x[1]", x=("real", (4,)), idx=np.array([[3, 3], [0, 3]])),
    row("x[i]", x=("real", (4,)), i=2), row("x[:, j]", x=("real", (2, 3)), j=1),
    row("x[i, j]", x=("real", (2, 3)), i=1, j=-1), row("x[i:i + 2]", x=("real", (5,)), i=1),
    row("x[int(s)]", x=("real", (4,)), s=("divisor", ())), row("x[len(x) // 2]", x=("real", (5,))),
    row("x[x.shape[0] - 1]", x=("real", (3, 2)), numba=False), row("x[int(len(x) / 2)]", x=("real", (5,))),
    row("float(x[0]) * x", x=("real", (3,))), row("x[0] * y", x=("real", (3,)), y=("real", (2, 3))),
]

# --- constructors: no derivative of their own, used next to active values ------------------

CONSTRUCTOR_ROWS = [
    row("np.zeros((2, 3)) + x", x=("real", (2, 3)), numba=False),
    row("np.zeros(x.shape) + x * x", x=("real", (2, 3))), row("np.zeros(3, dtype=np.float64) + x", x=("real", (2, 3))),
    row("np.ones((2, 3)) * x", x=("real", (2, 3)), numba=False), row("np.ones(3) * x", x=("real", (2, 3))),
    row("np.full((2, 3), 2.5) * x", x=("real", (2, 3))), row("np.full(x.shape, 0.5) + x", x=("real", (2, 3))),
    row("np.eye(3) @ x", x=("real", (3, 4))), row("np.eye(3, 4) * x", x=("real", (3, 4))),
    row("np.eye(x.shape[0]) * x", x=("real", (3, 3))),
    row("np.arange(3) * x", x=("real", (2, 3))), row("np.arange(1.0, 4.0) * x", x=("real", (3,))),
    row("np.arange(0, 6, 2) * x", x=("real", (2, 3))),
    row("np.zeros_like(x) + x ** 2", x=("real", (2, 3))), row("np.ones_like(x) * x", x=("real", (2, 3))),
    row("np.array([1.0, 2.0, 3.0]) * x", x=("real", (2, 3)), numba=False),
    row("np.array([[1, 2, 3], [4, 5, 6]]) * x", x=("real", (2, 3))),
    row("np.array([True, False, True]) * x", x=("real", (3,))),
    # a fill value is an input like any other: every element moves with it
    row("np.full((2, 3), y) * x", x=("real", (2, 3)), y=("real", ())),
    row("np.full_like(x, y) + x", x=("real", (2, 3)), y=("real", ())),
    # a float start or step moves the elements of arange; its stop only sets the length
    row("np.arange(y, 4.5) * x", x=("real", (4,)), y=("divisor", ())),
    row("np.arange(0.5, y + 3.0, y) * x", x=("real", (4,)), y=1.1),
    row("np.arange(y) * x", x=("real", (2,)), y=("divisor", ())),
]


@pytest.mark.parametrize("expr, args, target", matrix(
    UNARY_ROWS + BINARY_ROWS + SCALAR_ROWS + CLIP_ROWS + REDUCTION_ROWS + LINALG_ROWS + SHAPE_ROWS
    + INDEX_ROWS + CONSTRUCTOR_ROWS))
def test_rule(expr, args, target):
    check(expr, args, target)


# --- rules whose derivative is zero, checked exactly -----------------------------------------

TARGETS = ["python", "cpu"]

ZERO_DERIVATIVE = [  # (expression in x, the exact gradient of np.sum(EXPR * w) with respect to x)
    ("x * (x > 0)", lambda x, w: w * (x > 0)),
    ("x * (x <= 0.5) + 1.0 * (x >= 0.5) + 2.0 * (x == 1.0) - (x != 1.0) * 1.0", lambda x, w: w * (x <= 0.5)),
    ("np.logical_and(x > -1.0, x < 1.0) * x", lambda x, w: w * ((x > -1.0) & (x < 1.0))),
    ("np.logical_or(x < -1.0, np.logical_not(x < 1.0)) * x", lambda x, w: w * ((x < -1.0) | (x >= 1.0))),
    ("np.sign(x) * x", lambda x, w: w * np.sign(x)),
    ("np.sign(x)", lambda x, w: np.zeros_like(w)),
    ("x // 0.7 + np.floor_divide(x, 0.3)", lambda x, w: np.zeros_like(w)),
    ("np.floor(x) + np.ceil(x) + np.rint(x)", lambda x, w: np.zeros_like(w)),
    ("np.where(x > 0, 1.0, -1.0)", lambda x, w: np.zeros_like(w)),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("shape", [(), (2, 3)], ids=str)
@pytest.mark.parametrize("expr, expected", ZERO_DERIVATIVE, ids=[e for e, _ in ZERO_DERIVATIVE])
def test_zero_derivative(expr, expected, shape, target):
    rng = np.random.default_rng(zlib.crc32(expr.encode()))
    x, w, v = (sample((d, shape), rng) for d in ("nonzero", "nonzero", "real"))
    f = ct.differentiable(define("x, w", f"np.sum(({expr}) * w)"), target=target)
    g = ct.grad(f)(x, w)
    np.testing.assert_array_equal(g, expected(x, w))
    _, tangent = ct.jvp(f, (x, w), (v, None))
    assert tangent == pytest.approx(np.sum(expected(x, w) * v), rel=1e-12, abs=0.0)


# --- conventions at kinks and ties -----------------------------------------------------------

KINKS = [  # (expression, x, the gradient of np.sum(EXPR) there, by convention)
    # relu has derivative 0 at 0 however it is written: a constant operand takes the tie
    ("np.maximum(x, 0.0)", [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),
    ("np.maximum(0.0, x)", [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),
    ("np.minimum(x, 0.0)", [-1.0, 0.0, 2.0], [1.0, 0.0, 0.0]),
    ("np.maximum(x, 0.0)", 0.0, 0.0), ("np.maximum(0.0, x)", 0.0, 0.0),
    ("max(x, 0.0)", 0.0, 0.0), ("max(0.0, x)", 0.0, 0.0),
    # abs'(0) = 0
    ("np.abs(x)", [-1.5, 0.0, 2.0], [-1.0, 0.0, 1.0]),
    ("np.abs(x)", 0.0, 0.0), ("abs(x)", 0.0, 0.0), ("math.fabs(x)", 0.0, 0.0),
    # two active operands split a tie, so maximum(x, x) = x has derivative 1
    ("np.maximum(x, x)", [-1.0, 0.0, 2.0], [1.0, 1.0, 1.0]),
    ("np.minimum(x, x)", [-1.0, 0.0, 2.0], [1.0, 1.0, 1.0]),
    ("np.maximum(x, x)", 0.5, 1.0), ("max(x, x)", 0.5, 1.0), ("min(x, x)", -0.5, 1.0),
    # ties in a max or min reduction share the gradient equally
    ("np.max(x)", [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]),
    ("np.max(x, axis=1)", [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]),
    ("np.max(x, axis=0, keepdims=True)", [[1.0, 3.0, 3.0], [1.0, 2.0, 3.0]], [[0.5, 1.0, 0.5], [0.5, 0.0, 0.5]]),
    ("np.min(x, axis=-1)", [[1.0, 3.0, 1.0], [2.0, 2.0, 2.0]], [[0.5, 0.0, 0.5], [1 / 3, 1 / 3, 1 / 3]]),
    ("np.min(x)", [2.0, -1.0, 5.0, -1.0], [0.0, 0.5, 0.0, 0.5]),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("expr, x, expected", KINKS, ids=[f"{e} at {x}" for e, x, _ in KINKS])
def test_kink_convention(expr, x, expected, target):
    x = np.array(x) if isinstance(x, list) else x
    f = ct.differentiable(define("x", f"np.sum({expr})"), target=target)
    np.testing.assert_allclose(ct.grad(f)(x), expected, rtol=1e-15, atol=0.0)
    v = np.linspace(0.5, 1.5, np.size(x)).reshape(np.shape(x)) if np.ndim(x) else 0.75
    _, tangent = ct.jvp(f, (x,), (v,))
    assert tangent == pytest.approx(np.sum(np.array(expected) * v), rel=1e-14, abs=0.0)


# --- tuple and dict arguments: gradients come back in the same structure ---------------------

def dict_model(params, x):
    W = params["W"]
    b = params["b"]
    return np.sum(np.tanh(x @ W + b)) * params["scale"] + params["n"]


def tuple_model(params, x):
    W, b = params
    return np.sum((x @ W + b) ** 2)


def nested_model(params, x):
    W, b = params["layer"]
    return np.sum(np.sin(x @ W + b) * params["scale"][0]) + params["scale"][1]


@pytest.mark.parametrize("target", TARGETS)
def test_dict_argument(target):
    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2), "scale": 0.7, "n": 3}
    x = rng.standard_normal((4, 3))
    f = ct.differentiable(dict_model, target=target)
    g, g_x = ct.grad(f, argnums=(0, 1))(params, x)
    assert sorted(g) == sorted(params) and g["n"] is None      # ints are not differentiated
    h = np.tanh(x @ params["W"] + params["b"])
    d = (1.0 - h ** 2) * params["scale"]                       # the textbook backprop lines
    np.testing.assert_allclose(g["W"], x.T @ d, rtol=1e-12)
    np.testing.assert_allclose(g["b"], d.sum(axis=0), rtol=1e-12)
    assert g["scale"] == pytest.approx(np.sum(h), rel=1e-12)
    np.testing.assert_allclose(g_x, d @ params["W"].T, rtol=1e-12)
    ct.check_grad(f, params, x)


@pytest.mark.parametrize("target", TARGETS)
def test_tuple_argument(target):
    rng = np.random.default_rng(2)
    params, x = (rng.standard_normal((3, 2)), rng.standard_normal(2)), rng.standard_normal((4, 3))
    f = ct.differentiable(tuple_model, target=target)
    g = ct.grad(f)(params, x)
    assert isinstance(g, tuple) and len(g) == 2
    r = x @ params[0] + params[1]
    np.testing.assert_allclose(g[0], 2.0 * x.T @ r, rtol=1e-12)
    np.testing.assert_allclose(g[1], 2.0 * r.sum(axis=0), rtol=1e-12)
    ct.check_grad(f, params, x, argnums=0)


@pytest.mark.parametrize("target", TARGETS)
def test_nested_argument(target):
    rng = np.random.default_rng(3)
    params = {"layer": (rng.standard_normal((3, 2)), rng.standard_normal(2)), "scale": (0.5, 2.0)}
    f = ct.differentiable(nested_model, target=target)
    g = ct.grad(f)(params, rng.standard_normal((4, 3)))
    assert sorted(g) == ["layer", "scale"] and len(g["layer"]) == 2 and len(g["scale"]) == 2
    assert g["scale"][1] == 1.0
    ct.check_grad(f, params, rng.standard_normal((4, 3)), argnums=0)


# --- the two textbook examples ---------------------------------------------------------------

def log_product(a, b):
    return np.log(a * b)


def sin_plus_product(x1, x2):
    return np.sin(x1) + x1 * x2


@pytest.mark.parametrize("target", TARGETS)
def test_textbook_examples(target):
    value, grads = ct.value_and_grad(ct.differentiable(log_product, target=target), argnums=(0, 1))(2.0, 3.0)
    assert value == pytest.approx(1.791759, abs=1e-6)          # log 6
    assert grads == pytest.approx((0.5, 0.3333333), abs=1e-6)   # (1/a, 1/b)
    value, grads = ct.value_and_grad(ct.differentiable(sin_plus_product, target=target), argnums=(0, 1))(2.0, 3.0)
    assert value == pytest.approx(math.sin(2.0) + 6.0, rel=1e-15)
    assert grads == pytest.approx((math.cos(2.0) + 3.0, 2.0), rel=1e-15)
