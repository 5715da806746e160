"""`formula`: one scalar expression of several operations, printed on one line.

Symbolic mode (transforms/symbolic.py) turns whole scalar functions into SymPy expressions and
prints the result of common-subexpression elimination as straight-line code: one assignment per
shared subexpression, each an expression over earlier names (`t3 = t1 * p_0 - np.sin(theta)`).
The IR keeps such an assignment as one statement whose parameter `tree` is the expression:

    ("arg", k)            the k-th operand of the statement (a name or a constant)
    ("const", v)          a number or a bool
    (op, child, ...)      a primitive of the table applied to the children (add, mul, sin, where...)

so every pass that reads statements (dead code, buffer form, liveness) sees the names it reads,
and `expand` gives the same computation as three-address statements for backends that print one
primitive at a time (CUDA).

Symbolic regions (transforms/regions.py) make formulas before differentiation, from runs of scalar
statements inside loops and branches, over the primitives of SMOOTH. Their derivative rules are
SymPy's: the formula as one expression, its partial derivatives taken together, common
subexpressions shared between them, printed back as statements."""
from __future__ import annotations

import functools

from ..errors import CompileError
from ..ir.types import Type, FLOAT
from .table import Primitive, register, get

# Python's operator precedence, low to high: conditional, or, and, not, comparison, +, *, unary -, **
_LEVEL = {"where": 0, "logical_or": 1, "logical_and": 2, "not": 3, "lt": 4, "le": 4, "gt": 4, "ge": 4,
          "eq": 4, "ne": 4, "add": 5, "sub": 5, "mul": 6, "truediv": 6, "neg": 7, "pow": 8}
_SYMBOL = {"logical_or": "or", "logical_and": "and", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
           "eq": "==", "ne": "!=", "add": "+", "sub": "-", "mul": "*", "truediv": "/", "pow": "**"}
_ATOM = 9


def _const_text(v) -> str:
    if isinstance(v, bool) or isinstance(v, int):
        return repr(v)
    if v != v:
        return "np.nan"
    if v in (float("inf"), float("-inf")):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(float(v))


def render(tree, args: list) -> tuple[str, int]:
    """(text, precedence level) of a formula tree whose operands print as `args`."""
    head = tree[0]
    if head == "arg":
        return args[tree[1]], _ATOM
    if head == "const":
        text = _const_text(tree[1])
        return text, 7 if text.startswith("-") else _ATOM
    kids = tree[1:]
    if head == "where":
        cond, _ = render(kids[0], args)
        a, la = render(kids[1], args)
        b, lb = render(kids[2], args)
        cond = f"({cond})" if _level_of(kids[0], args) <= 0 else cond
        a = f"({a})" if la <= 0 else a
        return f"{a} if {cond} else {b}", 0
    if head == "neg":
        x, lx = render(kids[0], args)
        return ("-" + (f"({x})" if lx < 7 or lx == 8 else x)), 7
    if head == "not":
        x, lx = render(kids[0], args)
        return "not " + (f"({x})" if lx < 3 else x), 3
    if head in _SYMBOL:
        level = _LEVEL[head]
        a, la = render(kids[0], args)
        b, lb = render(kids[1], args)
        if head == "pow":           # right-associative; a negative base needs parentheses
            a = f"({a})" if la <= level or a.startswith("-") else a
            b = f"({b})" if lb < level else b
        else:                       # left to right: the right operand of the same level is grouped
            a = f"({a})" if la < level or (level == 4 and la == 4) else a
            b = f"({b})" if lb <= level else b
        return f"{a} {_SYMBOL[head]} {b}", level
    prim = get(head)
    texts = [render(k, args)[0] for k in kids]
    return prim.emit(texts, {}, [Type(FLOAT, 0)] * len(texts)), _ATOM


def _level_of(tree, args) -> int:
    return render(tree, args)[1]


def _infer(types, params):
    return Type(params.get("kind", FLOAT), 0)


def _emit(a, p, t):
    return render(p["tree"], list(a))[0]


# the primitives a formula made before differentiation may apply: SymPy's derivatives of these are
# the elementwise rules' own (no branches, no manual rules)
SMOOTH = frozenset({"add", "sub", "mul", "truediv", "neg", "pow", "square", "sqrt", "exp", "exp2", "expm1",
                    "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
                    "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "hypot"})


def _number(v):
    from .derive import sympy
    sp = sympy()
    if isinstance(v, bool) or float(v).is_integer():
        return sp.Integer(int(v))
    # the decimal the user wrote (0.1 is 1/10, so 0.01 * 0.1 folds to 0.001), printed back as the
    # same float
    return sp.nsimplify(float(v), rational=True)


def expression(tree, xs):
    """The SymPy expression of a formula tree whose k-th operand is the symbol xs[k]."""
    from .elementwise import DEFINITIONS
    head = tree[0]
    if head == "arg":
        return xs[tree[1]]
    if head == "const":
        return _number(tree[1])
    if head not in SMOOTH:
        raise CompileError(f"a formula statement applies {head}, which has no derivative rule in a formula",
                           hint="this is a cotangent bug: symbolic regions take only smooth primitives")
    return DEFINITIONS[head].expr(*[expression(k, xs) for k in tree[1:]])


@functools.lru_cache(maxsize=None)
def _symbols(n: int) -> tuple:
    from .derive import sympy
    sp = sympy()
    return tuple(sp.Symbol(f"a{k}", real=True) for k in range(n))


@functools.lru_cache(maxsize=1024)
def partials(tree, consts: tuple, wanted: tuple) -> tuple:
    """(shared, parts): SymPy's partial derivatives of the formula with respect to the operands
    `wanted` marks (None elsewhere and where one is zero), after common-subexpression elimination
    over all of them; `shared` are the (symbol, expression) pairs they read, in order. `consts`
    holds a constant operand's value (or None) per position, substituted before deriving."""
    from .derive import sympy
    sp = sympy()
    xs = _symbols(len(consts))
    expr = expression(tree, xs).subs({x: _number(c) for x, c in zip(xs, consts) if c is not None})
    raw = [sp.diff(expr, x) if want and c is None else sp.Integer(0) for x, c, want in zip(xs, consts, wanted)]
    shared, reduced = sp.cse(raw, symbols=sp.numbered_symbols("c", real=True), optimizations="basic")
    return tuple(shared), tuple(None if r == 0 else r for r in reduced)


def _derived(b, params, args, wanted) -> tuple:
    """(the formula's partials, the symbols they read: the operands and the shared subexpressions,
    emitted first)."""
    from .derive import emit_expr
    consts = tuple(a.const_value() if a.is_const else None for a in args)
    shared, parts = partials(params["tree"], consts, wanted)
    env = {x: a for x, a, c in zip(_symbols(len(args)), args, consts) if c is None}
    for sym, e in shared:
        env[sym] = emit_expr(b, e, env)
    return parts, env


def _vjp(b, g, out, args, active, params):
    from .derive import emit_vjp
    parts, env = _derived(b, params, args, tuple(bool(a) for a in active))
    return emit_vjp(b, g, parts, active, env)


def _jvp(b, out, args, tangents, params):
    from .derive import emit_jvp
    parts, env = _derived(b, params, args, tuple(t is not None for t in tangents))
    return emit_jvp(b, parts, tangents, env)


register(Primitive("formula", _infer, _emit, jvp=_jvp, vjp=_vjp,
                   doc="one scalar expression printed on one line (symbolic mode's output, and "
                       "symbolic regions inside loops: derivatives by SymPy)"))
