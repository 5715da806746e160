"""Symbolic regions: the straight-line scalar code inside loops and branches, made symbolic.

Symbolic mode takes a function as one SymPy expression only when it is straight-line once its
fixed loops are unrolled. A function with a `while`, a loop over a run-time count or a branch on
the data keeps that structure and is differentiated in the ordinary mode; this pass, run on it
before differentiation, makes the scalar arithmetic between those statements symbolic instead.
Each run of consecutive scalar statements (numbers in, a number out, smooth primitives only)
becomes a few `formula` statements: a temporary used once, by a later statement of the run, is
folded into that statement's expression, so a loop body

    t1 = x * k
    t2 = np.sin(t1)
    s = s + t2

becomes the one statement `s = s + np.sin(x * k)`. A formula's derivative rules are SymPy's
(rules/formula.py): its partial derivatives are derived together, with common subexpressions
shared between them, so reverse and forward mode print SymPy's derivative of the whole expression
in place of one rule per primitive. Loops, branches, tapes and element writes stay as they are.

A run is cut where a statement assigns a name the run already assigned or read, so folding never
moves a read past a write."""
from __future__ import annotations

import copy
import os
from collections import Counter

from ..ir.nodes import Assign, For, Function, Pop, Var, Const, blocks, operands, walk
from ..ir.types import FLOAT, INT
from ..rules.formula import SMOOTH

MAX_RUN = 40            # statements folded into one run at most: SymPy's time grows with the expression


def _counts(fn: Function) -> tuple[Counter, Counter]:
    """(reads, assignments) of every name in the function. Unlike cleanup's usage counts, a
    statement that reads a name twice (`a * a`) counts twice: folding `a` there would compute it
    twice."""
    reads: Counter = Counter()
    assigned: Counter = Counter()
    for s in walk(fn.body):
        for v in operands(s):
            if isinstance(v, Var):
                reads[v.name] += 1
        if isinstance(s, (Assign, Pop)):
            assigned[s.target] += 1
        elif isinstance(s, For):
            assigned[s.var] += 1
    return reads, assigned


class Regions:
    """The pass over one function (a copy): `fn` is the result, `made` the source locations of
    the formulas it made."""

    def __init__(self, fn: Function):
        self.fn = copy.deepcopy(fn)
        self.reads, self.assigned = _counts(self.fn)
        self.made: list = []
        self.fn.body = self.block(self.fn.body)

    def scalar(self, s) -> bool:
        """A statement a run may hold: a smooth primitive of numbers giving a float number."""
        if not (isinstance(s, Assign) and s.op in SMOOTH and not s.params):
            return False
        t = self.fn.types.get(s.target)
        if t is None or t.kind != FLOAT or t.rank != 0:
            return False
        for a in s.args:
            if isinstance(a, Const):
                if not isinstance(a.value, (int, float)) or isinstance(a.value, bool):
                    return False
            else:
                ta = self.fn.types.get(a.name)
                if ta is None or ta.rank != 0 or ta.kind not in (FLOAT, INT):
                    return False
        return True

    def block(self, stmts: list) -> list:
        out: list = []
        run: list = []
        seen: set = set()              # names the run assigns or reads

        def flush():
            out.extend(self.collapse(run))
            run.clear()
            seen.clear()
        for s in stmts:
            if self.scalar(s):
                if s.target in seen or len(run) >= MAX_RUN:
                    flush()
                run.append(s)
                seen.add(s.target)
                seen.update(a.name for a in s.args if isinstance(a, Var))
                continue
            flush()
            for inner in blocks(s):
                inner[:] = self.block(inner)
            out.append(s)
        flush()
        return out

    def collapse(self, run: list) -> list:
        """The run as formulas: a name read once, by a later statement of the run, and assigned
        nowhere else, is folded into its reader."""
        if len(run) < 2:
            return list(run)
        defined = {s.target: s for s in run}
        folded = {n for n in defined if self.reads[n] == 1 and self.assigned[n] == 1
                  and any(isinstance(a, Var) and a.name == n for later in run for a in later.args
                          if later is not defined[n])}
        out = []
        for s in run:
            if s.target in folded:
                continue
            args: list = []
            index: dict = {}

            def tree(stmt):
                kids = []
                for a in stmt.args:
                    if isinstance(a, Const):
                        kids.append(("const", a.value))
                    elif a.name in folded:
                        kids.append(tree(defined[a.name]))
                    else:
                        if a.name not in index:
                            index[a.name] = len(args)
                            args.append(a)
                        kids.append(("arg", index[a.name]))
                return (stmt.op,) + tuple(kids)
            t = tree(s)
            if all(k[0] in ("arg", "const") for k in t[1:]):       # one primitive: nothing to fold
                out.append(s)
                continue
            self.made.append(s.loc)
            out.append(Assign(s.target, "formula", tuple(args), (("kind", FLOAT), ("tree", t)), s.loc, s.role))
        return out


def symbolic_regions(fn: Function) -> tuple[Function, list]:
    """The function with its runs of scalar statements as formulas, and where each formula is."""
    r = Regions(fn)
    return r.fn, r.made


def where_text(locs: list) -> str:
    """`model.py:16, 18 and 20`: the source lines of formulas, for a docstring."""
    by_file: dict = {}
    for loc in locs:
        if loc is not None:
            by_file.setdefault(os.path.basename(loc.filename), set()).add(loc.line)
    parts = []
    for name, lines in by_file.items():
        ordered = [str(n) for n in sorted(lines)]
        listed = ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} and {ordered[-1]}"
        parts.append(f"{name}:{listed}")
    return "; ".join(parts)
