"""Activity analysis: a value is active when it depends on a differentiated input (varied) and
reaches the output (useful). Only active values get tangent or adjoint code."""
from __future__ import annotations

from ..ir.nodes import Assign, SetItem, Return, Var, walk
from ..ir.types import FLOAT
from ..rules import table


def varied(stmts, inputs) -> set:
    """Names that depend differentiably on `inputs`."""
    out = set(inputs)
    for s in walk(stmts):
        if isinstance(s, Assign):
            prim = table.get(s.op)
            if prim.differentiable and any(isinstance(a, Var) and a.name in out for a in s.args):
                out.add(s.target)
        elif isinstance(s, SetItem) and isinstance(s.value, Var) and s.value.name in out:
            out.add(s.target)
    return out


def useful(stmts, outputs) -> set:
    """Names whose value reaches `outputs`."""
    out = set(outputs)
    for s in reversed(list(walk(stmts))):
        if isinstance(s, Assign) and s.target in out:
            out.update(a.name for a in s.args if isinstance(a, Var))
        elif isinstance(s, SetItem) and s.target in out:
            out.update(a.name for a in (s.value, *s.index_args) if isinstance(a, Var))
    return out


def active(stmts, inputs, outputs, types) -> set:
    names = varied(stmts, inputs) & useful(stmts, outputs)
    return {n for n in names if getattr(types.get(n), "kind", None) == FLOAT}
