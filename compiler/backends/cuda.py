"""The CUDA target: the per-sample function in buffer form (buffers.py) as a `numba.cuda` device
function, and a kernel that runs it over a batch, one thread per sample with a grid-stride loop.

Each thread adds its samples' summed outputs (the gradients of shared arguments) into its own row
of a buffer, and a second kernel adds the rows up in order: no atomics on data, and the same
result on every run. Per-sample outputs go to their own rows. Device code allocates nothing, so
the per-sample function may use numbers, loops, branches, reads of array elements, element
writes into the arrays it returns, and scratch arrays: of a constant shape in the thread's local
memory, or sized by shared arguments as the thread's slice of a workspace allocated per launch; NumPy calls on numbers print as their `math` versions, and
anything else is a CompileError naming the construct and its line."""
from __future__ import annotations

from ..errors import CompileError
from ..ir.nodes import Assign
from ..ir.types import Type
from .pysource import statement_code, value_text
from .buffers import Buffered, printer, source_lines, fresh
from .layout import lay_out_lines

MATH = {"exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2",
        "log10": "log10", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan",
        "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh",
        "tanh": "tanh", "arctan2": "atan2", "hypot": "hypot", "fmod": "fmod"}
FORMULAS = {"abs": "abs({0})", "square": "{0} * {0}", "sigmoid": "1.0 / (1.0 + math.exp(-{0}))",
            "softplus": "max({0}, 0.0) + math.log1p(math.exp(-abs({0})))",
            "floor": "float(math.floor({0}))", "ceil": "float(math.ceil({0}))",
            "logical_and": "{0} and {1}", "logical_or": "{0} or {1}", "logical_not": "not {0}"}
# printed as on the CPU: operators, comparisons, casts, max/min/where/clip of numbers, element reads
SAME = {"add", "sub", "mul", "truediv", "pow", "neg", "mod", "floordiv", "lt", "le", "gt", "ge",
        "eq", "ne", "not", "maximum", "minimum", "where", "clip", "alias", "copy", "float", "int",
        "bool", "shape", "dim", "size", "tuple_getitem", "getitem"}


def local_array(name: str, shape: tuple, fill, index: list, kind: str) -> str:
    """A small array of constant shape in the thread's local memory, filled like np.zeros/ones."""
    dtype = {"float": "numba.float64", "int": "numba.int64", "bool": "numba.boolean"}[kind]
    lines = [f"{name} = cuda.local.array({shape!r}, {dtype})"]
    for depth, (i, n) in enumerate(zip(index, shape)):
        lines.append("    " * depth + f"for {i} in range({n}):")
    value = {"float": f"{float(fill)!r}", "int": str(fill), "bool": str(bool(fill))}[kind]
    lines.append("    " * len(shape) + f"{name}[{', '.join(index)}] = {value}")
    return "\n".join(lines)


def assign_code(fn, s: Assign, local: dict | None = None) -> str:
    """One assignment as device code, or a CompileError for what device code cannot do."""
    args = [value_text(a) for a in s.args]
    t = fn.types.get(s.target)
    if local and s.target in local:
        return local_array(s.target, *local[s.target], t.kind)
    if isinstance(t, Type) and t.rank:
        raise CompileError(f"the CUDA target cannot run {s.op} here: it makes an array", s.loc)
    if s.op in SAME:
        return statement_code(fn, s)
    if s.op in MATH:
        return f"{s.target} = math.{MATH[s.op]}({', '.join(args)})"
    if s.op in FORMULAS:
        return f"{s.target} = {FORMULAS[s.op].format(*args)}"
    if s.op == "sign":
        one, zero = ("1.0", "0.0") if t.kind == "float" else ("1", "0")
        return f"{s.target} = {one} if {args[0]} > 0 else (-{one} if {args[0]} < 0 else {zero})"
    if s.op == "trip_count":       # len(range(start, stop, step))
        start, stop, step = args
        if step == "1":
            return f"{s.target} = max(0, {stop})" if start == "0" else f"{s.target} = max(0, {stop} - {start})"
        return f"{s.target} = max(0, ({stop} - {start} + {step} - (1 if {step} > 0 else -1)) // {step})"
    raise CompileError(f"the CUDA target does not support {s.op} in device code", s.loc,
                       hint="per-sample code on CUDA works on numbers: arithmetic, math functions, "
                            "loops, branches, element reads and element writes into returned arrays")


def module_source(b: Buffered, header: str, name: str, doc: str, params: list, batched: list,
                  outputs: list) -> str:
    """The CUDA module: the device function, the batch kernel `name`, and the row-sum kernel."""
    code = printer(b, lambda fn, s: assign_code(fn, s, b.local), "cuda.atomic.max({tape_need}, 0, {need})")
    device, _ = source_lines(b, "@cuda.jit(device=True)", code)
    from .parallel import sample_args
    taken = set(params) | {"np", "math", "cuda", b.fn.name, name}
    bufs = [fresh(taken, f"{o.name}_parts" if o.summed else o.name) for o in outputs]
    tapes = [fresh(taken, t) for t in b.tape_params]
    scratch = [fresh(taken, f"{w}_rows") for w in b.workspace]
    slot, slots, i = (fresh(taken, v) for v in ("slot", "slots", "i"))
    rows = [f"{buf}[{slot}]" if o.summed else f"{buf}[{i}]" for buf, o in zip(bufs, outputs)]
    if tapes:
        rows += [f"{tapes[0]}[:, :, {slot}]", tapes[1]]
    rows += [f"{w}[{slot}]" for w in scratch]       # the thread's slice of each scratch array
    kernel = ["@cuda.jit",
              f"def {name}({', '.join(params + bufs + tapes + scratch)}):",
              f'    """{doc} One thread per sample (grid-stride); summed outputs go to the thread\'s row."""',
              f"    {slot} = cuda.grid(1)",
              f"    {slots} = cuda.gridsize(1)",
              f"    for {i} in range({slot}, {params[batched.index(True)]}.shape[0], {slots}):",
              f"        {b.fn.name}({sample_args(params, batched, i)}, {', '.join(rows)})"]
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ["import math", "import numpy as np", "import numba", "from numba import cuda", "", ""]
    lines += device + ["", ""] + kernel + ["", ""] + SUM_ROWS.splitlines()
    return "\n".join(lay_out_lines(lines)) + "\n"


SUM_ROWS = '''@cuda.jit
def sum_rows(parts, out):
    """out[e] = parts[0, e] + parts[1, e] + ..., in row order: the threads' rows of a summed output."""
    e = cuda.grid(1)
    if e < out.shape[0]:
        acc = 0.0
        for r in range(parts.shape[0]):
            acc += parts[r, e]
        out[e] = acc'''
