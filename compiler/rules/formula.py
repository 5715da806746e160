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
primitive at a time (CUDA). A formula has no derivative rules: it is made after differentiation."""
from __future__ import annotations

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


def _no_rule(*_args):
    raise CompileError("a formula statement has no derivative rule: symbolic mode makes formulas after "
                       "differentiating, so nothing differentiates them again",
                       hint="this is a cotangent bug; differentiate the original function instead")


register(Primitive("formula", _infer, _emit, jvp=_no_rule, vjp=_no_rule,
                   doc="one scalar expression printed on one line (symbolic mode's output)"))
