"""Clean-up passes: dead-code elimination, and folding `t = expr; x = t` into `x = expr`."""
from __future__ import annotations

from ..ir.nodes import (Assign, SetItem, Return, If, For, While, Break, Continue, TapeNew, Push, Pop, Var, Const,
                        Function, operands, blocks)


def _names(values):
    for v in values:
        if isinstance(v, tuple):
            yield from _names(v)
        elif isinstance(v, Var):
            yield v.name


def _reads(s) -> set:
    """Names a statement reads, not counting nested blocks."""
    if isinstance(s, Return):
        return set(_names(s.values))
    if isinstance(s, Pop):
        return {s.tape} | ({s.top} if s.top else set())
    if isinstance(s, SetItem):
        return set(_names((s.value, *s.index_args))) | {s.target}
    if isinstance(s, While):
        return set()     # its condition is read by the test, counted where the loop is kept
    return set(_names(operands(s)))


def _kept(s, live) -> bool:
    if isinstance(s, (Assign, Pop)):
        return s.target in live
    if isinstance(s, SetItem):
        return s.target in live
    if isinstance(s, (Push, TapeNew)):
        return s.tape in live
    if isinstance(s, (Return, Break, Continue)):
        return True
    if isinstance(s, (For, While)):
        return (s.counter in live) or any(_kept(c, live) for c in s.body)
    if isinstance(s, If):
        return any(_kept(c, live) for b in blocks(s) for c in b)
    return True


def _mark(stmts, live) -> None:
    for s in stmts:
        if not _kept(s, live):
            continue
        live.update(_reads(s))
        if isinstance(s, While):
            live.add(s.cond.name) if isinstance(s.cond, Var) else None
            _mark(s.cond_body, live)
            _mark(s.body, live)
        else:
            for b in blocks(s):
                _mark(b, live)


def _sweep(stmts, live) -> list:
    out = []
    for s in stmts:
        if isinstance(s, While):
            if _kept(s, live):
                s.cond_body = [c for c in s.cond_body if _kept(c, live) or isinstance(c, (If, For, While))]
                s.body = _sweep(s.body, live)
                out.append(s)
        elif isinstance(s, (If, For)):
            if _kept(s, live):
                if isinstance(s, If):
                    s.body, s.orelse = _sweep(s.body, live), _sweep(s.orelse, live)
                else:
                    s.body = _sweep(s.body, live)
                out.append(s)
        elif _kept(s, live):
            out.append(s)
    return out


def eliminate_dead_code(fn: Function) -> Function:
    """Remove statements whose values nothing reads. Liveness is flow-insensitive (a name is live
    if any kept statement reads it), iterated to a fixed point, so it is safe across loops."""
    live: set = set()
    while True:
        before = len(live)
        _mark(fn.body, live)
        if len(live) == before:
            break
    fn.body = _sweep(fn.body, live)
    return fn


def _count_reads(stmts, uses):
    for s in stmts:
        for n in _reads(s):
            uses[n] = uses.get(n, 0) + 1
        if isinstance(s, While) and isinstance(s.cond, Var):
            uses[s.cond.name] = uses.get(s.cond.name, 0) + 1
        for b in blocks(s):
            _count_reads(b, uses)


def _count_defs(stmts, defs):
    for s in stmts:
        if isinstance(s, (Assign, Pop)):
            defs[s.target] = defs.get(s.target, 0) + 1
        for b in blocks(s):
            _count_defs(b, defs)


def _usage(fn: Function) -> tuple:
    """(the function's name table, reads per name, definitions per name)."""
    uses, defs = {}, {}
    _count_reads(fn.body, uses)
    _count_defs(fn.body, defs)
    return getattr(fn, "names", None), uses, defs


def coalesce_aliases(fn: Function) -> Function:
    """`t = expr; x = t` becomes `x = expr` when t is a temporary read only there and defined
    once, so adjoints get their names on the line that computes them."""
    temps, uses, defs = _usage(fn)
    if temps is None:
        return fn

    def block(body):
        where = {s.target: i for i, s in enumerate(body) if isinstance(s, Assign)}
        removed = set()
        for j, s in enumerate(body):
            for b in blocks(s):
                b[:] = block(b)
            if not (isinstance(s, Assign) and s.op == "alias" and isinstance(s.args[0], Var)):
                continue
            t = s.args[0].name
            if not temps.is_temp(t) or uses.get(t) != 1 or defs.get(t) != 1 or t not in where:
                continue
            i = where[t]
            between = body[i + 1:j]
            if any(s.target in _reads(b) or s.target in _all_defs(b) or _has_blocks(b) for b in between):
                continue
            body[i].target = s.target
            fn.types[s.target] = fn.types.get(t, fn.types.get(s.target))
            removed.add(j)
        return [s for k, s in enumerate(body) if k not in removed]

    fn.body = block(fn.body)
    return fn


def _has_blocks(s) -> bool:
    return bool(blocks(s))


def _all_defs(s) -> set:
    out = set()
    if isinstance(s, (Assign, Pop)):
        out.add(s.target)
    for b in blocks(s):
        for c in b:
            out |= _all_defs(c)
    return out


# operations without side effects whose equal results may be shared (constructors and copies make
# arrays that are written later, so they are never shared)
PURE = {"add", "sub", "mul", "truediv", "neg", "pow", "exp", "log", "sqrt", "tanh", "sin", "cos", "square",
        "abs", "maximum", "minimum", "sum", "mean", "matmul", "dot", "expand_dims", "transpose", "getitem",
        "shape", "tuple_getitem", "unbroadcast"}


def rename_reads(s, old: str, new: str) -> None:
    """Replace reads of `old` by `new` in the statement and the blocks inside it, in place."""
    def sub(v):
        if isinstance(v, tuple):
            return tuple(sub(x) for x in v)
        return Var(new) if isinstance(v, Var) and v.name == old else v
    if isinstance(s, Assign):
        s.args = sub(s.args)
    elif isinstance(s, SetItem):
        s.value, s.index_args = sub(s.value), sub(s.index_args)
    elif isinstance(s, Return):
        s.values = sub(s.values)
    elif isinstance(s, Push):
        s.value = sub(s.value)
    elif isinstance(s, If):
        s.cond = sub(s.cond)
    elif isinstance(s, For):
        s.start, s.stop, s.step = sub(s.start), sub(s.stop), sub(s.step)
        if s.mirrors:
            s.mirrors = sub(s.mirrors)
    elif isinstance(s, While):
        s.cond = sub(s.cond)
    for b in blocks(s):
        for c in b:
            rename_reads(c, old, new)


def _count_in(s, name: str) -> int:
    uses: dict = {}
    _count_reads([s], uses)
    return uses.get(name, 0)


def share_equal_values(fn: Function) -> Function:
    """A temporary computed again from the same operands in the same block (the two products of
    the adjoint of x * x) reads the first result instead. It is dropped only when every read of it
    follows it in its block, before the first result's name is assigned again or written into."""
    temps, uses, defs = _usage(fn)
    if temps is None:
        return fn

    def block(body):
        seen: dict = {}                # (op, args, params) -> the statement that computed it
        dropped = set()
        for j, s in enumerate(body):
            for b in blocks(s):
                b[:] = block(b)
            if blocks(s) or isinstance(s, (SetItem, Pop)):
                seen.clear()            # a loop, branch or write may change what was computed
            if not isinstance(s, Assign):
                continue
            # a name assigned here invalidates what was computed from it, or into it
            for key in [k for k, e in seen.items() if e.target == s.target or s.target in set(_names(k[1]))]:
                del seen[key]
            if s.op not in PURE:
                continue
            key = (s.op, s.args, s.params)
            first = seen.get(key)
            if first is None or not temps.is_temp(s.target) or defs.get(s.target) != 1:
                seen.setdefault(key, s) if s.target not in set(_names(s.args)) else None
                continue
            found, ok = 0, True
            for t in body[j + 1:]:
                n = _count_in(t, s.target)
                if n and (blocks(t) and first.target in _all_defs(t)):
                    ok = False
                found += n
                if found == uses.get(s.target, 0):
                    break
                if first.target in _all_defs(t) or (isinstance(t, SetItem) and t.target == first.target) \
                        or (blocks(t) and first.target in _written(t)):
                    ok = False
                    break
            if not ok or found != uses.get(s.target, 0):
                continue
            for t in body[j + 1:]:
                rename_reads(t, s.target, first.target)
            dropped.add(j)
        return [s for k, s in enumerate(body) if k not in dropped]

    fn.body = block(fn.body)
    return fn


def _written(s) -> set:
    out = set()
    for b in blocks(s):
        for c in b:
            if isinstance(c, SetItem):
                out.add(c.target)
            out |= _written(c)
    return out


def drop_rewrites_of_the_same_value(fn: Function) -> Function:
    """`t = x_bar[i]; x_bar[i] = 0.0; x_bar[i] += t` puts back what was there: the adjoint of an
    element update (`pos[p] += dt * vel[p]`) reads the element's adjoint, zeroes it for the old
    value and adds it back as that value's adjoint. The two writes go; the read stays."""
    def block(stmts):
        out = []
        for s in stmts:
            for b in blocks(s):
                block(b)
            out.append(s)
            if len(out) >= 3 and _puts_back(*out[-3:]):
                del out[-2:]
        stmts[:] = out
    block(fn.body)
    return fn


def _puts_back(read, zero, add) -> bool:
    return (isinstance(read, Assign) and read.op == "getitem" and isinstance(zero, SetItem)
            and isinstance(add, SetItem) and zero.op is None and add.op == "add"
            and isinstance(zero.value, Const) and zero.value.value == 0.0
            and isinstance(add.value, Var) and add.value.name == read.target
            and read.args and isinstance(read.args[0], Var)
            and read.args[0].name == zero.target == add.target
            and tuple(read.args[1:]) == tuple(zero.index_args) == tuple(add.index_args)
            and read.params == zero.params == add.params
            and read.target not in {a.name for a in zero.index_args if isinstance(a, Var)})
