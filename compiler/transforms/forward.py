"""Forward mode (JVP): each active statement is followed by its tangent, from the primitive's JVP
rule. Tangents of the differentiated inputs are extra parameters named x_dot.

Control flow is kept as it is: branches and loops compute tangents beside the values. Every name
has one tangent name, assigned wherever the name is (a carried loop value and its tangent change
together); an element write writes the tangent's element too, and a tape of values gets a tape of
tangents, so forward mode also runs over reverse-mode code (a Hessian is forward over reverse)."""
from __future__ import annotations

import copy

from ..ir.nodes import (Assign, SetItem, Return, If, For, While, TapeNew, Push, Pop, Var,
                        Const, Function, walk)
from ..ir.types import FLOAT, TupleType, stacked
from ..rules import table
from ..ir.builder import Builder
from .activity import varied
from .cleanup import eliminate_dead_code, coalesce_aliases
from .directions import Marks, stack_tangents
from .reverse import VIEW_OPS


def _all_float(ty) -> bool:
    if isinstance(ty, TupleType):
        return all(_all_float(t) for t in ty.elts)
    return ty.kind == FLOAT


def _assigned_once(stmts) -> set:
    """Names assigned by one statement and never written into, nor viewed by a name that is:
    when such a value's tangent is zero, it is zero wherever the name is read."""
    defs: dict = {}
    written, views = set(), []
    for s in walk(stmts):
        if isinstance(s, (Assign, Pop)):
            defs[s.target] = defs.get(s.target, 0) + 1
            if isinstance(s, Assign) and s.op in VIEW_OPS:
                views.extend((s.target, a.name) for a in s.args if isinstance(a, Var))
        elif isinstance(s, SetItem):
            written.add(s.target)
    while True:
        grown = {base for view, base in views if view in written} - written
        if not grown:
            break
        written |= grown
    return {n for n, k in defs.items() if k == 1 and n not in written}


class _Forward:
    def __init__(self, fn, wrt, names, types, directions: bool = False):
        self.names, self.types = names, types
        self.directions = directions
        self.marks = Marks()
        self.b = Builder(types, names, role="tangent")
        self.live = varied(fn.body, wrt)
        self.dot_names: dict = {}
        # when arrays are written in place, a tangent must not share another tangent's array
        self.has_writes = any(isinstance(s, SetItem) for s in walk(fn.body))
        self.zero: set = set()       # values whose tangent is zero, so none is computed
        self.once = _assigned_once(fn.body)

    def dot(self, name) -> str:
        if name not in self.dot_names:
            self.dot_names[name] = self.names.fresh(f"{name}_dot", temp=False)
            if name in self.types:
                self.types[self.dot_names[name]] = self.types[name]
        return self.dot_names[name]

    def has_tangent(self, name) -> bool:
        ty = self.types.get(name)
        return name in self.live and name not in self.zero and (ty is None or _all_float(ty))

    def call(self, s: Assign):
        """A call to a unit becomes one call to its JVP unit, which returns (value, tangent)."""
        b = self.b
        tans = [self.tangent_of(a) for a in s.args]
        mask = tuple(t is not None for t in tans)
        if not any(mask):
            b.stmts.append(s)
            if s.target in self.once:
                self.zero.add(s.target)
            else:
                b.name(self.zeros_like(Var(s.target)), self.dot(s.target))
            return
        result = s.param("result")
        unit = s.param("unit")
        start = len(b.stmts)
        pair = b.op("call", *[b.sym(a) for a in s.args], *[t for t in tans if t is not None],
                    unit=unit.vjvp(mask) if self.directions else unit.jvp(mask),
                    result=TupleType((result, stacked(result) if self.directions else result)))
        b.op("tuple_getitem", pair, i=0, target=s.target)
        b.op("tuple_getitem", pair, i=1, target=self.dot(s.target))
        self.marks.mark(b.stmts[start:], structural=True)
        self.marks.primal_targets |= {s.target, pair.value.name}
        self.types[self.dot(s.target)] = result       # one direction's type: the stacking adds the axis

    def tangent_of(self, v):
        if isinstance(v, Var) and self.has_tangent(v.name):
            return self.b.sym(Var(self.dot(v.name)))
        return None

    def zeros_like(self, v):
        sym = self.b.sym(v)
        return self.b.const(0.0) if sym.rank == 0 else self.b.op("zeros_like", sym)

    def block(self, stmts) -> list:
        out = []
        saved, self.b.stmts = self.b.stmts, out
        try:
            for s in stmts:
                start = len(out)
                self.stmt(s)
                # what the statement added besides itself computes tangents
                self.marks.mark([t for t in out[start:] if t is not s and not isinstance(t, (If, For, While))
                                 and id(t) not in self.marks.tangent],
                                structural=isinstance(s, (TapeNew, Push, Pop)))
        finally:
            self.b.stmts = saved
        return out

    def stmt(self, s):
        b = self.b
        b.loc = s.loc
        if isinstance(s, Assign) and s.op == "call" and self.has_tangent(s.target):
            self.call(s)
        elif isinstance(s, Assign):
            b.stmts.append(s)
            if not self.has_tangent(s.target):
                return
            prim = table.get(s.op)
            args = [b.sym(a) for a in s.args]
            tans = [self.tangent_of(a) for a in s.args]
            t = None
            if any(x is not None for x in tans):
                t = prim.jvp(b, b.sym(Var(s.target)), args, tans, dict(s.params))
            if t is None and s.target in self.once:
                self.zero.add(s.target)        # its readers see no tangent: zeros never propagate
                return
            if t is None:
                t = self.zeros_like(Var(s.target))
            out = b.sym(Var(s.target))
            if self.has_writes and t.rank and isinstance(t.value, Var) and (
                    t.value.name in self.dot_names.values() or not self.names.is_temp(t.value.name)):
                t = b.op("copy", t)
            if prim.broadcasting and out.rank and (t.rank < out.rank or any(
                    tn is None and a.rank for a, tn in zip(args, tans))):
                # an operand without a tangent may be what gives the result its shape
                t = b.op("add", b.op("zeros_like", out), t)
            b.name(t, self.dot(s.target)) if not (isinstance(t.value, Var) and t.value.name == self.dot(s.target)) \
                else None
        elif isinstance(s, SetItem):
            b.stmts.append(s)
            if self.has_tangent(s.target):
                t = self.tangent_of(s.value)
                value = t.value if t is not None else Const(0.0)
                b.stmts.append(SetItem(self.dot(s.target), s.index_args, s.params, value, s.loc, "tangent", op=s.op))
        elif isinstance(s, If):
            b.stmts.append(If(s.cond, self.block(s.body), self.block(s.orelse), s.loc, s.role))
        elif isinstance(s, For):
            node = copy.copy(s)
            node.body = self.block(s.body)
            b.stmts.append(node)
        elif isinstance(s, While):
            node = copy.copy(s)
            node.body = self.block(s.body)
            b.stmts.append(node)
        elif isinstance(s, TapeNew):
            b.stmts.append(s)
            if s.tape in self.live:
                b.stmts.append(TapeNew(self.dot(s.tape), self.dot(s.holds), "tangents of the values above", s.loc))
        elif isinstance(s, Push):
            b.stmts.append(s)
            if s.tape in self.live:
                t = self.tangent_of(s.value)
                b.stmts.append(Push(self.dot(s.tape), (t if t is not None else self.zeros_like(s.value)).value, s.loc))
        elif isinstance(s, Pop):
            b.stmts.append(s)
            if s.tape in self.live and self.has_tangent(s.target):
                b.stmts.append(Pop(self.dot(s.target), self.dot(s.tape), s.loc))
        else:
            b.stmts.append(s)


def forward(fn: Function, outputs: tuple, wrt: list, suffix: str = "jvp", directions: bool = False) -> Function:
    """A function of (primals..., tangents of wrt...) returning (outputs, output tangents).

    With `directions`, each tangent parameter and output tangent has a leading axis of
    directions, all carried through one evaluation of the primal (transforms/directions.py); it
    raises directions.CannotStack where some tangent has no such form."""
    names = copy.deepcopy(fn.names)
    types = dict(fn.types)
    f = _Forward(fn, wrt, names, types, directions)
    params = list(fn.params) + [f.dot(name) for name in wrt]
    ret = fn.body[-1]
    body = f.block(fn.body[:-1])
    f.b.stmts = body
    f.b.loc = ret.loc
    outs = []
    start = len(body)
    for v in outputs:
        t = f.tangent_of(v)
        outs.append(t.value if t is not None else f.zeros_like(v).value)
    f.marks.mark(body[start:])
    body = body + [Return((ret.values, tuple(outs)), ret.loc, role="tangent")]
    result = Function(f"{fn.name}_{suffix}", params, body, fn.filename, types)
    result.names = names
    result = coalesce_aliases(eliminate_dead_code(result))
    if directions:
        f.marks.partner = {dot: name for name, dot in f.dot_names.items()}
        result = stack_tangents(result, f.marks, params[len(fn.params):])
    return result
