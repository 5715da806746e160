"""Reverse mode (VJP): the primal sweep, then an adjoint sweep that mirrors it block by block.

Straight-line code is reversed statement by statement: each active statement asks its primitive's
VJP rule for the contributions to its operands' adjoints, reduced back over broadcast axes, and
contributions to one operand accumulate. Control flow is mirrored: an `if` is replayed on its
recorded condition, a loop runs its trips backwards (a `for` recomputes its index; a `while` or a
loop that may break replays the number of trips it ran).

What the adjoint sweep reads of the primal is recorded, and only that: a value computed inside a
loop is pushed on a tape (a stack) when it is computed and popped when its block is reversed; an
element or slice write that overwrites data the adjoint sweep reads saves the old data and puts it
back when the write is reversed, so the sweep sees every array as it was at that point.

A loop marked ct.checkpointed (or one a memory budget picks) is built this way first and then
rewritten by checkpoint.py to keep snapshots of its state instead of a tape of every trip."""
from __future__ import annotations

import copy

from ..ir.nodes import (Assign, SetItem, Return, If, For, While, Break, TapeNew, Push, Pop, Var,
                        Const, Function, walk, operands, blocks)
from ..ir.types import Type, FLOAT, INT
from ..rules import table
from ..ir.builder import Builder, Sym
from .activity import active as active_names
from .cleanup import eliminate_dead_code, coalesce_aliases, share_equal_values, drop_rewrites_of_the_same_value
from .checkpoint import checkpoint_loops, refuse_nested_marks

# ops that read only the shape of these operand positions, never the values
SHAPE_ONLY = {"zeros_like": (0,), "ones_like": (0,), "empty_like": (0,), "full_like": (0,),
              "shape": (0,), "dim": (0,), "size": (0,), "unbroadcast": (1,), "reshape_like": (1,),
              "diag_embed_like": (1,), "eye_like": (0,)}
# cheap ops whose scalar results the adjoint sweep recomputes instead of recording (getitem: any rank,
# since reading a part of an array that is never written is a view)
RECOMPUTE_OPS = {"getitem", "add", "sub", "mul", "neg", "truediv", "floordiv", "mod", "abs", "maximum",
                 "minimum", "shape", "tuple_getitem", "dim", "size", "alias", "float", "int", "bool", "lt",
                 "le", "gt", "ge", "eq", "ne", "not", "logical_and", "logical_or", "logical_not", "trip_count"}
VIEW_OPS = {"stop_gradient", "getitem", "reshape", "reshape_like", "ravel", "transpose", "expand_dims", "squeeze", "alias",
            "diag", "flip", "call_value"}


def fit_to_operand(b: Builder, prim, c: Sym, arg: Sym, n_array_args: int) -> Sym:
    """Reduce an adjoint contribution to the shape of the operand it belongs to."""
    if arg.rank == 0 and c.rank > 0:
        return b.call("sum", c)
    if prim.broadcasting and arg.rank > 0 and (c.rank > arg.rank or n_array_args > 1):
        return b.call("unbroadcast", c, arg)
    return c


class _Blocks:
    """Where each primal block sits: whether it is inside a loop, and its reversed twin."""

    def __init__(self):
        self.in_loop: dict = {}       # id(block) -> bool
        self.reversed: dict = {}      # id(primal block) -> reversed block
        self.primal: dict = {}        # id(primal block) -> primal block


def _index_blocks(stmts, in_loop, info: _Blocks):
    info.in_loop[id(stmts)] = in_loop
    info.primal[id(stmts)] = stmts
    for s in stmts:
        if isinstance(s, (For, While)):
            _index_blocks(s.body, True, info)
            _index_blocks(s.cond_body, True, info) if isinstance(s, While) else None
        elif isinstance(s, If):
            _index_blocks(s.body, in_loop, info)
            _index_blocks(s.orelse, in_loop, info)


def _def_blocks(stmts, out: dict):
    """name -> list of ids of the blocks that assign it."""
    for s in stmts:
        if isinstance(s, (Assign, Pop)):
            out.setdefault(s.target, []).append(id(stmts))
        elif isinstance(s, (For, While)) and s.counter:
            out.setdefault(s.counter, []).append(id(stmts))
        for b in blocks(s):
            _def_blocks(b, out)
    return out


def _contained(stmts) -> set:
    ids = {id(stmts)}
    for s in stmts:
        for b in blocks(s):
            ids |= _contained(b)
    return ids


def _carried_in(loop, defs) -> set:
    """Names a loop carries: assigned both inside its body and outside it."""
    inside = _contained(loop.body)
    return {name for name, homes in defs.items()
            if any(h in inside for h in homes) and any(h not in inside for h in homes)}


def _has_break(body) -> bool:
    for s in body:
        if isinstance(s, Break):
            return True
        if isinstance(s, If) and (_has_break(s.body) or _has_break(s.orelse)):
            return True
    return False


class _Reverser:
    def __init__(self, fn: Function, act, types, names):
        self.fn = fn
        self.act = act
        self.types = types
        self.names = names
        self.b = Builder(types, names, role="adjoint")
        self.adj: dict = {}
        self.shared: set = set()
        self.bar_names: dict = {}
        self.info = _Blocks()
        self.def_blocks: dict = {}
        self.carried: set = set()         # names carried by some loop
        self.saved: dict = {}             # id(SetItem) -> name of the saved old data
        self.carry_stack: list = []       # names carried by the loops being reversed
        self.pending: set = set()         # carried names whose adjoint is zero but not yet written
        self.fresh: set = set()           # names whose adjoint array no other name can see

    def bar(self, name):
        if name not in self.bar_names:
            self.bar_names[name] = self.names.fresh(f"{name}_bar", temp=False)
        return self.bar_names[name]

    # --- adjoint bookkeeping ---
    def accumulate(self, name, c: Sym):
        b = self.b
        in_place = name in self.adj and name not in self.pending and self._adds_in_place(name, c)
        self.fresh.discard(name)
        if name in self.pending:
            self.pending.discard(name)
            self.adj[name] = b.name(c, self.bar(name)) if not (isinstance(c.value, Var) and c.value.name in
                                                                self.bar_names.values()) \
                else b.op("alias", c, target=self.bar(name))
            return
        if name not in self.adj:
            v = c.value
            shareable = isinstance(v, Var) and not self.names.is_temp(v.name) and v.name in self.bar_names.values() \
                and v.name not in {self.bar_names.get(n) for n in self.carried}
            if shareable:
                self.adj[name] = c
                if c.rank:
                    self.shared.add(name)
            else:
                self.adj[name] = b.name(c, self.bar(name))
                self.shared.discard(name)
        elif in_place:
            # an array of its own, which no other name sees: x_bar[:] += c, no new array
            rank = self.adj[name].rank
            b.stmts.append(SetItem(self.bar(name), (), (("index", ((("slice", False, False, False),) * rank)),),
                                   c.value, b.loc, "adjoint", op="add"))
            self.fresh.add(name)
        else:
            self.adj[name] = b.op("add", self.adj[name], c, target=self.bar(name))
            self.shared.discard(name)
            self.fresh.add(name)

    def _adds_in_place(self, name, c: Sym) -> bool:
        sym = self.adj[name]
        return (name in self.fresh and name not in self.shared and isinstance(sym.value, Var)
                and sym.value.name == self.bar(name) and sym.rank > 0 and c.rank == sym.rank
                and isinstance(c.value, Var) and c.value.name != sym.value.name
                and self.types[c.value.name].kind == FLOAT and self.types[sym.value.name].kind == FLOAT)

    def own(self, name):
        """Make `name`'s adjoint an array of its own, to update in place."""
        sym = self.adj[name]
        if name not in self.fresh or name in self.shared or sym.value.name != self.bar(name):
            # unbroadcast and aliases may hand back another adjoint's array: copy before writing
            self.adj[name] = self.b.op("copy", sym, target=self.bar(name))
            self.shared.discard(name)
            self.fresh.add(name)

    def zero(self, name):
        sym = self.b.sym(Var(name))
        self.adj[name] = (self.b.op("zeros_like", sym, target=self.bar(name)) if sym.rank
                          else self.b.op("alias", self.b.const(0.0), target=self.bar(name)))
        self.shared.discard(name)
        self.pending.discard(name)
        self.fresh.add(name)

    def flush(self, names):
        for name in sorted(names & self.pending):
            self.zero(name)

    def prepare_nested(self, *nested_blocks):
        """Before reversing nested blocks: adjoints of outer names they add to must exist and be
        owned, because contributions inside them accumulate (a loop adds on every trip)."""
        inside = set().union(*(_contained(blk) for blk in nested_blocks))
        touched = set()
        for s in (x for blk in nested_blocks for x in walk(blk)):
            if isinstance(s, Assign) and s.target in self.act:
                touched.update(a.name for a in s.args if isinstance(a, Var) and a.name in self.act)
                if s.target in self.carried:
                    touched.add(s.target)
            elif isinstance(s, SetItem) and s.target in self.act:
                touched.add(s.target)
                if isinstance(s.value, Var) and s.value.name in self.act:
                    touched.add(s.value.name)
        self.flush(set(self.pending))
        for name in sorted(touched):
            homes = self.def_blocks.get(name, [])
            outer = name in self.fn.params or any(h not in inside for h in homes)
            if not outer:
                continue
            if name not in self.adj:
                self.zero(name)
            elif self.types[name].rank and (name in self.shared or name not in self.fresh
                                            or self.adj[name].value.name != self.bar(name)):
                self.own(name)
            elif self.adj[name].value.name != self.bar(name):
                self.adj[name] = self.b.op("alias", self.adj[name], target=self.bar(name))

    # --- sweeps ---
    def reverse_block(self, stmts) -> list:
        out = []
        saved_stmts = self.b.stmts
        self.b.stmts = out
        pending_before = set(self.pending)
        try:
            for s in reversed(stmts):
                self.reverse_stmt(s)
            self.flush(self.pending - pending_before)
        finally:
            self.b.stmts = saved_stmts
        self.info.reversed[id(stmts)] = out
        return out

    def nested(self, stmts) -> list:
        """Reverse a nested block with its own view of local adjoints; outer ones were prepared."""
        adj, shared, fresh = dict(self.adj), set(self.shared), set(self.fresh)
        out = self.reverse_block(stmts)
        self.adj, self.shared, self.fresh = adj, shared, fresh
        return out

    def loop_body(self, loop) -> list:
        self.carry_stack.append(_carried_in(loop, self.def_blocks))
        try:
            return self.nested(loop.body)
        finally:
            self.carry_stack.pop()

    def reverse_stmt(self, s):
        b = self.b
        if isinstance(s, Assign):
            self.reverse_assign(s)
        elif isinstance(s, SetItem):
            self.reverse_setitem(s)
        elif isinstance(s, If):
            b.loc = s.loc
            self.prepare_nested(s.body, s.orelse)
            then_ = self.nested(s.body)
            else_ = self.nested(s.orelse)
            if then_ or else_:
                b.loc = s.loc
                b.stmts.append(If(s.cond, then_, else_, s.loc, role="adjoint"))
        elif isinstance(s, For):
            self.reverse_for(s)
        elif isinstance(s, While):
            self.reverse_while(s)

    def reverse_assign(self, s: Assign):
        if s.target not in self.act or s.target not in self.adj:
            return
        b = self.b
        prim = table.get(s.op)
        b.loc = s.loc
        g = self.adj[s.target]
        args = [b.sym(a) for a in s.args]
        flags = [isinstance(a, Var) and a.name in self.act for a in s.args]
        if any(flags) and s.op == "getitem" and flags[0] and args[0].rank and not any(a.rank for a in args[1:]):
            self.scatter_add(args[0].value.name, s, g)
        elif any(flags):
            contribs = prim.vjp(b, g, b.sym(Var(s.target)), args, flags, dict(s.params))
            n_arrays = sum(1 for a in args if a.rank > 0)
            for a, c, flag in zip(args, contribs, flags):
                if flag and c is not None:
                    self.accumulate(a.value.name, fit_to_operand(b, prim, c, a, n_arrays))
        carried = s.op == "alias" and any(s.target in c for c in self.carry_stack)
        if carried and flags[0] and args[0].rank and s.target in self.fresh and s.target not in self.shared:
            # the carried name's adjoint array passes whole to the value it took, and the name's
            # own adjoint starts again from zero (below): the array is that value's alone, so it
            # is updated in place without a copy (a list's items array, appended to each trip)
            source = args[0].value.name
            if self.adj.get(source) is not None and self.adj[source].value.name == self.bar(source) \
                    and source not in self.shared:
                self.fresh.add(source)
        if carried:
            # a carried name takes a new value here: the adjoint of its old value starts from zero
            # (written when the first contribution arrives, or at the end of the block)
            self.adj.pop(s.target, None)
            self.shared.discard(s.target)
            self.pending.add(s.target)

    def scatter_add(self, name, s: Assign, g: Sym):
        """x[idx] read: x_bar[idx] += g, in place."""
        b = self.b
        if name not in self.adj:
            self.zero(name)
        else:
            self.own(name)
        b.stmts.append(SetItem(self.bar(name), s.args[1:], s.params, g.value, s.loc, "adjoint", op="add"))

    def reverse_setitem(self, s: SetItem):
        b = self.b
        b.loc = s.loc
        y = s.target
        if y in self.act and y in self.adj:
            self.own(y)
            ybar = self.adj[y]
            if isinstance(s.value, Var) and s.value.name in self.act:
                ops = [b.sym(a) for a in s.index_args]
                c = b.op("getitem", ybar, *ops, **dict(s.params))
                v = b.sym(s.value)
                if c.rank and s.op is None:
                    c = b.op("copy", c)
                if v.rank == 0 and c.rank > 0:
                    c = b.call("sum", c)
                elif v.rank > 0:
                    c = b.call("unbroadcast", c, v)
                self.accumulate(s.value.name, c)
            if s.op is None:
                b.stmts.append(SetItem(self.bar(y), s.index_args, s.params, Const(0.0), s.loc, "adjoint"))
        if id(s) in self.saved:
            b.stmts.append(SetItem(y, s.index_args, s.params, Var(self.saved[id(s)]), s.loc, "adjoint"))

    def reverse_for(self, s: For):
        b = self.b
        b.loc = s.loc
        self.prepare_nested(s.body)
        trips = s.counter or s.trips
        n = b.sym(Var(trips))
        start, step = b.sym(s.start), b.sym(s.step)
        last = start + (n - 1) * step
        stop = start - step
        body = self.loop_body(s)
        if body:
            b.loc = s.loc
            b.stmts.append(For(s.var, last.value, stop.value, (-step).value, body, s.loc, role="adjoint",
                               mirrors=(s.start, s.stop, s.step)))

    def reverse_while(self, s: While):
        b = self.b
        b.loc = s.loc
        self.prepare_nested(s.body)
        body = self.loop_body(s)
        if body:
            k = self.names.fresh("trip", temp=False)
            self.types[k] = Type(INT, 0)
            b.stmts.append(For(k, Const(0), Var(s.counter), Const(1), body, s.loc, role="adjoint"))


def _prepare_primal(body, names, types, b: Builder):
    """Loops get what their reversal needs: a trip count before a `for` that cannot break, a trip
    counter in a `while` or a `for` that may."""
    for i in range(len(body) - 1, -1, -1):
        s = body[i]
        for blk in blocks(s):
            _prepare_primal(blk, names, types, b)
        if isinstance(s, For):
            s.trips = None
            if _has_break(s.body):
                s.counter = names.fresh(f"{s.var}_trips", temp=False)
                types[s.counter] = Type(INT, 0)
            else:
                b.stmts = []
                b.loc = s.loc
                b.op("trip_count", b.sym(s.start), b.sym(s.stop), b.sym(s.step),
                     target=names.fresh(f"{s.var}_trips", temp=False))
                s.trips = b.stmts[0].target
                body[i:i] = b.stmts
        elif isinstance(s, While):
            s.counter = names.fresh("trips", temp=False)
            types[s.counter] = Type(INT, 0)


def _carried_names(stmts) -> set:
    """Names assigned both before a loop and inside it."""
    defs = _def_blocks(stmts, {})
    return set().union(*(_carried_in(s, defs) for s in walk(stmts) if isinstance(s, (For, While))))


def _view_groups(stmts, types=None) -> dict:
    """name -> the set of names that may share its memory (views, aliases, carried names)."""
    parent: dict = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for s in walk(stmts):
        if isinstance(s, Assign) and s.op in VIEW_OPS and s.args and isinstance(s.args[0], Var):
            if types is not None and s.target in types and types[s.target].rank == 0:
                continue        # a number read from an array is a copy
            a, c = find(s.target), find(s.args[0].name)
            if a != c:
                parent[a] = c
    groups: dict = {}
    for x in list(parent):
        groups.setdefault(find(x), set()).add(x)
    out = {}
    for root, members in groups.items():
        members.add(root)
        for m in members:
            out[m] = members
    return out


def _reads_of(stmts) -> set:
    """Every name these statements read (the arrays they write into too)."""
    out = set()
    for s in walk(stmts):
        if isinstance(s, SetItem):
            out.update(a.name for a in (s.value, *s.index_args) if isinstance(a, Var))
            out.add(s.target)
            continue
        if isinstance(s, While):
            continue
        out.update(v.name for v in operands(s) if isinstance(v, Var))
    return out


def _build(fn: Function, outputs, wrt, seed, restore: set):
    """The adjoint sweep of fn, built over a fresh copy of its primal sweep."""
    names = copy.deepcopy(fn.names)
    types = dict(fn.types)
    body = copy.deepcopy(fn.body[:-1])
    ret = fn.body[-1]
    b0 = Builder(types, names, role="primal")
    _prepare_primal(body, names, types, b0)
    out = outputs[0]
    act = active_names(body, wrt, _seeded_names(outputs, seed), types)
    r = _Reverser(fn, act, types, names)
    _index_blocks(body, False, r.info)
    r.carried = _carried_names(body)
    # writes that destroy data the adjoint sweep reads: save the old data first
    _insert_saves(body, restore, r, types, names)
    r.def_blocks = _def_blocks(body, {})
    b = r.b
    params = list(fn.params)
    out_ty = types.get(out.name) if isinstance(out, Var) else None
    b.loc = ret.loc
    if seed == "each":
        _seed_each_output(r, b, outputs, act, params, names, types)
    elif isinstance(out, Var) and out.name in act:
        if seed == "one":
            r.adj[out.name] = b.op("alias", b.const(1.0), target=r.bar(out.name))
        else:
            pname = r.bar(out.name)
            params.append(pname)
            types[pname] = Type(FLOAT, out_ty.rank)
            r.adj[out.name] = b.sym(Var(pname))
    elif seed == "param":
        pname = names.fresh("out_bar", temp=False)
        params.append(pname)
        types[pname] = Type(FLOAT, out_ty.rank if out_ty else 0)
    head = list(b.stmts)
    b.stmts = []
    adjoint = head + r.reverse_block(body)
    r.info.reversed[id(body)] = adjoint
    b.stmts = adjoint
    b.loc = ret.loc
    grads = []
    for name in wrt:
        if name in r.adj and r.adj[name].value.name != r.bar(name) and r.bar(name) not in types:
            grads.append(b.op("alias", r.adj[name], target=r.bar(name)).value)
        elif name in r.adj:
            grads.append(r.adj[name].value)
        else:
            grads.append(b.op("zeros_like", b.sym(Var(name)), target=r.bar(name)).value)
    return r, body, adjoint, params, grads, names, types, ret


def _seeded_names(outputs, seed: str) -> list:
    """The outputs whose adjoints start the sweep: the first (a gradient, where the rest is aux,
    or a VJP of one output), or every output (seed "each": a VJP of a function returning several)."""
    seeded = outputs if seed == "each" else outputs[:1]
    return [o.name for o in seeded if isinstance(o, Var)]


def _seed_each_output(r: "_Reverser", b, outputs, act, params, names, types) -> None:
    """A VJP of a function returning several values takes one adjoint parameter per output, named
    after it (`a_bar`; `out2_bar` for a constant or a value returned twice, whose adjoints add up)."""
    returned = [o.name for o in outputs if isinstance(o, Var)]
    for k, o in enumerate(outputs):
        ty = types.get(o.name) if isinstance(o, Var) else None
        if isinstance(o, Var) and returned.count(o.name) == 1 and r.bar(o.name) not in types:
            pname = r.bar(o.name)
        else:
            pname = names.fresh(f"out{k}_bar", temp=False)
        params.append(pname)
        types[pname] = Type(FLOAT, ty.rank if ty is not None else 0)
        if isinstance(o, Var) and o.name in act and ty.kind == FLOAT:
            seed = b.sym(Var(pname))
            r.adj[o.name] = b.op("add", r.adj[o.name], seed, target=r.bar(o.name)) if o.name in r.adj else seed


# ops whose adjoint does not read the values of these operand positions (None: of any operand)
LINEAR_IN = {"add": None, "sub": None, "neg": None, "alias": None, "copy": None, "sum": None, "mean": None,
             "reshape": None, "ravel": None, "transpose": None, "expand_dims": None, "squeeze": None,
             "concatenate": None, "stack": None, "float": None, "cumsum": None, "flip": None, "trace": None,
             "getitem": None, "unbroadcast": None, "reshape_like": None}


def _needs_restore(fn: Function, outputs, wrt, seed: str = "one") -> set:
    """Arrays written in place whose overwritten values the adjoint sweep reads: a statement whose
    adjoint reads the array (or a view of it) runs before a write to it, or in a loop with one."""
    body = fn.body[:-1]
    writes = [s for s in walk(body) if isinstance(s, SetItem)]
    if not writes:
        return set()
    act = active_names(body, wrt, _seeded_names(outputs, seed), fn.types)
    groups = _view_groups(body, fn.types)
    order = {id(s): i for i, s in enumerate(walk(body))}
    loops = [s for s in walk(body) if isinstance(s, (For, While))]
    inside = {id(l): {id(x) for x in walk(l.body)} for l in loops}
    restore = set()
    for w in writes:
        group = groups.get(w.target, {w.target})
        for s in walk(body):
            if not (isinstance(s, Assign) and s.target in act) or s.op in LINEAR_IN:
                continue
            if s.target in group and table.get(s.op).differentiable and any(
                    isinstance(a, Var) and a.name in act for a in s.args) and order[id(s)] < order[id(w)]:
                restore.add(w.target)         # the adjoint may read this output (exp' = out)
                break
            skip = SHAPE_ONLY.get(s.op, ())
            if not any(isinstance(a, Var) and a.name in group and i not in skip for i, a in enumerate(s.args)):
                continue
            before = order[id(s)] < order[id(w)]
            same_loop = any(id(s) in ids and id(w) in ids for ids in inside.values())
            if before or same_loop:
                restore.add(w.target)
                break
    return restore


def _insert_saves(stmts, restore, r: _Reverser, types, names):
    for i in range(len(stmts) - 1, -1, -1):
        s = stmts[i]
        for blk in blocks(s):
            _insert_saves(blk, restore, r, types, names)
        if isinstance(s, SetItem) and s.target in restore:
            b = Builder(types, names, loc=s.loc, role="primal")
            old = b.op("getitem", b.sym(Var(s.target)), *[b.sym(a) for a in s.index_args], **dict(s.params))
            if old.rank:
                old = b.op("copy", old)
            saved = b.name(old, names.fresh(f"{s.target}_old", temp=False))
            r.saved[id(s)] = saved.value.name
            stmts[i:i] = b.stmts


def reverse(fn: Function, outputs: tuple, wrt: list, seed: str = "one", suffix: str = "grad",
            memory_limit: int | None = None) -> Function:
    """A function returning (outputs, d output[0] / d wrt) for scalar output[0] (seed "one"),
    taking the output's adjoint as a last parameter (seed "param", for vjp), or one adjoint
    parameter per output (seed "each", for the vjp of a function returning several values).
    Loops marked ct.checkpointed, and with a `memory_limit` in bytes the loops whose tape would
    not fit in it, keep snapshots of their state instead of a tape (checkpoint.py)."""
    refuse_nested_marks(fn.body)
    restore = _needs_restore(fn, outputs, wrt, seed)
    r, body, adjoint, params, grads, names, types, ret = _build(fn, outputs, wrt, seed, restore)
    _record_shapes_not_arrays(r, body, adjoint, names, types)
    tapes = _record(r, body, adjoint, names, types)
    changed, changed_in_place = checkpoint_loops(r, body, adjoint, names, types, tapes["new"], memory_limit)
    tapes["taped"] |= changed
    restore = restore | changed_in_place
    # returned values must be the final ones: popped or restored names are copied first
    ret_values = _final_values(ret.values, tapes, restore, body, names, types, ret.loc)
    result_body = tapes["new"] + body + ret_values["stmts"] + adjoint + [
        Return((ret_values["values"], tuple(grads)), ret.loc, role="adjoint")]
    result = Function(f"{fn.name}_{suffix}", params, result_body, fn.filename, types)
    result.names = names
    return coalesce_aliases(share_equal_values(drop_rewrites_of_the_same_value(eliminate_dead_code(result))))


# the SHAPE_ONLY ops whose rules also take a recorded shape tuple in place of the array
SHAPE_READS = {op: SHAPE_ONLY[op][0] for op in ("unbroadcast", "ones_like", "zeros_like", "empty_like",
                                                "full_like", "shape")}


def _written_arrays(body) -> set:
    """Every array written into (with the arrays that view it)."""
    groups = _view_groups(body)
    written = set()
    for st in walk(body):
        if isinstance(st, SetItem):
            written |= groups.get(st.target, {st.target})
    return written


class _Writes:
    """Where arrays are written, to tell whether a read of one can be repeated in the adjoint sweep.

    The sweep reverses the statements after a read before it reaches the read's adjoint, putting
    back what they overwrote; so an array that no write can change after the read (every write to
    it, or to a view of it, runs before the read and shares no loop with it) holds the same data
    then as at the read. Such a read, like one of an array never written, is done again instead
    of taped: a table of factors built once and then read in a loop over points costs nothing."""

    def __init__(self, body):
        self.groups = _view_groups(body)
        self.arrays = _written_arrays(body)
        self.order = {id(s): i for i, s in enumerate(walk(body))}
        self.loops = [{id(x) for x in walk(l.body)} | ({id(x) for x in walk(l.cond_body)}
                                                       if isinstance(l, While) else set())
                      for l in walk(body) if isinstance(l, (For, While))]
        self.writes: dict = {}      # array -> its SetItem statements (and its views')
        for st in walk(body):
            if isinstance(st, SetItem):
                for name in self.groups.get(st.target, {st.target}):
                    self.writes.setdefault(name, []).append(st)

    def after(self, read, name: str) -> bool:
        """Whether a write to `name` may run after the statement `read` (read must be in the body)."""
        if name not in self.arrays:
            return False
        at = self.order.get(id(read))
        if at is None:
            return True
        for w in self.writes.get(name, ()):
            if self.order[id(w)] > at or any(id(w) in ids and id(read) in ids for ids in self.loops):
                return True
        return False


def _record_shapes_not_arrays(r: _Reverser, body, adjoint, names, types) -> None:
    """An array made in a loop that the adjoint sweep reads only for its shape (to sum an adjoint
    back over broadcast axes, or to make zeros like it) has its shape taken where it is made, and
    the adjoint reads that: the tape then holds a tuple per trip instead of the array, the array is
    freed after its trip, and it can fold into the expression that uses it."""
    shape_uses: dict = {}
    other_reads: set = set()
    for s in walk(adjoint):
        if isinstance(s, Assign):
            for i, a in enumerate(s.args):
                if isinstance(a, Var):
                    if SHAPE_READS.get(s.op, -1) == i:
                        shape_uses.setdefault(a.name, []).append(s)
                    else:
                        other_reads.add(a.name)
        else:
            other_reads.update(v.name for v in operands(s) if isinstance(v, Var))
            if isinstance(s, SetItem):
                other_reads.add(s.target)
    defs = _def_blocks(body, {})
    written = _Writes(body)
    for name in sorted(set(shape_uses) - other_reads):
        homes = defs.get(name, [])
        ty = types.get(name)
        if (len(homes) != 1 or name in r.fn.params or name in r.carried or not isinstance(ty, Type)
                or not ty.rank or not r.info.in_loop.get(homes[0])):
            continue
        block = r.info.primal[homes[0]]
        where = next((i for i, st in enumerate(block) if isinstance(st, Assign) and st.target == name), None)
        if where is None or _recomputable(block[where], types, written):
            continue
        shape = names.fresh(f"{name}_shape", temp=False)
        types[shape] = table.get("shape").infer([ty], {})
        block.insert(where + 1, Assign(shape, "shape", (Var(name),), (), block[where].loc, "primal"))
        for st in shape_uses[name]:
            if st.op == "shape":
                st.op, st.args = "alias", (Var(shape),)
            else:
                st.args = tuple(Var(shape) if isinstance(a, Var) and a.name == name else a for a in st.args)


def _record(r: _Reverser, body, adjoint, names, types) -> dict:
    """Tapes: each value the adjoint sweep reads that is computed inside a loop is pushed where it is
    computed and popped at the start of its block's reversal."""
    needed = _reads_of(adjoint)
    primal_defs = _def_blocks(body, {})
    info = r.info
    new = []
    pushes: dict = {}     # id(primal block) -> list of (index after which to push, Push)
    pops: dict = {}       # id(primal block) -> list of Pop
    written = _Writes(body)
    recompute: dict = {}  # id(primal block) -> indices of statements to run again
    decided: set = set()
    worklist = sorted(needed)
    while worklist:
        name = worklist.pop(0)
        if name in decided:
            continue
        decided.add(name)
        homes = primal_defs.get(name)
        if not homes or name in r.fn.params:
            continue
        if name in r.carried:
            loop = _loop_carrying(body, name, primal_defs)
            target_block, where = loop.body, -1   # at the top of the body: the value at the trip's start
            what = f"the value at the start of each trip of the loop at {_short(loop.loc)}"
        else:
            block_id, where = homes[0], None
            if len(set(homes)) > 1:
                # a merged name: assigned in each branch of an if; record it after the if
                block_id, where = _if_site(body, name)
                if block_id is None:
                    continue
            if not info.in_loop.get(block_id):
                continue
            target_block = info.primal[block_id]
            if where is None:
                where = next(i for i, s in enumerate(target_block)
                             if (isinstance(s, (Assign, Pop)) and s.target == name)
                             or (isinstance(s, (For, While)) and s.counter == name))
            stmt = target_block[where]
            if _recomputable(stmt, types, written) and _shape_source_ok(stmt, r, primal_defs, types, written) and all(
                    _carried_value_ok(a.name, block_id, r, body, primal_defs)
                    for a in stmt.args if isinstance(a, Var)):
                recompute.setdefault(id(target_block), set()).add(where)
                worklist.extend(sorted(a.name for a in stmt.args if isinstance(a, Var)))
                continue
            made = "the trip count of the loop" if isinstance(stmt, (For, While)) else "the value computed"
            what = f"{made} at {_short(stmt.loc)}, once per trip of the enclosing loop"
        tape = names.fresh(f"{name}_tape", temp=False)
        loc = _loc_of(target_block, max(where, 0))
        new.append(TapeNew(tape, name, what, loc))
        pushes.setdefault(id(target_block), []).append((where, Push(tape, Var(name), loc)))
        pops.setdefault(id(target_block), []).append(Pop(name, tape, loc))
    for bid, indices in recompute.items():
        rev = info.reversed.get(bid)
        if rev is None:
            continue
        again = []
        for i in sorted(indices):
            st = copy.copy(info.primal[bid][i])
            st.role = "recompute"
            again.append(st)
        rev[0:0] = again
    for bid, items in pushes.items():
        block = info.primal[bid]
        for where, push in sorted(items, key=lambda p: -p[0]):
            block.insert(where + 1, push)
    for bid, items in pops.items():
        rev = info.reversed.get(bid)
        if rev is None:
            continue
        rev[0:0] = items[::-1]
    return {"new": new, "taped": {p.target for items in pops.values() for p in items}}


def _shape_source_ok(stmt, r, defs, types, written) -> bool:
    """A shape is read again only from an array the adjoint sweep has without a tape (an argument,
    a value made outside loops, or a view that is itself read again); else its tuple is recorded."""
    if stmt.op not in ("shape", "dim", "size"):
        return True
    (src,) = [a for a in stmt.args if isinstance(a, Var)][:1] or [None]
    if src is None or src.name in r.fn.params:
        return True
    homes = defs.get(src.name, [])
    if any(r.info.in_loop.get(h) for h in homes):
        block = r.info.primal[homes[0]] if len(homes) == 1 else []
        made = next((st for st in block if isinstance(st, Assign) and st.target == src.name), None)
        return made is not None and made.op == "getitem" and _recomputable(made, types, written)
    return True


def _carried_value_ok(name, block_id, r, body, defs) -> bool:
    """A carried name holds the value a block read only inside its own loop (after the loop, the
    adjoint sweep has put back an earlier trip's value)."""
    if name not in r.carried:
        return True
    loop = _loop_carrying(body, name, defs)
    return loop is not None and block_id in _contained(loop.body)


def _recomputable(stmt, types, written) -> bool:
    if not isinstance(stmt, Assign) or stmt.op not in RECOMPUTE_OPS:
        return False
    ty = types.get(stmt.target)
    if stmt.op == "getitem":
        source = stmt.args[0]
        return isinstance(source, Var) and not written.after(stmt, source.name) and \
            not any(isinstance(a, Var) and types[a.name].rank for a in stmt.args[1:])
    if stmt.op in ("shape", "dim", "size"):
        return True           # a shape tuple: reading it again costs less than recording it
    return ty is not None and ty.rank == 0


def _loop_carrying(body, name, defs):
    """The loop that carries `name` (lowering gives each loop its own carried names)."""
    homes = defs.get(name, [])
    for s in walk(body):
        if isinstance(s, (For, While)):
            inside = _contained(s.body)
            if any(h in inside for h in homes) and any(h not in inside for h in homes):
                return s
    return None


def _if_site(body, name):
    """The block and index of the if whose branches both assign `name`."""
    def go(stmts):
        for i, s in enumerate(stmts):
            if isinstance(s, If):
                a = any(isinstance(x, Assign) and x.target == name for x in walk(s.body))
                c = any(isinstance(x, Assign) and x.target == name for x in walk(s.orelse))
                if a and c:
                    inner = go(s.body) or go(s.orelse)
                    return inner or (id(stmts), i)
            for blk in blocks(s):
                found = go(blk)
                if found:
                    return found
        return None
    found = go(body)
    return found if found else (None, None)


def _loc_of(block, i):
    if 0 <= i < len(block):
        return block[i].loc
    return block[0].loc if block else None


def _short(loc) -> str:
    return loc.short() if loc is not None else "?"


def _final_values(values, tapes, restore, body, names, types, loc):
    """Copies of returned values that the adjoint sweep would change (popped, or restored in place)."""
    mapping = {}
    groups = _view_groups(body)
    b = Builder(types, names, loc=loc, role="primal")

    def fix(v):
        if isinstance(v, tuple):
            return tuple(fix(x) for x in v)
        if not isinstance(v, Var):
            return v
        restored = bool(groups.get(v.name, {v.name}) & restore)
        if v.name in tapes["taped"] or restored:
            if v.name not in mapping:
                op = "copy" if restored and types[v.name].rank else "alias"
                mapping[v.name] = b.op(op, b.sym(v), target=names.fresh(f"{v.name}_final", temp=False)).value
            return mapping[v.name]
        return v
    out = fix(values)
    return {"values": out, "stmts": b.stmts}
