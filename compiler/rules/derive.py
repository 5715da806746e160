"""Derivatives of elementwise primitives, derived by SymPy once per primitive and cached.

A primitive is declared as a SymPy expression in its arguments. `partials` differentiates it,
simplifies, and rewrites occurrences of the primitive itself as the output `out` (so tanh' reads
`1 - out**2`). `emit_expr` turns a SymPy expression into IR statements through a Builder."""
from __future__ import annotations

import functools

_sp = None


def sympy():
    """SymPy is imported on first use only: a process that loads cached gradients never needs it."""
    global _sp
    if _sp is None:
        import sympy as sp
        _sp = sp
    return _sp


ARG_NAMES = ("x", "y", "z")


@functools.lru_cache(maxsize=None)
def symbols(n: int):
    sp = sympy()
    return tuple(sp.Symbol(ARG_NAMES[i], real=True) for i in range(n)), sp.Symbol("out", real=True)


@functools.lru_cache(maxsize=None)
def partials(name: str, consts: tuple) -> tuple:
    """d op / d arg_i for each argument, as SymPy expressions in x, y, ... and `out`.
    `consts` holds a constant operand's value (or None) per position, substituted before deriving
    so that `x ** 2` differentiates to `2*x`, not `y*x**(y - 1)`."""
    from .elementwise import DEFINITIONS
    sp = sympy()
    definition = DEFINITIONS[name]
    xs, out = symbols(definition.arity)
    expr = definition.expr(*xs)
    subs = {x: sp.nsimplify(c) for x, c in zip(xs, consts) if c is not None}
    expr_c = expr.subs(subs)
    result = []
    for i, x in enumerate(xs):
        if consts[i] is not None:
            result.append(None)
            continue
        if definition.manual is not None:
            candidates = [definition.manual(*xs)[i].subs(subs)]
        else:
            raw = sp.diff(expr_c, x)
            # simplify reads a Piecewise's branches under their conditions, so it would turn a
            # branch chosen for its derivative at a point (sinc's at 0) into its value there
            candidates = [raw] if raw.has(sp.Piecewise) else [raw, sp.simplify(raw)]
        if definition.use_out and not expr_c.is_Symbol:
            candidates = [c.subs(expr_c, out) for c in candidates]
        # the shortest form wins; ties go to the one that reuses the output (tanh' = 1 - out**2)
        best = min(candidates, key=lambda c: (sp.count_ops(c), out not in c.free_symbols))
        result.append(None if best == 0 else best)       # no contribution (copysign's d/dy)
    return tuple(result)


def printed(name: str) -> list[str]:
    """The derived partials printed as NumPy code, for the docs and `ct.rules`."""
    from .elementwise import DEFINITIONS
    from sympy.printing.numpy import NumPyPrinter

    class Printer(NumPyPrinter):
        def _print_Function(self, expr):
            op = getattr(expr, "op", None)      # a primitive's own SymPy function: its NumPy name
            if op is None:
                return super()._print_Function(expr)
            return f"{op}({', '.join(self._print(a) for a in expr.args)})"

    printer = Printer({"fully_qualified_modules": False, "strict": False})
    n = DEFINITIONS[name].arity
    return ["0" if d is None else printer.doprint(d) for d in partials(name, (None,) * n)]


def emit_vjp(b, g, parts, active, env: dict) -> list:
    """Each active operand's adjoint contribution, g times its partial derivative (None where the
    operand is inactive or the partial is zero); `env` maps the partials' symbols to Syms."""
    G = sympy().Symbol("g", real=True)
    env = {**env, G: g}
    return [emit_expr(b, G * p, env, first=G) if act and p is not None else None for p, act in zip(parts, active)]


def emit_jvp(b, parts, tangents, env: dict):
    """The tangent: the sum of each partial derivative times its operand's tangent (None if none)."""
    sp = sympy()
    env = dict(env)
    total = sp.Integer(0)
    for k, (p, t) in enumerate(zip(parts, tangents)):
        if t is not None and p is not None:
            T = sp.Symbol(f"dot{k}", real=True)
            env[T] = t
            total = total + p * T
    return None if total == 0 else emit_expr(b, total, env)


_FUNCS = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh",
          "cosh": "cosh", "tanh": "tanh", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
          "sign": "sign", "Abs": "abs", "floor": "floor", "asinh": "arcsinh", "acosh": "arccosh",
          "atanh": "arctanh", "erf": "erf", "erfc": "erfc", "loggamma": "gammaln"}


def emit_expr(b, expr, env: dict, first=None):
    """Append statements computing `expr` to builder `b`; `env` maps SymPy symbols to Syms.
    `first`, if given, is a symbol put first in products (the incoming adjoint reads best first)."""
    sp = sympy()
    if expr in env:
        return env[expr]
    op = getattr(type(expr), "op", None)     # a function standing for a primitive (elementwise._function)
    if op is not None:
        return b.call(op, *[emit_expr(b, a, env, first) for a in expr.args])
    if expr.is_number:
        return b.const(float(expr))
    if isinstance(expr, sp.Add):
        terms = list(sp.Add.make_args(expr))
        terms.sort(key=lambda t: (_is_negative(t), sp.default_sort_key(t)))
        acc = None
        for t in terms:
            if _is_negative(t):
                v = emit_expr(b, -t, env, first)
                acc = -v if acc is None else acc - v
            else:
                v = emit_expr(b, t, env, first)
                acc = v if acc is None else acc + v
        return acc
    if isinstance(expr, sp.Mul):
        coeff, factors = expr.as_coeff_mul()
        if coeff < 0:
            return -emit_expr(b, -expr, env, first)
        num, den = [], []
        for f in factors:
            if isinstance(f, sp.Pow) and f.exp.is_Number and f.exp < 0:
                den.append(f.base ** (-f.exp))
            else:
                num.append(f)
        if first is not None:
            num.sort(key=lambda f: (f != first, sp.default_sort_key(f)))
        acc = None
        for f in num:
            v = emit_expr(b, f, env, first)
            acc = v if acc is None else acc * v
        if coeff != 1 or acc is None:
            c = b.const(float(coeff))
            acc = c if acc is None else c * acc
        for f in den:
            acc = acc / emit_expr(b, f, env, first)
        return acc
    if isinstance(expr, sp.Pow):
        base, ex = expr.base, expr.exp
        if ex == sp.Rational(1, 2):
            return b.call("sqrt", emit_expr(b, base, env, first))
        if ex.is_Number and ex < 0:
            return b.const(1.0) / emit_expr(b, base ** (-ex), env, first)
        if ex == 2:
            v = emit_expr(b, base, env, first)
            return b.op("pow", v, b.const(2))
        if ex.is_Integer:
            return b.op("pow", emit_expr(b, base, env, first), b.const(int(ex)))
        return b.op("pow", emit_expr(b, base, env, first), emit_expr(b, ex, env, first))
    if isinstance(expr, sp.Piecewise):        # (a, c), (b, True): where(c, a, b)
        (then, cond), (otherwise, _) = expr.args
        return b.call("where", emit_condition(b, cond, env, first), emit_expr(b, then, env, first),
                      emit_expr(b, otherwise, env, first))
    fname = type(expr).__name__
    if fname == "polygamma":                 # polygamma(n, x), n a constant: digamma for n = 0
        n, x = expr.args
        if n == 0:
            return b.call("digamma", emit_expr(b, x, env, first))
        return b.call("polygamma", b.const(int(n)), emit_expr(b, x, env, first))
    if fname in _FUNCS:
        args = [emit_expr(b, a, env, first) for a in expr.args]
        if fname == "log" and len(expr.args) == 2:
            return b.call("log", args[0]) / b.call("log", args[1])
        return b.call(_FUNCS[fname], *args)
    raise RuntimeError(f"cannot emit SymPy expression {expr!r}")


_RELATIONS = {"Equality": "eq", "Unequality": "ne", "StrictLessThan": "lt", "LessThan": "le",
              "StrictGreaterThan": "gt", "GreaterThan": "ge"}


def emit_condition(b, cond, env: dict, first=None):
    """A SymPy comparison, or an And/Or of them, as IR (the conditions of Piecewise derivatives)."""
    sp = sympy()
    name = type(cond).__name__
    if name in _RELATIONS:
        return b.op(_RELATIONS[name], emit_expr(b, cond.lhs, env, first), emit_expr(b, cond.rhs, env, first))
    if isinstance(cond, (sp.And, sp.Or)):
        parts = [emit_condition(b, c, env, first) for c in cond.args]
        acc = parts[0]
        for p in parts[1:]:
            acc = b.op("logical_and" if isinstance(cond, sp.And) else "logical_or", acc, p)
        return acc
    raise RuntimeError(f"cannot emit SymPy condition {cond!r}")


def _is_negative(t) -> bool:
    c, _ = t.as_coeff_mul()
    return bool(c < 0)
