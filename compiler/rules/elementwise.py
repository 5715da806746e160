"""Elementwise primitives. Each is one line: its NumPy spelling and its definition as a SymPy
expression. Tangent and adjoint rules are derived by SymPy (see derive.py), never typed by hand."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..ir.types import Type, FLOAT, INT, BOOL, promote
from .table import Primitive, register, TypeRuleError
from . import derive


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


def _sympy_vjp(name):
    def vjp(b, g, out, args, active, params):
        sp = _sp()
        consts = tuple(a.const_value() if a.is_const else None for a in args)
        parts = derive.partials(name, consts)
        xs, out_sym = derive.symbols(len(args))
        G = sp.Symbol("g", real=True)
        env = {x: a for x, a in zip(xs, args) if not a.is_const}
        env[out_sym] = out
        env[G] = g
        return [derive.emit_expr(b, G * p, env, first=G) if act and p is not None else None
                for p, act in zip(parts, active)]
    return vjp


def _sympy_jvp(name):
    def jvp(b, out, args, tangents, params):
        sp = _sp()
        consts = tuple(a.const_value() if a.is_const else None for a in args)
        parts = derive.partials(name, consts)
        xs, out_sym = derive.symbols(len(args))
        env = {x: a for x, a in zip(xs, args) if not a.is_const}
        env[out_sym] = out
        total = 0
        for i, (p, t) in enumerate(zip(parts, tangents)):
            if t is not None and p is not None:
                T = sp.Symbol(f"dot{i}", real=True)
                env[T] = t
                total = total + p * T
        return None if total == 0 else derive.emit_expr(b, total, env)
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
