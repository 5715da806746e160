"""One tape per group of values recorded together.

Reverse mode gives every value the adjoint sweep reads back its own tape, so a loop body that
records six values does six list appends per trip and six pops on the way back. Values recorded in
the same block, with nothing in between that could rebind them or leave the block, go on one tape
as a tuple instead: one append and one pop per trip (`best, total_1 = tape_1.pop()`).

A number recorded once per trip of a nest of `for` loops whose ranges are known before the nest
starts (or in a branch inside it, at most once per trip) goes on an array tape instead (`array_tapes`): an array of as many numbers as the nest has
trips, allocated before it, and a count of those recorded, so a push is a store and a pop a load
(`acc_2_tape[acc_2_top] = acc_2`), with no list to grow and no boxed number per trip.

These run last, on a gradient about to be printed; functions that are transformed again (forward
over reverse, the per-sample code of ct.vmap) keep one tape per value."""
from __future__ import annotations

from ..ir.nodes import (Assign, Break, Continue, Const, For, Function, If, Pop, Push, TapeNew, Var, While, blocks,
                        walk)
from ..ir.types import FLOAT, INT, Type, TupleType


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
              and isinstance(values[t], Var) and news[t].top is None}
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


def array_tapes(fn: Function) -> Function:
    """Tapes of numbers pushed at most once per trip of a nest of `for` loops, the outermost at
    the top of the function and every range computed before it, become arrays sized by the nest's
    trips (a value recorded in one branch of an `if` takes as much room as one recorded always)."""
    pushes: dict = {}      # tape -> [Push, its path]
    pops: dict = {}        # tape -> [Pop]
    _find_pushes(fn.body, [], pushes)
    _find_pops(fn.body, pops)
    leading = []
    for s in fn.body:
        if not isinstance(s, TapeNew):
            break
        leading.append(s)
    defined = _top_level_definitions(fn)
    definitions: dict = {}     # name -> every statement that assigns it
    for st in walk(fn.body):
        for name in _rebinds([st]) if not blocks(st) else _binds(st):
            definitions.setdefault(name, []).append(st)
    hoisted: dict = {}     # id(outermost loop) -> {name in the nest: its copy before the nest}
    before: dict = {}      # id(outermost loop) -> [statements to put before it]
    totals: dict = {}      # (id of each loop of a nest) -> name of its trip count in all
    nest_names: dict = {}  # a nest's trip count in all -> its innermost loop's variable
    moved = set()
    for new in leading:
        found = pushes.get(new.tape, [])
        ty = fn.types.get(new.holds)
        if (len(found) != 1 or len(pops.get(new.tape, [])) != 1 or not isinstance(ty, Type) or ty.rank
                or not isinstance(found[0][0].value, Var)):
            continue
        push, path = found[0]
        loops = [s for s in path if isinstance(s, For)]
        if not loops or any(isinstance(s, While) for s in path) or loops[0] not in fn.body:
            continue              # in a while, or not in a loop at the top level
        outer_at = next(i for i, s in enumerate(fn.body) if s is loops[0])
        stmts = before.setdefault(id(loops[0]), [])
        bounds = _Bounds(fn, outer_at, defined, definitions, stmts, hoisted.setdefault(id(loops[0]), {}))
        mark, known = len(stmts), dict(bounds.hoisted)
        ranges = [tuple(bounds.value(v) for v in (f.start, f.stop, f.step)) for f in loops]
        if any(v is None for r in ranges for v in r):
            del stmts[mark:]             # what resolving the other bounds copied is not needed
            bounds.hoisted.clear()
            bounds.hoisted.update(known)
            continue
        total = _trip_total(fn, loops, ranges, stmts, totals, fn.body[outer_at - 1] if outer_at else None)
        top = fn.names.fresh(f"{new.holds}_top", temp=False)
        fn.types[top] = Type(INT, 0)
        stmts.append(TapeNew(new.tape, new.holds, new.where, new.loc, new.role, capacity=Var(total),
                             kind=ty.kind, top=top))
        nest_names[total] = loops[-1].var
        push.top = top
        pops[new.tape][0][1].top = top
        moved.add(new.tape)
    if not moved:
        return fn
    for stmts in before.values():
        _share_blocks(fn, stmts, nest_names)
    body = []
    for s in fn.body:
        if isinstance(s, TapeNew) and s.tape in moved:
            continue
        body.extend(before.get(id(s), []))
        body.append(s)
    fn.body = body
    return fn


def _share_blocks(fn: Function, stmts: list, nest_names: dict) -> None:
    """Array tapes of one nest and kind share one allocation, a row each (`best_tape = k_tapes[2]`):
    a function called once per point allocates once per nest, not once per value recorded."""
    groups: dict = {}
    for st in stmts:
        if isinstance(st, TapeNew) and st.top:
            groups.setdefault((st.capacity.name, st.kind), []).append(st)
    for (total, kind), news in groups.items():
        if len(news) < 2:
            continue
        block = fn.names.fresh(f"{nest_names[total]}_tapes", temp=False)
        fn.types[block] = Type(kind, 2)
        params = (("dtype", kind),) if kind != FLOAT else ()
        stmts.insert(stmts.index(news[0]), Assign(block, "empty", (Const(len(news)), Var(total)), params, None,
                                                  "primal"))
        for column, st in enumerate(news):
            st.block, st.column, st.capacity = block, column, None


def _find_pushes(stmts, path: list, out: dict) -> None:
    for s in stmts:
        if isinstance(s, Push):
            out.setdefault(s.tape, []).append((s, list(path)))
        for b in blocks(s):
            _find_pushes(b, path + [s], out)


def _top_level_definitions(fn: Function) -> dict:
    """name -> the index of the top-level statement that assigns it, or None where something
    inside a block assigns it (or more than one statement does)."""
    out: dict = {}
    for i, s in enumerate(fn.body):
        for name in _rebinds([s]):
            inside = not isinstance(s, (Assign, Pop)) or s.target != name
            out[name] = None if name in out or inside else i
    return out


def _binds(s) -> set:
    """The names a compound statement itself assigns (a loop's variable and counter)."""
    if isinstance(s, For):
        return {s.var} | ({s.counter} if s.counter else set())
    if isinstance(s, While) and s.counter:
        return {s.counter}
    return set()


# operations on numbers that a loop bound may be computed with inside the nest and again before it
_PURE = {"shape", "tuple_getitem", "dim", "size", "add", "sub", "mul", "floordiv", "neg", "trip_count",
         "alias", "int", "maximum", "minimum"}


class _Bounds:
    """Loop bounds as values known before a nest starts: a constant, an argument, a name assigned
    once at the top level before the nest, or a name computed inside the nest from those alone
    (`x.shape[1]` read again in each trip), whose computation is copied before the nest."""

    def __init__(self, fn: Function, at: int, defined: dict, definitions: dict, stmts: list, hoisted: dict):
        self.fn, self.at, self.defined, self.definitions = fn, at, defined, definitions
        self.stmts, self.hoisted = stmts, hoisted

    def value(self, v, depth: int = 0):
        if isinstance(v, Const):
            return v
        name = v.name
        if name in self.fn.params:
            return v if name not in self.definitions else None
        index = self.defined.get(name)
        if index is not None and index < self.at:
            return v
        if name in self.hoisted:
            return Var(self.hoisted[name])
        defs = self.definitions.get(name, [])
        if not defs or depth > 8 or not all(isinstance(d, Assign) and d.op in _PURE for d in defs):
            return None
        first = defs[0]
        if any((d.op, d.args, d.params) != (first.op, first.args, first.params) for d in defs):
            return None
        args = tuple(self.value(a, depth + 1) if isinstance(a, Var) else a for a in first.args)
        if any(a is None for a in args):
            return None
        names = self.fn.names
        copy_name = names.fresh() if names.is_temp(name) else names.fresh(name, temp=False)
        self.fn.types[copy_name] = self.fn.types[name]
        self.stmts.append(Assign(copy_name, first.op, args, first.params, None, "primal"))
        self.hoisted[name] = copy_name
        return Var(copy_name)


def _trip_total(fn: Function, loops: list, ranges: list, stmts: list, totals: dict, previous) -> str:
    """The name of the number of trips of a nest of loops in all, adding to `stmts` what computes
    it (each nest's count once; the outermost loop's own trip count where it is computed just
    before the loop)."""
    total = None
    for depth, f in enumerate(loops):
        key = tuple(id(g) for g in loops[:depth + 1])
        if key in totals:
            total = totals[key]
            continue
        bounds = ranges[depth]
        if (depth == 0 and isinstance(previous, Assign) and previous.op == "trip_count"
                and previous.args == bounds):
            trips = previous.target
        else:
            trips = fn.names.fresh(f"{f.var}_trips", temp=False)
            fn.types[trips] = Type(INT, 0)
            stmts.append(Assign(trips, "trip_count", bounds, (), None, "primal"))
        if total is not None:
            product = fn.names.fresh(f"{f.var}_trips_all", temp=False)
            fn.types[product] = Type(INT, 0)
            stmts.append(Assign(product, "mul", (Var(total), Var(trips)), (), None, "primal"))
            trips = product
        total = totals[key] = trips
    return total
