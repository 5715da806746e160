"""The per-sample function in buffer form: it allocates nothing on the heap, so a batch loop can
call it from many CPU threads, and CUDA can run it as a device function.

Generated code allocates in three places, and each becomes something the caller owns:
- a returned array (a gradient, or an output the function fills element by element) becomes a
  buffer parameter, zeroed by the caller; its constructor line is dropped; one made of numbers
  (`np.array([a, b])`) is written element by element;
- a returned number is added into a one-element buffer (`value_out[0] += value`);
- a tape (a stack of numbers the adjoint sweep reads back) becomes a row of a scratch array
  `tapes[k, :]` with an index that counts pushes. When a tape is full the push is skipped and
  `tape_need[0]` records the length it needed; the caller then runs the batch again with longer
  tapes.

- a small array the function makes with a constant shape (`np.zeros(3)`) and only reads and
  writes element by element stays (on CUDA, in the thread's local memory);
- a scratch array whose shape depends only on shared arguments and constants (`np.empty(k)` with
  `k = alphas.shape[0]`), read and written element by element, becomes a workspace parameter: the
  caller allocates one per CPU chunk or CUDA thread, sized by the module's `_workspace` function
  (the statements its shape needs, run in Python on the shared arguments before the batch), and
  the constructor line becomes a fill loop (none for np.empty).

What cannot be put in this form (arrays of other shapes, whole-array operations, tapes of arrays)
is a CompileError that names the construct and its line; the CPU target then uses the allocating
form."""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass

from ..errors import CompileError
from ..ir.nodes import Assign, SetItem, Return, Var, Const, Function, TapeNew, Push, Pop, walk, operands, flat_values
from ..ir.types import Type
from .pysource import statement_code, value_text, function_source, _type_of

CONSTRUCTORS = ("zeros", "zeros_like", "empty", "empty_like")
SHAPE_READS = ("shape", "dim", "size", "zeros_like", "empty_like", "ones_like")   # read a shape only
LOCAL_FILL = {"zeros": 0, "empty": 0, "ones": 1, "zeros_like": 0, "empty_like": 0, "ones_like": 1}


@dataclass
class Buffered:
    """A per-sample function in buffer form and what its caller must pass."""
    fn: Function               # the function to print (params extended, buffer constructors dropped)
    outputs: list              # per returned value: (parameter name, rank)
    tapes: list                # tape names, in row order
    tape_params: tuple         # ("tapes", "tape_need") names, when there are tapes
    counters: dict             # tape -> the name of its push count
    returned: list             # the returned values, flat, in the order of outputs
    local: dict                # small arrays of constant shape made inside: name -> (shape, fill, index names)
    workspace: dict = None     # scratch arrays sized by shared arguments: name -> (shape expression, fill, kind, index names)
    shape_lines: list = None   # the statements those shapes need, as Python lines
    stacked: dict = None       # returned arrays made of numbers (np.array([a, b])): name -> summed


def fresh(taken: set, base: str) -> str:
    """`base`, or `base_1`, `base_2`, ... whichever is not taken yet (and take it)."""
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _unsupported(what: str, loc, hint: str = "") -> CompileError:
    return CompileError(f"{what}: per-sample code run as a batch must not allocate", loc,
                        hint=hint or "work on numbers: read elements of the arguments and accumulate "
                                     "in scalars and loops (write into arrays only to fill a returned one)")


def buffer_form(out_fn: Function, summed: list, shared: frozenset = frozenset()) -> Buffered:
    """`out_fn` rewritten to write its returned values into caller-owned buffers. `summed[j]`
    says whether returned value j is added up over several samples (then it may only be added
    into, never overwritten or read). `shared` names the parameters every sample shares: arrays
    sized by them alone become workspaces."""
    ret = out_fn.body[-1]
    if not isinstance(ret, Return):
        raise CompileError(f"{out_fn.name} does not end in a return")
    flat = list(flat_values(ret.values))
    taken = set(out_fn.types) | set(out_fn.params)
    buffers, outputs = {}, []
    for v, add_up in zip(flat, summed):
        t = _type_of(out_fn, v)
        if t.rank == 0:
            base = v.name if isinstance(v, Var) else "value"
            outputs.append((fresh(taken, f"{base}_out"), 0))
            continue
        if not isinstance(v, Var) or v.name in out_fn.params or v.name in buffers:
            raise _unsupported("returning an argument, or one array twice", ret.loc)
        buffers[v.name] = add_up
        outputs.append((v.name, t.rank))
    made, local, stacked = {}, {}, {}
    sizing = _Sizing(out_fn, shared, taken)
    tapes = []
    for s in walk(out_fn.body):
        if isinstance(s, Assign):
            t = out_fn.types.get(s.target)
            if s.target in buffers:
                if s.target in made or s.target in stacked:
                    raise _unsupported(f"the returned array {s.target} is made twice", s.loc)
                if s.op == "stack" and s.param("axis", 0) == 0 and all(
                        _type_of(out_fn, a).rank == 0 for a in s.args):
                    stacked[s.target] = buffers[s.target]     # np.array([a, b]): element writes
                    continue
                if s.op not in CONSTRUCTORS:
                    raise _unsupported(f"the returned array {s.target} is computed by whole-array "
                                       f"operations ({s.op})", s.loc)
                made[s.target] = s
            elif isinstance(t, Type) and t.rank > 0:
                shape = _constant_shape(s, local)
                if s.target in local or s.target in sizing.workspace:
                    raise _unsupported(f"{s.op} makes the array {s.target} a second time", s.loc,
                                       hint="make each scratch array once, then write its elements")
                if shape is None:
                    sizing.add(s, t)
                else:
                    local[s.target] = (shape, LOCAL_FILL[s.op],
                                       [fresh(taken, f"{s.target}_i{k}") for k in range(len(shape))])
            for a in s.args:
                if isinstance(a, Var) and a.name in buffers and s.op not in SHAPE_READS \
                        and not (s.op == "getitem" and not buffers[a.name]):
                    raise _unsupported(f"the returned array {a.name} is read by {s.op}", s.loc)
                scratch = isinstance(a, Var) and (a.name in local or a.name in sizing.workspace)
                if scratch and s.op not in ("getitem", "shape", "dim", "size") \
                        and s.target not in local and s.target not in sizing.workspace:
                    raise _unsupported(f"{s.op} uses the array {a.name} as a whole", s.loc)
        elif isinstance(s, SetItem):
            if s.target not in buffers and s.target not in local and s.target not in sizing.workspace:
                raise _unsupported(f"writing into {s.target}, an array the function made", s.loc)
            if out_fn.types[s.target].rank != sum(1 for e in dict(s.params)["index"] if e[0] == "int"):
                raise _unsupported(f"writing a slice of {s.target}", s.loc, hint="write element by element")
            if buffers.get(s.target) and s.op != "add":
                raise _unsupported(f"{s.target} is summed over the batch, so it can only be added into "
                                   f"(+=), not overwritten", s.loc)
        elif isinstance(s, TapeNew):
            tapes.append(s.tape)
        elif isinstance(s, Push):
            t = _type_of(out_fn, s.value)
            if not isinstance(t, Type) or t.rank:
                raise _unsupported(f"the adjoint sweep needs a tape of arrays ({s.tape}) here", s.loc,
                                   hint="write the loop body with numbers, so its tape holds numbers")
        else:
            for a in operands(s):
                if isinstance(a, Var) and (a.name in buffers or a.name in local or a.name in sizing.workspace) \
                        and not isinstance(s, Return):
                    raise _unsupported(f"the array {a.name} is used as a whole", s.loc)
    fn = copy.copy(out_fn)
    fn.body = _without(out_fn.body, list(made.values()))
    tape_params = (fresh(taken, "tapes"), fresh(taken, "tape_need")) if tapes else ()
    fn.params = (list(out_fn.params) + [name for name, rank in outputs if rank == 0 or name in buffers]
                 + list(tape_params) + list(sizing.workspace))
    fn.types = dict(out_fn.types)
    counters = {tape: fresh(taken, f"{tape}_n") for tape in tapes}
    return Buffered(fn, outputs, tapes, tape_params, counters, flat, local, sizing.workspace, sizing.lines(),
                    stacked)


class _Sizing:
    """Scratch arrays whose shapes depend on shared parameters only, and the top-level statements
    those shapes are computed by (a shape read inside a loop or from a batched argument is the
    sample's own, so such an array cannot be given to the function by its caller)."""

    def __init__(self, fn: Function, shared: frozenset, taken: set):
        self.fn, self.shared, self.taken = fn, shared, taken
        self.top = {s.target: s for s in fn.body if isinstance(s, Assign)}
        self.workspace: dict = {}
        self.needed: set = set()

    def add(self, s: Assign, t: Type) -> None:
        if s.op in ("zeros_like", "empty_like", "ones_like") and isinstance(s.args[0], Var):
            like = s.args[0].name
            shape = self.workspace[like][0] if like in self.workspace else f"{like}.shape"
            roots = [] if like in self.workspace else [s.args[0]]
        elif s.op in ("zeros", "empty", "ones") and s.args:
            roots = list(s.args)
            shape = value_text(tuple(s.args))
        else:
            raise _unsupported(f"{s.op} makes an array ({s.target})", s.loc, hint=_SCRATCH_HINT)
        for r in roots:
            self._depend(r, s, s.op.endswith("_like"))
        fill = None if s.op.startswith("empty") else LOCAL_FILL[s.op]
        index = [fresh(self.taken, f"{s.target}_i{k}") for k in range(t.rank)]
        self.workspace[s.target] = (shape, fill, t.kind, index)

    def _depend(self, v, at: Assign, shape_only: bool = False) -> None:
        """Mark what `v` is computed from, or refuse when that is the sample's own data (the
        shape of a batched argument is the same for every sample; its values are not)."""
        if isinstance(v, tuple):
            for item in v:
                self._depend(item, at, shape_only)
            return
        if not isinstance(v, Var):
            return
        if v.name in self.fn.params:
            if v.name not in self.shared and not shape_only:
                raise _unsupported(f"{at.op} makes an array ({at.target}) whose shape depends on the "
                                   f"sample ({v.name})", at.loc, hint=_SCRATCH_HINT)
            self.needed.add(v.name)
            return
        if v.name in self.needed:
            return
        source = self.top.get(v.name)
        if source is None or source.op in CONSTRUCTORS:
            raise _unsupported(f"{at.op} makes an array ({at.target}) whose shape is computed inside a "
                               f"loop or branch ({v.name})", at.loc, hint=_SCRATCH_HINT)
        self.needed.add(v.name)
        for a in source.args:
            self._depend(a, at, source.op in ("shape", "dim", "size"))

    def lines(self) -> list:
        """The statements the workspace shapes need, in source order, as Python."""
        return [statement_code(self.fn, s) for s in self.fn.body
                if isinstance(s, Assign) and s.target in self.needed]


_SCRATCH_HINT = ("a scratch array in per-sample code needs a shape made from shared arguments "
                 "(in_axes None) and constants, outside loops and branches, and element reads and "
                 "writes only; or work on numbers")


def hoist_shared(b: Buffered, shared: frozenset) -> list:
    """Move the top-level statements that compute a number from shared arguments alone (the cos
    of a shared pose's angle, an element of shared weights) out of the per-sample function: the
    batch driver computes them once and passes them in, after the arguments. Returns the hoisted
    statements, in order."""
    fn = b.fn
    counts = Counter(st.target for st in walk(fn.body) if isinstance(st, (Assign, Pop, SetItem)))
    once = {t for t, k in counts.items() if k == 1}       # assigned once, never written into
    known = set(shared)
    hoisted = []
    for st in fn.body:
        if not isinstance(st, Assign) or st.target not in once or st.op in ("call", "call_value"):
            continue
        t = fn.types.get(st.target)
        if not (isinstance(t, Type) and t.rank == 0) or st.target in b.local or st.target in (b.workspace or {}):
            continue
        if all(not isinstance(a, Var) or a.name in known for a in flat_values(st.args)):
            hoisted.append(st)
            known.add(st.target)
    if hoisted:
        argc = len(fn.params) - len(b.outputs) - len(b.tape_params) - len(b.workspace or {})
        fn.body = _without(fn.body, hoisted)
        fn.params = fn.params[:argc] + [st.target for st in hoisted] + fn.params[argc:]
    return hoisted


def workspace_source(b: Buffered, name: str, params: list) -> str:
    """`name(*params)`: the shapes of the workspaces, from the shared arguments (plain Python, run
    once per batch before the driver)."""
    shapes = [w[0] for w in b.workspace.values()]
    body = [f"    {line}" for stmt in b.shape_lines for line in stmt.split("\n")]
    return "\n".join([f"def {name}({', '.join(params)}):",
                      '    """The shapes of the scratch arrays each thread is given."""', *body,
                      f"    return ({', '.join(shapes)},)"]) + "\n"


def _constant_shape(s: Assign, local: dict) -> tuple | None:
    """The shape of a small array made inside, when it is a constant: np.zeros(3), np.ones((2, 3)),
    np.zeros_like(h) of such an array."""
    if s.op in ("zeros", "empty", "ones") and all(isinstance(a, Const) and isinstance(a.value, int)
                                                  for a in s.args) and s.args:
        return tuple(a.value for a in s.args)
    if s.op in ("zeros_like", "empty_like", "ones_like") and isinstance(s.args[0], Var) \
            and s.args[0].name in local:
        return local[s.args[0].name][0]
    return None


def _without(stmts: list, drop: list) -> list:
    """A copy of a statement list without the given statements (nested blocks copied too)."""
    out = []
    for s in stmts:
        if any(s is d for d in drop):
            continue
        s = copy.copy(s)
        for attr in ("body", "orelse", "cond_body"):
            if getattr(s, attr, None) is not None:
                setattr(s, attr, _without(getattr(s, attr), drop))
        out.append(s)
    return out


def printer(b: Buffered, assign_code=statement_code, tape_full: str = "") -> callable:
    """The statement printer of the buffer form. `assign_code` prints assignments (the CUDA
    backend maps NumPy calls to `math`); `tape_full` is the line that records a full tape
    (`{need}` is the length needed)."""
    counters = b.counters
    row = {tape: k for k, tape in enumerate(b.tapes)}
    tapes, need = b.tape_params or ("", "")

    def code(fn: Function, s) -> str:
        if isinstance(s, TapeNew):
            return f"{counters[s.tape]} = 0"
        if isinstance(s, Push):
            n = counters[s.tape]
            full = tape_full.format(need=f"{n} + 1", tape_need=need)
            return (f"if {n} < {tapes}.shape[1]:\n    {tapes}[{row[s.tape]}, {n}] = {value_text(s.value)}\n"
                    f"else:\n    {full}\n{n} += 1")
        if isinstance(s, Pop):
            n = counters[s.tape]
            t = fn.types[s.target]
            read = f"{tapes}[{row[s.tape]}, min({n}, {tapes}.shape[1] - 1)]"
            cast = {"int": f"int({read})", "bool": f"{read} != 0.0"}.get(t.kind, read)
            return f"{n} -= 1\n{s.target} = {cast}"
        if isinstance(s, Return):
            lines = [f"{name}[0] += {value_text(v)}" for (name, rank), v in zip(b.outputs, b.returned)
                     if rank == 0]
            return "\n".join(lines + ["return"])
        if isinstance(s, Assign) and b.stacked and s.target in b.stacked:
            op = "+=" if b.stacked[s.target] else "="
            return "\n".join(f"{s.target}[{k}] {op} {value_text(a)}" for k, a in enumerate(s.args))
        if isinstance(s, Assign) and b.workspace and s.target in b.workspace:
            return _fill(s.target, *b.workspace[s.target][1:])
        if isinstance(s, Assign):
            return assign_code(fn, s)
        return statement_code(fn, s)

    return code


def _fill(name: str, fill, kind: str, index: list) -> str:
    """The constructor of a workspace, as a loop nest that fills it (np.empty: nothing to fill)."""
    if fill is None:
        return f"# {name}: the caller's scratch array"
    value = {"float": f"{float(fill)!r}", "int": str(int(fill)), "bool": str(bool(fill))}[kind]
    rank = len(index)
    lines = [f"# {name}: the caller's scratch array, filled with {value}"]
    for depth, i in enumerate(index):
        lines.append("    " * depth + f"for {i} in range({name}.shape[{depth}]):")
    lines.append("    " * rank + f"{name}[{', '.join(index)}] = {value}")
    return "\n".join(lines)


def source_lines(b: Buffered, decorator: str, code) -> tuple[list, dict]:
    """The function's lines; statements printed on several lines are indented like their first."""
    lines, locmap = function_source(b.fn, decorator, code)
    out, outmap = [], {}
    for k, line in enumerate(lines):
        head, *rest = line.split("\n")
        indent = head[:len(head) - len(head.lstrip())]
        if k in locmap:
            outmap[len(out)] = locmap[k]
        out.append(head)
        out += [indent + r for r in rest]
    return out, outmap
