"""Straight-line per-sample code run LANES samples at a time, its math calls as vector calls.

Symbolic mode's batch loop (compiler/symbolic.py) runs straight-line scalar code once per sample.
Its sines, cosines and exponentials are calls of libm's scalar functions, which LLVM cannot
vectorise, and they take most of the time. This pass cuts the per-sample statements into steps at
those calls: step 0 runs what reads no call's result, then each call runs for LANES samples at once
(backends/vector_math.py), then step 1 runs what reads those results, and so on. Each step is a loop
over the block's samples, whose arithmetic LLVM vectorises; a value that one step makes and a later
step (or a vector call) reads passes through a lane array (`t1_lanes[l]`, one element per sample of
the block). Reads of shared arguments at fixed positions (`lengths[2]`) run once, before the loop.

    for block in range(start, stop, 8):           # eight samples at a time
        lanes = min(stop - block, 8)
        for i in range(block, block + lanes):
            l = i - block
            ...                                   # step 0
            t1_lanes[l] = t1
        vector_cos(t1_lanes, cos_t1_lanes)        # np.cos of eight samples
        for i in range(block, block + lanes):
            ...                                   # step 1

A block of fewer than LANES samples (the last) leaves old values in the lane arrays' other
elements; the vector calls compute them too, and nothing reads them."""
from __future__ import annotations

from ..ir.nodes import Assign, SetItem, Var, Const, Function, operands
from ..ir.types import Type, FLOAT, INT
from .buffers import fresh
from .vector_math import FUNCTIONS, LANES


def _compact(tree, args: list) -> tuple[tuple, list]:
    """The tree with its operands renumbered to those it reads, in order: (tree, operands)."""
    kept: list = []
    index: dict = {}

    def walk(t):
        if t[0] == "arg":
            v = args[t[1]]
            key = v.name if isinstance(v, Var) else ("const", v.value)
            if key not in index:
                index[key] = len(kept)
                kept.append(v)
            return ("arg", index[key])
        if t[0] == "const":
            return t
        return (t[0],) + tuple(walk(k) for k in t[1:])
    return walk(tree), kept


def _formula(target: str, tree, args: list, s: Assign, kind: str = FLOAT) -> Assign:
    tree, args = _compact(tree, args)
    if tree[0] == "arg":
        return Assign(target, "alias", (args[tree[1]],), (), s.loc, s.role)
    if tree[0] == "const":
        return Assign(target, "alias", (Const(tree[1]),), (), s.loc, s.role)
    return Assign(target, "formula", tuple(args), (("kind", kind), ("tree", tree)), s.loc, s.role)


def _call(target: str, op: str, x: str, s: Assign) -> Assign:
    """`target = np.op(x)`, at the line of s."""
    return Assign(target, "formula", (Var(x),), (("kind", FLOAT), ("tree", (op, ("arg", 0)))), s.loc, s.role)


def call_of(s) -> str | None:
    """The function a statement `y = f(x)` calls, where f has a vector form; else None."""
    if isinstance(s, Assign) and s.op == "formula":
        tree = s.param("tree")
        if tree[0] in FUNCTIONS and tree[1] == ("arg", 0) and isinstance(s.args[0], Var):
            return tree[0]
    return None


def split_calls(body: list, types: dict, taken: set) -> list:
    """The statements with every call of a function that has a vector form (on a value that is not
    a constant) as a statement of its own, `cos_t1 = np.cos(t1)`, its argument named first."""
    out: list = []
    for s in body:
        if not (isinstance(s, Assign) and s.op == "formula"):
            out.append(s)
            continue
        args = list(s.args)

        def operand(t, op):
            """A name for the value of subtree t (the argument of op), assigned before the
            statement where needed."""
            if t[0] == "arg" and isinstance(args[t[1]], Var):
                return args[t[1]].name
            name = fresh(taken, f"{op}_arg")
            types[name] = Type(FLOAT, 0)
            out.append(_formula(name, t, args, s))
            return name

        def visit(t, root):
            if t[0] in ("arg", "const"):
                return t
            t = (t[0],) + tuple(visit(k, False) for k in t[1:])
            if t[0] not in FUNCTIONS or t[1][0] == "const" or root:
                return t
            x = operand(t[1], t[0])
            y = fresh(taken, f"{t[0]}_{x}")
            types[y] = Type(FLOAT, 0)
            out.append(_call(y, t[0], x, s))
            args.append(Var(y))
            return ("arg", len(args) - 1)

        tree = visit(s.param("tree"), True)
        if tree[0] in FUNCTIONS and tree[1][0] != "const":
            out.append(_call(s.target, tree[0], operand(tree[1], tree[0]), s))
        else:
            out.append(_formula(s.target, tree, args, s, s.param("kind", FLOAT)))
    return out


def _reads(s) -> list:
    return [v.name for v in operands(s) if isinstance(v, Var)]


def _invariant(s, known: set) -> bool:
    """An assignment whose value is the same for every sample: it reads only shared arguments (at
    fixed positions) and other such values."""
    if not isinstance(s, Assign) or s.op not in ("alias", "getitem", "formula"):
        return False
    if s.op == "getitem" and not all(isinstance(a, Const) for a in s.args[1:]):
        return False
    return all(r in known for r in _reads(s))


def _row_read(s, batched: set) -> bool:
    """A read of a batched argument's element (`q[i, 0]`): as cheap as reading a lane array, so it
    is repeated in each step that needs it rather than passed between steps."""
    return isinstance(s, Assign) and s.op == "getitem" and isinstance(s.args[0], Var) \
        and s.args[0].name in batched


class Steps:
    """The statements cut at the vector calls: `before` (the same for every sample: run once),
    `steps[p]` (statements of step p, in source order), `calls[p]` (vector calls after step p),
    and the values that pass through lane arrays (`crossing`, in order of definition).

    A call runs as soon as its argument is known (its level: the step after which it runs); a
    value runs in the first step that reads it (as late as possible, so few values cross steps),
    an output's write in the first step where its value is known."""

    def __init__(self, body: list, shared: set, batched: set):
        self.before: list = []
        invariant = set(shared)
        earliest: dict = {}                  # local name -> the first step that can read it
        level: dict = {}                     # index of a vector call -> the step after which it runs
        first: dict = {}                     # index of a statement -> the first step it can run in
        self.called: set = set()             # names assigned by vector calls (they live in lane arrays)
        kept = []
        for k, s in enumerate(body):
            if _invariant(s, invariant):
                self.before.append(s)
                invariant.add(s.target)
                continue
            if isinstance(s, Assign) and (s.target in earliest or s.target in invariant):
                raise ValueError(f"{s.target} is assigned twice")
            local = [r for r in _reads(s) if r in earliest]
            p = max((earliest[r] for r in local), default=0)
            kept.append(k)
            if call_of(s) is not None and local:
                level[k] = p
                earliest[s.target] = p + 1
                self.called.add(s.target)
                continue
            first[k] = p
            if isinstance(s, Assign):
                earliest[s.target] = p
        last = max(earliest.values(), default=0)
        self.steps: list[list] = [[] for _ in range(last + 1)]
        self.calls: list[list] = [[] for _ in range(last + 1)]
        need: dict = {}                      # name -> the steps (and call levels) that read it
        placed: dict = {}                    # name -> the step that assigns it
        runs: dict = {}                      # index -> the steps it runs in
        for k in reversed(kept):
            s = body[k]
            if k in level:
                need.setdefault(s.args[0].name, set()).add(level[k])
                continue
            if _row_read(s, batched):
                at = sorted(need.get(s.target, {first[k]}))
            elif isinstance(s, Assign):
                at = [min(need.get(s.target, {first[k]}))]
            else:
                at = [first[k]]
            runs[k] = at
            if isinstance(s, Assign):
                placed[s.target] = at[0]
            for r in _reads(s):
                for p in at:
                    need.setdefault(r, set()).add(p)
        for k in kept:
            if k in level:
                self.calls[level[k]].append(body[k])
            else:
                for p in runs[k]:
                    self.steps[p].append(body[k])
        self.placed = placed
        self.rows = {body[k].target for k in kept if _row_read(body[k], batched)}
        self.arg_levels: dict = {}           # a vector call's argument -> the levels of its calls
        for p, calls in enumerate(self.calls):
            for s in calls:
                self.arg_levels.setdefault(s.args[0].name, set()).add(p)
        self.crossing = [n for n in earliest if n in self.called or n in self.arg_levels
                         or (n not in self.rows and max(need.get(n, {0})) > placed[n])]

    def loads(self, p: int) -> list:
        """Values step p reads from lane arrays, in order of definition: a call's result, or a
        value an earlier step made (a row read is read again instead)."""
        reads = {r for s in self.steps[p] for r in _reads(s)}
        return [n for n in self.crossing if n in reads and n not in self.rows
                and (n in self.called or self.placed[n] < p)]

    def stores(self, p: int) -> list:
        """Values step p writes into lane arrays: a row read where a call needs it, any other value
        where it is assigned."""
        return [n for n in self.crossing if n not in self.called
                and (p in self.arg_levels[n] if n in self.rows else self.placed[n] == p)]


def rows_lines(body: list, types: dict, taken: set, shared: set, batched: set, i: str, start: str,
               stop: str, filename: str) -> tuple[list, list] | None:
    """The body of the rows function (lines indented for a function) that runs samples `start` to
    `stop` LANES at a time, and the vector functions it calls; None when no statement calls a
    function with a vector form on a per-sample value."""
    from .pysource import function_source, statement_code
    types = dict(types)
    body = split_calls(body, types, taken)
    try:
        plan = Steps(body, shared, batched)
    except ValueError:
        return None
    if not any(plan.calls):
        return None
    block, lanes, lane = fresh(taken, "block"), fresh(taken, "lanes"), fresh(taken, "l")
    types[lane] = Type(INT, 0)
    array = {n: fresh(taken, f"{n}_lanes") for n in plan.crossing}
    for n in array.values():
        types[n] = Type(FLOAT, 1)
    lane_index = (("index", (("int",),)),)

    def printed(stmts: list, indent: str) -> list:
        fn = Function("step", [], stmts, filename, types)
        lines, _ = function_source(fn, "", statement_code)
        return [indent + line[4:] if line.strip() else line for line in lines[1:]]

    lines = printed(plan.before, "    ") if plan.before else []
    lines += [f"    {array[n]} = np.zeros({LANES})" for n in plan.crossing]
    lines += [f"    for {block} in range({start}, {stop}, {LANES}):  # {LANES} samples at a time",
              f"        {lanes} = min({stop} - {block}, {LANES})"]
    used: list = []
    for p, stmts in enumerate(plan.steps):
        if stmts:
            loads = [Assign(n, "getitem", (Var(array[n]), Var(lane)), lane_index, None, "primal")
                     for n in plan.loads(p)]
            stores = [SetItem(array[n], (Var(lane),), lane_index, Var(n), None, "primal")
                      for n in plan.stores(p)]
            lines += [f"        for {i} in range({block}, {block} + {lanes}):", f"            {lane} = {i} - {block}"]
            lines += printed(loads + stmts + stores, "            ")
        for s in plan.calls[p]:
            op = call_of(s)
            used.append(f"vector_{op}")
            lines.append(f"        vector_{op}({array[s.args[0].name]}, {array[s.target]})"
                         f"  # {s.target} = np.{op}({s.args[0].name}), {LANES} samples at once")
    return lines, sorted(set(used))

