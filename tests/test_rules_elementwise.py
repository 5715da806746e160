"""Elementwise functions and scipy.special: derivative rules against central differences, Hessians,
the conventions where a derivative is undefined, and the errors of unsupported forms.

The rows use the shared checker (rule_check.py). scipy.special rows are written with each import
form a user may write (`import scipy.special as sc`, `from scipy import special`, `import scipy`
then `scipy.special.f`, `from scipy.special import f`): `check_with` is the shared `check` for a
module with that import. The scalar digamma and polygamma that Numba runs (support_special.py)
are checked against SciPy to 1e-12."""
from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import scipy.special

import cotangent as ct
from cotangent.backends import support_special
from rule_check import (DOMAINS, check, check_batch, check_hessian, hessian_matrix, matrix, row, sample,
                        load_module, check_function, check_function_hessian)

DOMAINS["above1"] = lambda rng, s: rng.uniform(1.2, 3.0, s)            # arccosh
DOMAINS["prob"] = lambda rng, s: rng.uniform(0.1, 0.9, s)              # logit
DOMAINS["gamma"] = lambda rng, s: rng.uniform(0.3, 4.0, s)             # gammaln, digamma
DOMAINS["negative_fraction"] = lambda rng, s: -rng.integers(0, 3, s) - rng.uniform(0.2, 0.8, s)


def _shapes(expr, numba_shape=None, shapes=((), (4,), (2, 3)), **domains):
    """A row per shape (every input of that shape); Numba runs the scalar row and numba_shape."""
    return [row(expr, numba=s == numba_shape, **{k: (d, s) for k, d in domains.items()}) for s in shapes]


# --- NumPy functions ----------------------------------------------------------------------------

NUMPY_ROWS = [
    *_shapes("np.exp2(x)", x="real"), *_shapes("np.cbrt(x)", (2, 3), x="nonzero"),
    *_shapes("np.sinc(x)", (2, 3), x="real"), *_shapes("np.arcsinh(x)", x="real"),
    *_shapes("np.arccosh(x)", x="above1"), *_shapes("np.arctanh(x)", x="unit"),
    *_shapes("np.deg2rad(x)", x="real"), *_shapes("np.rad2deg(x)", x="real"),
    *_shapes("np.reciprocal(x)", x="nonzero"), *_shapes("np.real(x) * x", x="real"),
    *_shapes("np.nan_to_num(x)", (2, 3), x="real"),
    *_shapes("np.nan_to_num(np.log(x), nan=-1.0, posinf=2.0, neginf=-3.0)", x="pos"),
    *_shapes("np.sin(x) * np.isfinite(x) + np.isnan(x) + np.isinf(x)", x="real"),
    # spellings of the same primitives
    row("np.asinh(x)", numba=False, x=("real", (4,))), row("np.acosh(x)", numba=False, x=("above1", (4,))),
    row("np.atanh(x)", numba=False, x=("unit", (4,))), row("np.degrees(x)", numba=False, x=("real", (4,))),
    row("np.radians(x)", numba=False, x=("real", (4,))), row("np.conj(x) * x", numba=False, x=("real", (4,))),
    row("np.conjugate(x) * x", numba=False, x=("real", (4,))),
]

BINARY = [  # (expression, domain of x, domain of y, a Numba row for the (2, 3) and (3,) pair)
    ("np.logaddexp(x, y)", "real", "real", True), ("np.logaddexp2(x, y)", "real", "real", False),
    ("np.remainder(x, y)", "mod", "divisor", False), ("np.fmax(x, y)", "nonzero", "small", True),
    ("np.fmin(x, y)", "nonzero", "small", False), ("np.copysign(x, y)", "nonzero", "nonzero", True),
    ("np.heaviside(x, y) * x", "nonzero", "real", True),
]
PAIRS = [((), ()), ((4,), (4,)), ((2, 3), (3,)), ((2, 1), (1, 3))]
BINARY_ROWS = [row(e, numba=numba and (sx, sy) == ((2, 3), (3,)), x=(dx, sx), y=(dy, sy))
               for e, dx, dy, numba in BINARY for sx, sy in PAIRS]

MATH_ROWS = [  # the math module's spellings: numbers only
    row("math.cbrt(x)", x=("nonzero", ())), row("math.exp2(x)", x=("real", ())),
    row("math.asinh(x)", x=("real", ())), row("math.acosh(x)", x=("above1", ())),
    row("math.atanh(x)", x=("unit", ())), row("math.erf(x)", x=("real", ())),
    row("math.erfc(x)", x=("real", ())), row("math.lgamma(x)", x=("gamma", ())),
    row("math.copysign(x, y)", x=("nonzero", ()), y=("nonzero", ())),
    row("math.degrees(x) + math.radians(x)", x=("real", ())),
    row("x * math.isfinite(x) + math.isnan(x)", x=("real", ())),
]


@pytest.mark.parametrize("expr, args, target", matrix(NUMPY_ROWS + BINARY_ROWS + MATH_ROWS))
def test_rule(expr, args, target):
    check(expr, args, target)


TWICE = [
    row("np.exp2(x)", x=("real", (3,))), row("np.cbrt(x)", x=("nonzero", (3,))),
    row("np.sinc(x)", x=("real", (3,))), row("np.arcsinh(x)", x=("real", (3,))),
    row("np.arccosh(x)", x=("above1", (3,))), row("np.arctanh(x)", x=("unit", (3,))),
    row("np.deg2rad(x) * x", x=("real", (3,))), row("np.reciprocal(x)", x=("nonzero", (3,))),
    row("np.nan_to_num(x) ** 3", x=("real", (3,))),
    row("np.logaddexp(x, y)", x=("real", (3,)), y=("real", (3,))),
    row("np.logaddexp2(x, y)", x=("real", (2, 3)), y=("real", (3,))),
    row("np.copysign(x, y) ** 3", x=("nonzero", (3,)), y=("nonzero", (3,))),
    row("np.fmax(x, y) * x", x=("nonzero", (3,)), y=("small", (3,))),
    row("np.fmin(x, y) * y", x=("nonzero", (3,)), y=("small", (3,))),
]


@pytest.mark.parametrize("expr, args", hessian_matrix(TWICE))
def test_hessian(expr, args):
    check_hessian(expr, args)


# --- scipy.special, in each import form --------------------------------------------------------

FORMS = {
    "sc": "import scipy.special as sc",
    "special": "from scipy import special",
    "scipy": "import scipy\nimport scipy.special",
    "names": "from scipy.special import expit, logit, erf, xlogy, logsumexp, softmax, log_softmax, digamma",
}


def define_with(form: str, params: str, expr: str):
    """rule_check.define for a module that imports scipy.special in the given form."""
    return load_module(f"import math\nimport numpy as np\n{FORMS[form]}\n\n\ndef f({params}):\n    return {expr}\n")


def inputs_with(module, expr: str, args: dict):
    rng = np.random.default_rng(zlib.crc32(f"{expr} {args}".encode()))
    values = [sample(s, rng) for s in args.values()]
    out = eval(expr, vars(module), dict(zip(args, values)))  # noqa: S307 - test tables
    w = rng.standard_normal(np.shape(out))
    return values, (float(w) if np.ndim(out) == 0 else w)


def check_with(form: str, expr: str, args: dict, target: str) -> None:
    """rule_check.check, for an expression that calls scipy.special in the given import form (a
    batch of rows on Numba: rule_check.check_batch)."""
    if isinstance(expr, tuple):
        namespace = vars(define_with(form, "", "0"))
        check_batch(expr, args, FORMS[form], namespace, alone=lambda e, a: check_with(form, e, a, "cpu"))
        return
    module = define_with(form, ", ".join([*args, "w"]), f"np.sum(({expr}) * w)")
    check_function(module.f, *inputs_with(module, expr, args), target)


def check_hessian_with(form: str, expr: str, args: dict) -> None:
    module = define_with(form, ", ".join([*args, "w"]), f"np.sum(({expr}) * w)")
    check_function_hessian(module.f, *inputs_with(module, expr, args), expr)


SCIPY_ROWS = [
    *_shapes("sc.expit(x)", x="real"), *_shapes("sc.logit(x)", x="prob"),
    *_shapes("sc.erf(x)", (2, 3), x="real"), *_shapes("sc.erfc(x)", x="real"),
    *_shapes("sc.gammaln(x)", (2, 3), x="gamma"), *_shapes("sc.gammaln(x)", x="negative_fraction"),
    *_shapes("sc.digamma(x)", (2, 3), x="gamma"), *_shapes("sc.digamma(x)", x="negative_fraction"),
    *_shapes("sc.polygamma(1, x)", (2, 3), x="gamma"), *_shapes("sc.polygamma(2, x)", x="negative_fraction"),
    row("sc.psi(x)", numba=False, x=("gamma", (4,))), row("sc.polygamma(0, x)", numba=False, x=("gamma", (4,))),
    *_shapes("sc.xlogy(x, y)", (2, 3), x="real", y="pos"),
    row("sc.xlogy(x, y)", numba=False, x=("real", (2, 3)), y=("pos", (3,))),
    row("sc.logsumexp(x)", x=("real", ())), row("sc.logsumexp(x)", x=("real", (4,))),
    row("sc.logsumexp(x, keepdims=True)", numba=False, x=("real", (4,))),
    row("sc.logsumexp(x)", numba=False, x=("real", (2, 3))),
    row("sc.logsumexp(x, axis=1)", x=("real", (2, 3))), row("sc.logsumexp(x, axis=0)", numba=False, x=("real", (2, 3))),
    row("sc.logsumexp(x, axis=-1, keepdims=True)", x=("real", (2, 3))),
    row("sc.logsumexp(x, keepdims=True)", numba=False, x=("real", (2, 3))),
    row("sc.logsumexp(x, axis=(0, 2))", numba=False, x=("real", (2, 3, 2))),
    row("sc.softmax(x)", x=("real", (4,))), row("sc.softmax(x, axis=1)", x=("real", (2, 3))),
    row("sc.softmax(x)", numba=False, x=("real", (2, 3))), row("sc.softmax(x, axis=0)", numba=False, x=("real", (2, 3))),
    row("sc.log_softmax(x)", x=("real", (4,))), row("sc.log_softmax(x, axis=-1)", x=("real", (2, 3))),
    row("sc.log_softmax(x)", numba=False, x=("real", (2, 3))),
]
FORM_ROWS = [  # the other import forms, one call each
    ("special", row("special.erf(x) + special.xlogy(x, y)", x=("real", ()), y=("pos", ()))),
    ("special", row("special.softmax(x, axis=0)", numba=False, x=("real", (3, 2)))),
    ("scipy", row("scipy.special.expit(x) * scipy.special.gammaln(y)", x=("real", ()), y=("gamma", ()))),
    ("names", row("expit(x) + logit(y) + erf(x) + digamma(y) + xlogy(y, y)", x=("real", ()), y=("prob", ()))),
    ("names", row("log_softmax(x) + softmax(x) * logsumexp(x)", numba=False, x=("real", (4,)))),
]


@pytest.mark.parametrize("expr, args, target", matrix(SCIPY_ROWS))
def test_scipy_rule(expr, args, target):
    check_with("sc", expr, args, target)


@pytest.mark.parametrize("form, expr, args, target", [
    pytest.param(form, *p.values, id=f"{form} {p.id}") for form, r in FORM_ROWS for p in matrix([r], batched=False)])
def test_scipy_import_forms(form, expr, args, target):
    check_with(form, expr, args, target)


SCIPY_TWICE = [
    row("sc.expit(x)", x=("real", (3,))), row("sc.logit(x)", x=("prob", (3,))),
    row("sc.erf(x)", x=("real", (3,))), row("sc.erfc(x)", x=("real", (3,))),
    row("sc.gammaln(x)", x=("gamma", (3,))), row("sc.digamma(x)", x=("gamma", (3,))),
    row("sc.digamma(x)", x=("negative_fraction", (3,))), row("sc.polygamma(1, x)", x=("gamma", (3,))),
    row("sc.xlogy(x, y)", x=("real", (3,)), y=("pos", (3,))),
    row("sc.logsumexp(x, axis=1)", x=("real", (2, 3))), row("sc.logsumexp(x)", x=("real", (4,))),
    row("sc.softmax(x, axis=0)", x=("real", (3, 2))), row("sc.log_softmax(x)", x=("real", (4,))),
]


@pytest.mark.parametrize("expr, args", hessian_matrix(SCIPY_TWICE))
def test_scipy_hessian(expr, args):
    check_hessian_with("sc", expr, args)


# --- conventions where a derivative is undefined -----------------------------------------------
# (these compute infinities and nan on purpose: NumPy's warnings about them are expected)
at_the_edges = pytest.mark.filterwarnings("ignore::RuntimeWarning")

def _fn(expr: str, params: str = "x", form: str = "sc", target: str = "python"):
    return ct.differentiable(define_with(form, params, expr).f, target=target)


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_sinc_at_zero(target):
    """sinc(0) = 1 and sinc'(0) = 0 by the limits, and sinc''(0) = -pi**2/3: no nan."""
    f = _fn("np.sinc(x)", target=target)
    assert f(0.0) == 1.0
    assert ct.grad(f)(0.0) == 0.0
    assert ct.hessian(_fn("np.sinc(x)"))(0.0) == pytest.approx(-math.pi ** 2 / 3, rel=1e-12)
    g = ct.grad(_fn("np.sum(np.sinc(x))", target=target))(np.array([0.0, 1e-9, 0.5]))
    np.testing.assert_allclose(g, [0.0, -math.pi ** 2 / 3 * 1e-9, -4 / math.pi], rtol=1e-6, atol=1e-15)


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_infinite_derivatives_at_domain_ends(target):
    """cbrt'(0), arccosh'(1), arctanh'(1), arctanh'(-1) and logit' at 0 and 1 are +inf."""
    for expr, x in [("np.cbrt(x)", 0.0), ("np.arccosh(x)", 1.0), ("np.arctanh(x)", 1.0), ("np.arctanh(x)", -1.0),
                    ("sc.logit(x)", 0.0), ("sc.logit(x)", 1.0)]:
        assert ct.grad(_fn(expr, target=target))(x) == math.inf, (expr, x)
    assert ct.grad(_fn("np.cbrt(x)", target=target))(-8.0) == pytest.approx(1 / 12)


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_fmax_fmin_nan_and_ties(target):
    """The derivative goes to the operand that is not NaN; a tie is split between two arrays and
    absorbed by a constant (relu written with fmax has derivative 0 at 0)."""
    f = _fn("np.sum(np.fmax(x, y) + 2.0 * np.fmin(x, y))", "x, y", target=target)
    x = np.array([np.nan, 1.0, 2.0, 0.5])
    y = np.array([3.0, np.nan, 2.0, -1.0])
    gx, gy = ct.grad(f, (0, 1))(x, y)
    np.testing.assert_array_equal(gx, [0.0, 3.0, 1.5, 1.0 + 0.0])
    np.testing.assert_array_equal(gy, [3.0, 0.0, 1.5, 2.0])
    relu = _fn("np.sum(np.fmax(x, 0.0) + np.fmin(0.0, x))", target=target)
    np.testing.assert_array_equal(ct.grad(relu)(np.array([0.0, 1.0, -1.0])), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(ct.grad(_fn("np.fmax(x, np.nan)", target=target))(2.0), 1.0)


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_nan_to_num(target):
    """Derivative 1 where x is finite and 0 where it is replaced; the replacement values get the rest."""
    f = _fn("np.sum(np.nan_to_num(x, nan=a, posinf=b, neginf=c) * np.arange(1.0, 6.0))", "x, a, b, c",
            target=target)
    x = np.array([1.0, np.nan, np.inf, -np.inf, np.nan])
    value, (gx, ga, gb, gc) = ct.value_and_grad(f, (0, 1, 2, 3))(x, 7.0, 8.0, 9.0)
    assert value == 1.0 + 14.0 + 24.0 + 36.0 + 35.0
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.0, 0.0, 0.0])
    assert (ga, gb, gc) == (2.0 + 5.0, 3.0, 4.0)
    g = _fn("np.nan_to_num(x)", target=target)
    assert g(np.inf) == np.finfo(float).max and g(-np.inf) == -np.finfo(float).max and g(np.nan) == 0.0


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_zero_derivatives(target):
    """heaviside, isnan, isinf and isfinite have derivative 0 everywhere (also at heaviside's step)."""
    f = _fn("np.sum(np.heaviside(x, y) + np.isnan(x) + np.isinf(x) + np.isfinite(x))", "x, y", target=target)
    gx, gy = ct.grad(f, (0, 1))(np.array([-1.0, 0.0, 2.0]), np.array([0.5, 0.5, 0.5]))
    np.testing.assert_array_equal(gx, 0.0)
    np.testing.assert_array_equal(gy, 0.0)
    h = _fn("np.heaviside(x, y)", "x, y", target=target)
    assert [h(v, 0.5) for v in (-2.0, 0.0, 3.0)] == [0.0, 0.5, 1.0] and np.isnan(h(np.nan, 0.5))


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_copysign_convention(target):
    """d/dx copysign(x, y) = sign(x) copysign(1, y): 0 at x = 0 (as abs), the sign bit of y at y = -0.0."""
    f = _fn("np.sum(np.copysign(x, y))", "x, y", target=target)
    gx, gy = ct.grad(f, (0, 1))(np.array([0.0, 2.0, -2.0, 2.0]), np.array([1.0, -0.0, 0.0, -3.0]))
    np.testing.assert_array_equal(gx, [0.0, -1.0, -1.0, -1.0])
    np.testing.assert_array_equal(gy, 0.0)


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_xlogy_at_zero(target):
    """xlogy(0, y) = 0; d/dx = log(y) and d/dy = x/y everywhere (JAX's convention): at (0, 0) they
    are -inf and nan."""
    f = _fn("sc.xlogy(x, y)", "x, y", target=target)
    assert f(0.0, 0.0) == 0.0 and f(0.0, 2.0) == 0.0
    gx, gy = ct.grad(f, (0, 1))(0.0, 2.0)
    assert gx == pytest.approx(math.log(2.0)) and gy == 0.0
    gx, gy = ct.grad(f, (0, 1))(0.0, 0.0)
    assert gx == -math.inf and np.isnan(gy)


@at_the_edges
@pytest.mark.parametrize("target", ["python", "cpu"])
def test_logsumexp_infinities(target):
    """As SciPy: a maximum that is not finite is not subtracted, so -inf entries get weight 0 and a
    row of -inf gives -inf (not nan)."""
    f = _fn("sc.logsumexp(x, axis=1)", target=target)
    x = np.array([[-np.inf, 0.0, 0.0], [-np.inf, -np.inf, -np.inf]])
    np.testing.assert_array_equal(f(x), scipy.special.logsumexp(x, axis=1))
    g = ct.grad(_fn("sc.logsumexp(x)", target=target))(np.array([-np.inf, 1.0, 1.0]))
    np.testing.assert_allclose(g, [0.0, 0.5, 0.5])
    big = np.array([1000.0, 1000.0])
    assert _fn("sc.logsumexp(x)", target=target)(big) == pytest.approx(1000.0 + math.log(2.0))
    np.testing.assert_allclose(ct.grad(_fn("np.sum(sc.log_softmax(x) * w)", "x, w", target=target))(
        big, np.array([1.0, 0.0])), [0.5, -0.5])


def test_symbolic_mode():
    """The functions declared as SymPy functions of their own (cbrt, sinc, logaddexp, copysign,
    xlogy) work in symbolic mode; one SymPy cannot print (asinh) is a CompileError, or the ordinary
    mode under symbolic="auto"."""
    f = _fn("np.cbrt(x) + np.sinc(x) + np.logaddexp(x, 2.0 * x) + np.copysign(x, -1.0) + sc.xlogy(x, 3.0)")
    for x in (0.3, -0.7):
        assert ct.grad(f, symbolic=True)(x) == pytest.approx(ct.grad(f)(x), rel=1e-12)
        assert ct.hessian(f, symbolic=True)(x) == pytest.approx(ct.hessian(f)(x), rel=1e-10)
    g = _fn("np.arcsinh(x) * sc.erf(x)")
    with pytest.raises(ct.CompileError, match="asinh|erf"):
        ct.grad(g, symbolic=True)(0.5)
    assert ct.grad(g, symbolic="auto")(0.5) == pytest.approx(ct.grad(g)(0.5))


# --- special functions: values ----------------------------------------------------------------

def _well_conditioned_points():
    rng = np.random.default_rng(7)
    pos = np.concatenate([rng.uniform(1e-3, 1.0, 200), rng.uniform(1.0, 40.0, 200), rng.uniform(40.0, 1e5, 100)])
    neg = -(rng.integers(0, 40, 200) + rng.uniform(0.05, 0.95, 200))
    return np.concatenate([pos, neg])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_polygamma_against_scipy(n):
    """The scalar digamma and polygamma Numba runs agree with SciPy to 1e-12 relative (points away
    from digamma's roots, where no relative accuracy is possible)."""
    xs = _well_conditioned_points()
    ref = scipy.special.polygamma(n, xs)
    mine = np.array([support_special.polygamma_scalar(n, float(x)) for x in xs])
    keep = np.abs(ref) > 1e-2 if n == 0 else np.ones(xs.shape, bool)
    np.testing.assert_allclose(mine[keep], ref[keep], rtol=1e-12)


@at_the_edges
def test_special_values_at_poles_and_infinities():
    """Poles, signed zeros, infinities and NaN as SciPy gives them, also through Numba."""
    xs = np.array([0.0, -0.0, -1.0, -2.0, np.inf, -np.inf, np.nan, 1e-300, 0.5, -0.5, -3.5])
    ys = np.array([0.0, np.nan, -1.0, 0.0, 2.0, 0.0, 1.0, 0.0, np.inf, 0.5, 3.0])
    cpu = _fn("(sc.digamma(x), sc.polygamma(1, x), sc.polygamma(2, x), sc.gammaln(x), sc.erf(x), sc.erfc(x),"
              " sc.xlogy(x, y), sc.xlogy(y, x))", "x, y", target="cpu")
    want = (scipy.special.digamma(xs), scipy.special.polygamma(1, xs), scipy.special.polygamma(2, xs),
            scipy.special.gammaln(xs), scipy.special.erf(xs), scipy.special.erfc(xs),
            scipy.special.xlogy(xs, ys), scipy.special.xlogy(ys, xs))
    for got, ref in zip(cpu(xs, ys), want):
        np.testing.assert_allclose(got, ref, rtol=1e-12, equal_nan=True)
    for k, x in enumerate(xs):
        scalars = cpu(float(x), float(ys[k]))
        for got, ref in zip(scalars, want):
            np.testing.assert_allclose(got, ref[k], rtol=1e-12, equal_nan=True)
    h = _fn("np.heaviside(x, 0.5)", target="cpu")
    np.testing.assert_array_equal(h(np.array([-1.0, 0.0, 1.0, np.nan])), [0.0, 0.5, 1.0, np.nan])


def test_python_target_without_scipy(monkeypatch):
    """Without SciPy the Python target's helpers compute with the scalar functions Numba runs."""
    monkeypatch.setattr(support_special, "_SCIPY", False)
    x = np.array([[0.7, -1.5, 3.0]])
    np.testing.assert_allclose(support_special.digamma(x), scipy.special.digamma(x), rtol=1e-12)
    np.testing.assert_allclose(support_special.polygamma(2, x), scipy.special.polygamma(2, x), rtol=1e-12)
    np.testing.assert_allclose(support_special.gammaln(x), scipy.special.gammaln(x), rtol=1e-12)
    np.testing.assert_allclose(support_special.erfc(x), scipy.special.erfc(x), rtol=1e-12)
    np.testing.assert_allclose(support_special.xlogy(x, x.T), scipy.special.xlogy(x, x.T), rtol=1e-12)
    assert support_special.gammaln(0.0) == math.inf and isinstance(support_special.erf(0.5), np.float64)


# --- unsupported forms ---------------------------------------------------------------------------

@pytest.mark.parametrize("expr, params, match", [
    ("np.reciprocal(n) * x", "x, n", "np.reciprocal of integers"),
    ("np.nan_to_num(x, copy=False)", "x", "copy=False"),
    ("np.nan_to_num(x, nan=x)", "x", "nan= must be a number"),
    ("sc.polygamma(k, x)", "x, k", "order n"),
    ("sc.polygamma(-1, x)", "x", "non-negative integer"),
    ("sc.logsumexp(x, b=x)", "x", "weights b="),
    ("sc.logsumexp(x, return_sign=True)", "x", "return_sign"),
    ("sc.gamma(x)", "x", "scipy.special.gamma is not supported"),
    ("sc.softmax(x[0])", "x", "softmax of a number"),
    ("math.remainder(x[0], 2.0)", "x", "math.remainder is not supported"),
    ("math.sinc(x[0])", "x", "math.sinc is not supported"),
    ("math.erf(x)", "x", "takes numbers"),
    ("np.erf(x)", "x", "np.erf is not supported"),
])
def test_unsupported_forms(expr, params, match):
    f = _fn(f"np.sum({expr})", params)
    args = [np.array([1.0, 2.0]) if p == "x" else 2 for p in params.split(", ")]
    with pytest.raises(ct.CompileError, match=match):
        ct.grad(f)(*args)
