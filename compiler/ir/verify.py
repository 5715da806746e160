"""Checks the IR invariants every pass must keep: names are defined before use, every Assign has
a known primitive, and typed functions have a type for every name."""
from __future__ import annotations

from .nodes import Assign, If, For, While, Var, Function, Pop, TapeNew, Push, operands, walk


class IRError(AssertionError):
    pass


def verify(fn: Function, known_ops=None) -> None:
    defined = set(fn.params)

    def check(stmts, defined):
        for s in stmts:
            for v in operands(s):
                if isinstance(v, Var) and v.name not in defined:
                    raise IRError(f"{fn.name}: {v.name} used before definition in {s}")
            if isinstance(s, Assign):
                if known_ops is not None and s.op not in known_ops:
                    raise IRError(f"{fn.name}: unknown primitive {s.op!r}")
                defined.add(s.target)
            elif isinstance(s, Pop):
                defined.add(s.target)
            elif isinstance(s, TapeNew):
                defined.add(s.tape)
            elif isinstance(s, Push) and s.tape not in defined:
                raise IRError(f"{fn.name}: tape {s.tape} used before it is made")
            elif isinstance(s, If):
                a, b = set(defined), set(defined)
                check(s.body, a)
                check(s.orelse, b)
                defined |= a & b
            elif isinstance(s, For):
                inner = set(defined) | {s.var} | ({s.counter} if s.counter else set())
                check(s.body, inner)
                defined |= inner
            elif isinstance(s, While):
                inner = set(defined) | ({s.counter} if s.counter else set())
                check(s.cond_body, inner)
                check(s.body, inner)
                defined |= inner
        return defined

    check(fn.body, defined)
    if fn.types:
        for s in walk(fn.body):
            if isinstance(s, Assign) and s.target not in fn.types:
                raise IRError(f"{fn.name}: no type for {s.target}")
