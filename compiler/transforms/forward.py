"""Forward mode (JVP): each active statement is followed by its tangent, from the primitive's
JVP rule. Tangents of the differentiated inputs are extra parameters named x_dot."""
from __future__ import annotations

import copy

from ..ir.nodes import Assign, Return, Var, Function
from ..rules import table
from ..rules.builder import Builder
from .activity import varied
from .cleanup import eliminate_dead_code, coalesce_aliases


def forward(fn: Function, outputs: tuple, wrt: list, suffix: str = "jvp") -> Function:
    """A function of (primals..., tangents of wrt...) returning (outputs, output tangents)."""
    names = copy.deepcopy(fn.names)
    types = dict(fn.types)
    b = Builder(types, names, role="tangent")
    tangent: dict = {}
    params = list(fn.params)
    for name in wrt:
        t = names.fresh(f"{name}_dot", temp=False)
        params.append(t)
        types[t] = types[name]
        tangent[name] = b.sym(Var(t))
    live = varied(fn.body, wrt)
    ret = fn.body[-1]
    for s in fn.body[:-1]:
        b.stmts.append(s)
        if not isinstance(s, Assign) or s.target not in live or types[s.target].kind != "float":
            continue
        prim = table.get(s.op)
        b.loc = s.loc
        args = [b.sym(a) for a in s.args]
        tans = [tangent.get(a.name) if isinstance(a, Var) else None for a in s.args]
        if all(t is None for t in tans):
            continue
        t = prim.jvp(b, b.sym(Var(s.target)), args, tans, dict(s.params))
        if t is not None:
            tangent[s.target] = b.name(t, names.fresh(f"{s.target}_dot", temp=False))
    b.loc = ret.loc
    outs = []
    for v in outputs:
        if isinstance(v, Var) and v.name in tangent:
            outs.append(tangent[v.name].value)
        else:
            outs.append(b.op("zeros_like", b.sym(v)).value)
    body = b.stmts + [Return((ret.values, tuple(outs)), ret.loc, role="tangent")]
    result = Function(f"{fn.name}_{suffix}", params, body, fn.filename, types)
    result.names = names
    return coalesce_aliases(eliminate_dead_code(result))
