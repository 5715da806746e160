"""One tape per group of values recorded together.

Reverse mode gives every value the adjoint sweep reads back its own tape, so a loop body that
records six values does six list appends per trip and six pops on the way back. Values recorded in
the same block, with nothing in between that could rebind them or leave the block, go on one tape
as a tuple instead: one append and one pop per trip (`best, total_1 = tape_1.pop()`).

This runs last, on a gradient about to be printed; functions that are transformed again (forward
over reverse, the per-sample code of ct.vmap) keep one tape per value."""
from __future__ import annotations

from ..ir.nodes import (Assign, Break, Continue, For, Function, If, Pop, Push, TapeNew, Var, While, blocks,
                        walk)
from ..ir.types import TupleType


def _rebinds(stmts) -> set:
    """Names these statements (and the blocks inside them) assign."""
    out = set()
    for s in walk(stmts):
        if isinstance(s, (Assign, Pop)):
            out.add(s.target)
        elif isinstance(s, For):
            out.add(s.var)
            if s.counter:
                out.add(s.counter)
        elif isinstance(s, While) and s.counter:
            out.add(s.counter)
    return out


def _may_leave(stmts) -> bool:
    """A break or continue of the enclosing loop (not of a loop inside) among these statements."""
    for s in stmts:
        if isinstance(s, (Break, Continue)):
            return True
        if isinstance(s, If) and (_may_leave(s.body) or _may_leave(s.orelse)):
            return True
    return False


def group_tapes(fn: Function) -> Function:
    pushes: dict = {}      # tape -> number of Push statements
    values: dict = {}      # tape -> the value a Push records
    pops: dict = {}        # tape -> list of (block, Pop)
    news: dict = {}        # tape -> TapeNew
    for s in walk(fn.body):
        if isinstance(s, Push):
            pushes[s.tape] = pushes.get(s.tape, 0) + 1
            values[s.tape] = s.value
        elif isinstance(s, TapeNew):
            news[s.tape] = s
    _find_pops(fn.body, pops)
    single = {t for t in pushes if pushes[t] == 1 and len(pops.get(t, [])) == 1 and t in news
              and isinstance(values[t], Var)}
    groups: list = []
    _group_block(fn.body, single, groups)
    if not groups:
        return fn
    fresh = _namer(fn)
    replaced: dict = {}    # old tape -> new TapeNew (the first of a group), or None
    k = 0
    for group in groups:
        pop_block = pops[group[0][2].tape][0][0]
        if any(pops[push.tape][0][0] is not pop_block for _, _, push in group):
            continue
        k += 1
        tape = fresh(f"tape_{k}")
        names = [push.value.name for _, _, push in group]
        first = news[group[0][2].tape]
        merged = TapeNew(tape, ", ".join(names), "recorded together once per trip of the enclosing loop",
                         first.loc, role=first.role)     # (a checkpointed loop's: part of the reverse sweep)
        for i, (_, _, push) in enumerate(group):
            replaced[push.tape] = merged if i == 0 else None
        block, where, last = group[-1]
        block[where] = Push(tape, tuple(Var(n) for n in names), last.loc)
        for b, i, push in group[:-1]:
            b[i] = None
        old = [pops[push.tape][0][1] for _, _, push in group]
        at = min(_index(pop_block, p) for p in old)
        for p in old:
            pop_block[_index(pop_block, p)] = None
        packed = fresh(f"{tape}_top")
        fn.types[packed] = TupleType(tuple(fn.types[n] for n in names))
        pop_block[at:at + 1] = [Pop(packed, tape, old[0].loc)] + [
            Assign(n, "tuple_getitem", (Var(packed),), (("i", i),), old[0].loc, "tape")
            for i, n in enumerate(names)]
    _drop_none(fn.body)
    fn.body = [replaced.get(s.tape, s) if isinstance(s, TapeNew) and s.tape in replaced else s
               for s in fn.body]
    fn.body = [s for s in fn.body if s is not None]
    return fn


def _namer(fn: Function):
    """New names that clash with none in the function (the reverse transform's name table)."""
    return lambda base: fn.names.fresh(base, temp=False)


def _index(block, stmt) -> int:
    return next(i for i, s in enumerate(block) if s is stmt)


def _find_pops(stmts, pops) -> None:
    for s in stmts:
        if isinstance(s, Pop):
            pops.setdefault(s.tape, []).append((stmts, s))
        for b in blocks(s):
            _find_pops(b, pops)


def _group_block(stmts, single: set, groups: list) -> None:
    """Runs of pushes in one block that may all happen at the last one's place."""
    for s in stmts:
        for b in blocks(s):
            _group_block(b, single, groups)
    current: list = []          # (block, index, Push)

    def flush():
        if len(current) > 1:
            groups.append(list(current))
        current.clear()

    for i, s in enumerate(stmts):
        if not (isinstance(s, Push) and s.tape in single):
            continue
        if current and (_may_leave(stmts[current[0][1] + 1:i]) or any(
                p.value.name in _rebinds(stmts[j + 1:i]) for _, j, p in current)):
            flush()
        current.append((stmts, i, s))
    flush()


def _drop_none(stmts) -> None:
    stmts[:] = [s for s in stmts if s is not None]
    for s in stmts:
        for b in blocks(s):
            _drop_none(b)
