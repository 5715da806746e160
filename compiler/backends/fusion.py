"""Which elementwise array temporaries print inside the expression that uses them.

Numba fuses a chain of elementwise array operations into one loop (its array-expression rewrite),
but only within one Python expression: `t1 = a * b; c = t1 + d` runs two loops and allocates t1,
while `c = (a * b) + d` runs one loop and allocates nothing in between. So an array temporary made
by an elementwise operation, used exactly once, by an elementwise operation later in the same block,
with nothing in between that could change what it reads, is printed inside its use. Only compiler
temporaries (t12) are folded, never a name from the user's source or an adjoint (x_bar)."""
from __future__ import annotations

import re

import numpy as np

from ..ir.nodes import Assign, For, Function, If, Pop, Push, Return, SetItem, TapeNew, While, names_in

ARITHMETIC = {"add", "sub", "mul", "truediv", "neg", "pow", "gt", "lt", "ge", "le", "eq", "ne"}
_TEMP = re.compile(r"t\d+$")


def _uses(stmts, counts: dict) -> None:
    """How many times each name is read (a SetItem's target counts: it is changed in place)."""
    for s in stmts:
        names: list = []
        if isinstance(s, Assign):
            names = list(names_in(s.args))
        elif isinstance(s, SetItem):
            names = [s.target, *names_in(s.index_args), *names_in(s.value)]
        elif isinstance(s, Return):
            names = list(names_in(s.values))
        elif isinstance(s, Push):
            names = list(names_in(s.value))
        elif isinstance(s, If):
            names = list(names_in(s.cond))
            _uses(s.body, counts)
            _uses(s.orelse, counts)
        elif isinstance(s, For):
            names = list(names_in((s.start, s.stop, s.step)))
            _uses(s.body, counts)
        elif isinstance(s, While):
            names = list(names_in(s.cond))
            _uses(s.cond_body, counts)
            _uses(s.body, counts)
        for n in names:
            counts[n] = counts.get(n, 0) + 1


def _is_temp(fn: Function, name: str) -> bool:
    names = getattr(fn, "names", None)
    if names is not None and hasattr(names, "is_temp"):
        return names.is_temp(name)
    return bool(_TEMP.match(name))


def fusable(fn: Function, s, emit) -> bool:
    """An elementwise operation with an array result: an operator, or one NumPy ufunc call."""
    if not isinstance(s, Assign) or not getattr(fn.types.get(s.target), "rank", 0):
        return False
    if s.op in ARITHMETIC:
        return True
    text = emit(s)
    m = re.match(r"np\.(\w+)\(", text)
    return bool(m) and isinstance(getattr(np, m.group(1), None), np.ufunc) and _one_call(text)


def _one_call(text: str) -> bool:
    """`np.f(...)` as a whole, not `np.f(a) * np.g(b)`."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def plan(fn: Function, emit, exclude=frozenset()) -> set:
    """The ids of the Assign statements to print inside their single use. `emit(stmt)` gives the
    right-hand side a statement prints as (to recognize ufunc calls). Statements in `exclude`
    (printed in a loop nest) are neither folded nor folded into."""
    counts: dict = {}
    _uses(fn.body, counts)
    folded: set = set()

    def block(stmts):
        reads: dict = {}                       # folded temp -> every name its text reads
        for i, s in enumerate(stmts):
            for blk in ((s.body, s.orelse) if isinstance(s, If) else
                        (s.body,) if isinstance(s, For) else
                        (s.cond_body, s.body) if isinstance(s, While) else ()):
                block(blk)
            if not (isinstance(s, Assign) and id(s) not in exclude and _is_temp(fn, s.target)
                    and counts.get(s.target) == 1 and fusable(fn, s, emit)):
                continue
            text_reads = set()
            for n in names_in(s.args):
                text_reads |= reads.get(n, {n})
            for j in range(i + 1, len(stmts)):
                t = stmts[j]
                if isinstance(t, Assign) and s.target in set(names_in(t.args)):
                    if id(t) not in exclude and fusable(fn, t, emit):
                        folded.add(id(s))
                        reads[s.target] = text_reads
                    break
                if not isinstance(t, (Assign, Push, Pop, TapeNew)):
                    break
                if isinstance(t, (Assign, Pop)) and t.target in text_reads:
                    break
                if isinstance(t, Push) and s.target in set(names_in(t.value)):
                    break

    block(fn.body)
    return folded


def parenthesized(text: str) -> str:
    """The text as an operand: calls and names as they are, anything else in parentheses."""
    if re.fullmatch(r"[\w.]+", text) or (re.match(r"[\w.]+\(", text) and _one_call(text)):
        return text
    return f"({text})"
