"""Indexing: list literals, `...`, None, boolean masks and mixed integer, slice and array indices,
read from arguments and written into local arrays (`y[...] = v`, `y[...] += v`), in both modes, on
both targets, with Hessians; and the conventions of repeated indices and masks, and the errors of
unsupported forms."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import cotangent as ct
from rule_check import (row, matrix, check, check_hessian, hessian_matrix, sample, load_module, check_function,
                        check_function_hessian)

ROW_MASK = np.array([True, False, True])
MASK_23 = np.array([[True, False, True], [False, False, True]])
IDX = np.array([0, 2, 2])

# --- reads ------------------------------------------------------------------------------------

LIST_ROWS = [
    row("x[[0, 2, 2]]", x=("real", (4,))),                        # repeats add up in the adjoint
    row("x[[0, 2, 2]]", x=("real", (3, 2)), numba=False),
    row("x[[0, 2], :]", x=("real", (3, 4))),
    row("x[:, [1, 0]]", x=("real", (2, 3))),
    row("x[[[0, 1], [2, 2]]]", x=("real", (3,))),
    row("x[[-1, 0]]", x=("real", (3, 2)), numba=False),
    row("x[[i, 0]]", x=("real", (4,)), i=3),
]
ELLIPSIS_ROWS = [
    row("x[..., 0]", x=("real", (2, 3))),
    row("x[..., 0]", x=("real", (2, 3, 4)), numba=False),
    row("x[..., None]", x=("real", (3,))),
    row("x[0, ...]", x=("real", (2, 3, 4))),
    row("x[..., 1:]", x=("real", (2, 3))),
    row("x[1, ..., 0]", x=("real", (2, 3, 4)), numba=False),
    row("x[...]", x=("real", (2, 3)), numba=False),
    row("x[..., [1, 0]]", x=("real", (2, 3))),
    row("x[0, ..., [1, 1]]", x=("real", (2, 3)), numba=False),    # ... of no axes, nothing in front
]
NEWAXIS_ROWS = [
    row("x[None, [0, 2]]", x=("real", (3,))),
    row("x[:, None, [1, 0]]", x=("real", (2, 3))),
    row("x[np.newaxis, ..., 1]", x=("real", (2, 3)), numba=False),
    row("x[idx, None]", x=("real", (4, 2)), idx=IDX),
]
MASK_ROWS = [
    row("x[m]", x=("real", (2, 3)), m=MASK_23),
    row("x[x > 0]", x=("real", (5,))),                          # a data-dependent length
    row("x[x > 0]", x=("real", (2, 3)), numba=False),
    row("x[m]", x=("real", (3, 2)), m=ROW_MASK),                 # rows
    row("x[m, :]", x=("real", (3, 4)), m=ROW_MASK, numba=False),
    row("x[:, m]", x=("real", (2, 3)), m=ROW_MASK),
    row("x[m, 1]", x=("real", (3, 4)), m=ROW_MASK, numba=False),
    row("x[[True, False, True]]", x=("real", (3,))),
    row("x[np.abs(x) < 1.0] * 2.0", x=("real", (3, 4)), numba=False),
    row("x[x[:, 0] > 0]", x=("real", (4, 3)), numba=False),
]
MIXED_ROWS = [
    row("x[idx, 1]", x=("real", (4, 3)), idx=IDX),
    row("x[3, 2:, [1, 3]]", x=("real", (4, 4, 4))),               # apart: the advanced axis first
    row("x[1:, 3, [1, 0]]", x=("real", (3, 4, 2)), numba=False),  # together: in place
    row("x[idx, :]", x=("real", (3, 2)), idx=IDX),
    row("x[:, idx]", x=("real", (2, 3)), idx=IDX),
    row("x[i, j]", x=("real", (3, 4)), i=np.array([[0], [2]]), j=np.array([1, 3, 3])),
    row("x[i, :, j]", x=("real", (3, 2, 4)), i=np.array([0, 2]), j=np.array([[1, 3], [0, 0]])),
    row("x[:, i, j]", x=("real", (2, 3, 4)), i=np.array([0, 2]), j=np.array([1, -1]), numba=False),
    row("x[idx][:, 1:]", x=("real", (3, 3)), idx=IDX, numba=False),
    row("x[m, idx]", x=("real", (3, 3)), m=ROW_MASK, idx=np.array([1, 1]), numba=False),
]
READ_ROWS = LIST_ROWS + ELLIPSIS_ROWS + NEWAXIS_ROWS + MASK_ROWS + MIXED_ROWS


@pytest.mark.parametrize("expr, args, target", matrix(READ_ROWS))
def test_read(expr, args, target):
    check(expr, args, target)


HESSIAN_ROWS = [
    row("x[[0, 2, 2]] ** 3", x=("real", (4,))),
    row("np.sin(x[..., 0]) * x[0, ...]", x=("real", (3, 3))),
    row("x[x > 0] ** 3", x=("real", (2, 3))),
    row("x[m] * x[m]", x=("real", (3, 2)), m=ROW_MASK),
    row("np.sin(x[i, j]) * x[0, 0]", x=("real", (3, 4)), i=np.array([[0], [2]]), j=np.array([1, 3, 3])),
    row("x[3, 2:, [1, 3]] ** 2", x=("real", (4, 4, 4))),
    row("x[None, [0, 2]] * x[:, None]", x=("real", (3,))),
]


@pytest.mark.parametrize("expr, args", hessian_matrix(HESSIAN_ROWS))
def test_read_hessian(expr, args):
    check_hessian(expr, args)


# --- writes into a local array ------------------------------------------------------------------

def define_body(params: str, body: str):
    """`def f(params, w): <body>; return np.sum(y * w)` in a module of its own; the body writes into
    a local array y."""
    lines = "".join(f"    {line}\n" for stmt in body.split("; ") for line in stmt.split("\n"))
    return load_module(f"import numpy as np\n\n\ndef f({params}, w):\n{lines}    return np.sum(y * w)\n", "index").f


def body_inputs(body: str, args: dict):
    """The inputs and a weight of y's final shape, the same on every run."""
    rng = np.random.default_rng(zlib.crc32(f"{body} {args}".encode()))
    values = [sample(s, rng) for s in args.values()]
    namespace = {"np": np, **dict(zip(args, [v.copy() if isinstance(v, np.ndarray) else v for v in values]))}
    exec(body.replace("; ", "\n"), namespace)       # noqa: S102 - test tables
    w = rng.standard_normal(np.shape(namespace["y"]))
    return define_body(", ".join(args), body), values, w


def check_body(body: str, args: dict, target: str) -> None:
    """As rule_check.check, for a body of statements that writes into y."""
    f, values, w = body_inputs(body, args)
    check_function(f, values, w, target)


def check_body_hessian(body: str, args: dict) -> None:
    f, values, w = body_inputs(body, args)
    check_function_hessian(f, values, w, body)


WRITE_ROWS = [
    row("y = x.copy(); y[[0, 2]] = v", x=("real", (3, 2)), v=("real", (2, 2))),
    row("y = x.copy(); y[[0, 2, 0]] = v", x=("real", (3, 2)), v=("real", (3, 2))),   # the last one stays
    row("y = x.copy(); y[[0, 2, 0]] += v", x=("real", (3,)), v=("real", (3,))),      # buffered: once
    row("y = x ** 2; y[idx] += v", x=("real", (4, 2)), v=("real", (3, 2)), idx=IDX, numba=False),
    row("y = x.copy(); y[:, [1, 0]] = v * x[:, :2]", x=("real", (2, 3)), v=("real", (2,))),
    row("y = x.copy(); y[..., 0] = v", x=("real", (2, 3)), v=("real", (2,))),
    row("y = x.copy(); y[0, ...] += v", x=("real", (2, 3)), v=("real", (3,)), numba=False),
    row("y = x.copy(); y[None, [0, 2]] = v", x=("real", (3,)), v=("real", (2,)), numba=False),
    row("y = x.copy(); y[m] = v", x=("real", (2, 3)), m=MASK_23, v=("real", (3,))),
    row("y = x.copy(); y[m] = v", x=("real", (2, 3)), m=MASK_23, v=("real", ()), numba=False),
    row("y = x.copy(); y[m] += v", x=("real", (3, 2)), m=ROW_MASK, v=("real", (2,))),
    row("y = x.copy(); y[m, :] = 0.0", x=("real", (3, 2)), m=ROW_MASK, numba=False),
    row("y = x * 1.0; y[y > 0] = 2.0 * y[y > 0] ** 2", x=("real", (5,))),
    row("y = x.copy(); y[x < 0] = v", x=("real", (2, 3)), v=("real", ()), numba=False),
    row("y = x.copy(); y[idx, 1] = v", x=("real", (4, 3)), v=("real", (3,)), idx=IDX),
    row("y = x.copy(); y[3, 2:, [1, 3]] += v", x=("real", (4, 4, 4)), v=("real", (2, 2))),
    row("y = x.copy(); y[i, j] = v", x=("real", (3, 4)), v=("real", (2, 3)), i=np.array([[0], [2]]),
        j=np.array([1, 3, 1])),
    row("y = x.copy(); y[i, j] += v", x=("real", (3, 4)), v=("real", (2, 3)), i=np.array([[0], [0]]),
        j=np.array([1, 3, 1]), numba=False),
    row("y = np.zeros((4, 2)); y[idx] = x", x=("real", (3, 2)), idx=np.array([1, 3, 1])),
    row("y = np.zeros(3); y[[1, 1]] += x", x=("real", (2,)), numba=False),
    row("y = np.zeros((3, 3)); y[:, idx] += x", x=("real", (3, 3)), idx=IDX),
    row("y = x.copy(); for k in range(2):\n    y[[k, 0]] += y[[1, k]] * v[k]", x=("real", (3,)), v=("real", (2,))),
    row("y = x.copy(); s = 0.0; for k in range(3):\n    s = s + np.sum(y[y > k * 0.3] ** 2)\n"
        "    y[y < 0] = 0.5 * y[y < 0] ** 2\n    y[[k, 0], ..., 1] += y[0, ..., [0, 0]] * s", x=("real", (4, 2))),
]


@pytest.mark.parametrize("body, args, target", matrix(WRITE_ROWS, batched=False))
def test_write(body, args, target):
    check_body(body, args, target)


@pytest.mark.parametrize("body, args", hessian_matrix([
    row("y = x ** 2; y[[0, 2, 0]] += v * x[1]", x=("real", (3,)), v=("real", (3,))),
    row("y = x.copy(); y[y > 0] = y[y > 0] ** 3", x=("real", (2, 3))),
    row("y = x * x; y[i, j] = np.sin(v)", x=("real", (3, 4)), v=("real", (2, 3)), i=np.array([[0], [2]]),
        j=np.array([1, 3, 1])),
    row("y = x.copy(); y[..., [1, 0]] *= x[:, :2]", x=("real", (2, 3))),
    row("y = x.copy(); for k in range(2):\n    y[y > k] = y[y > k] ** 2\n    y[[k, 0]] += y[[1, k]] * x[k]",
        x=("real", (3,))),
]))
def test_write_hessian(body, args):
    check_body_hessian(body, args)


# --- conventions, checked exactly ---------------------------------------------------------------

TARGETS = ["python", "cpu"]


def _f(params: str, body: str):
    """`def f(params): <body>; return y` from a body of statements."""
    lines = "".join(f"    {line}\n" for stmt in body.split("; ") for line in stmt.split("\n"))
    return load_module(f"import numpy as np\n\n\ndef f({params}):\n{lines}    return y\n", "index").f


@pytest.mark.parametrize("target", TARGETS)
def test_repeated_add_is_buffered(target):
    """y[[0, 0]] += 1 adds once, as NumPy does (the repeated element is read once, written twice)."""
    f = ct.differentiable(_f("x", "y = x.copy(); y[[0, 0, 2]] += 1.0; y = np.sum(y * y)"), target=target)
    x = np.array([1.0, 2.0, 3.0])
    value, g = ct.value_and_grad(f)(x)
    assert value == pytest.approx(2.0 ** 2 + 2.0 ** 2 + 4.0 ** 2)
    np.testing.assert_array_equal(g, [4.0, 4.0, 8.0])


@pytest.mark.parametrize("target", TARGETS)
def test_repeated_write_keeps_last(target):
    """y[[0, 0]] = v keeps v[1]: v[0] has no effect and a zero derivative."""
    f = ct.differentiable(_f("x, v", "y = x.copy(); y[[0, 0]] = v; y = np.sum(y * np.array([3.0, 5.0]))"),
                          target=target)
    x, v = np.array([1.0, 2.0]), np.array([7.0, 11.0])
    value, (gx, gv) = ct.value_and_grad(f, (0, 1))(x, v)
    assert value == 11.0 * 3.0 + 2.0 * 5.0
    np.testing.assert_array_equal(gx, [0.0, 5.0])
    np.testing.assert_array_equal(gv, [0.0, 3.0])
    _, tangent = ct.jvp(f, (x, v), (np.ones(2), np.array([1.0, 10.0])))
    assert tangent == 10.0 * 3.0 + 5.0


@pytest.mark.parametrize("target", TARGETS)
def test_repeated_read_adds_up(target):
    f = ct.differentiable(_f("x", "y = np.sum(x[[0, 2, 2, -1]] * np.array([1.0, 2.0, 3.0, 4.0]))"), target=target)
    np.testing.assert_array_equal(ct.grad(f)(np.zeros(3)), [1.0, 0.0, 9.0])


@pytest.mark.parametrize("target", TARGETS)
def test_negative_index_repeats(target):
    """[-1, 2] names the last of three elements twice: the write keeps the second value."""
    f = ct.differentiable(_f("x, v", "y = x.copy(); y[[-1, 2]] = v * x[[-1, 2]]; y = np.sum(y)"), target=target)
    x, v = np.array([1.0, 2.0, 3.0]), np.array([5.0, 7.0])
    value, (gx, gv) = ct.value_and_grad(f, (0, 1))(x, v)
    assert value == 1.0 + 2.0 + 7.0 * 3.0
    np.testing.assert_array_equal(gx, [1.0, 1.0, 7.0])
    np.testing.assert_array_equal(gv, [0.0, 3.0])


@pytest.mark.parametrize("target", TARGETS)
def test_mask_write_is_where(target):
    """y[m] = v with a scalar v and y[m] += v are np.where(m, v, x) and x + m * v, derivatives too."""
    rng = np.random.default_rng(3)
    x, v = rng.normal(size=(3, 4)), 0.7
    w = rng.normal(size=(3, 4))
    masked = ct.differentiable(_f("x, v, w", "y = x.copy(); y[x > 0] = v; y[x < -0.5] += v * v; y = np.sum(y * w)"),
                               target=target)
    plain = ct.differentiable(_f("x, v, w", "y = np.where(x > 0, v, x) + (x < -0.5) * v * v; y = np.sum(y * w)"),
                              target=target)
    a, ga = ct.value_and_grad(masked, (0, 1))(x, v, w)
    b, gb = ct.value_and_grad(plain, (0, 1))(x, v, w)
    assert a == pytest.approx(b, rel=1e-14)
    np.testing.assert_allclose(ga[0], gb[0], rtol=1e-14)
    assert ga[1] == pytest.approx(gb[1], rel=1e-14)


@pytest.mark.parametrize("target", TARGETS)
def test_empty_mask(target):
    """A mask with no true element reads an empty array: a zero sum with a zero gradient."""
    f = ct.differentiable(_f("x", "y = np.sum(x[x > 10.0] ** 2) + np.sum(x[[False, False]])"), target=target)
    value, g = ct.value_and_grad(f)(np.array([1.0, 2.0]))
    assert value == 0.0
    np.testing.assert_array_equal(g, [0.0, 0.0])


@pytest.mark.parametrize("target", TARGETS)
def test_nonzero_and_where_index(target):
    """np.nonzero(m), np.where(m) and np.flatnonzero(m) give positions that index like the mask."""
    f = ct.differentiable(_f("x", "r, c = np.nonzero(x > 0); y = np.sum(x[np.where(x > 0)] ** 2) "
                                  "+ np.sum(x.ravel()[np.flatnonzero(x > 0)]) + np.sum(x[r, c])"), target=target)
    x = np.array([[1.0, -2.0], [-3.0, 4.0]])
    value, g = ct.value_and_grad(f)(x)
    assert value == 17.0 + 5.0 + 5.0
    np.testing.assert_array_equal(g, (x > 0) * (2 * x + 2.0))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("body, message", [
    ("y = np.sum(x[m])", "boolean index did not match"),
    ("y = np.sum(x[[0, 3]])", "out of bounds"),
    ("y = x.copy(); y[m] = 1.0; y = np.sum(y)", "boolean index did not match"),
])
def test_index_out_of_range(body, message, target):
    f = ct.differentiable(_f("x, m", body), target=target)
    with pytest.raises(IndexError, match=message):
        ct.grad(f)(np.ones((3, 2)), np.array([True, False]))


@pytest.mark.parametrize("body, message", [
    ("y = x[1.5]", "array indices must be integers"),
    ("y = x[np.array([0.0, 1.0])]", "array indices must be integers"),
    ("y = x[[0.5, 1]]", "integers or booleans"),
    ("y = x[[True, 0]]", "mixes booleans and integers"),
    ("y = x[[]]", "empty list"),
    ("y = x[True]", "boolean number"),
    ("y = x[..., ...]", "single ellipsis"),
    ("y = x[0, 0, 0]", "too many indices"),
    ("y = x[0, ..., 0, 0]", "too many indices"),
    ("y = x[x.shape]", "an index must be"),
    ("z = np.zeros((2, 3, 4)); y = z[:, [0], ..., [1]]", "stands for no axes"),
    ("y = x.copy(); y[[0, 1]] = np.ones((2, 3, 1))", "cannot write a rank-3 value"),
    ("y = x[np.nonzero(1.0)]", "np.nonzero of a number"),
])
def test_unsupported_forms(body, message):
    f = ct.differentiable(_f("x", body + "; y = np.sum(y)"), target="python")
    with pytest.raises(ct.CompileError, match=message):
        ct.grad(f)(np.ones((2, 3)))
