"""The API side of symbolic mode (transforms/symbolic.py does the work).

`ct.jacrev(f, symbolic=True)` (and jacfwd, grad, value_and_grad, hessian) makes a
SymbolicTransform. Symbolic code is specialized to the shape of every argument, not only its kind
and rank (it expands small vectors and matrices into numbers), so this transformation keeps one
ordinary per-signature transformation per argument shapes, whose mode string carries the shapes
("symbolic jacrev ((3,), (3,), ())"): the caches, the disk index and ct.source then work as for
any other transformation. The code it runs follows the calling convention of the ordinary mode,
so `symbolic="auto"` can fall back to it without the caller noticing.

Under ct.vmap, the per-sample function is made symbolic for one sample's shapes (sample_mode);
a Jacobian per sample is then one block shaped out.shape + in.shape per differentiated leaf."""
from __future__ import annotations

import copy

import numpy as np

from .errors import CompileError
from . import specialize as sp
from .api import _Transform
from .arguments import argnums_tuple, with_defaults
from .transforms.symbolic import mode_text


def check_option(symbolic) -> None:
    if symbolic is not False and symbolic is not True and symbolic != "auto":
        raise ValueError(f"symbolic must be False, True or 'auto', got {symbolic!r}")


def _how(symbolic) -> str:
    return "symbolic" if symbolic is True else "auto"


def leaf_shapes(args) -> tuple:
    return tuple(np.shape(leaf) for a in args for leaf in sp.leaves(a))


def transform(pyfunc, mode: str, argnums, has_aux: bool, target: str, symbolic):
    """The transformation api.py uses for mode (grad, jacfwd, jacrev, hessian) with `symbolic`."""
    check_option(symbolic)
    if not symbolic:
        return _Transform(pyfunc, mode, argnums_tuple(argnums), has_aux, target)
    return SymbolicTransform(pyfunc, mode, argnums_tuple(argnums), has_aux, target, _how(symbolic),
                             isinstance(argnums, int))


class SymbolicTransform(_Transform):
    """A transformation made symbolic: one ordinary transformation per argument shapes."""

    def __init__(self, pyfunc, mode, argnums, has_aux, target, how: str, single: bool):
        super().__init__(pyfunc, mode, argnums, has_aux, target)
        self.how, self.single = how, single
        self._shaped: dict = {}
        self._latest = None

    def _for(self, args):
        shapes = leaf_shapes(with_defaults(self.pyfunc, args))
        t = self._shaped.get(shapes)
        if t is None:
            t = self._shaped[shapes] = _Transform(self.pyfunc, mode_text(self.how, self.mode, shapes),
                                                  self.argnums, self.has_aux, self.target)
        self._latest = t
        return t

    @property
    def last(self):
        return self._latest.last if self._latest is not None else None

    def specialize(self, args) -> tuple:
        return self._for(args).specialize(args)

    def run(self, args, extra=()):
        out, compiled, specs, argnums = self._for(args).run(args, extra)
        # one block is returned as itself by symbolic code (a 1-tuple prints as its item), in a
        # tuple by the ordinary drivers
        if self.mode in ("jacfwd", "jacrev") and not isinstance(out[1], tuple):
            out = (out[0], (out[1],))
        elif self.mode == "hessian" and not isinstance(out, tuple):
            out = (out,)
        return out, compiled, specs, argnums

    def batch_plan(self, f, reduce):
        """The batching.Plan of ct.vmap over this transformation (and whether one argnum was given)."""
        from .batching import Plan
        summed, add = ("all", " add") if reduce else ("none", "")
        if self.mode == "grad" and not self.has_aux:
            return Plan(f"{self.how} grad{add}", self.argnums, keep_value=getattr(f, "_returns_value", False),
                        summed=summed), getattr(f, "_single_argnum", False)
        if self.mode in ("jacfwd", "jacrev"):
            if self.how != "symbolic":
                raise CompileError(f"ct.vmap of ct.{self.mode}(f, symbolic='auto') is not supported: "
                                   "per-sample Jacobians are made by symbolic mode only",
                                   hint=f"pass symbolic=True to ct.{self.mode}")
            return Plan(f"symbolic jacobian{add}", self.argnums, keep_value=False, summed=summed), self.single
        raise CompileError(f"ct.vmap takes ct.grad, ct.value_and_grad, ct.jacfwd or ct.jacrev with "
                           f"symbolic=..., not a symbolic {self.mode}" + (" with has_aux" if self.has_aux else ""))


def sample_mode(inner: str, batch, target: str) -> str:
    """A batch plan's symbolic mode for one sample's shapes (batching.BatchedTransform)."""
    how, kind, *flags = inner.split(" ")
    shapes = tuple(np.shape(leaf)[1:] if batched else np.shape(leaf)
                   for leaf, batched in zip(batch.leaves, batch.batched))
    return mode_text(how, kind, shapes, per_sample=True, add="add" in flags, cuda=target == "cuda")


def fused_module_source(b, header: str, name: str, doc: str, params: list, batched: list, outputs: list,
                        boundscheck: bool) -> tuple[str, str] | None:
    """The CPU batch module of symbolic per-sample code in buffer form (backends/buffers.py): a
    function runs the per-sample statements in a loop over a range of samples, on the batch's rows
    (`x[i, 0]`, `jac[i, 0, 1] = ...`), and a parallel driver with the calling convention of
    parallel.buffer_driver_source gives each thread its range. No per-sample call and no array
    views, so LLVM optimizes the whole loop (about 1.5x faster than calling the per-sample function
    for each sample), and the parallel driver stays small (Numba's parallel passes are slow on
    large loop bodies). Returns the module's source and the name of the function that runs a range
    of samples; None when the code is not straight-line.

    That function does not check indices (boundscheck=False whatever ct.config.boundscheck says):
    symbolic code is made for the exact shapes of one sample, so its positions are numbers that
    SymPy already checked against them, the batch driver checks that the batched arguments agree
    on the batch size, and the rows run are those of the batch.

    Where the code calls sines, exponentials and the like on per-sample values, the loop runs
    LANES samples at a time with those calls as vector calls (backends/lanes.py)."""
    from .ir.nodes import Assign, SetItem, Return, Var, Const, Function
    from .ir.types import Type, INT
    from .backends.pysource import function_source, statement_code, njit_decorator
    from .backends.buffers import fresh
    from .backends.parallel import CHUNK_FAILED
    from .backends.layout import lay_out_lines
    from .backends.lanes import rows_lines, LANES
    from .transforms.cleanup import rename_reads
    fn = b.fn
    if b.tapes or any(not isinstance(s, (Assign, SetItem, Return)) for s in fn.body):
        return None
    taken = set(fn.types) | set(fn.params) | {"np", "numba", name}
    n, chunks, c, i, done = (fresh(taken, v) for v in ("n", "chunks", "c", "i", "done"))
    whole = {p for p, bt in zip(params, batched) if bt}
    row = {p: (c if o.summed else i) for (p, _), o in zip(b.outputs, outputs)}
    types = dict(fn.types)
    types[i] = types[c] = Type(INT, 0)
    for p in whole:
        types[p] = Type(types[p].kind, types[p].rank + 1)
    for p, rank in b.outputs:
        types[p] = Type(types.get(p, Type("float", 0)).kind, max(rank, 1) + 1)
    first = (("int",),)
    # a number per sample (x) is the batch's element x[i], read into a name of its own
    scalars = {p: fresh(taken, f"{p}_i") for p in params if p in whole and fn.types[p].rank == 0}
    body = [Assign(element, "getitem", (Var(p), Var(i)), (("index", first),), None, "primal")
            for p, element in scalars.items()]
    for p, element in scalars.items():
        types[element] = fn.types[p]

    def per_sample(s):
        s = copy.copy(s)
        for p, element in scalars.items():
            rename_reads(s, p, element)
        return s
    for s in (per_sample(s) for s in fn.body):
        if isinstance(s, Assign):
            reads = [a.name for a in s.args if isinstance(a, Var) and (a.name in whole or a.name in row)]
            if reads:
                if s.op != "getitem" or reads != [s.args[0].name] or s.args[0].name not in whole:
                    return None
                s = Assign(s.target, "getitem", (s.args[0], Var(i)) + tuple(s.args[1:]),
                           (("index", first + dict(s.params)["index"]),), s.loc, s.role)
            body.append(s)
        elif isinstance(s, SetItem):
            if s.target not in row:
                return None
            body.append(SetItem(s.target, (Var(row[s.target]),) + tuple(s.index_args),
                                (("index", first + dict(s.params)["index"]),), s.value, s.loc, s.role, s.op))
        else:
            for (p, rank), v in zip(b.outputs, b.returned):
                if isinstance(v, Var) and v.name in scalars:
                    v = Var(scalars[v.name])
                if rank == 0:
                    body.append(SetItem(p, (Var(row[p]), Const(0)), (("index", first + first),), v, None,
                                        s.role, "add"))
    rows = fresh(taken, f"{fn.name}_rows")
    start, stop = fresh(taken, "start"), fresh(taken, "stop")
    bufs = [p for p, _ in b.outputs]
    args = ", ".join(list(params) + bufs)
    shared = {p for p, bt in zip(params, batched) if not bt}
    blocked = rows_lines(body, types, taken, shared, whole, i, start, stop, fn.filename)
    imports = ["import numpy as np", "import numba"]
    if blocked is not None:
        lines, used = blocked
        imports.append(f"from cotangent.backends.vector_math import {', '.join(used)}")
        how = (f"{LANES} at a time, their {', '.join(u[len('vector_'):] for u in used)} as vector calls "
               f"(backends/lanes.py)")
    else:
        inner = Function(name, [], body, fn.filename, types)
        inner.names = getattr(fn, "names", None)
        lines = [f"    for {i} in range({start}, {stop}):"]
        lines += ["    " + line for line in function_source(inner, "", statement_code)[0][1:]]
        how = "row by row"
    src = [f"# {line}" for line in header.splitlines()] + imports + ["", "", njit_decorator(False)]
    src += lay_out_lines([f"def {rows}({args}, {c}, {start}, {stop}):",
                          f'    """{fn.doc} Samples start to stop of the batch (chunk {c}), {how}."""'])
    src += lines
    src += ["", "", njit_decorator(boundscheck, parallel=True)] + lay_out_lines([
            f"def {name}({args}, {chunks}):",
            f'    """{doc}"""',
            f"    {n} = {params[batched.index(True)]}.shape[0]",
            f"    {done} = np.zeros({chunks}, np.bool_)",
            f"    for {c} in numba.prange({chunks}):         # one chunk of samples per thread",
            f"        {rows}({args}, {c}, {c} * {n} // {chunks}, ({c} + 1) * {n} // {chunks})",
            f"        {done}[{c}] = True",
            f"    if not {done}.all():                 # a chunk stopped at an error",
            f'        raise RuntimeError("{CHUNK_FAILED}")'])
    return "\n".join(src) + "\n", rows
