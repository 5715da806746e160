"""Elementwise primitives. Each is one line: its NumPy spelling and its definition as a SymPy
expression. Tangent and adjoint rules are derived by SymPy (see derive.py), never typed by hand.
A function without a real-valued SymPy form that differentiates well (cbrt, sinc, logaddexp,
copysign, xlogy) is a SymPy function of its own (`_function`), declared with its partials."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..ir.types import Type, FLOAT, INT, BOOL, promote
from .table import Primitive, register, TypeRuleError, register_helpers
from . import derive, recipes


@dataclass
class Definition:
    arity: int
    expr: Callable                      # SymPy expression of the arguments
    manual: Optional[Callable] = None   # partials given directly (only where SymPy has no derivative)
    use_out: bool = True                # rewrite the primitive inside its derivative as `out`


DEFINITIONS: dict[str, Definition] = {}


def _sp():
    return derive.sympy()


def _trunc(v):
    """Rounding toward zero, which SymPy spells with floor: fmod's quotient."""
    return _sp().sign(v) * _sp().floor(_sp().Abs(v))


def _one_at_zero(v):
    """v, with 1 where v is 0 (JAX's _replace_zero): log(_one_at_zero(x)) is 0 at x = 0."""
    return _sp().Piecewise((1, _sp().Eq(v, 0)), (v, True))


_FUNCTIONS: dict = {}


def _function(op: str, arity: int, partials: Callable, key: str = ""):
    """A SymPy function standing for the primitive `op`, for functions SymPy has no real-valued
    form of that differentiates well (the real cube root, an overflow-free logaddexp, xlogy with 0
    at x = 0). Its partial derivatives are `partials(*args, value)`; SymPy takes them like those of
    its own functions, here and in symbolic mode (which prints the function back as `op`).
    `key` names a second SymPy function for the same primitive."""
    key = key or op
    cls = _FUNCTIONS.get(key)
    if cls is None:
        def fdiff(self, argindex=1):
            return partials(*self.args, self)[argindex - 1]
        cls = _FUNCTIONS[key] = type(f"ct_{key}", (_sp().Function,), {"nargs": arity, "op": op, "fdiff": fdiff})
    return cls


def _flat_sign(x):
    """sign(x) with derivative 0 everywhere (SymPy's own has 2 DiracDelta(x))."""
    return _function("sign", 1, lambda x, f: (_sp().S.Zero,), key="flat_sign")(x)


def _elementwise_type(kind_rule):
    def infer(types, params):
        for t in types:
            if not isinstance(t, Type):
                raise TypeRuleError(f"expected a number or an array, got a tuple {t}")
        return Type(kind_rule([t.kind for t in types]), max(t.rank for t in types))
    return infer


ARITH = _elementwise_type(lambda ks: promote(*ks))
REAL = _elementwise_type(lambda ks: FLOAT)
PRESERVE = _elementwise_type(lambda ks: ks[0] if ks[0] != BOOL else INT)
COMPARE = _elementwise_type(lambda ks: BOOL)


def _sympy_env(name, args, out) -> tuple:
    """(the derived partials, the symbols they read mapped to the operands and the output)."""
    consts = tuple(a.const_value() if a.is_const else None for a in args)
    xs, out_sym = derive.symbols(len(args))
    env = {x: a for x, a in zip(xs, args) if not a.is_const}
    env[out_sym] = out
    return derive.partials(name, consts), env


def _recipe(name, kind, mask, args):
    """The rule's recorded recipe (recipes.py), or None where SymPy must derive it."""
    return recipes.lookup(name, kind, tuple(bool(m) for m in mask),
                          tuple(a.const_value() if a.is_const else None for a in args))


def _inputs(args, out, **more) -> dict:
    return {**{f"x{k}": a for k, a in enumerate(args)}, "out": out, **more}


def _sympy_vjp(name):
    def vjp(b, g, out, args, active, params):
        recipe = _recipe(name, "vjp", active, args)
        if recipe is not None:
            return recipes.replay(b, recipe, _inputs(args, out, g=g))
        parts, env = _sympy_env(name, args, out)
        return derive.emit_vjp(b, g, parts, active, env)
    return vjp


def _sympy_jvp(name):
    def jvp(b, out, args, tangents, params):
        recipe = _recipe(name, "jvp", [t is not None for t in tangents], args)
        if recipe is not None:
            dots = {f"dot{k}": t for k, t in enumerate(tangents) if t is not None}
            return recipes.replay(b, recipe, _inputs(args, out, **dots))[0]
        parts, env = _sympy_env(name, args, out)
        return derive.emit_jvp(b, parts, tangents, env)
    return jvp


def elementwise(name: str, arity: int, expr: Callable, emit: str, infer=REAL, manual=None,
                use_out: bool = True) -> Primitive:
    """Declare an elementwise primitive by its SymPy definition; `emit` formats its NumPy code."""
    DEFINITIONS[name] = Definition(arity, expr, manual, use_out)
    return register(Primitive(name, infer, lambda a, p, t, emit=emit: emit.format(*a),
                              jvp=_sympy_jvp(name), vjp=_sympy_vjp(name), broadcasting=True,
                              doc=f"{name}: SymPy definition, derivatives derived"))


def zero_derivative(name: str, emit: str, infer) -> Primitive:
    """An elementwise primitive whose derivative is zero wherever it exists (comparisons, sign)."""
    return register(Primitive(name, infer, lambda a, p, t, emit=emit: emit.format(*a),
                              differentiable=False, broadcasting=True))


# --- operators ---
elementwise("add", 2, lambda x, y: x + y, "{0} + {1}", ARITH)
elementwise("sub", 2, lambda x, y: x - y, "{0} - {1}", ARITH)
elementwise("mul", 2, lambda x, y: x * y, "{0} * {1}", ARITH)
elementwise("truediv", 2, lambda x, y: x / y, "{0} / {1}", REAL)
# d/dx is y*x**(y-1), not out*y/x: finite at x = 0. d/dy is x**y*log(x) with log(0) read as 0, so
# it is 0 at x = 0 (JAX's convention; 0 * log(0) would be nan), also for a literal 0.0 ** y, whose
# derivative SymPy would otherwise take as 0**y * log(0), a complex infinity.
elementwise("pow", 2, lambda x, y: x ** y, "{0} ** {1}", ARITH,
            manual=lambda x, y: (y * x ** (y - 1), x ** y * _sp().log(_one_at_zero(x))), use_out=False)
elementwise("neg", 1, lambda x: -x, "-{0}", ARITH)
elementwise("mod", 2, lambda x, y: x - y * _sp().floor(x / y), "{0} % {1}", ARITH,
            manual=lambda x, y: (_sp().Integer(1), -_sp().floor(x / y)))
elementwise("fmod", 2, lambda x, y: x - y * _trunc(x / y), "np.fmod({0}, {1})", ARITH,
            manual=lambda x, y: (_sp().Integer(1), -_trunc(x / y)))

# --- NumPy and math functions ---
elementwise("exp", 1, lambda x: _sp().exp(x), "np.exp({0})")
elementwise("expm1", 1, lambda x: _sp().exp(x) - 1, "np.expm1({0})")
elementwise("log", 1, lambda x: _sp().log(x), "np.log({0})")
elementwise("log1p", 1, lambda x: _sp().log(1 + x), "np.log1p({0})")
elementwise("log2", 1, lambda x: _sp().log(x, 2), "np.log2({0})")
elementwise("log10", 1, lambda x: _sp().log(x, 10), "np.log10({0})")
elementwise("sqrt", 1, lambda x: _sp().sqrt(x), "np.sqrt({0})")
elementwise("square", 1, lambda x: x ** 2, "np.square({0})", ARITH)
elementwise("sin", 1, lambda x: _sp().sin(x), "np.sin({0})")
elementwise("cos", 1, lambda x: _sp().cos(x), "np.cos({0})")
elementwise("tan", 1, lambda x: _sp().tan(x), "np.tan({0})")
elementwise("arcsin", 1, lambda x: _sp().asin(x), "np.arcsin({0})")
elementwise("arccos", 1, lambda x: _sp().acos(x), "np.arccos({0})")
elementwise("arctan", 1, lambda x: _sp().atan(x), "np.arctan({0})")
elementwise("sinh", 1, lambda x: _sp().sinh(x), "np.sinh({0})")
elementwise("cosh", 1, lambda x: _sp().cosh(x), "np.cosh({0})")
elementwise("tanh", 1, lambda x: _sp().tanh(x), "np.tanh({0})")
elementwise("abs", 1, lambda x: _sp().Abs(x), "np.abs({0})", PRESERVE)
elementwise("arctan2", 2, lambda x, y: _sp().atan2(x, y), "np.arctan2({0}, {1})")
elementwise("hypot", 2, lambda x, y: _sp().sqrt(x ** 2 + y ** 2), "np.hypot({0}, {1})")
elementwise("sigmoid", 1, lambda x: 1 / (1 + _sp().exp(-x)), "1.0 / (1.0 + np.exp(-{0}))",
            manual=lambda x: (1 / (1 + _sp().exp(-x)) * (1 - 1 / (1 + _sp().exp(-x))),))
elementwise("softplus", 1, lambda x: _sp().log(1 + _sp().exp(x)), "np.logaddexp({0}, 0.0)")


# --- more NumPy functions (where a derivative is infinite or a limit, the docstrings say) ---
def _cbrt(x):
    """The real cube root; its derivative 1/(3 cbrt(x)**2) is inf at 0."""
    return _function("cbrt", 1, lambda x, f: (1 / (3 * f ** 2),))(x)


def _sinc_derivative(x, f):
    """(cos(pi x) - sinc(x))/x, which cancels near 0: there (|x| < 0.01) its Maclaurin series,
    exact to about 1e-13, which also gives sinc'(0) = 0 and sinc''(0) = -pi**2/3. The quotient's
    denominator is 1 at x = 0, so the branch not taken computes no inf either."""
    sp = _sp()
    series = -sp.pi ** 2 * x / 3 + sp.pi ** 4 * x ** 3 / 30 - sp.pi ** 6 * x ** 5 / 840
    guarded = x + sp.Piecewise((1, sp.Eq(x, 0)), (0, True))
    return (sp.Piecewise((series, sp.Abs(x) < sp.Rational(1, 100)), ((sp.cos(sp.pi * x) - f) / guarded, True)),)


def _sinc(x):
    """NumPy's normalized sinc, sin(pi x)/(pi x) with sinc(0) = 1."""
    return _function("sinc", 1, _sinc_derivative)(x)


def _logaddexp(x, y):
    """log(exp(x) + exp(y)) with derivatives exp(x - out), exp(y - out): at most 1, never inf/inf."""
    sp = _sp()
    return _function("logaddexp", 2, lambda x, y, f: (sp.exp(x - f), sp.exp(y - f)))(x, y)


def _logaddexp2(x, y):
    return _function("logaddexp2", 2, lambda x, y, f: (2 ** (x - f), 2 ** (y - f)))(x, y)


def _copysign(x, y):
    """|x| with the sign (bit) of y: d/dx is sign(x) copysign(1, y) (0 at x = 0, as for abs), d/dy is 0."""
    return _function("copysign", 2, lambda x, y, f: (_flat_sign(x) * _copysign(1, y), _sp().S.Zero))(x, y)


def _xlogy(x, y):
    """x log(y), 0 where x = 0 (scipy.special.xlogy). Derivatives as JAX takes them: log(y) and x/y
    everywhere, so d/dx at x = 0 is log(y) (-inf at y = 0) and d/dy at (0, 0) is nan."""
    return _function("xlogy", 2, lambda x, y, f: (_sp().log(y), x / y))(x, y)


elementwise("exp2", 1, lambda x: 2 ** x, "np.exp2({0})")
elementwise("cbrt", 1, _cbrt, "np.cbrt({0})")
elementwise("sinc", 1, _sinc, "np.sinc({0})")
elementwise("arcsinh", 1, lambda x: _sp().asinh(x), "np.arcsinh({0})")
elementwise("arccosh", 1, lambda x: _sp().acosh(x), "np.arccosh({0})")     # d = inf at 1
elementwise("arctanh", 1, lambda x: _sp().atanh(x), "np.arctanh({0})")     # d = 1/(1 - x**2): inf at +-1
elementwise("deg2rad", 1, lambda x: x * _sp().pi / 180, "np.deg2rad({0})")
elementwise("rad2deg", 1, lambda x: x * 180 / _sp().pi, "np.rad2deg({0})")
elementwise("logaddexp", 2, _logaddexp, "np.logaddexp({0}, {1})")
elementwise("logaddexp2", 2, _logaddexp2, "np.logaddexp2({0}, {1})")
elementwise("copysign", 2, _copysign, "np.copysign({0}, {1})")

# --- scipy.special (helpers: backends/support_special.py, with Numba versions in numba_special.py) ---
register_helpers("erf", "erfc", "gammaln", "digamma", "polygamma", "xlogy", "heaviside")
# logit' written as 1/(x - x**2), so that it is +inf at both ends of (0, 1) (SymPy's -1/(x*(x - 1)) is -inf at 1)
elementwise("logit", 1, lambda x: _sp().log(x / (1 - x)), "np.log({0} / (1.0 - {0}))",
            manual=lambda x: (1 / (x - x ** 2),))
elementwise("erf", 1, lambda x: _sp().erf(x), "erf({0})")
elementwise("erfc", 1, lambda x: _sp().erfc(x), "erfc({0})")
elementwise("gammaln", 1, lambda x: _sp().loggamma(x), "gammaln({0})")    # log|gamma(x)|; d = digamma
elementwise("digamma", 1, lambda x: _sp().polygamma(0, x), "digamma({0})")
elementwise("polygamma", 2, lambda n, x: _sp().polygamma(n, x), "polygamma({0}, {1})")  # n: a constant
elementwise("xlogy", 2, _xlogy, "xlogy({0}, {1})")

# --- zero derivative ---
for _name, _emit in [("lt", "{0} < {1}"), ("le", "{0} <= {1}"), ("gt", "{0} > {1}"),
                     ("ge", "{0} >= {1}"), ("eq", "{0} == {1}"), ("ne", "{0} != {1}")]:
    zero_derivative(_name, _emit, COMPARE)
zero_derivative("not", "not {0}", COMPARE)
zero_derivative("logical_and", "np.logical_and({0}, {1})", COMPARE)
zero_derivative("logical_or", "np.logical_or({0}, {1})", COMPARE)
zero_derivative("logical_not", "np.logical_not({0})", COMPARE)
zero_derivative("floordiv", "{0} // {1}", ARITH)
zero_derivative("sign", "np.sign({0})", PRESERVE)
zero_derivative("floor", "np.floor({0})", REAL)
zero_derivative("ceil", "np.ceil({0})", REAL)
zero_derivative("round", "np.round({0})", REAL)
zero_derivative("heaviside", "heaviside({0}, {1})", REAL)
zero_derivative("isnan", "np.isnan({0})", COMPARE)
zero_derivative("isinf", "np.isinf({0})", COMPARE)
zero_derivative("isfinite", "np.isfinite({0})", COMPARE)
