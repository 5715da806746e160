"""The CPU driver of a batched function: a loop over samples calling the per-sample function.

On target="cpu" the samples are split into one contiguous chunk per Numba thread and the chunks
run under `numba.prange`. Each chunk adds its samples' summed outputs into its own row of an
accumulator (never a shared `+=`, so no races), and the rows are added in chunk order at the end;
per-sample outputs are written to their own rows. On target="python" the same text runs as one
chunk, in plain Python.

Numba drops an exception raised inside a parallel loop (the thread's chunk just stops), so on the
CPU each chunk marks itself done at its end, and a chunk left unmarked raises after the loop: the
caller then runs the batch as plain Python to find the sample's error and line."""
from __future__ import annotations

from dataclasses import dataclass

from .buffers import fresh
from .layout import lay_out_lines
from .pysource import njit_decorator

CHUNK_FAILED = ("a sample raised an error inside the parallel loop, which Numba does not pass on; "
                "cotangent runs the batch as Python to find it")


@dataclass
class Output:
    """One result of the per-sample function, as the driver returns it."""
    name: str            # the driver's name for it
    access: str          # how to read it from the per-sample result, "{out}"
    rank: int            # its per-sample rank
    summed: bool         # summed over the batch (else stacked, one row per sample)


def sample_args(params: list, batched: list, index: str) -> str:
    """The per-sample call's arguments: batched leaves indexed by `index`, shared ones as they are."""
    return ", ".join(f"{p}[{index}]" if b else p for p, b in zip(params, batched))


def _done_check(done: str) -> list:
    """After the parallel loop: every chunk must have marked itself done."""
    return [f"    if not {done}.all():                 # a chunk stopped at an error",
            f'        raise RuntimeError("{CHUNK_FAILED}")']


def driver_source(name: str, doc: str, params: list, batched: list, inner: str, outputs: list,
                  target: str, boundscheck: bool = True) -> str:
    """The driver's source: `name(*params, chunks)` returns a tuple of the outputs, in order. The
    caller chooses the number of chunks (Numba's thread count; 1 in Python): a function that asked
    Numba for it could not be cached."""
    taken = set(params) | {"np", "numba", inner, name}
    outputs = [Output(fresh(taken, o.name), o.access, o.rank, o.summed) for o in outputs]
    n, chunks, c, i, first, out, done = (fresh(taken, v) for v in ("n", "chunks", "c", "i", "first", "out", "done"))
    parts = {o.name: fresh(taken, f"{o.name}_parts") for o in outputs if o.summed}
    row = {o.name: fresh(taken, f"{o.name}_row") for o in outputs if o.summed and o.rank}
    batch_leaf = params[batched.index(True)]
    cpu = target == "cpu"
    lines = [njit_decorator(boundscheck, parallel=True)] if cpu else []
    lines += [f"def {name}({', '.join(params + [chunks])}):", f'    """{doc}"""',
              f"    {n} = {batch_leaf}.shape[0]",
              f"    {first} = {inner}({sample_args(params, batched, '0')})   # the shapes of the outputs"]
    for o in outputs:
        shape = f"({chunks},)" if o.summed else f"({n},)"
        if o.rank:
            shape = f"{shape} + {o.access.format(out=first)}.shape"
        if o.summed:
            lines.append(f"    {parts[o.name]} = np.zeros({shape})        # one row per chunk")
        else:
            lines.append(f"    {o.name} = np.empty({shape})")
    if cpu:
        lines.append(f"    {done} = np.zeros({chunks}, np.bool_)")
    loop = f"numba.prange({chunks})" if cpu else f"range({chunks})"
    lines += [f"    for {c} in {loop}:",
              f"        for {i} in range({c} * {n} // {chunks}, ({c} + 1) * {n} // {chunks}):",
              f"            {out} = {inner}({sample_args(params, batched, i)})"]
    for o in outputs:
        item = o.access.format(out=out)
        if not o.summed:
            lines.append(f"            {o.name}[{i}] = {item}")
        elif o.rank:
            lines += [f"            {row[o.name]} = {parts[o.name]}[{c}]",
                      f"            {row[o.name]} += {item}"]
        else:
            lines.append(f"            {parts[o.name]}[{c}] += {item}")
    if cpu:
        lines.append(f"        {done}[{c}] = True")
        lines += _done_check(done)
    summed = [o for o in outputs if o.summed]
    for o in summed:
        lines.append(f"    {o.name} = {parts[o.name]}[0]" + (".copy()" if o.rank else ""))
    if summed:
        lines.append(f"    for {c} in range(1, {chunks}):       # the chunks' rows, in order")
        lines += [f"        {o.name} += {parts[o.name]}[{c}]" for o in summed]
    names = [o.name for o in outputs]
    lines.append(f"    return ({names[0]},)" if len(names) == 1 else f"    return ({', '.join(names)})")
    return "\n".join(lay_out_lines(lines)) + "\n"


def buffer_driver_source(name: str, doc: str, params: list, batched: list, inner: str, outputs: list,
                         tape_params: tuple, boundscheck: bool = True, workspace: list = (),
                         hoisted: list = ()) -> str:
    """The driver of a per-sample function in buffer form (buffers.py): `name(*params,
    *buffers, chunks)` fills buffers the caller allocated and zeroed: one row per chunk for a summed
    output, one row per sample for the others, and per chunk a block of tapes and one of each
    scratch array (`workspace`: their names in the per-sample function). `hoisted`: (name, line)
    of the numbers computed from shared arguments once, before the loop, and passed to every call."""
    taken = set(params) | {"np", "numba", inner, name} | {h for h, _ in hoisted}
    bufs = [fresh(taken, f"{o.name}_parts" if o.summed else o.name) for o in outputs]
    tapes = [fresh(taken, t) for t in tape_params]
    scratch = [fresh(taken, f"{w}_rows") for w in workspace]
    n, chunks, c, i, done = (fresh(taken, v) for v in ("n", "chunks", "c", "i", "done"))
    rows = [f"{b}[{c}]" if o.summed else f"{b}[{i}]" for b, o in zip(bufs, outputs)]
    if tapes:
        rows += [f"{tapes[0]}[{c}]", f"{tapes[1]}[{c}:{c} + 1]"]
    rows += [f"{w}[{c}]" for w in scratch]
    lines = [njit_decorator(boundscheck, parallel=True),
             f"def {name}({', '.join(params + bufs + tapes + scratch + [chunks])}):", f'    """{doc}"""',
             f"    {n} = {params[batched.index(True)]}.shape[0]"]
    if hoisted:
        lines.append("    # what depends on shared arguments only, computed once for every sample")
        lines += [f"    {line}" for _, code in hoisted for line in code.split("\n")]
    shared_values = "".join(f"{h}, " for h, _ in hoisted)
    lines += [f"    {done} = np.zeros({chunks}, np.bool_)",
             f"    for {c} in numba.prange({chunks}):         # one chunk of samples per thread",
             f"        for {i} in range({c} * {n} // {chunks}, ({c} + 1) * {n} // {chunks}):",
             f"            {inner}({sample_args(params, batched, i)}, {shared_values}{', '.join(rows)})",
             f"        {done}[{c}] = True"] + _done_check(done)
    return "\n".join(lay_out_lines(lines)) + "\n"
