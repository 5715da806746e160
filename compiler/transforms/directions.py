"""Vector forward mode: the tangents of K directions carried at once, so the primal runs once.

`forward(..., directions=True)` builds the one-direction JVP and marks which statements compute
tangents; this pass then gives every tangent that lives from one statement to another a leading
axis of length K (`x_dot[k]` is its tangent in direction k) and wraps each run of consecutive
tangent statements in one loop `for k in range(directions)`, placed after the run's primal
statements. The JVP rules are used unchanged: inside the loop they see one direction.

- A tangent statement that reads no tangent (the `cos(x)` of sin's rule) runs once, before the loop.
- A tangent made and read within one run stays a per-direction local of the loop.
- A number's tangent is one buffer of K values for the whole function, written in place.
- Calls to units call their vector JVP unit; tapes of tangents record all K directions per trip.

Where a tangent has no stacked form here (CannotStack), the caller falls back to one JVP per
direction, which is always correct."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.nodes import (Assign, SetItem, Return, If, For, While, Break, Continue, TapeNew, Push, Pop,
                        Var, Const, Function, walk, blocks, flat_values)
from ..ir.types import Type, TupleType, INT, FLOAT, stacked
from ..ir.primitives import PRIMITIVES
from .cleanup import eliminate_dead_code

ROW = (("index", (("int",),)),)                           # x[k]
WHOLE = (("index", (("slice", False, False, False),)),)    # x[:] = ...: a copy into x itself


class CannotStack(Exception):
    """A tangent this pass has no stacked form for."""


@dataclass
class Marks:
    """What forward mode recorded while it built the one-direction JVP."""
    tangent: set = field(default_factory=set)        # ids of statements that compute tangents
    structural: set = field(default_factory=set)     # ids of those run once on all directions
    primal_targets: set = field(default_factory=set)  # names such statements assign that are values
    partner: dict = field(default_factory=dict)      # tangent name -> the value of the same shape
    keep: list = field(default_factory=list)         # the marked statements (their ids stay valid)

    def mark(self, stmts, structural: bool = False) -> None:
        for s in stmts:
            self.keep.append(s)
            self.tangent.add(id(s))
            if structural:
                self.structural.add(id(s))


@dataclass
class _Run:
    primal: list = field(default_factory=list)
    tangent: list = field(default_factory=list)
    reads: set = field(default_factory=set)     # values the tangent statements read, or whose shape they take


def _names(values) -> set:
    return {v.name for v in flat_values(values) if isinstance(v, Var)}


def _stmt_reads(s) -> set:
    if isinstance(s, Assign):
        return _names(s.args)
    if isinstance(s, SetItem):
        return _names((s.value, *s.index_args))
    if isinstance(s, Push):
        return _names((s.value,))
    if isinstance(s, Pop):
        return {s.tape}
    return set()


def _stmt_writes(s) -> set:
    if isinstance(s, (Assign, Pop, SetItem)):
        return {s.target}
    if isinstance(s, (Push, TapeNew)):
        return {s.tape}
    return set()


class _Stacker:
    def __init__(self, fn: Function, marks: Marks, tangent_params: list):
        self.marks = marks
        self.names, self.types = fn.names, fn.types
        self.orig = dict(fn.types)
        self.params = list(tangent_params)
        self.tnames = set(tangent_params)
        defs: dict = {}
        self.set_targets = set()
        for s in walk(fn.body):
            if isinstance(s, (Assign, Pop)):
                defs[s.target] = defs.get(s.target, 0) + 1
                if id(s) in marks.tangent and s.target not in marks.primal_targets:
                    self.tnames.add(s.target)
            elif isinstance(s, SetItem):
                self.set_targets.add(s.target)
        self.defs = defs
        self.hoisted: set = set()
        self.lifted: set = set()          # ids of products computed for all directions at once
        self.whole: set = set()           # ids of elementwise statements run on whole stacks
        self.defined = set(fn.params) | set(defs)
        self.k_count = self.fresh("directions", Type(INT, 0), temp=False)

    # --- 1. runs ---------------------------------------------------------------------------
    def _is_tuple(self, name) -> bool:
        return isinstance(self.orig.get(name), TupleType)

    def _per_direction(self, s) -> bool:
        if id(s) not in self.marks.tangent or id(s) in self.marks.structural:
            return False
        if isinstance(s, Assign):
            return not (self._is_tuple(s.target) or any(self._is_tuple(n) for n in _names(s.args) & self.tnames))
        return isinstance(s, SetItem)

    def _hoistable(self, s) -> bool:
        """A tangent temporary that reads no tangent: a coefficient (cos(x)), computed once."""
        return (isinstance(s, Assign) and self.names.is_temp(s.target) and self.defs.get(s.target) == 1
                and s.target not in self.set_targets and not (_names(s.args) & self.tnames))

    def _liftable(self, s) -> bool:
        """A product of a matrix (or vector) by one direction's tangent vector: all directions
        are one matrix product (BLAS) instead of K matrix-vector products."""
        if not (isinstance(s, Assign) and s.op in ("matmul", "dot") and len(s.args) == 2
                and all(isinstance(a, Var) for a in s.args)):
            return False
        tangent = [a.name in self.tnames for a in s.args]
        if sum(tangent) != 1:
            return False
        t, p = (self.orig[s.args[i].name] for i in ((0, 1) if tangent[0] else (1, 0)))
        return t.rank == 1 and p.rank in (1, 2)

    def _whole(self, s) -> bool:
        """An elementwise statement on arrays: NumPy's broadcasting runs it on all directions at
        once (x_dot of shape (K,) + S against a value of shape S), and the loop backend fuses a
        run of them into one nest over directions and elements, with no array per direction."""
        if not isinstance(s, Assign) or isinstance(self.orig.get(s.target), TupleType):
            return False
        rank = self.orig[s.target].rank
        if rank and s.op == "zeros_like" and not (_names(s.args) & self.tnames):
            return True              # zeros in every direction: one stacked_zeros
        prim = PRIMITIVES.get(s.op)
        if rank == 0 or not (s.op in ("alias", "copy") or (prim is not None and prim.broadcasting)):
            return False
        tangents = [a for a in s.args if isinstance(a, Var) and a.name in self.tnames]
        others = [a for a in s.args if isinstance(a, Var) and a.name not in self.tnames]
        return bool(tangents) and all(isinstance(self.orig.get(a.name), Type) and self.orig[a.name].rank <= rank
                                      for a in others)

    def segment(self, stmts) -> list:
        out: list = []
        run = _Run()

        def flush():
            nonlocal run
            if run.tangent:
                out.append(run)
            else:
                out.extend(run.primal)
            run = _Run()

        for s in stmts:
            if isinstance(s, (If, For, While)):
                flush()
                for b in blocks(s):
                    b[:] = self.segment(b)
                out.append(s)
                continue
            if isinstance(s, (Return, Break, Continue)):
                flush()
                out.append(s)
                continue
            if self._per_direction(s) and self._liftable(s):
                flush()
                self.lifted.add(id(s))
                out.append(s)
                continue
            if self._per_direction(s) and self._hoistable(s):
                self.tnames.discard(s.target)
                self.hoisted.add(s.target)
                self.marks.tangent.discard(id(s))      # a primal statement from here on
            elif self._per_direction(s):
                if self._whole(s):
                    self.whole.add(id(s))
                run.tangent.append(s)
                run.reads |= _stmt_reads(s) - self.tnames
                if isinstance(s, Assign) and s.target in self.marks.partner and not self._scalar(s.target):
                    run.reads.add(self.marks.partner[s.target])     # its stack takes that value's shape
                continue
            elif id(s) in self.marks.tangent:
                flush()
                out.append(s)
                continue
            if _stmt_writes(s) & run.reads:
                flush()
            run.primal.append(s)
        flush()
        return out

    # --- 2. which tangents need all K directions stored ---------------------------------------
    def classify(self, items) -> None:
        seen: dict = {}          # name -> (run id or None, first occurrence is a definition)
        spread: set = set()

        def occur(name, where, is_def):
            if name not in self.tnames:
                return
            if name not in seen:
                seen[name] = (where, is_def)
            elif seen[name][0] != where or where is None:
                spread.add(name)

        def visit(items):
            for it in items:
                if isinstance(it, _Run):
                    loop = 0             # whole-stack statements split a run's direction loop
                    for s in it.tangent:
                        loop += id(s) in self.whole
                        where = None if id(s) in self.whole else (id(it), loop)
                        for n in sorted(_stmt_reads(s)):
                            occur(n, where, False)
                        if isinstance(s, SetItem):
                            occur(s.target, where, False)
                        else:
                            occur(s.target, where, True)
                    continue
                for n in sorted(_stmt_reads(it)) + sorted(_names(getattr(it, "values", ()))):
                    occur(n, None, False)
                for n in sorted(_stmt_writes(it)):
                    occur(n, None, True)
                for b in blocks(it):
                    visit(b)

        visit(items)
        self.stacked = {n for n in self.tnames if n in spread or n in self.params or not seen.get(n, (0, True))[1]}
        for n in self.stacked:
            if n in self.orig:
                self.types[n] = stacked(self.orig[n])

    # --- 3. the stacked function ---------------------------------------------------------------
    def fresh(self, base: str, ty, temp: bool = True) -> str:
        name = self.names.fresh(base, temp=temp)
        self.types[name] = ty
        return name

    def emit(self, items) -> list:
        out: list = []
        for it in items:
            if isinstance(it, _Run):
                out.extend(self.run(it))
            elif isinstance(it, (If, For, While)):
                for b in blocks(it):
                    b[:] = self.emit(b)
                out.append(it)
            elif isinstance(it, Return):
                out.extend(self.returned(it))
            elif id(it) in self.lifted:
                out.extend(self.lifted_product(it))
            elif id(it) in self.marks.tangent:
                out.extend(self.structural(it))
            else:
                out.append(it)
        return out

    def _scalar(self, name) -> bool:
        ty = self.orig.get(name)
        return isinstance(ty, Type) and ty.rank == 0

    def _as_tangent(self, v, out: list):
        """A value used as a whole tangent outside the loops: a tangent temporary that read no
        tangent is zero in every direction."""
        if isinstance(v, Var) and v.name in self.stacked:
            return v
        if isinstance(v, Var) and v.name in self.hoisted or isinstance(v, Const):
            z = self.fresh("t", stacked(self.orig[v.name] if isinstance(v, Var) else Type(FLOAT, 0)))
            out.append(Assign(z, "stacked_zeros", (Var(self.k_count), v), (), None, "tangent"))
            return Var(z)
        raise CannotStack(f"a tangent {v} read outside the direction loops")

    def structural(self, s) -> list:
        out: list = []
        if isinstance(s, TapeNew):
            return [s]
        if isinstance(s, Push):
            v = self._as_tangent(s.value, out)
            if self._scalar(v.name):     # a number's buffer is written again
                c = self.fresh("t", self.types[v.name])
                out.append(Assign(c, "copy", (v,), (), s.loc, "tangent"))
                v = Var(c)
            out.append(Push(s.tape, v, s.loc, s.role))
            return out
        if isinstance(s, Assign) and s.op == "call":
            # a vector JVP unit: the primal arguments, then one stacked tangent per masked one
            args = list(s.args)
            first = len(args) - sum(1 for m in s.param("unit").chain[-1][1] if m)
            s.args = tuple(args[:first] + [self._as_tangent(a, out) for a in args[first:]])
            out.append(s)
            return out
        if isinstance(s, Assign) and s.op not in ("tuple_getitem", "make_tuple", "alias"):
            raise CannotStack(f"{s.op} of a tuple of tangents")
        if isinstance(s, Assign):
            s.args = tuple(self._as_tangent(a, out) if isinstance(a, Var) and a.name in self.tnames | self.hoisted
                           else a for a in s.args)
        target = s.target if isinstance(s, (Assign, Pop)) else None
        if target is not None and target in self.stacked and self._scalar(target):
            # a number's tangent lives in its buffer: copy the K values in
            t = self.fresh("t", self.types[target])
            s.target = t
            out.append(s)
            out.append(SetItem(target, (), WHOLE, Var(t), s.loc, "tangent"))
            return out
        out.append(s)
        return out

    def lifted_product(self, s: Assign) -> list:
        """matmul(A, x_dot) for all directions: x_dot (K, n) @ A.T; matmul(x_dot, B): x_dot @ B."""
        out: list = []
        first = s.args[0].name in self.tnames
        tx, p = (s.args[0], s.args[1]) if first else (s.args[1], s.args[0])
        if tx.name not in self.stacked:
            raise CannotStack(f"{tx} is not stored for all directions")
        if not first and self.orig[p.name].rank == 2:
            pt = self.fresh("t", self.orig[p.name])
            out.append(Assign(pt, "transpose", (p,), (), s.loc, s.role))
            p = Var(pt)
        target = s.target
        if self._scalar(target):
            target = self.fresh("t", self.types[s.target])
        out.append(Assign(target, "matmul", (tx, p), (), s.loc, s.role))
        if target != s.target:
            out.append(SetItem(s.target, (), WHOLE, Var(target), s.loc, "tangent"))
        return out

    def whole_stack(self, s: Assign, renamed: dict) -> list:
        """The statement itself on the stacks; a tangent of lower rank than the result gets axes
        of length 1 after the directions axis (its per-direction broadcast)."""
        out: list = []
        rank = self.orig[s.target].rank
        if s.op == "zeros_like":
            return [Assign(s.target, "stacked_zeros", (Var(self.k_count), s.args[0]), (), s.loc, s.role)]
        args = []
        for a in s.args:
            if isinstance(a, Var) and a.name in self.stacked:
                lower = rank - self.orig[a.name].rank
                a = Var(renamed.get(a.name, a.name))
                for _ in range(lower):
                    e = self.fresh("t", Type(FLOAT, self.types[a.name].rank + 1))
                    out.append(Assign(e, "expand_dims", (a,), (("axis", 1),), s.loc, s.role))
                    a = Var(e)
            args.append(a)
        # a stack written in place later gets its own array, as the value does
        op = "copy" if s.op == "alias" and s.target in self.set_targets else s.op
        out.append(Assign(s.target, op, tuple(args), s.params, s.loc, s.role))
        return out

    def returned(self, r: Return) -> list:
        if len(r.values) != 2 or not isinstance(r.values[1], tuple):
            raise CannotStack("an unexpected return")
        out: list = []
        outs = tuple(self._as_tangent(v, out) for v in r.values[1])
        return out + [Return((r.values[0], outs), r.loc, r.role)]

    def run(self, run: _Run) -> list:
        """The run's primal statements, then its tangent statements in order: consecutive
        per-direction ones as one loop over directions, elementwise ones on whole stacks (so
        consecutive ones fuse into one loop nest)."""
        out = list(run.primal)
        count = Var(self.k_count)
        per_k = [s for s in run.tangent if id(s) not in self.whole]
        whole = {s.target for s in run.tangent if id(s) in self.whole}
        # array tangents assigned per direction: room for K directions; a fresh name where the run
        # reads the old value first (a carried value), bound to the name after the run
        buffer: dict = {}
        read_first: set = set()
        assigned: list = []
        for s in run.tangent:
            read_first |= {n for n in _stmt_reads(s) if n not in assigned}
            if isinstance(s, SetItem) and s.target not in assigned:
                read_first.add(s.target)
            if isinstance(s, Assign) and s.target not in assigned:
                assigned.append(s.target)
        rows = {s.target for s in per_k if isinstance(s, Assign)} & self.stacked
        if rows & whole:
            raise CannotStack("a tangent assigned both per direction and on its whole stack in one run")
        after: list = []
        for n in [n for n in assigned if n in rows and not self._scalar(n)]:
            like = self.marks.partner.get(n)
            if like is None or like not in self.defined:
                raise CannotStack(f"no value of the shape of {n}")
            name = n
            if n in read_first:
                name = self.fresh(f"{n}_next", self.types[n], temp=False)
                after.append(Assign(n, "alias", (Var(name),), (), None, "tangent"))
            buffer[n] = name
            out.append(Assign(name, "stacked_empty", (count, Var(like)), (), None, "tangent"))
        written: set = set()
        loop: list = []              # the open loop over directions: [k, its body, per-name values]

        def close():
            if loop:
                k, body, _ = loop
                loc = next((t.loc for t in body if t.loc is not None), None)
                out.append(For(k, Const(0), count, Const(1), body, loc, "tangent"))
                loop.clear()

        def read(v):
            """v in direction k: a stack's row (a view), or the number written this trip."""
            if not (isinstance(v, Var) and v.name in self.stacked):
                return v
            k, body, current = loop
            if current.get(v.name) is None:
                src = buffer.get(v.name, v.name) if v.name in written else v.name
                view = self.fresh(f"{v.name}_k", self.orig[v.name], temp=False)
                body.append(Assign(view, "getitem", (Var(src), Var(k)), ROW, None, "tangent"))
                current[v.name] = Var(view)
            return current[v.name]

        for s in run.tangent:
            if id(s) in self.whole:
                close()
                out.extend(self.whole_stack(s, {n: buffer[n] for n in written if n in buffer}))
                continue
            if not loop:
                loop.extend([self.fresh("k", Type(INT, 0), temp=False), [], {}])
            k, body, current = loop
            if isinstance(s, SetItem):
                value, index = read(s.value), tuple(read(a) for a in s.index_args)
                if s.target in self.stacked:         # x_dot[k, index]: the write reaches the stack
                    if any(isinstance(a, Var) and getattr(self.types.get(a.name), "rank", 0) for a in index):
                        # k and an integer array would index together (NumPy's advanced indexing)
                        raise CannotStack("a write at integer-array positions into a tangent")
                    pattern = (("int",),) + dict(s.params)["index"]
                    dest = buffer.get(s.target, s.target) if s.target in written else s.target
                    body.append(SetItem(dest, (Var(k),) + index, (("index", pattern),), value, s.loc, s.role, op=s.op))
                else:
                    body.append(SetItem(s.target, index, s.params, value, s.loc, s.role, op=s.op))
                continue
            args = tuple(read(a) for a in s.args)
            if s.target not in self.stacked:
                body.append(Assign(s.target, s.op, args, s.params, s.loc, s.role))
                continue
            if s.op == "alias":
                value = args[0]
            else:
                value = Var(self.fresh("t", self.orig[s.target]))
                body.append(Assign(value.name, s.op, args, s.params, s.loc, s.role))
            body.append(SetItem(buffer.get(s.target, s.target), (Var(k),), ROW, value, s.loc, s.role))
            written.add(s.target)
            current[s.target] = value if self._scalar(s.target) else None
        close()
        return out + after

    def entry(self) -> list:
        """The number of directions, and the buffers of numbers' tangents."""
        first = self.params[0]
        shape = self.fresh("t", TupleType((Type(INT, 0),) * (self.orig[first].rank + 1)))
        out = [Assign(shape, "shape", (Var(first),), (), None, "tangent"),
               Assign(self.k_count, "tuple_getitem", (Var(shape),), (("i", 0),), None, "tangent")]
        for n in sorted(self.stacked):
            if not self._scalar(n):
                continue
            if n in self.params:
                if self.defs.get(n):
                    out.append(Assign(n, "copy", (Var(n),), (), None, "tangent"))
            else:
                out.append(Assign(n, "stacked_empty", (Var(self.k_count), Const(0.0)), (), None, "tangent"))
        return out


def stack_tangents(fn: Function, marks: Marks, tangent_params: list) -> Function:
    """fn, a one-direction JVP whose tangent statements `marks` names, as a vector JVP: each
    tangent parameter and result gains a leading axis of directions."""
    st = _Stacker(fn, marks, tangent_params)
    items = st.segment(fn.body)
    st.classify(items)
    fn.body = st.entry() + st.emit(items)
    return eliminate_dead_code(fn)
