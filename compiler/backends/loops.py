"""Runs of elementwise array statements printed as one loop nest, for Numba.

Numba compiles a NumPy array operation by typing and compiling the overload of that operation for
those operand types: about a tenth of a second each, and a gradient has hundreds. A plain loop over
numbers compiles in a fraction of that, runs in one pass, and needs no temporary array between
statements. So where the symbolic shapes (ir/shapes.py) show that consecutive statements work on
arrays of one shape (the loop's domain), they become one nest:

    t9 = np.exp(s)                      for i0 in range(z.shape[0]):
    t10 = np.sum(t9, axis=1, ...)   ->      for i1 in range(z.shape[1]):
                                                s[i0, i1] = z[i0, i1] - t7[i0, 0]
                                                t9 = np.exp(s[i0, i1])
                                                t10[i0, 0] += t9

A statement joins the nest when it is elementwise (operators, NumPy functions, where, maximum),
fills an array like another (`np.ones_like`), sums over axes of the domain (`np.sum`, and
`unbroadcast`, which sums an adjoint back to its operand's shape), or copies. An operand of lower
rank is read at the loop indices its dimensions share with the domain (`b1[i1]`) and at 0 along its
axes of length 1. Matrix products, indexing, calls and everything else stay as they are.

A value used only inside its nest is a number there, never an array (`t9` above); one used after
the nest is stored in an array made before it. A sum's result is complete only after the nest, so
a statement that reads it starts a new nest. Loops carry the user's names and the comment of each
statement's source line, so the nest reads like the statements it replaces."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.nodes import Assign, Function, Pop, Push, For, Return, SetItem, Var, Const, walk, operands, blocks, names_in
from ..ir.primitives import PRIMITIVES
from ..ir.shapes import Shapes, SAME_SHAPE, ONE as ONE_DIM
from ..ir.types import Type, FLOAT, INT, BOOL
from ..rules.indexing import index_text
from .pysource import value_text

FILLS = {"zeros_like": "0", "ones_like": "1", "empty_like": "0"}
ALLOCATIONS = {"zeros_like", "ones_like", "empty_like", "zeros", "ones", "empty", "full", "full_like"}
NO_VIEW = {"copy", "sum", "max", "min", "mean", "prod", "unbroadcast", "matmul", "shape", "dim", "len"}
COPIES = {"alias", "copy", "stop_gradient"}
DTYPES = {FLOAT: "", INT: ", np.int64", BOOL: ", np.bool_"}


@dataclass
class Step:
    """One statement inside a nest: its domain, how each operand is indexed, how its result is
    written (None: elementwise at the loop indices; a tuple: summed into those indices)."""
    stmt: Assign
    domain: tuple
    reads: dict                     # operand name -> index text tuple (() for numbers)
    summed: tuple | None = None     # result index for a sum; () for a sum to a number

    @property
    def reduction(self) -> str:
        """How the values of the domain combine into the result: "sum", "max" or "min"."""
        return self.stmt.op if self.stmt.op in ("max", "min") else "sum"


@dataclass
class Nest:
    steps: list = field(default_factory=list)
    stored: set = field(default_factory=set)      # targets kept as arrays after the nest
    renamed: dict = field(default_factory=dict)   # target -> the new array's name (old value read in the nest)
    scalars: dict = field(default_factory=dict)   # target kept as a number whose old array the nest reads -> its name
    extents: list = field(default_factory=list)   # loop extent text per domain axis
    hoisted: list = field(default_factory=list)   # statements between its steps, printed before it
    shapes: dict = field(default_factory=dict)    # `t_shape = t.shape` of a step's target -> that target
    before_last: int = 0                          # how many of them come before its last step
    parts: list = field(default_factory=list)     # (steps before it, SetItem, (view, None, ()) or (None, x's index, its axes)):
                                                  # `x[a:b] += v`, `x[:, k] = v` of a step's v
    written: set = field(default_factory=set)     # the arrays those write into
    sunk: list = field(default_factory=list)      # tape pushes between its steps, printed after it
                                                  # (while planning: (steps before it, push))
    block: tuple | None = None                    # (name, arrays): the arrays it stores, as rows of one
    pinned: set = field(default_factory=set)      # the names those push: not assigned again in the nest


class LoopPlan:
    """Which statements of a function print as loop nests, and how."""

    def __init__(self, fn: Function, kernels: bool = True):
        self.fn = fn
        self.shapes = Shapes(fn)
        self.kernels = kernels          # allocate through backends/kernels.py (else NumPy calls)
        self.first: dict = {}           # id(first statement) -> Nest
        self.members: set = set()       # ids of every statement in a nest
        self.identities: set = set()    # ids of unbroadcasts to the shape they already have
        self.writes: dict = {}          # id(SetItem of an array into a part of one) -> its loop
        self._index_names()
        self._count_uses()
        self.escaping = self._returned()
        self.owned: dict = {}           # name -> whether nothing else aliases it (_own_array)
        self._plan(fn.body)

    @property
    def assumptions(self) -> list:
        """(text, text) pairs of parameter dimensions the nests assume equal, without repeats."""
        if not self.first:
            return []
        seen, out = set(), []
        for a, b, _ in self.shapes.assumptions:
            key = tuple(sorted((a, b)))
            if key not in seen:
                seen.add(key)
                out.append((a, b))
        return out

    # --- analysis ---
    def _index_names(self):
        taken = set(self.fn.types) | set(self.fn.params)
        for s in walk(self.fn.body):
            for name in (getattr(s, "target", None), getattr(s, "var", None), getattr(s, "counter", None)):
                if isinstance(name, str):
                    taken.add(name)
        self.taken = taken
        self.index = [self._fresh(f"i{k}") for k in range(8)]     # i0, i1, ... unless a user name

    def _count_uses(self):
        self.readers: dict = {}         # name -> ids of statements reading it
        self.writers: dict = {}         # name -> ids of statements assigning it
        self.assigns: set = set()       # ids of the Assign statements
        for s in walk(self.fn.body):
            for v in names_in(operands(s)):
                self.readers.setdefault(v, set()).add(id(s))
            if isinstance(s, (Assign, Pop)):
                self.writers.setdefault(s.target, set()).add(id(s))
            if isinstance(s, Assign):
                self.assigns.add(id(s))
            if isinstance(s, For):
                self.writers.setdefault(s.var, set()).add(id(s))

    def _returned(self) -> set:
        """The arrays a function returns, and those they are other names of: made on their own,
        never as a row of a nest's block (which would keep its other rows alive)."""
        out: set = set()
        for s in walk(self.fn.body):
            if isinstance(s, Return):
                out |= set(names_in(operands(s)))
        aliases = [(s.target, s.args[0].name) for s in walk(self.fn.body)
                   if isinstance(s, Assign) and s.op == "alias" and isinstance(s.args[0], Var)]
        grown = True
        while grown:
            grown = False
            for target, source in aliases:
                if target in out and source not in out:
                    out.add(source)
                    grown = True
        return out

    def here(self, domain) -> tuple:
        """The index of an element of the domain: a loop variable per axis, 0 on axes of length 1
        (which get no loop)."""
        return tuple("0" if d.one else self.index[k] for k, d in enumerate(domain))

    def _indices(self, dims, domain):
        """The index of an operand with dimensions `dims` inside a nest over `domain`, or None
        when some dimension is neither one of the domain's at that axis nor the literal 1."""
        if dims is None or len(dims) > len(domain):
            return None
        offset = len(domain) - len(dims)
        here = self.here(domain)
        out = []
        for k, d in enumerate(dims):
            d = d.find()
            if d is domain[offset + k]:
                out.append(here[offset + k])
            elif d.one:
                out.append("0")
            else:
                return None
        return tuple(out)

    def _step(self, s) -> Step | None:
        fn = self.fn
        if not isinstance(s, Assign) or s.target in self.shapes.poisoned:
            return None
        t = fn.types.get(s.target)
        if not isinstance(t, Type):
            return None
        op = s.op
        prim = PRIMITIVES.get(op)
        if op in ("sum", "unbroadcast", "max", "min"):
            x = s.args[0]
            xt = fn.types.get(x.name) if isinstance(x, Var) else None
            if not isinstance(xt, Type) or xt.rank == 0 or (xt.kind != FLOAT and op != "sum"):
                return None                  # (a sum counts bools and adds ints too)
            domain = self.shapes.value(x)
            if domain is None or len(domain) > len(self.index):
                return None
            if op != "unbroadcast":
                axis, keep = s.param("axis"), s.param("keepdims", False)
                if axis is None:
                    summed = ("0",) * len(domain) if keep else ()
                elif isinstance(axis, int):
                    axis %= len(domain)
                    here = self.here(domain)
                    summed = tuple("0" if k == axis else here[k] for k in range(len(domain))
                                   if keep or k != axis)
                else:
                    return None
            else:
                like = self.shapes.value(s.args[1])
                if like is None or t.rank == 0:
                    return None
                summed = self._indices(like, domain)
                if summed is None:
                    return None
                if len(like) == len(domain) and summed == self.here(domain):
                    summed = None            # the same shape: a copy
                    self.identities.add(id(s))
            return Step(s, domain, {x.name: self.here(domain)}, summed)
        if t.rank == 0 or t.kind not in DTYPES:
            return None
        if not ((prim is not None and prim.broadcasting) or op in SAME_SHAPE):
            return None
        domain = self.shapes.of(s.target)
        if domain is None or len(domain) > len(self.index):
            return None
        args = s.args[:1] if op in FILLS else s.args
        if op in FILLS or op == "full_like":
            like = self.shapes.value(s.args[0])      # an array, or a shape tuple: only its shape is read
            if not Shapes.same(like, domain):
                return None
            args = s.args[1:]
        reads = {}
        for a in args:
            if isinstance(a, Const):
                continue
            at = fn.types.get(a.name)
            if not isinstance(at, Type):
                return None
            if at.rank == 0:
                reads[a.name] = ()
                continue
            idx = self._indices(self.shapes.value(a), domain)
            if idx is None:
                return None
            reads[a.name] = idx
        if op == "full_like" and reads.get(getattr(s.args[1], "name", None), ()) != ():
            return None
        return Step(s, domain, reads)

    def _hoistable(self, s, nest: Nest, assigned: set, summed: set, live_in: set) -> bool:
        """Whether a statement between two steps of a nest can print before the nest instead, so
        that the nest goes on: a view or an element of an array (`w[0:b]`), a shape, or arithmetic
        on numbers, reading nothing the nest makes and assigning nothing it reads. The shape of a
        step's target (`t9_shape = t9.shape`, taped for the adjoint) is the nest's extents."""
        if not isinstance(s, Assign) or s.role == "tape" or s.target in assigned or s.target in live_in \
                or s.target in nest.pinned:
            return False
        reads = set(names_in(operands(s)))
        if s.op == "shape" and len(reads) == 1 and reads <= assigned and not reads & summed:
            (name,) = reads
            if Shapes.same(self.shapes.of(name), nest.steps[0].domain) and name not in nest.shapes.values():
                nest.shapes[s.target] = name
                nest.hoisted.append(s)
                return True
            return False
        steps = {id(st.stmt) for st in nest.steps}
        if reads & assigned or reads & nest.written or any(self.writers.get(n, set()) & steps for n in reads):
            return False
        if s.op in ALLOCATIONS:         # an array only written into (an adjoint's zeros); one that
            movable = not self.readers.get(s.target, set()) & self.assigns    # is read may start a nest
        elif s.op in ("getitem", "shape", "dim", "tuple_getitem", "len"):
            movable = True
        else:                           # arithmetic on numbers
            t, prim = self.fn.types.get(s.target), PRIMITIVES.get(s.op)
            movable = prim is not None and prim.broadcasting and isinstance(t, Type) and t.rank == 0 \
                and not any(getattr(self.fn.types.get(n), "rank", 0) for n in reads)
        if movable:
            nest.hoisted.append(s)
        return movable

    def _write_in(self, s, nest: Nest, assigned: set, summed: set, live_in: set) -> bool:
        """Whether `x[a:b] += v` (an adjoint scattered into the part of an array that was read),
        with v made by a step of the nest, joins the nest: the part is taken as a view before it,
        and each element of v is added where it is made, so v need not be stored. x must be an
        array of its own (made by np.zeros_like and the like, no view of it taken anywhere) that
        the nest does not read."""
        how = self.writes.get(id(s)) if isinstance(s, SetItem) else None
        if how is None or (how[0] == "part" and s.op != "add"):
            return False
        v = s.value
        if not isinstance(v, Var) or v.name not in assigned or v.name in summed:
            return False
        if not Shapes.same(self.shapes.of(v.name), nest.steps[0].domain):
            return False
        x = s.target
        if x in assigned or x in live_in or x in nest.pinned or \
                set(names_in(s.index_args)) & (assigned | nest.written):
            return False
        if not self._own_array(x):
            return False
        if how[0] == "part":
            target = (how[1], None, ())
        else:                               # x[k] = v, x[:, k] += v: v's elements are x's at those indices
            dims, part, index, vdims = how
            domain = nest.steps[0].domain
            if ONE_AXIS in part or not Shapes.same(tuple(dims), domain):
                return False
            index = list(index)
            for k, a in enumerate(part):
                index[a] = self.here(domain)[k]
            target = (None, ", ".join(index), tuple(part))
        nest.parts.append((len(nest.steps), s, target))
        nest.written.add(x)
        nest.hoisted.append(s)
        return True

    def _own_array(self, name: str) -> bool:
        """An array made by an allocation, of which no statement takes a view: nothing else in the
        function aliases it (asked once per name)."""
        if name not in self.owned:
            self.owned[name] = self._made_alone(name)
        return self.owned[name]

    def _made_alone(self, name: str) -> bool:
        if name in self.fn.params or not self.writers.get(name):
            return False
        for s in walk(self.fn.body):
            if isinstance(s, Assign) and s.target == name and s.op not in ALLOCATIONS:
                return False
            if isinstance(s, Assign) and name in set(names_in(s.args)) and s.op not in NO_VIEW \
                    and not (s.op == "getitem" and getattr(self.fn.types.get(s.target), "rank", 1) == 0):
                prim = PRIMITIVES.get(s.op)
                if prim is None or not prim.broadcasting:
                    return False
            if isinstance(s, Push) and name in set(names_in(operands(s))) or isinstance(s, Pop) and s.target == name:
                return False
        return True

    def _plan(self, stmts):
        nest, assigned, summed_targets, live_in = None, set(), set(), set()
        for s in stmts:
            for blk in blocks(s):
                self._plan(blk)
            if isinstance(s, SetItem):
                self._write(s)
            step = self._step(s)
            if nest is not None and isinstance(s, Push):        # recorded after the nest instead
                nest.sunk.append((len(nest.steps), s))
                nest.pinned |= set(names_in(operands(s)))
                continue
            if nest is not None and step is None and self._write_in(s, nest, assigned, summed_targets, live_in):
                continue
            joins = nest is not None and step is not None and Shapes.same(step.domain, nest.steps[0].domain)
            if nest is not None and not joins and self._hoistable(s, nest, assigned, summed_targets, live_in):
                continue
            if joins:
                reads = set(step.reads)
                target = step.stmt.target
                if reads & nest.written or target in nest.written or target in nest.pinned:
                    joins = False
                elif reads & summed_targets or target in summed_targets:
                    joins = False
                elif step.summed is not None and (target in assigned or target in live_in):
                    joins = False
            if not joins:
                if nest is not None:
                    self._close(nest)
                nest, assigned, summed_targets, live_in = None, set(), set(), set()
                if step is None:
                    continue
                nest = Nest()
            nest.steps.append(step)
            nest.before_last = len(nest.hoisted)
            live_in |= {n for n in step.reads if n not in assigned}
            if step.summed is not None:
                summed_targets.add(step.stmt.target)
            assigned.add(step.stmt.target)
        if nest is not None:
            self._close(nest)

    def _write(self, s: SetItem) -> None:
        """x[:, k] = v (or +=) with v an array of the part's shape: one loop over the part, so
        Numba compiles no array assignment (whose shape-mismatch message alone costs seconds)."""
        v = s.value
        vt = self.fn.types.get(v.name) if isinstance(v, Var) else None
        xt = self.fn.types.get(s.target)
        if not isinstance(vt, Type) or vt.rank == 0 or not isinstance(xt, Type):
            return
        pattern = dict(s.params)["index"]
        if any(e[0] == "slice" and any(e[1:]) for e in pattern):
            self._write_into_part(s, vt, xt)
            return
        if s.target in self.shapes.poisoned:
            return
        x, vdims = self.shapes.of(s.target), self.shapes.value(v)
        if x is None or vdims is None:
            return
        part, index, operands, axis = [], [], iter(s.index_args), 0
        for entry in pattern:
            if entry[0] == "newaxis":
                part.append(ONE_AXIS)
                continue
            if entry[0] == "slice":
                if any(entry[1:]) or axis >= len(x):
                    return                   # a slice with bounds: lengths unknown
                part.append(axis)
                index.append(None)
            else:
                operand = next(operands)
                ot = self.fn.types.get(operand.name) if isinstance(operand, Var) else None
                if isinstance(ot, Type) and ot.rank:
                    return                   # an integer-array index
                index.append(value_text(operand))
            axis += 1
        part += list(range(axis, len(x)))
        index += [None] * (len(x) - axis)
        dims = tuple(ONE_DIM if a is ONE_AXIS else x[a] for a in part)
        if len(vdims) > len(dims):
            return
        offset = len(dims) - len(vdims)
        for k, d in enumerate(vdims):
            if not (d is dims[offset + k] or d.one):
                return
        self.writes[id(s)] = (dims, part, index, vdims)

    def _write_into_part(self, s: SetItem, vt: Type, xt: Type) -> None:
        """x[:, d:] += v, a slice with bounds (an adjoint scattered into the part of an array that
        was read): the part as a view, then one loop over v writing into it, its lengths checked
        against the view's. (Numba compiles `x[:, d:] += v` in about 3 s.)"""
        pattern = dict(s.params)["index"]
        if s.op != "add" and s.op is not None:
            return
        if any(e[0] == "newaxis" for e in pattern) or any(
                isinstance(a, Var) and getattr(self.fn.types.get(a.name), "rank", 0) for a in s.index_args):
            return                           # a new axis, or an integer-array index
        kept = xt.rank - sum(1 for e in pattern if e[0] != "slice")
        if vt.rank != kept or kept > len(self.index):
            return                           # v broadcasts into the part: NumPy's assignment
        view = self._fresh(f"{s.target}_part")
        self.taken.add(view)
        self.writes[id(s)] = ("part", view)

    def _part_rows(self, s: SetItem, view: str, depth: int, text: str) -> list:
        rank = self.fn.types[s.value.name].rank
        v = s.value.name
        index = index_text(dict(s.params)["index"], [value_text(a) for a in s.index_args])
        tests = " or ".join(f"{v}.shape[{k}] != {view}.shape[{k}]" for k in range(rank))
        rows = [(depth, f"{view} = {s.target}[{index}]", text, s.loc),
                (depth, f"if {tests}:", "", None),
                (depth + 1, 'raise ShapeAssumption("lengths differ: run the general code")', "", None)]
        rows += [(depth + k, f"for {self.index[k]} in range({view}.shape[{k}]):", "", None) for k in range(rank)]
        at = ", ".join(self.index[:rank])
        op = "+=" if s.op == "add" else "="
        rows.append((depth + rank, f"{view}[{at}] {op} {v}[{at}]", "", None))
        return rows

    def write_rows(self, s: SetItem, depth: int, text: str) -> list:
        if self.writes[id(s)][0] == "part":
            return self._part_rows(s, self.writes[id(s)][1], depth, text)
        dims, part, index, vdims = self.writes[id(s)]
        loops, target = [], list(index)
        here = []
        for k, a in enumerate(part):
            if a is ONE_AXIS:
                here.append("0")
                continue
            var = self.index[len(loops)]
            loops.append((var, f"{s.target}.shape[{a}]"))
            here.append(var)
            target[a] = var
        offset = len(dims) - len(vdims)
        read = [("0" if d.one else here[offset + k]) for k, d in enumerate(vdims)]
        tests = [f"{s.value.name}.shape[{k}] != {s.target}.shape[{part[offset + k]}]"
                 for k, d in enumerate(vdims) if not d.one and d.find().point]
        rows = []
        if tests:
            rows.append((depth, f"if {' or '.join(tests)}:", text, s.loc))
            rows.append((depth + 1, 'raise ShapeAssumption("lengths differ: run the general code")', "", None))
            text = ""
        rows += [(depth + k, f"for {var} in range({extent}):", text if k == 0 else "", s.loc)
                 for k, (var, extent) in enumerate(loops)]
        op = "+=" if s.op == "add" else "="
        rows.append((depth + len(loops), f"{s.target}[{', '.join(target)}] {op} {s.value.name}[{', '.join(read)}]",
                     "" if loops else text, s.loc))
        return rows

    def _close(self, nest: Nest):
        if all(st.stmt.op in COPIES or st.stmt.op in FILLS or st.stmt.op == "full_like"
               or (st.stmt.op == "unbroadcast" and st.summed is None) for st in nest.steps):
            nest.hoisted.clear()
            nest.parts.clear()
            nest.sunk.clear()
            return                      # np.zeros_like(x) and x.copy() read better, and run as fast
        ids = {id(st.stmt) for st in nest.steps}
        # those after the last step and its last write print where they are
        cut = max([nest.before_last] + [k + 1 for k, h in enumerate(nest.hoisted) if isinstance(h, SetItem)])
        for h in nest.hoisted[cut:]:
            nest.shapes.pop(h.target, None)
        del nest.hoisted[cut:]
        nest.sunk = [p for before, p in nest.sunk if before < len(nest.steps)]   # (the rest: in place)
        ids |= {id(h) for h in nest.hoisted}
        assigned = []
        live_in = set()
        for st in nest.steps:
            live_in |= {n for n in st.reads if n not in assigned}
            if st.stmt.target not in assigned:
                assigned.append(st.stmt.target)
        for name in assigned:
            inside_only = self.readers.get(name, set()) <= ids and self.writers.get(name, set()) <= ids
            step = next(st for st in nest.steps if st.stmt.target == name)
            if step.summed is not None or not inside_only:
                nest.stored.add(name)
            if name in live_in and name in nest.stored:
                nest.renamed[name] = self._fresh(f"{name}_new")
            elif name in live_in:       # `a_bar = a_bar + t` where a_bar was an array: the number needs a name of its own
                nest.scalars[name] = self._fresh(f"{name}_1")
        domain = nest.steps[0].domain
        for axis in range(len(domain)):
            nest.extents.append(self._extent(nest, axis, ids))
        rows = []
        for st in nest.steps:
            name = st.stmt.target
            if name in nest.stored and st.summed is None and self.fn.types[name].kind == FLOAT \
                    and name not in self.escaping and nest.renamed.get(name, name) not in rows:
                rows.append(nest.renamed.get(name, name))
        if len(rows) > 1:
            nest.block = (self._fresh("arrays"), rows)
        self.first[id(nest.steps[0].stmt)] = nest
        self.members |= ids | {id(p) for p in nest.sunk}

    def _fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}{k}"
        self.taken.add(name)
        return name

    def _extent(self, nest: Nest, axis: int, ids: set) -> str:
        """How many trips the loop over one domain axis makes, read off an operand defined before
        the nest whose dimension is that axis'."""
        d = nest.steps[0].domain[axis]
        if d.one:
            return "1"
        assigned = set()
        for st in nest.steps:
            for name, idx in st.reads.items():
                if name in assigned or not idx:
                    continue
                dims = self.shapes.of(name)
                offset = len(nest.steps[0].domain) - len(dims)
                k = axis - offset
                if 0 <= k < len(dims) and dims[k] is d:
                    return f"{name}.shape[{k}]"
            if st.stmt.op in FILLS or st.stmt.op == "full_like":
                name = st.stmt.args[0].name
                dims = self.shapes.value(st.stmt.args[0])
                if name not in assigned and dims is not None and dims[axis] is d:
                    shape_tuple = not isinstance(self.fn.types.get(name), Type)
                    return f"{name}[{axis}]" if shape_tuple else f"{name}.shape[{axis}]"
            assigned.add(st.stmt.target)
        raise AssertionError("a loop nest without an operand of its shape")

    def checks(self, nest: Nest) -> list:
        """`length != extent` tests of the operands whose lengths along the nest's axes are
        assumed equal at a point (not on entry): a slice against a parameter's axis."""
        tests, assigned = [], set()
        domain = nest.steps[0].domain
        for st in nest.steps:
            s = st.stmt
            operands = [(n, self.shapes.of(n), f"{n}.shape") for n, idx in st.reads.items() if idx and n not in assigned]
            if s.op == "unbroadcast" or s.op in FILLS or s.op == "full_like":
                like = s.args[1] if s.op == "unbroadcast" else s.args[0]
                if isinstance(like, Var) and like.name not in assigned:
                    tuple_like = not isinstance(self.fn.types.get(like.name), Type)
                    operands.append((like.name, self.shapes.value(like), like.name if tuple_like else f"{like.name}.shape"))
            for name, dims, shape in operands:
                if dims is None:
                    continue
                offset = len(domain) - len(dims)
                for k, d in enumerate(dims):
                    axis = offset + k
                    if axis < 0 or d.one or d is not domain[axis] or not d.find().point:
                        continue
                    text = f"{shape}[{k}]"
                    if text != nest.extents[axis] and f"{text} != {nest.extents[axis]}" not in tests:
                        tests.append(f"{text} != {nest.extents[axis]}")
            assigned.add(s.target)
        for _, w, (view, _, axes) in nest.parts:
            for k, a in enumerate(axes):        # x's axes that a point-assumed length runs along
                test = f"{w.target}.shape[{a}] != {nest.extents[k]}"
                if domain[k].find().point and test not in tests:
                    tests.append(test)
            if view is None:
                continue
            for axis, d in enumerate(domain):
                test = f"{view}.shape[{axis}] != {'1' if d.one else nest.extents[axis]}"
                if test not in tests:
                    tests.append(test)
        return tests

    # --- printing ---
    def rows(self, nest: Nest, depth: int, comment, value_text, previous) -> tuple[list, object]:
        """Rows (indent, code, comment, loc) of one nest, and the comment state after it."""
        fn = self.fn
        rows = []
        tests = self.checks(nest)
        if tests:
            rows.append((depth, f"if {' or '.join(tests)}:", "", None))
            rows.append((depth + 1, 'raise ShapeAssumption("lengths differ: run the general code")', "", None))
        domain = nest.steps[0].domain
        shape = f"({', '.join(nest.extents)},)" if len(nest.extents) == 1 else f"({', '.join(nest.extents)})"
        first_comment = comment(nest.steps[0].stmt, previous)
        lib = "" if self.kernels else "np."
        made = set()
        for st in nest.steps:
            name = st.stmt.target
            if name not in nest.stored or name in made:
                continue
            made.add(name)
            array = nest.renamed.get(name, name)
            t = fn.types[name]
            if st.summed is not None:
                start = {"sum": "0.0", "max": "-np.inf", "min": "np.inf"}[st.reduction]
                if st.summed == () and t.kind != FLOAT:
                    rows.append((depth, f"{array} = 0", "", None))
                elif st.summed == ():
                    rows.append((depth, f"{array} = {start}", "", None))
                elif t.kind != FLOAT:
                    rows.append((depth, f"{array} = {self._int_zeros(self._summed_shape(st, nest))}", "", None))
                elif st.reduction == "sum":
                    rows.append((depth, f"{array} = {lib}zeros({self._summed_shape(st, nest)})", "", None))
                else:
                    rows.append((depth, f"{array} = {lib}full({self._summed_shape(st, nest)}, {start})", "", None))
            elif nest.block is not None and array in nest.block[1]:
                if array == nest.block[1][0]:       # one allocation for them all
                    block, arrays = nest.block
                    rows.append((depth, f"{block} = {lib}empty(({len(arrays)}, {', '.join(nest.extents)}))", "", None))
                rows.append((depth, f"{array} = {nest.block[0]}[{nest.block[1].index(array)}]", "", None))
            elif t.kind == FLOAT:
                rows.append((depth, f"{array} = {lib}empty({shape})", "", None))
            else:
                made_by = f"empty_bool({shape})" if self.kernels and t.kind == BOOL else f"np.empty({shape}{DTYPES[t.kind]})"
                rows.append((depth, f"{array} = {made_by}", "", None))
        if rows:
            rows[0] = (rows[0][0], rows[0][1], first_comment, nest.steps[0].stmt.loc)
            first_comment = ""
        loops = [(self.index[axis], extent) for axis, extent in enumerate(nest.extents) if not domain[axis].one]
        for k, (var, extent) in enumerate(loops):
            rows.append((depth + k, f"for {var} in range({extent}):",
                         first_comment if k == 0 else "", nest.steps[0].stmt.loc if k == 0 else None))
        inner = depth + len(loops)
        current: dict = {}              # name -> how the nest reads it now
        prev = previous
        for k, st in enumerate(nest.steps):
            s = st.stmt
            text = comment(s, prev) if k else ""
            prev = (s.loc.filename, s.loc.line, s.role) if s.loc else prev

            def read(a, st=st):
                if isinstance(a, Const):
                    text = value_text(a)
                    return f"({text})" if text.startswith("-") else text
                if a.name in current:
                    return current[a.name]
                idx = st.reads.get(a.name, ())
                return f"{a.name}[{', '.join(idx)}]" if idx else a.name
            if st.summed is not None or s.op == "unbroadcast":
                value = read(s.args[0])
            elif s.op in FILLS:
                value = _fill(FILLS[s.op], fn.types[s.target].kind)
            elif s.op == "full_like":
                value = read(s.args[1])
            elif s.op in COPIES:
                value = read(s.args[0])
            elif s.op in ("maximum", "minimum"):      # NumPy's nan rule, which max() and min() lack
                value = f"np.{s.op}({read(s.args[0])}, {read(s.args[1])})"
            else:
                prim = PRIMITIVES[s.op]
                texts = [read(a) for a in s.args]
                types = [_scalar_type(fn, a) for a in s.args]
                value = prim.emit(texts, dict(s.params), types)
            name = s.target
            array = nest.renamed.get(name, name)
            here = ", ".join(self.here(domain))
            if st.summed is not None:
                target = f"{array}[{', '.join(st.summed)}]" if st.summed else array
                if st.reduction == "sum":
                    rows.append((inner, f"{target} += {value}", text, s.loc))
                else:                    # NumPy's: a nan anywhere makes the result nan
                    rows.append((inner, f"{target} = np.{st.reduction}imum({target}, {value})", text, s.loc))
            elif name in nest.stored:
                rows.append((inner, f"{array}[{here}] = {value}", text, s.loc))
                current[name] = f"{array}[{here}]"
            else:
                scalar = nest.scalars.get(name, name)
                rows.append((inner, f"{scalar} = {value}", text, s.loc))
                current[name] = scalar
            for before, w, (view, at, _) in nest.parts:
                if before == k + 1:
                    op = "+=" if w.op == "add" else "="
                    element = f"{view}[{here}]" if view is not None else f"{w.target}[{at}]"
                    rows.append((inner, f"{element} {op} {current[w.value.name]}", "", w.loc))
        for name, array in nest.renamed.items():
            rows.append((depth, f"{name} = {array}", "", None))
        return rows, prev

    def hoisted_code(self, nest: Nest, s: Assign) -> str | None:
        """`t9_shape = (n, k)` for the shape of a step's target, read off the nest's extents (the
        target itself may then stay a number inside the nest); the view a write into a part with
        bounds goes through ("" for other writes: nothing before the nest); None for the
        statements printed as they are."""
        if isinstance(s, SetItem):
            view = next(view for _, w, (view, _, _) in nest.parts if w is s)
            if view is None:
                return ""                   # written inside the nest, at the loop indices
            index = index_text(dict(s.params)["index"], [value_text(a) for a in s.index_args])
            return f"{view} = {s.target}[{index}]"
        if s.target not in nest.shapes:
            return None
        parts = ["1" if d.one else nest.extents[k] for k, d in enumerate(nest.steps[0].domain)]
        return f"{s.target} = ({', '.join(parts)}{',' if len(parts) == 1 else ''})"

    def _int_zeros(self, shape: str) -> str:
        """Integer zeros a nest counts into (how many elements equal a maximum)."""
        return f"zeros_int({shape})" if self.kernels else f"np.zeros({shape}, np.int64)"

    def _summed_shape(self, st: Step, nest: Nest) -> str:
        parts = []
        for idx in st.summed:
            parts.append("1" if idx == "0" else nest.extents[self.index.index(idx)])
        if not parts:
            return "()"
        return f"({', '.join(parts)},)" if len(parts) == 1 else f"({', '.join(parts)})"


ONE_AXIS = object()          # an axis `None` adds to the part written


def _fill(value: str, kind: str) -> str:
    return {FLOAT: f"{value}.0", INT: value, BOOL: "True" if value == "1" else "False"}[kind]


def _scalar_type(fn: Function, a):
    if isinstance(a, Var):
        t = fn.types[a.name]
        return Type(t.kind, 0)
    from ..ir.builder import const_type
    return const_type(a.value)

