"""Shape functions and constructors (issue 15): transposes, flips, rotations, rolls, tiles, repeats,
pads, splits, joins, broadcast_to, astype, nested np.array, np.r_, np.c_ and np.linspace, checked
with the shared rule checker (reverse mode against central differences, forward against reverse,
Numba against the Python target) and under ct.hessian through nonlinear compositions. The tests at
the end check the conventions exactly (zero derivatives, degenerate sizes, run-time errors) and the
CompileError of each unsupported form."""
from __future__ import annotations

import numpy as np
import pytest

import cotangent as ct
from rule_check import check, check_hessian, define, hessian_matrix, matrix, row

R3 = ("real", (2, 3, 4))
R34 = ("real", (3, 4))

MOVING = [
    row("np.swapaxes(x, 0, 2)", x=R3),
    row("np.swapaxes(x, -1, 0)", x=R34, numba=False),
    row("x.swapaxes(1, 2)", x=R3),
    row("np.moveaxis(x, 0, -1)", x=R3),
    row("np.moveaxis(x, (0, 1), (2, 0))", x=R3, numba=False),
    row("np.rollaxis(x, 2)", x=R3),
    row("np.rollaxis(x, 0, 3)", x=R3, numba=False),
    row("np.rollaxis(x, 2, -2)", x=R3, numba=False),
    row("x.transpose(1, 0, 2)", x=R3),
    row("x.transpose((2, 0, 1))", x=R3, numba=False),
    row("x.transpose()", x=R3, numba=False),
    row("np.transpose(x, (1, 0))", x=R34, numba=False),
    row("np.sin(np.moveaxis(x, 0, 1)) * y", x=R3, y=("real", (3, 2, 4))),           # one loop nest
    row("np.sin(np.moveaxis(x, 0, 1)) * y", x=R3, y=("real", (3, 1, 4)), numba=False),  # y broadcasts
]

FLIPS = [
    row("np.flip(x, 1)", x=R34),
    row("np.flip(x, (0, 2))", x=R3, numba=False),
    row("np.flip(x)", x=R34),
    row("np.flip(x)", x=("real", (5,)), numba=False),
    row("np.flipud(x)", x=R34),
    row("np.fliplr(x)", x=R34, numba=False),
    row("np.rot90(x)", x=R34),
    row("np.rot90(x, 2)", x=R34, numba=False),
    row("np.rot90(x, -1)", x=R34, numba=False),
    row("np.rot90(x, 3, axes=(0, 2))", x=R3),
    row("np.rot90(x, 4)", x=R34, numba=False),
]

ROLLS = [
    row("np.roll(x, 2)", x=("real", (5,))),
    row("np.roll(x, -1)", x=R34, numba=False),
    row("np.roll(x, 1, axis=1)", x=R34),
    row("np.roll(x, (1, 2), axis=(0, 1))", x=R34),
    row("np.roll(x, (1, -3), axis=1)", x=R34, numba=False),
    row("np.roll(x, k, axis=0)", x=R34, k=7),
    row("np.roll(x, k)", x=("real", (2, 3)), k=-4, numba=False),
]

COPIES = [
    row("np.tile(x, 3)", x=("real", (4,))),
    row("np.tile(x, (2, 1))", x=("real", (3, 2))),
    row("np.tile(x, (2, 1, 3))", x=("real", (3, 2)), numba=False),
    row("np.tile(x, 2)", x=("real", (2, 3)), numba=False),
    row("np.tile(x, (1, 1))", x=("real", (2, 3)), numba=False),
    row("np.tile(x, 3)", x=("real", ())),
    row("np.repeat(x, 2)", x=("real", (2, 3))),
    row("np.repeat(x, 3, axis=1)", x=R34),
    row("x.repeat(2, axis=0)", x=R34, numba=False),
    row("np.repeat(x, k, axis=0)", x=R34, k=2),
    row("np.broadcast_to(x, (3, 4))", x=("real", (4,))),
    row("np.broadcast_to(x, (2, 3, 4))", x=("real", (3, 1)), numba=False),
    row("np.broadcast_to(c, (2, 3))", c=("real", ())),
    row("np.broadcast_to(x, y.shape) * y", x=("real", (3,)), y=("real", (2, 3)), numba=False),
]

PADS = [
    row("np.pad(x, 2)", x=("real", (3,))),
    row("np.pad(x, (1, 2), constant_values=c)", x=R34, c=("real", ())),
    row("np.pad(x, ((1, 0), (2, 3)))", x=R34, numba=False),
    row("np.pad(x, ((0, 2), (1, 1)), mode='edge')", x=R34),
    row("np.pad(x, 2, mode='edge')", x=("real", (4,)), numba=False),
    row("np.pad(x, ((1,),), 'constant', constant_values=1.5)", x=R34, numba=False),
]

JOINS = [
    row("np.atleast_1d(x)", x=("real", ())),
    row("np.atleast_2d(x)", x=("real", (3,)), numba=False),
    row("np.atleast_2d(x)", x=("real", ())),
    row("np.atleast_3d(x)", x=("real", (2, 3))),
    row("np.atleast_3d(x)", x=("real", (4,)), numba=False),
    row("np.atleast_1d(x, y)[1]", x=("real", ()), y=("real", (3,)), numba=False),
    row("np.append(x, y)", x=("real", (2, 3)), y=("real", (3,))),
    row("np.append(x, y, axis=0)", x=("real", (2, 3)), y=("real", (1, 3)), numba=False),
    row("np.append(x, c)", x=("real", (3,)), c=("real", ())),
    row("np.column_stack((x, y))", x=("real", (3,)), y=("real", (3, 2))),
    row("np.dstack((x, y))", x=("real", (2, 3)), y=("real", (2, 3))),
    row("np.dstack((x, y))", x=("real", (3,)), y=("real", (3,)), numba=False),
]

SPLITS = [
    row("np.split(x, 2)[1]", x=("real", (4, 3))),
    row("np.split(x, [1, 3], axis=1)[1]", x=("real", (2, 5))),
    row("np.split(x, [1, 3], axis=1)[2]", x=("real", (2, 5)), numba=False),
    row("np.array_split(x, 3)[0]", x=("real", (7,))),
    row("np.array_split(x, 3, axis=1)[2]", x=("real", (2, 7)), numba=False),
    row("np.array_split(x, 3)[1] * np.array_split(x, 3)[2]", x=("real", (6,)), numba=False),
    row("np.split(x, [k])[1]", x=("real", (5,)), k=2, numba=False),
]

CASTS = [
    row("x.astype(np.float64) * x", x=R34),
    row("x.astype(float)", x=("real", (3,)), numba=False),
    row("x * x.astype(np.int64)", x=("mod", (3,))),
]

CONSTRUCTORS = [
    row("np.array([[x, y], [y, x]])", x=("real", ()), y=("real", ())),
    row("np.array([x, 1.0, y])", x=("real", ()), y=("real", ())),
    row("np.array([x, y])", x=("real", (3,)), y=("real", (3,)), numba=False),
    row("np.r_[x, y]", x=("real", (3,)), y=("real", (2,))),
    row("np.r_[0:5] * x", x=("real", (5,))),
    row("np.r_[x, c, 1.0]", x=("real", (3,)), c=("real", ()), numba=False),
    row("np.r_[0:1:5j] * x", x=("real", (5,)), numba=False),
    row("np.c_[x, y]", x=("real", (3,)), y=("real", (3,))),
    row("np.c_[x, y]", x=("real", (3, 2)), y=("real", (3, 1)), numba=False),
    row("np.linspace(a, b, 5)", a=("real", ()), b=("real", ())),
    row("np.linspace(a, b, 4, endpoint=False)", a=("real", ()), b=("real", ())),
    row("np.linspace(0.0, b, n)", b=("real", ()), n=6),
    row("np.linspace(a, b, 1)", a=("real", ()), b=("real", ())),
    row("np.linspace(a, 2, num=3)", a=("real", ())),
]

ROWS = MOVING + FLIPS + ROLLS + COPIES + PADS + JOINS + SPLITS + CASTS + CONSTRUCTORS


@pytest.mark.parametrize("expr, args, target", matrix(ROWS))
def test_rule(expr, args, target):
    check(expr, args, target)


TWICE = [  # nonlinear compositions: ct.hessian differentiates each adjoint again
    row("np.sin(np.roll(x, 1)) * x", x=("real", (5,))),
    row("np.sin(np.roll(x, (1, -1), axis=(0, 1))) * x", x=("real", (2, 3))),
    row("np.sin(np.roll(x, k, axis=0)) * x", x=("real", (3, 2)), k=-2),
    row("np.sin(np.swapaxes(x, 0, 1)) * x.T", x=("real", (2, 3))),
    row("np.moveaxis(x, 0, 2) ** 3", x=("real", (2, 2, 2))),
    row("np.sin(np.flip(x)) * x", x=("real", (2, 3))),
    row("np.rot90(x) ** 3", x=("real", (2, 3))),
    row("np.tile(x, (2, 1)) ** 3", x=("real", (2, 2))),
    row("np.cos(np.repeat(x, 2)) * np.repeat(x, 2)", x=("real", (3,))),
    row("np.repeat(x, k, axis=1) ** 3", x=("real", (2, 2)), k=2),
    row("np.pad(x, 1, constant_values=c) ** 2 * np.pad(x, 1)", x=("real", (3,)), c=("real", ())),
    row("np.pad(x, (1, 2), mode='edge') ** 3", x=("real", (3,))),
    row("np.broadcast_to(x, (2, 3)) ** 3", x=("real", (3,))),
    row("np.split(x, 2)[0] * np.split(x, 2)[1] ** 2", x=("real", (4,))),
    row("np.array_split(x, 2)[0][0] * np.array_split(x, 2)[1] ** 2", x=("real", (5,))),
    row("np.r_[x, y] ** 3", x=("real", (2,)), y=("real", (2,))),
    row("np.c_[x, y] ** 3", x=("real", (2,)), y=("real", (2,))),
    row("np.append(x, y) ** 3", x=("real", (2,)), y=("real", ())),
    row("np.column_stack((x, x ** 2)) ** 2", x=("real", (2,))),
    row("np.linspace(a, b, 4) ** 3", a=("real", ()), b=("real", ())),
    row("np.array([[x, y], [x * y, 1.0]]) ** 3", x=("real", ()), y=("real", ())),
]


@pytest.mark.parametrize("expr, args", hessian_matrix(TWICE))
def test_hessian(expr, args):
    check_hessian(expr, args)


# --- conventions, exactly ---

def _split_pair(x):
    a, b = np.split(x, 2)
    return np.sum(a * np.sin(b))


def _split_three(x):
    first, middle, last = np.array_split(x, 3, axis=1)
    return np.sum(first ** 2) + np.sum(middle * 3.0) + np.sum(last)


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_split_unpacks(target):
    x = np.linspace(-1.0, 1.0, 6)
    value, g = ct.value_and_grad(ct.differentiable(_split_pair, target=target))(x)
    np.testing.assert_allclose(value, _split_pair(x))
    np.testing.assert_allclose(g, np.concatenate([np.sin(x[3:]), x[:3] * np.cos(x[3:])]))
    y = np.arange(14.0).reshape(2, 7)
    g3 = ct.grad(ct.differentiable(_split_three, target=target))(y)
    expected = np.concatenate([2 * y[:, :3], np.full((2, 2), 3.0), np.ones((2, 2))], axis=1)
    np.testing.assert_allclose(g3, expected)


def _split_even(x):
    return np.sum(np.split(x, 2)[0])


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_split_unequal_raises(target):
    fn = ct.differentiable(_split_even, target=target)
    assert fn(np.ones(4)) == 2.0
    with pytest.raises(ct.CompileError, match="ValueError: array split does not result in an equal division"):
        fn(np.ones(5))


def _astype_int(x):
    return np.sum(x.astype(np.int64) * 2.0)


def test_astype_int_has_zero_derivative():
    x = np.array([0.5, 1.5, -2.5])
    value, g = ct.value_and_grad(ct.differentiable(_astype_int, target="python"))(x)
    assert value == _astype_int(x)
    np.testing.assert_array_equal(g, np.zeros(3))


def _array_dtypes(x, n):
    return np.sum(np.array([n, 2], dtype=float) * x) + np.sum(np.array(x, dtype=int)) + np.sum(np.asarray(x * x, dtype=float))


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_array_dtype_of_names(target):
    x = np.array([0.5, 1.5])
    value, g = ct.value_and_grad(ct.differentiable(_array_dtypes, target=target))(x, 3)
    np.testing.assert_allclose(value, _array_dtypes(x, 3))
    np.testing.assert_allclose(g, [3.0 + 2 * 0.5, 2.0 + 2 * 1.5])      # the int copy adds nothing


def _linspace_n(a, b, n):
    return np.sum(np.linspace(a, b, n) * np.arange(n))


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_linspace_sizes(target):
    fn = ct.differentiable(_linspace_n, target=target)
    grad = ct.grad(fn, argnums=(0, 1))
    np.testing.assert_allclose(fn(1.0, 3.0, 5), _linspace_n(1.0, 3.0, 5))
    assert grad(1.0, 3.0, 1) == (0.0, 0.0)          # one sample is the start: no derivative in stop
    assert fn(1.0, 3.0, 0) == 0.0                   # no samples
    with pytest.raises(ct.CompileError, match="ValueError: Number of samples must be non-negative"):
        fn(1.0, 3.0, -1)


def _one_sample(a, b):
    return np.sum(np.linspace(a, b, 1))


def test_linspace_one_sample_is_start():
    assert ct.grad(ct.differentiable(_one_sample, target="python"), argnums=(0, 1))(2.0, 5.0) == (1.0, 0.0)


def _tile_zero(x):
    return np.sum(np.tile(x, (0, 2)) ** 2)


def test_tile_zero_reps_is_empty():
    x = np.ones((2, 3))
    value, g = ct.value_and_grad(ct.differentiable(_tile_zero, target="python"))(x)
    assert value == 0.0
    np.testing.assert_array_equal(g, np.zeros((2, 3)))


def _edge_pad(x):
    return np.sum(np.pad(x, 1, mode="edge"))


def test_edge_pad_counts_each_copy():
    g = ct.grad(ct.differentiable(_edge_pad, target="python"))(np.ones((2, 3)))
    np.testing.assert_array_equal(g, [[4.0, 2.0, 4.0], [4.0, 2.0, 4.0]])
    with pytest.raises(IndexError):
        ct.differentiable(_edge_pad, target="python")(np.ones((0, 3)))


def _roll_shift(x, k):
    return np.sum(np.roll(x, k, axis=0) * np.arange(4.0))


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_roll_variable_shift(target):
    fn = ct.differentiable(_roll_shift, target=target)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    for k in (-5, 0, 1, 6):
        np.testing.assert_allclose(fn(x, k), _roll_shift(x, k))
        np.testing.assert_allclose(ct.grad(fn)(x, k), np.roll(np.arange(4.0), -k))


@pytest.mark.parametrize("expr, message", [
    ("np.pad(x, 1, mode='reflect')", "mode='reflect' is not supported"),
    ("np.pad(x, 1, constant_values=(1.0, 2.0))", "constant_values must be one number"),
    ("np.pad(x, ((1, 2), (3, 4), (5, 6)))", "pad_width"),
    ("np.pad(x, -1)", "pad_width"),
    ("np.pad(x, n)", "pad_width must be a constant"),
    ("np.repeat(x, np.array([1, 2, 3]))", "repeats must be one integer"),
    ("np.roll(x, 1.5)", "shift must be an integer"),
    ("np.roll(x, (1, 2, 3), axis=(0, 1))", "3 shifts for 2 axes"),
    ("np.tile(x, n)", "reps must be a constant"),
    ("np.split(x, n)", "number of sections must be a constant"),
    ("np.split(x, 0)", "must be positive"),
    ("np.r_['r', x]", "directive strings"),
    ("x.astype(np.float32)", "dtype np.float32 is not supported"),
    ("np.linspace(x, 1.0, 3)", "needs numbers for start and stop"),
    ("np.linspace(0.0, 1.0, 3, retstep=True)", "retstep"),
    ("np.rot90(x[0])", "rank 2 or more"),
    ("np.rot90(x, axes=(0, 0))", "names an axis twice"),
    ("np.moveaxis(x, (0, 1), 0)", "same number of axes"),
    ("np.flip(x, 2)", "out of range"),
    ("np.swapaxes(x, 0, 3)", "out of range"),
    ("x.transpose(0, 0)", "not a permutation"),
    ("np.broadcast_to(x, (3,))", "cannot broadcast"),
    ("np.append(x, x[0], axis=0)", "two arrays of one rank"),
    ("np.column_stack((x, np.ones((2, 2, 2))))", "one rank"),
])
def test_unsupported_forms(expr, message):
    f = define("x, n", f"np.sum({expr})")
    with pytest.raises(ct.CompileError, match=message):
        ct.grad(ct.differentiable(f, target="python"))(np.ones((2, 3)), 2)
