"""Reverse mode (VJP): the primal sweep, then the adjoint sweep in reverse statement order.

Each active statement asks its primitive's VJP rule for the contributions to its operands'
adjoints; contributions to broadcast operands are reduced back (unbroadcast), and contributions
to the same operand accumulate."""
from __future__ import annotations

import copy

from ..ir.nodes import Assign, Return, Var, Const, Function
from ..ir.types import Type, FLOAT
from ..rules import table
from ..rules.builder import Builder, Sym
from .activity import active as active_names
from .cleanup import eliminate_dead_code, coalesce_aliases


def fit_to_operand(b: Builder, prim, c: Sym, arg: Sym, n_array_args: int) -> Sym:
    """Reduce an adjoint contribution to the shape of the operand it belongs to."""
    if arg.rank == 0 and c.rank > 0:
        return b.call("sum", c)
    if prim.broadcasting and arg.rank > 0 and (c.rank > arg.rank or n_array_args > 1):
        return b.call("unbroadcast", c, arg)
    return c


def reverse(fn: Function, outputs: tuple, wrt: list, seed: str = "one", suffix: str = "grad") -> Function:
    """A function returning (outputs, d output[0] / d wrt) for scalar output[0] (seed "one"), or
    taking the output's adjoint as a last parameter (seed "param", for vjp)."""
    names = copy.deepcopy(fn.names)
    types = dict(fn.types)
    primal = [s for s in fn.body if not isinstance(s, Return)]
    ret = fn.body[-1]
    out = outputs[0]
    act = active_names(primal, wrt, [out.name] if isinstance(out, Var) else [], types)
    b = Builder(types, names, role="adjoint")
    params = list(fn.params)

    adj: dict = {}
    bar_names: dict = {}

    def bar(name):
        if name not in bar_names:
            bar_names[name] = names.fresh(f"{name}_bar", temp=False)
        return bar_names[name]

    def accumulate(name, c: Sym):
        if name not in adj:
            if isinstance(c.value, Var) and not names.is_temp(c.value.name):
                adj[name] = c          # the same adjoint as another value: share it, no copy
            else:
                adj[name] = b.name(c, bar(name))
        else:
            adj[name] = b.op("add", adj[name], c, target=bar(name))

    out_ty = types.get(out.name) if isinstance(out, Var) else None
    if isinstance(out, Var) and out.name in act:
        b.loc = ret.loc
        if seed == "one":
            adj[out.name] = b.op("alias", b.const(1.0), target=bar(out.name))
        else:
            pname = bar(out.name)
            params.append(pname)
            types[pname] = Type(FLOAT, out_ty.rank)
            adj[out.name] = b.sym(Var(pname))
    elif seed == "param":
        pname = names.fresh("out_bar", temp=False)
        params.append(pname)
        types[pname] = Type(FLOAT, out_ty.rank if out_ty else 0)

    for s in reversed(primal):
        if not isinstance(s, Assign) or s.target not in act or s.target not in adj:
            continue
        prim = table.get(s.op)
        b.loc = s.loc
        args = [b.sym(a) for a in s.args]
        flags = [isinstance(a, Var) and a.name in act for a in s.args]
        contribs = prim.vjp(b, adj[s.target], b.sym(Var(s.target)), args, flags, dict(s.params))
        n_arrays = sum(1 for a in args if a.rank > 0)
        for a, c, flag in zip(args, contribs, flags):
            if flag and c is not None:
                accumulate(a.value.name, fit_to_operand(b, prim, c, a, n_arrays))

    b.loc = ret.loc
    grads = []
    for name in wrt:
        if name in adj and adj[name].value.name != bar(name) and bar(name) not in types:
            grads.append(b.op("alias", adj[name], target=bar(name)).value)
        elif name in adj:
            grads.append(adj[name].value)
        else:
            grads.append(b.op("zeros_like", b.sym(Var(name)), target=bar(name)).value)
    body = primal + b.stmts + [Return((ret.values, tuple(grads)), ret.loc, role="adjoint")]
    result = Function(f"{fn.name}_{suffix}", params, body, fn.filename, types)
    result.names = names
    return coalesce_aliases(eliminate_dead_code(result))
