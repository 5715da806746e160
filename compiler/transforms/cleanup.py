"""Clean-up passes: dead-code elimination (statements whose value nobody reads)."""
from __future__ import annotations

from ..ir.nodes import Assign, SetItem, Return, Var, Function


def _names(values):
    for v in values:
        if isinstance(v, tuple):
            yield from _names(v)
        elif isinstance(v, Var):
            yield v.name


def eliminate_dead_code(fn: Function) -> Function:
    """Straight-line DCE: walk backwards keeping what a later statement or the return reads."""
    live: set = set()
    kept = []
    for s in reversed(fn.body):
        if isinstance(s, Return):
            live.update(_names(s.values))
            kept.append(s)
        elif isinstance(s, Assign):
            if s.target in live:
                live.discard(s.target)
                live.update(_names(s.args))
                kept.append(s)
        elif isinstance(s, SetItem):
            if s.target in live:
                live.update(_names((s.value, *s.index_args)))
                kept.append(s)
        else:
            kept.append(s)
    fn.body = kept[::-1]
    return fn


def _reads(s):
    if isinstance(s, Return):
        return set(_names(s.values))
    if isinstance(s, Assign):
        return set(_names(s.args))
    if isinstance(s, SetItem):
        return set(_names((s.value, *s.index_args))) | {s.target}
    return set()


def coalesce_aliases(fn: Function) -> Function:
    """`t = expr; x = t` becomes `x = expr` when t is a temporary read only there, so adjoints get
    their names on the line that computes them."""
    temps = getattr(fn, "names", None)
    uses: dict = {}
    for s in fn.body:
        for n in _reads(s):
            uses[n] = uses.get(n, 0) + 1
    body = list(fn.body)
    where = {s.target: i for i, s in enumerate(body) if isinstance(s, Assign)}
    removed = set()
    for j, s in enumerate(body):
        if not (isinstance(s, Assign) and s.op == "alias" and isinstance(s.args[0], Var)):
            continue
        t = s.args[0].name
        if temps is None or not temps.is_temp(t) or uses.get(t) != 1 or t not in where:
            continue
        i = where[t]
        between = body[i + 1:j]
        if any(s.target in _reads(b) or getattr(b, "target", None) == s.target for b in between):
            continue
        body[i].target = s.target
        fn.types[s.target] = fn.types.get(t, fn.types.get(s.target))
        removed.add(j)
    fn.body = [s for k, s in enumerate(body) if k not in removed]
    return fn
