"""Jacobians, Hessians and Hessian-vector products, against central differences.

jacfwd and jacrev must agree with each other and with central differences, in JAX's shapes
(out.shape + in.shape; a tuple argnums gives a tuple). The Hessian is forward mode over reverse
mode: forward mode runs over the IR of the gradient, so the tangent rules of the helpers that
adjoints use (unbroadcast, add_at, index_add, prod_others, reshape_like, diag_embed_like) are
checked here too, each in both modes on more than one shape.

Most checks run on target="python", which compiles in milliseconds; a few run the same code
through Numba (target="cpu"), with the compiled functions shared between tests.
"""
from __future__ import annotations

import functools
import importlib.util
import zlib
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from cotangent.ir.nodes import Return, Var, Function
from cotangent.ir.types import Type, FLOAT, INT
from cotangent.ir.builder import Builder, NameAllocator
from cotangent.transforms.forward import forward
from cotangent.transforms.reverse import reverse
from cotangent.backends.pysource import module_source
from cotangent.backends import loader
from rule_check import load_module

ROOT = Path(__file__).resolve().parents[1]

# Under NUMBA_OPT=0 (tests/conftest.py) Numba keeps the address of a called compiled function in
# the caller's code and so does not cache the caller: the Jacobian and Hessian drivers, which
# call the compiled JVP, VJP or HVP, compile again in each test session (with LLVM's optimizer on,
# as outside the tests, they are cached like everything else).
pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function:numba.NumbaWarning")
H = 1e-5     # central-difference step; the functions below are scaled to be O(1)


# --- central differences -----------------------------------------------------------------------

def numeric_jacobian(f, args, i):
    """d f(*args) / d args[i], shape out.shape + in.shape, by central differences."""
    x = np.asarray(args[i], dtype=float)
    out_shape = np.shape(f(*args))
    J = np.zeros(out_shape + x.shape)
    for k in np.ndindex(x.shape):
        moved = []
        for sign in (1.0, -1.0):
            y = x.copy()
            y[k] += sign * H
            a = list(args)
            a[i] = y if x.ndim else float(y)
            moved.append(np.asarray(f(*a), dtype=float))
        J[(Ellipsis,) + k] = (moved[0] - moved[1]) / (2 * H)
    return J


def numeric_hessian(grad_f, args, i):
    """The Hessian in argument i, by central differences of a (compiled) gradient."""
    return numeric_jacobian(grad_f, args, i)


def close(a, b, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=atol)


# --- the functions ---------------------------------------------------------------------------

def vector_fn(x, A, s):
    return np.tanh(A @ x) * s + x[0] * np.sum(x ** 2)


def matrix_out(x, s):
    return np.outer(x, np.sin(x)) * s


def scalar_in(s, x):
    return np.exp(s * x) / 4.0


def matrix_in(W, x):
    return np.tanh(W @ x)


def transposed(W, s):
    return W.T * s + W[0, 0]


def scalar_out(x, A):
    return np.sum(np.sin(A @ x))


def dict_fn(p, x):
    return np.tanh(x @ p["W"] + p["b"]) * p["n"]


def logistic_loss(w, X, y):
    return np.sum(np.log(1.0 + np.exp(-y * (X @ w))))


def two_layer(W, b, X):
    return np.sum(np.tanh(X @ W + b) ** 2) / 4.0


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def helpers_everywhere(x, v):
    """One function whose gradient uses add_at (ints, slices, a newaxis), prod_others, diag,
    unbroadcast and reshape_like, so one Numba compile checks all their tangent rules."""
    a = np.sum(np.prod(x[1:, :], axis=1) * v[:2])
    b = np.sum(np.diag(x[:, :3]) ** 3) + x[0, 3] * np.sum(x[None, :, 1] * v[None, :])
    c = np.sum(np.sin(x.reshape(-1)) * np.prod(x))
    return a + b + np.sum((x + v[:, None]) ** 2) * 0.1 + c * 0.01


RNG = np.random.default_rng(7)
X3 = RNG.standard_normal((3,))
A43 = RNG.standard_normal((4, 3))
W23 = RNG.standard_normal((2, 3))
N_SAMPLES = 40
LOGI_X = RNG.standard_normal((N_SAMPLES, 3))
LOGI_Y = np.where(RNG.random(N_SAMPLES) < 0.5, 1.0, -1.0)
LOGI_W = RNG.standard_normal(3) * 0.5
HX = RNG.uniform(0.5, 1.5, (3, 4))
HV = RNG.standard_normal(3)


def py(f):
    return ct.differentiable(f, target="python")


# --- Jacobians -------------------------------------------------------------------------------

JACOBIAN_CASES = [  # (function, arguments, argnums)
    (vector_fn, (X3, A43, 0.7), 0),
    (vector_fn, (X3, A43, 0.7), (0, 1, 2)),
    (matrix_out, (X3, 1.3), (0, 1)),
    (scalar_in, (0.4, X3), 0),
    (matrix_in, (W23, X3), (0, 1)),
    (transposed, (W23, 2.0), (0, 1)),          # the outputs are views of the seed
    (scalar_out, (X3, A43), (0, 1)),
]


@pytest.mark.parametrize("fn, args, argnums", JACOBIAN_CASES,
                         ids=[f"{f.__name__}-{n}" for f, _, n in JACOBIAN_CASES])
def test_jacobians_agree_with_central_differences(fn, args, argnums):
    f = py(fn)
    fwd = ct.jacfwd(f, argnums=argnums)(*args)
    rev = ct.jacrev(f, argnums=argnums)(*args)
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if isinstance(argnums, int):
        fwd, rev = (fwd,), (rev,)
    else:
        assert isinstance(fwd, tuple) and isinstance(rev, tuple) and len(fwd) == len(nums)
    out_shape = np.shape(fn(*args))
    for i, jf, jr in zip(nums, fwd, rev):
        assert np.shape(jf) == np.shape(jr) == out_shape + np.shape(args[i])
        close(jf, jr, rtol=1e-12, atol=1e-14)
        close(jf, numeric_jacobian(fn, args, i))


def test_jacobian_of_dict_argument_has_its_structure():
    p = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2), "n": 3}
    x = RNG.standard_normal((4, 3))
    for jac in (ct.jacfwd, ct.jacrev):
        J = jac(py(dict_fn))(p, x)
        assert sorted(J) == ["W", "b", "n"] and J["n"] is None
        assert J["W"].shape == (4, 2, 3, 2) and J["b"].shape == (4, 2, 2)
        for key in ("W", "b"):
            close(J[key], numeric_jacobian(lambda leaf: dict_fn({**p, key: leaf}, x), (p[key],), 0))


@functools.lru_cache(maxsize=None)
def cpu_jacobians():
    """jacfwd and jacrev of one function through Numba, compiled once for the tests below."""
    f = ct.differentiable(vector_fn)
    args = (X3, A43, 0.7)
    return args, ct.jacfwd(f, argnums=(0, 1, 2))(*args), ct.jacrev(f, argnums=(0, 1, 2))(*args)


def test_jacobians_on_numba():
    args, fwd, rev = cpu_jacobians()
    for i, jf, jr in zip(range(3), fwd, rev):
        assert np.shape(jf) == (4,) + np.shape(args[i])
        close(jf, jr, rtol=1e-12, atol=1e-14)
        close(jf, numeric_jacobian(vector_fn, args, i))
    # the same numbers as plain Python running the same source
    close(fwd[1], ct.jacfwd(py(vector_fn), argnums=1)(*args), rtol=1e-14, atol=0.0)


# --- Hessians --------------------------------------------------------------------------------

def logistic_hessian_exact(w, X, y):
    """X^T diag(s (1 - s)) X with s = sigmoid(-y X w) (y = +-1): the textbook formula."""
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))
    return X.T @ (X * (s * (1.0 - s))[:, None])


@functools.lru_cache(maxsize=None)
def logistic(target):
    f = ct.differentiable(logistic_loss, target=target)
    args = (LOGI_W, LOGI_X, LOGI_Y)
    return f, args, ct.hessian(f)(*args)


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_logistic_regression_hessian(target):
    f, args, hess = logistic(target)
    assert hess.shape == (3, 3)
    close(hess, logistic_hessian_exact(*args), rtol=1e-12, atol=1e-12)
    fd = numeric_hessian(ct.grad(py(logistic_loss)), args, 0)
    close(hess, fd, rtol=1e-6, atol=1e-6)
    close(hess, hess.T, rtol=1e-14, atol=0.0)            # symmetric
    assert np.all(np.linalg.eigvalsh(hess) > 0)          # and convex


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_hvp_is_hessian_times_vector(target):
    f, args, hess = logistic(target)
    v = np.array([0.3, -1.2, 0.8])
    g, hv = ct.hvp(f, args, (v, None, None))
    close(g, ct.grad(py(logistic_loss))(*args), rtol=1e-12, atol=1e-14)
    close(hv, hess @ v, rtol=1e-12, atol=1e-12)


def test_hessian_with_tuple_argnums_is_nested_blocks():
    X = RNG.standard_normal((5, 3))
    W, b = RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    f = py(two_layer)
    H = ct.hessian(f, argnums=(0, 1))(W, b, X)
    assert len(H) == 2 and all(len(row) == 2 for row in H)
    shapes = {0: W.shape, 1: b.shape}
    grads = ct.grad(f, argnums=(0, 1))
    for i in range(2):
        for j in range(2):
            assert H[i][j].shape == shapes[i] + shapes[j]
            fd = numeric_jacobian(lambda *a: grads(*a)[i], (W, b, X), j)
            close(H[i][j], fd, rtol=1e-6, atol=1e-6)
    close(H[0][1], np.moveaxis(H[1][0], 0, -1), rtol=1e-12, atol=1e-14)   # symmetry across blocks
    full = np.block([[H[0][0].reshape(6, 6), H[0][1].reshape(6, 2)],
                     [H[1][0].reshape(2, 6), H[1][1]]])
    close(full, full.T, rtol=1e-12, atol=1e-14)
    # hvp with two arguments: tuples in argument order
    vW, vb = RNG.standard_normal(W.shape), RNG.standard_normal(b.shape)
    (gW, gb), (hW, hb) = ct.hvp(f, (W, b, X), (vW, vb, None))
    close(hW, np.tensordot(H[0][0], vW, 2) + H[0][1] @ vb, rtol=1e-12, atol=1e-13)
    close(hb, np.tensordot(H[1][0], vW, 2) + H[1][1] @ vb, rtol=1e-12, atol=1e-13)


def test_hessian_of_indexing_rosenbrock():
    x = np.array([-1.2, 1.0])
    H = ct.hessian(py(rosenbrock))(x)
    exact = np.array([[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2.0, -400.0 * x[0]], [-400.0 * x[0], 200.0]])
    close(H, exact, rtol=1e-14, atol=0.0)


def test_hessian_of_scalars_and_dicts():
    f = py(lambda_free_scalar)
    assert ct.hessian(f, argnums=(0, 1))(0.3, 1.7)[0][1] == pytest.approx(np.cos(0.3 * 1.7) * 1.0
                                                                           - 0.3 * 1.7 * np.sin(0.3 * 1.7))
    p = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2), "n": 2}
    x = RNG.standard_normal((4, 3))
    H = ct.hessian(py(dict_loss))(p, x)
    assert sorted(H) == ["W", "b", "n"] and H["n"] is None and H["W"]["n"] is None
    assert H["W"]["b"].shape == (3, 2, 2) and H["b"]["W"].shape == (2, 3, 2)
    g = ct.grad(py(dict_loss))
    fd = numeric_jacobian(lambda b: g({**p, "b": b}, x)["W"], (p["b"],), 0)
    close(H["W"]["b"], fd, rtol=1e-6, atol=1e-6)


def lambda_free_scalar(a, b):
    return np.sin(a * b)


def dict_loss(p, x):
    return np.sum(np.tanh(x @ p["W"] + p["b"]) ** 2) * p["n"]


@functools.lru_cache(maxsize=None)
def helpers_hessian():
    return ct.hessian(py(helpers_everywhere))(HX, HV)


def test_hessian_through_adjoint_helpers():
    H = helpers_hessian()
    assert H.shape == HX.shape + HX.shape
    fd = numeric_hessian(ct.grad(py(helpers_everywhere)), (HX, HV), 0)
    close(H, fd, rtol=1e-6, atol=1e-6)
    close(H.reshape(12, 12), H.reshape(12, 12).T, rtol=1e-12, atol=1e-13)


def test_hvp_through_adjoint_helpers_on_numba():
    """The Numba versions of the helpers' tangent code (prod_others over a rank-3 array, ...)."""
    v = np.linspace(-1.0, 1.0, HX.size).reshape(HX.shape)
    g, hv = ct.hvp(ct.differentiable(helpers_everywhere), (HX, HV), (v, None))
    close(g, ct.grad(py(helpers_everywhere))(HX, HV), rtol=1e-12, atol=1e-13)
    close(hv, np.tensordot(helpers_hessian(), v, 2), rtol=1e-12, atol=1e-12)


def test_hessian_source_is_forward_over_reverse():
    f = py(logistic_loss)
    text = ct.source(ct.hessian(f), LOGI_W, LOGI_X, LOGI_Y)
    assert "def logistic_loss_hvp(w, X, y, w_dot):" in text
    assert "def logistic_loss_hessian(w, X, y):" in text
    assert "# adjoint of" in text and "# tangent of" in text and "w_bar_dot" in text
    ct.hessian(f)(LOGI_W, LOGI_X, LOGI_Y)
    assert ct.source(ct.hessian(f)) == text
    assert "def logistic_loss_jvp(" in ct.source(ct.jacfwd(f), LOGI_W, LOGI_X, LOGI_Y)
    assert "def logistic_loss_vjp(" in ct.source(ct.jacrev(f), LOGI_W, LOGI_X, LOGI_Y)


# --- second derivatives of each rule, table-driven ----------------------------------------------

HVP_ROWS = [  # (expression in x, shape of x); each is summed against a fixed weight w
    ("np.exp(x) * np.sin(x)", (4,)), ("np.exp(x) * np.sin(x)", (2, 3)),
    ("x / (1.0 + x * x)", (3,)), ("np.tanh(x) ** 3", (2, 3)), ("np.sqrt(x * x + 1.0)", (3,)),
    ("x[1] * x", (4,)), ("x[1] * x", (3, 2)), ("x[1:, ::2] ** 2", (3, 4)), ("x[::-1] * x", (5,)),
    ("x[:, None] * x[None, :]", (3,)), ("x[None, :, 1] ** 3", (2, 3)),
    ("x[idx] ** 2", (4,)), ("x[idx] * x[0]", (3, 2)),
    ("np.prod(x)", (4,)), ("np.prod(x)", (2, 3)), ("np.prod(x, axis=0)", (3, 4)),
    ("np.prod(x, axis=1, keepdims=True)", (3, 4)), ("np.prod(x, axis=1)", (2, 3, 4)),
    ("np.prod(x, axis=0)", (2, 3, 4)), ("np.prod(x * xz)", (4,)),
    ("np.diag(x) ** 3", (3, 3)), ("np.diag(x) ** 3", (3, 4)), ("np.diag(x) ** 3", (4, 2)),
    ("np.diag(x) * x", (3,)),
    ("x * np.sum(x, axis=0)", (3, 4)), ("x ** 2 * np.mean(x, axis=1, keepdims=True)", (3, 4)),
    ("np.max(x, axis=1) * x[:, 0]", (3, 4)), ("np.cumsum(x) ** 2", (5,)),
    ("x.reshape(-1) ** 3", (2, 3)), ("x.ravel() * x[0, 0]", (2, 3)), ("np.expand_dims(x, 0) ** 3", (3,)),
    ("np.concatenate((x, x ** 2)) ** 2", (3,)), ("np.stack((x, x * x)) ** 2", (2, 2)),
    ("(x @ x.T) ** 2", (2, 3)), ("np.outer(x, x) ** 2", (3,)), ("np.trace(x @ x)", (3, 3)),
    ("np.linalg.norm(x)", (4,)), ("np.where(x > 0, x ** 3, x ** 2)", (2, 3)),
    ("np.maximum(x, 0.0) ** 2", (2, 3)), ("np.clip(x, -0.5, 0.5) * x", (4,)),
    ("(x + x[:, :1]) ** 2", (2, 3)), ("np.full(x.shape, np.sum(x)) * x", (3,)),
]


def define(params: str, expr: str):
    """`def f(params): return expr` in a module of its own (cotangent reads a function's source)."""
    return load_module(f"import numpy as np\n\n\ndef f({params}):\n    return {expr}\n", "higher").f


@pytest.mark.parametrize("expr, shape", HVP_ROWS, ids=[f"{e} {s}".replace(" ", "") for e, s in HVP_ROWS])
def test_hvp_of_rule(expr, shape):
    rng = np.random.default_rng(zlib.crc32(f"{expr} {shape}".encode()))
    x = rng.uniform(0.3, 1.2, shape) * rng.choice([-1.0, 1.0], shape)
    extra = {"idx": np.array([0, 2, 2, 1]) % shape[0], "xz": np.array([1.3, 0.0, -0.7, 0.0])}
    names = [n for n in ("idx", "xz") if n in expr]
    env = {"np": np, "x": x, **{n: extra[n] for n in names}}
    w = rng.standard_normal(np.shape(eval(expr, env)))      # noqa: S307 - test table
    f = py(define(", ".join(["x", *names, "w"]), f"np.sum(({expr}) * w)"))
    args = (x, *[extra[n] for n in names], w)
    v = rng.standard_normal(shape)
    g, hv = ct.hvp(f, args, (v,) + (None,) * (len(args) - 1))
    grad = ct.grad(f)
    close(g, grad(*args), rtol=1e-12, atol=1e-13)
    moved = [grad(x + s * H * v, *args[1:]) for s in (1.0, -1.0)]
    close(hv, (moved[0] - moved[1]) / (2 * H), rtol=1e-6, atol=1e-6)
    if x.size <= 12:
        hess = ct.hessian(f)(*args)
        close(hv, np.tensordot(hess, v, v.ndim), rtol=1e-10, atol=1e-12)


# --- the tangent and adjoint rules of the adjoint helpers, one primitive at a time ------------

def primitive_function(op, inputs: dict, operands: tuple, params: dict, probe: bool = False):
    """IR for f(inputs..., w) = sum(op(inputs..., operands...; params) * w): the helpers only
    appear inside adjoints, so their rules are checked on IR built directly. With `probe`, the
    function returns op(...) itself."""
    names = NameAllocator(set(inputs) | {"w"})
    types: dict = {}
    for n, v in inputs.items():
        names.reserve(n)
        types[n] = Type(FLOAT if np.asarray(v).dtype.kind == "f" else INT, np.ndim(v))
    b = Builder(types, names)
    out = b.op(op, *[b.sym(Var(n)) for n in inputs], *[b.const(c) for c in operands], **params)
    if probe:
        fn = Function(f"probe_{op}", list(inputs), b.stmts + [Return((out.value,))], "<rule>", types)
        fn.names = names
        return fn, out.value
    names.reserve("w")
    types["w"] = Type(FLOAT, out.rank)
    s = b.call("sum", out * b.sym(Var("w")))
    fn = Function(f"rule_{op}", [*inputs, "w"], b.stmts + [Return((s.value,))], "<rule>", types)
    fn.names = names
    return fn, s.value


def load(fn):
    src, _ = module_source([fn], "python", f"test of a rule: {fn.name}")
    return getattr(loader.load(src, fn.name), fn.name)


PRIMITIVE_ROWS = [  # (primitive, inputs in order: a shape for a float input, an integer array as is, params)
    ("index_add", {"z": (4,), "idx": np.array([0, 2, 2]), "g": (3,)}, {}),
    ("index_add", {"z": (3, 2), "idx": np.array([2, 0, 2]), "g": (3, 2)}, {}),
    ("prod_others", {"x": (5,)}, {}),
    ("prod_others", {"x": (3, 4)}, {}),
    ("prod_others", {"x": (3, 4)}, {"axis": 0}),
    ("prod_others", {"x": (3, 4)}, {"axis": 1}),
    ("prod_others", {"x": (2, 3, 4)}, {"axis": 1}),
    ("diag_embed_like", {"g": (3,), "like": (3, 4)}, {}),
    ("diag_embed_like", {"g": (2,), "like": (4, 2)}, {}),
    ("unbroadcast", {"g": (2, 3), "like": (3,)}, {}),
    ("unbroadcast", {"g": (4, 2, 3), "like": (2, 1)}, {}),
    ("reshape_like", {"g": (6,), "like": (2, 3)}, {}),
    ("reshape_like", {"g": (2, 3), "like": (3, 2)}, {}),
]


@pytest.mark.parametrize("op, spec, params", PRIMITIVE_ROWS,
                         ids=[f"{op}-{'-'.join(str(v if isinstance(v, tuple) else v.shape) for v in spec.values())}-{p}"
                              .replace(" ", "")
                              for op, spec, p in PRIMITIVE_ROWS])
def test_helper_rules_against_central_differences(op, spec, params):
    """Reverse and forward mode of f(inputs, w) = sum(op(inputs) * w) against central differences
    (the second input of unbroadcast, reshape_like and diag_embed_like only gives a shape: its
    derivative is zero, and so is checked too)."""
    rng = np.random.default_rng(zlib.crc32(f"{op} {spec} {params}".encode()))
    inputs = {n: rng.uniform(0.5, 1.5, v) * rng.choice([-1.0, 1.0], v) if isinstance(v, tuple) else v
              for n, v in spec.items()}
    if op == "prod_others":
        inputs["x"].reshape(-1)[[1, -1]] = 0.0                    # exact with zeros
    wrt = [n for n, v in spec.items() if isinstance(v, tuple)]
    program = lambda: primitive_function(op, inputs, (), params)   # noqa: E731 - fresh IR per pass
    fn, out = program()
    primal = load(fn)
    w = rng.standard_normal(np.shape(load(primitive_function(op, inputs, (), params, True)[0])(*inputs.values())))
    args = [*inputs.values(), w]
    position = {n: i for i, n in enumerate(inputs)}
    grad_fn = load(reverse(program()[0], (out,), wrt, seed="one"))
    jvp_fn = load(forward(program()[0], (out,), wrt))
    value, grads = grad_fn(*args)
    grads = grads if len(wrt) > 1 else (grads,)
    close(value, primal(*args), rtol=1e-14, atol=1e-14)
    for n, g in zip(wrt, grads):            # reverse mode against central differences
        close(g, numeric_jacobian(primal, args, position[n]), rtol=1e-7, atol=1e-8)
    tangents = [rng.standard_normal(np.shape(inputs[n])) for n in wrt]
    _, t_out = jvp_fn(*args, *tangents)
    moved = []                              # forward mode against central differences
    for sign in (1.0, -1.0):
        a = list(args)
        for n, t in zip(wrt, tangents):
            a[position[n]] = a[position[n]] + sign * H * t
        moved.append(primal(*a))
    close(t_out, (moved[0] - moved[1]) / (2 * H), rtol=1e-7, atol=1e-8)
    close(t_out, sum(np.sum(g * t) for g, t in zip(grads, tangents)), rtol=1e-12, atol=1e-12)


# --- errors ----------------------------------------------------------------------------------

def test_errors_name_the_problem():
    with pytest.raises(ct.CompileError, match="scalar float output"):
        ct.hessian(py(matrix_in))(W23, X3)
    with pytest.raises(ct.CompileError, match="grad of grad"):
        ct.grad(ct.grad(py(scalar_out)))(X3, A43)
    with pytest.raises(ct.CompileError, match="returns a tuple"):
        ct.grad(py(tuple_out))(X3)
    with pytest.raises(ct.CompileError, match="only float arguments"):
        ct.jacrev(py(scalar_out), argnums=1)(X3, np.ones((4, 3), dtype=np.int64))


def tuple_out(x):
    return x * 2.0, x


# --- the Newton example ----------------------------------------------------------------------

def test_newton_converges_in_a_handful_of_steps():
    spec = importlib.util.spec_from_file_location("newton_logistic", ROOT / "examples" / "newton_logistic.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    X, y = example.make_data()
    f = ct.differentiable(example.loss, target="python")
    w, history = example.newton(f, np.zeros(3), X, y)
    assert history[-1][1] < 1e-8 and len(history) - 1 < 10
    losses = [v for v, _ in history]
    assert all(a >= b for a, b in zip(losses, losses[1:]))       # Newton never goes uphill here
    w_gd, steps = example.gradient_descent(f, np.zeros(3), X, y, 1.0 / example.smoothness(X))
    assert steps > 10 * (len(history) - 1)
    close(w_gd, w, rtol=1e-5, atol=1e-6)
