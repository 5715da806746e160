"""Checkpointed loops: reverse mode through a `for` loop that keeps a few snapshots of the loop's
state instead of a tape of every trip (binomial checkpointing, Griewank and Walther's revolve).

Reverse mode (reverse.py) first builds the loop as usual: a primal loop whose body pushes what the
adjoint reads, and an adjoint loop whose body pops it. For a loop marked
`for t in ct.checkpointed(range(n), snapshots=s)`, or one a memory budget picks, this pass then
rewrites the pair:

- the primal loop runs its body without the pushes, taking a snapshot of the loop-carried state
  (the names the loop carries, and the arrays it writes into) before the trips the schedule says
  (`revolve_forward`);
- the adjoint loop becomes a loop over the schedule's actions (`revolve_reverse`, see
  backends/support_checkpoint.py): restore the state from the top snapshot, advance it a few
  trips without recording, take or drop a snapshot, or reverse one trip, which runs the original
  recording body once and then the original adjoint body, so one trip's tape exists at a time.

Snapshots are lists used as stacks, like tapes; arrays the loop writes into in place are copied
when they are snapshotted and when they are restored, the others are shared. The trip count must
be known when the loop starts, so a loop that may break cannot be checkpointed, and the loop must
not sit inside another loop (its schedule and snapshots would have to be recorded per trip)."""
from __future__ import annotations

import copy
import warnings

from ..errors import CompileError
from ..ir.builder import Builder
from ..ir.nodes import Assign, For, If, Pop, Push, SetItem, TapeNew, Var, Const, While, walk, blocks, operands
from ..ir.types import Type, INT

RESTORE, ADVANCE, SNAPSHOT, DROP = 0, 1, 2, 3       # the action codes of support_checkpoint.py
WORD = 8                                            # bytes per number: the generated code computes in float64
WHOLE = (("index", (("slice", False, False, False),)),)    # x[:] = ...: a copy into the array itself


def parse_budget(limit) -> int | None:
    """Bytes from a memory limit: a number of bytes, or a string such as "1GiB", "500 MB"."""
    if limit is None:
        return None
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0:
        return int(limit)
    units = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
             "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}
    if isinstance(limit, str):
        text = limit.strip().lower().replace(" ", "")
        number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(number):]
        try:
            value = float(number)
        except ValueError:
            value = -1.0
        if unit in units and value > 0:
            return int(value * units[unit])
    raise ValueError(f"memory_limit must be a positive number of bytes or a size such as '1GiB', got {limit!r}")


def checkpoint_loops(r, body: list, adjoint: list, names, types, news: list, budget: int | None = None) -> tuple:
    """Rewrite every marked loop (and, with a budget in bytes, every loop the budget may need to
    checkpoint) and its adjoint twin. A marked loop's tapes are filled and emptied one trip at a
    time in the reverse sweep: their `TapeNew`s move from `news` (made at the function's start)
    to the start of the reverse sweep, so that the forward sweep of a unit does not return them
    empty.
    Returns the names whose final values the adjoint sweep changes (the loops' states), and
    those of them it changes in place: the caller keeps the final values of those it returns (a
    copy of the second)."""
    changed: set = set()
    in_place: set = set()
    sweep_tapes: list = []
    for block, loop in _loops(body, []):
        marked = isinstance(loop, For) and loop.checkpoint is not None
        if not marked and budget is None:
            continue
        if isinstance(loop, While) or loop.counter is not None:
            if not marked:
                if _twin(adjoint, r.info.reversed.get(id(loop.body))) is not None:
                    warnings.warn(f"{loop.loc.short()}: memory_limit: this loop is recorded in full, since its "
                                  "trip count is not known when it starts (a while loop, or a loop with break)",
                                  stacklevel=2)
                continue
            raise CompileError("this loop cannot be checkpointed: it may break, so its trip count is not "
                               "known when it starts", loop.loc,
                               hint="drop the break (run the remaining trips without effect), or use "
                                    "range(...) without ct.checkpointed to record every trip")
        twin = _twin(adjoint, r.info.reversed.get(id(loop.body)))
        if twin is None:
            continue                 # nothing in the loop is differentiated: no tape to save
        adj_block, adj_loop = twin
        rewrite = _Rewrite(r, body, loop, adj_loop, names, types)
        changed |= rewrite.state
        in_place |= rewrite.copied
        if marked:
            snaps = loop.checkpoint
            recorded = {p.tape for p in walk(loop.body) if isinstance(p, Push)}
            moved = [t for t in news if isinstance(t, TapeNew) and t.tape in recorded]
            news[:] = [t for t in news if t not in moved]
            for t in moved:
                t.role = "adjoint"       # part of the reverse sweep (where a unit is split in two)
            sweep_tapes += moved
            block[_index(block, loop)] = rewrite.forward_statements(snaps)
            adj_block[_index(adj_block, adj_loop)] = rewrite.reverse_statements(snaps)
        else:
            choice, taped, pre = rewrite.budget_choice(budget)
            rewrite.reuse = False            # the recording body stays in the taped branch too
            block[_index(block, loop)] = pre + [If(taped, [loop], rewrite.forward_statements(choice), loop.loc)]
            adj_block[_index(adj_block, adj_loop)] = [
                If(taped, [copy.deepcopy(adj_loop)], rewrite.reverse_statements(choice), loop.loc, role="adjoint")]
    adjoint[0:0] = sweep_tapes        # at the top level, where tapes.group_tapes finds them
    _splice(body)
    _splice(adjoint)
    return changed, in_place


def refuse_nested_marks(stmts, in_loop: bool = False) -> None:
    """A ct.checkpointed loop inside another loop (or in a while loop's condition) is an error."""
    for s in stmts:
        if isinstance(s, For) and s.checkpoint is not None and in_loop:
            raise CompileError("this checkpointed loop is inside another loop", s.loc,
                               hint="checkpoint the outer loop instead (ct.checkpointed on its range), or "
                                    "move the inner loop into a function decorated with @ct.checkpoint")
        for blk in blocks(s):
            refuse_nested_marks(blk, in_loop or isinstance(s, (For, While)))


def _loops(stmts, out: list) -> list:
    """(block, loop) of every loop that is not inside another loop."""
    for s in stmts:
        if isinstance(s, (For, While)):
            out.append((stmts, s))
        elif isinstance(s, If):
            _loops(s.body, out)
            _loops(s.orelse, out)
    return out


def _twin(stmts, reversed_body):
    """The adjoint loop whose body is `reversed_body`, with its block."""
    if reversed_body is None:
        return None
    for s in stmts:
        if isinstance(s, For) and s.body is reversed_body:
            return stmts, s
        for blk in blocks(s):
            found = _twin(blk, reversed_body)
            if found:
                return found
    return None


def _index(block, stmt) -> int:
    return next(i for i, s in enumerate(block) if s is stmt)


def _splice(stmts) -> None:
    """Replace the lists left in blocks by the rewrite with their statements."""
    out = []
    for s in stmts:
        if isinstance(s, list):
            out.extend(s)
        else:
            out.append(s)
    stmts[:] = out
    for s in stmts:
        for blk in blocks(s):
            _splice(blk)


def _without_pushes(stmts) -> list:
    """A copy of a recording body that records nothing."""
    out = []
    for s in copy.deepcopy(stmts):
        if isinstance(s, Push):
            continue
        for blk in blocks(s):
            blk[:] = _without_pushes(blk)
        out.append(s)
    return out


def _prune(stmts: list, keep: set) -> list:
    """Drop the assignments of a body that records nothing whose values nothing in it reads (what
    only the adjoint read: shapes, saved old data), keeping the loop's state."""
    while True:
        read = set(keep)
        for s in walk(stmts):
            read.update(v.name for v in operands(s) if isinstance(v, Var))
            if isinstance(s, (For, While)) and s.counter:
                read.add(s.counter)
        if not _drop_unread(stmts, read):
            return stmts


def _drop_unread(stmts: list, read: set) -> bool:
    before = len(stmts)
    stmts[:] = [s for s in stmts if not (isinstance(s, Assign) and s.target not in read)]
    dropped = len(stmts) != before
    for s in stmts:
        for blk in blocks(s):
            dropped = _drop_unread(blk, read) or dropped
    return dropped


class _Rewrite:
    """The statements of one checkpointed loop: its forward sweep and its schedule interpreter."""

    def __init__(self, r, body, loop: For, adj_loop: For, names, types):
        self.loop, self.adj_loop, self.names, self.types = loop, adj_loop, names, types
        self.loc = loop.loc
        self.state = _state(r, body, loop, types)
        written = _written(body)
        self.copied = {n for n in self.state if types[n].rank and n in written}
        # arrays made before the loop and written in place in it keep their identity (views of
        # them stay views): restored by copying into them. Carried arrays written in place are
        # rebound to copies, and the array they held when the loop started gets the first
        # trip's state back at the end (views of it taken before the loop see it as it was).
        from .reverse import _carried_in, _def_blocks
        carried = _carried_in(loop, _def_blocks(body, {}))
        self.fixed = {n for n in self.copied if n not in carried}
        self.entry = {n: names.fresh(f"{n}_entry", temp=False) for n in sorted(self.copied - self.fixed)}
        self.top = {n: names.fresh(f"{n}_top", temp=False) for n in sorted(self.fixed)}
        for n in self.entry:
            types[self.entry[n]] = types[n]
        for n in self.top:
            types[self.top[n]] = types[n]
        self.plain = _prune(_without_pushes(loop.body), self.state)
        self.snapshots = {n: names.fresh(f"{n}_snapshots", temp=False) for n in sorted(self.state)}
        self.reuse = True           # the recording body moves into the schedule (no copy needed)
        self.trip = names.fresh(f"{loop.var}_trip", temp=False)
        types[self.trip] = Type(INT, 0)

    def builder(self, role: str) -> Builder:
        return Builder(self.types, self.names, loc=self.loc, role=role)

    def _int(self, base: str) -> str:
        name = self.names.fresh(base, temp=False)
        self.types[name] = Type(INT, 0)
        return name

    def set_loop_var(self, b: Builder, trip) -> None:
        """The loop variable of trip `trip`: start + trip * step."""
        loop = self.loop
        b.op("add", b.sym(loop.start), b.op("mul", b.sym(trip), b.sym(loop.step)), target=loop.var)

    def push_state(self, b: Builder) -> list:
        for n in sorted(self.state):
            value = b.op("copy", b.sym(Var(n))).value if n in self.copied else Var(n)
            b.stmts.append(Push(self.snapshots[n], value, self.loc))
        return b.stmts

    # --- the forward sweep ---
    def forward_statements(self, snaps) -> list:
        loop = self.loop
        b = self.builder("primal")
        news = [TapeNew(self.snapshots[n], n, f"snapshots of the state of the loop at {self.loc.short()}", self.loc)
                for n in sorted(self.snapshots)]
        at = b.op("revolve_forward", b.sym(Var(loop.trips)), b.sym(snaps),
                  target=self.names.fresh(f"{loop.var}_snapshot_trips", temp=False))
        following = self._int(f"{loop.var}_next_snapshot")
        b.op("alias", b.const(0), target=following)
        head = b.stmts
        trip = Var(self.trip)
        b.stmts = []
        self.set_loop_var(b, trip)
        due = b.op("eq", trip, b.op("getitem", at, b.sym(Var(following)), index=(("int",),)))
        set_var = b.stmts
        b.stmts = []
        self.push_state(b)
        b.op("add", b.sym(Var(following)), b.const(1), target=following)
        take = If(due.value, b.stmts, [], self.loc)
        run = For(self.trip, Const(0), Var(loop.trips), Const(1), set_var + [take] + self.plain, self.loc)
        b.stmts = []
        for n in sorted(self.entry):
            b.op("alias", b.sym(Var(n)), target=self.entry[n])
        return news + head + b.stmts + [run]

    # --- the reverse sweep ---
    def reverse_statements(self, snaps) -> list:
        loop = self.loop
        b = self.builder("adjoint")
        table = b.op("revolve_reverse", b.sym(Var(loop.trips)), b.sym(snaps),
                     target=self.names.fresh(f"{loop.var}_schedule", temp=False))
        steps = b.op("dim", table, axis=0)
        head = b.stmts
        step = self._int(f"{loop.var}_action")
        b.stmts = []
        fields = [b.op("getitem", table, b.sym(Var(step)), b.const(k), index=(("int",), ("int",)),
                       target=self._int(f"{loop.var}_{what}")).value.name
                  for k, what in enumerate(("do", "from", "to"))]
        kind, first, last = fields
        read = b.stmts
        branches = [(RESTORE, self._restore()), (ADVANCE, self._advance(first, last)),
                    (SNAPSHOT, self._snapshot()), (DROP, self._drop())]
        chain = self._reverse_trip(first)
        for code, stmts in reversed(branches):
            b.stmts = []
            test = b.op("eq", b.sym(Var(kind)), b.const(code))
            chain = b.stmts + [If(test.value, stmts, chain, self.loc, role="adjoint")]
        b.stmts = []
        for n in sorted(self.entry):     # the first trip's state, back in the array the loop started with
            b.stmts.append(SetItem(self.entry[n], (), WHOLE, Var(n), self.loc, "adjoint"))
            b.op("alias", b.sym(Var(self.entry[n])), target=n)
        return head + [For(step, Const(0), steps.value, Const(1), read + chain, self.loc, role="adjoint")] + b.stmts

    def _restore(self) -> list:
        b = self.builder("adjoint")
        for n in sorted(self.state):
            held = self.top.get(n, n)
            b.stmts.append(Pop(held, self.snapshots[n], self.loc))
            b.stmts.append(Push(self.snapshots[n], Var(held), self.loc))
            if n in self.fixed:
                b.stmts.append(SetItem(n, (), WHOLE, Var(held), self.loc, "adjoint"))
            elif n in self.copied:
                b.op("copy", b.sym(Var(n)), target=n)
        return b.stmts

    def _advance(self, first: str, last: str) -> list:
        b = self.builder("recompute")
        self.set_loop_var(b, Var(self.trip))
        body = b.stmts + copy.deepcopy(self.plain)
        return [For(self.trip, Var(first), Var(last), Const(1), body, self.loc, role="recompute")]

    def _snapshot(self) -> list:
        return self.push_state(self.builder("adjoint"))

    def _drop(self) -> list:
        # popped into names that hold nothing needed here (the next action restores the state),
        # and that other statements read, so the pop is kept like any other assignment of them
        return [Pop(self.top.get(n, n), self.snapshots[n], self.loc) for n in sorted(self.state)]

    def _reverse_trip(self, trip: str) -> list:
        b = self.builder("recompute")
        self.set_loop_var(b, Var(trip))
        recording = self.loop.body if self.reuse else copy.deepcopy(self.loop.body)
        return b.stmts + recording + self.adj_loop.body

    # --- the memory budget ---
    def budget_choice(self, budget: int) -> tuple:
        """(the snapshots the loop gets, 0 for a tape of every trip; the statements computing it):
        a trip's tape is estimated as one number per number it records, and the largest state
        array per array it records."""
        b = self.builder("primal")
        sizes = [b.op("size", b.sym(Var(n))) for n in sorted(self.state) if self.types[n].rank]
        scalars = sum(1 for n in self.state if not self.types[n].rank)
        state = b.const(scalars)
        largest = b.const(1)
        for size in sizes:
            state = b.op("add", state, size)
            largest = b.op("maximum", largest, size)
        pushed = [p.value for p in walk(self.loop.body) if isinstance(p, Push)]
        arrays = sum(1 for v in pushed if isinstance(v, Var) and getattr(self.types.get(v.name), "rank", 0))
        numbers = len(pushed) - arrays
        tape = b.op("add", b.op("mul", largest, b.const(arrays)), b.const(numbers))
        choice = b.op("checkpoint_snapshots", b.const(float(budget)), b.op("mul", state, b.const(WORD)),
                      b.op("mul", tape, b.const(WORD)), b.sym(Var(self.loop.trips)),
                      target=self.names.fresh(f"{self.loop.var}_snapshots", temp=False))
        taped = b.op("eq", choice, b.const(0), target=self.names.fresh(f"{self.loop.var}_taped", temp=False))
        return choice, taped.value, b.stmts


def _state(r, body, loop: For, types) -> set:
    """What a trip reads that earlier trips change: the names the loop carries, and the arrays
    made before it that it writes into."""
    from .reverse import _carried_in, _def_blocks, _contained
    defs = _def_blocks(body, {})
    state = set(_carried_in(loop, defs))
    inside = _contained(loop.body)
    for s in walk(loop.body):
        if isinstance(s, SetItem):
            homes = defs.get(s.target, [])
            if s.target in r.fn.params or any(h not in inside for h in homes):
                state.add(s.target)
    return {n for n in state if isinstance(types.get(n), Type)}


def _written(body) -> set:
    from .reverse import _written_arrays
    return _written_arrays(body)

