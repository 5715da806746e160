"""Activity analysis: a value is active when it depends on a differentiated input (varied) and
reaches the output (useful). Only active values get tangent or adjoint code.

Both analyses are flow-insensitive and iterate to a fixed point, so a value that becomes varied
on a loop's second trip (s = s + x[i], with s = 0.0 before the loop) is found."""
from __future__ import annotations

from ..ir.nodes import Assign, SetItem, Push, Pop, Var, walk
from ..ir.types import FLOAT
from ..rules import table


def varied(stmts, inputs) -> set:
    """Names that depend differentiably on `inputs` (tapes count as names)."""
    out = set(inputs)
    stmts = list(walk(stmts))
    while True:
        before = len(out)
        for s in stmts:
            if isinstance(s, Assign):
                prim = table.get(s.op)
                if prim.differentiable and any(isinstance(a, Var) and a.name in out for a in s.args):
                    out.add(s.target)
            elif isinstance(s, SetItem) and isinstance(s.value, Var) and s.value.name in out:
                out.add(s.target)
            elif isinstance(s, Push) and isinstance(s.value, Var) and s.value.name in out:
                out.add(s.tape)
            elif isinstance(s, Pop) and s.tape in out:
                out.add(s.target)
        if len(out) == before:
            return out


def useful(stmts, outputs) -> set:
    """Names whose value reaches `outputs`."""
    out = set(outputs)
    stmts = list(walk(stmts))[::-1]
    while True:
        before = len(out)
        for s in stmts:
            if isinstance(s, Assign) and s.target in out:
                out.update(a.name for a in s.args if isinstance(a, Var))
            elif isinstance(s, SetItem) and s.target in out:
                out.update(a.name for a in (s.value, *s.index_args) if isinstance(a, Var))
            elif isinstance(s, Pop) and s.target in out:
                out.add(s.tape)
            elif isinstance(s, Push) and s.tape in out and isinstance(s.value, Var):
                out.add(s.value.name)
        if len(out) == before:
            return out


def active(stmts, inputs, outputs, types) -> set:
    names = varied(stmts, inputs) & useful(stmts, outputs)
    return {n for n in names if getattr(types.get(n), "kind", None) == FLOAT or n not in types}
