"""Derivatives of derivatives, and whole Jacobians, built from the two modes.

The Hessian-vector product is forward mode applied to the IR that reverse mode produced (forward
over reverse): the gradient's tangent along v is H @ v, at about the cost of two gradients.
Jacobians and Hessians are loops over basis directions: a generated driver function, compiled with
the derivative it calls, seeds directions and stacks the results: jacrev one VJP per output
element; jacfwd and hessian one vector JVP or HVP (transforms/directions.py) per block of up to
DIRECTIONS_PER_CALL input elements, the primal or gradient once per block, or one JVP or HVP per
input element where the vector form does not apply."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .ir.nodes import Function
from .transforms.reverse import reverse
from .transforms.forward import forward
from .backends.buffers import fresh as _fresh
from .backends.layout import lay_out_lines


def hvp_function(fn: Function, values: tuple, wrt: list, directions: bool = False) -> Function:
    """f_hvp(primals..., w_dot...) -> ((value, gradients), gradient tangents = H @ w_dot); with
    `directions`, each w_dot holds several directions along a leading axis (vector forward mode)."""
    grad_fn = reverse(fn, values, wrt, seed="one", suffix="grad")
    grads = grad_fn.body[-1].values[1]
    out = forward(grad_fn, grads, wrt, suffix="hvp", directions=directions)
    out.name = f"{fn.name}_hvp"
    return out


# --- drivers: loops over basis directions ---------------------------------------------------

DIRECTIONS_PER_CALL = 64     # tangents carried at once: each stacked tangent is this many times its value

@dataclass
class Seed:
    """A parameter of the inner function that the driver sets to one basis vector at a time."""
    name: str            # the driver's local variable
    shape_of: str        # an expression whose shape the seed takes ("" for a number)
    size: str            # the number of basis directions
    flat: str = ""       # a flat view of the seed, set by the driver


@dataclass
class Result:
    """A value the inner function returns, stored as one row per direction."""
    access: str          # how to read it from the inner function's result, "{out}"
    rank: int
    size: str


@dataclass
class Driver:
    name: str
    functions: list      # IR functions printed before the driver (the inner one last)
    text: Callable       # decorator -> the driver's source
    directions: bool = False   # the inner function takes blocks of directions (vector_driver)


def _returned_item(index: int, count: int) -> str:
    """Python that reads item `index` of `count` from the inner function's second result: a
    one-item tuple there is returned as the item itself (the backend prints `return value, grad`)."""
    return "{out}[1]" if count == 1 else f"{{out}}[1][{index}]"


def _driver_names(name, params, inner, primal, seeds, results, locals_) -> tuple:
    """(the driver's local names, its seeds under fresh names, the name of each (seed, result)
    block), none of them taken by a parameter or a function the driver calls."""
    taken = set(params) | {"np", "numba", inner.name, name} | ({primal.name} if primal else set())
    local = {n: _fresh(taken, n) for n in locals_}
    seeds = [Seed(_fresh(taken, s.name), s.shape_of, s.size) for s in seeds]
    for s in seeds:
        s.flat = _fresh(taken, f"{s.name}_flat")
    blocks = {(i, j): _fresh(taken, f"block_{i}_{j}") for i in range(len(seeds)) for j in range(len(results))}
    return local, seeds, blocks


def driver(name: str, doc: str, params: list, inner: Function, primal: Function | None,
           seeds: list, results: list, returns_value: bool) -> Driver:
    """A function of the primal parameters that calls `inner` once per basis direction of each
    seed and returns one block per (seed, result): block[k] = result for direction k, flattened.
    With `returns_value` it evaluates `primal` first and returns (value, blocks)."""
    local, seeds, blocks = _driver_names(name, params, inner, primal, seeds, results, ("value", "out", "k"))

    def text(decorator: str) -> str:
        v, out, k = local["value"], local["out"], local["k"]
        fill = lambda e: e.format(value=v, out=out)
        lines = [decorator] if decorator else []
        lines += [f"def {name}({', '.join(params)}):", f'    """{doc}"""']
        if returns_value:
            lines.append(f"    {v} = {primal.name}({', '.join(params)})")
        for s in seeds:
            if s.shape_of:
                lines.append(f"    {s.name} = np.zeros({fill(s.shape_of)}.shape)")
                lines.append(f"    {s.flat} = {s.name}.reshape({s.name}.size)")
            else:
                lines.append(f"    {s.name} = 0.0")
        for (i, j), b in blocks.items():
            lines.append(f"    {b} = np.empty(({fill(seeds[i].size)}, {fill(results[j].size)}))")
        call = f"{inner.name}({', '.join(params + [s.name for s in seeds])})"
        for i, s in enumerate(seeds):
            lines.append(f"    for {k} in range({fill(s.size)}):")
            lines.append(f"        {s.flat}[{k}] = 1.0" if s.shape_of else f"        {s.name} = 1.0")
            lines.append(f"        {out} = {call}")
            for j, r in enumerate(results):
                item = fill(r.access)
                if r.rank:
                    lines.append(f"        {blocks[i, j]}[{k}] = {item}.ravel()")
                else:
                    lines.append(f"        {blocks[i, j]}[{k}, 0] = {item}")
            # after the results are stored: a result may be a view of the seed (x.T's tangent)
            lines.append(f"        {s.flat}[{k}] = 0.0" if s.shape_of else f"        {s.name} = 0.0")
        items = ", ".join(blocks.values()) + ("," if len(blocks) == 1 else "")
        lines.append(f"    return {v}, ({items})" if returns_value else f"    return ({items})")
        return "\n".join(lay_out_lines(lines)) + "\n"

    return Driver(name, ([primal] if primal is not None else []) + [inner], text)


def _size(fn: Function, name: str) -> str:
    return f"{name}.size" if fn.types[name].rank else "1"


def jacfwd_driver(primal: Function, jvp_fn: Function, wrt: list, out_rank: int,
                  directions: bool = False) -> Driver:
    """Forward mode: one JVP per element of each differentiated input, or with `directions` one
    vector JVP per block of input elements (the primal once per block)."""
    seeds = [Seed(f"{w}_dot", w if primal.types[w].rank else "", _size(primal, w)) for w in wrt]
    value_size = "{value}.size" if out_rank else "1"
    how = (f"vector forward mode: up to {DIRECTIONS_PER_CALL} input directions per evaluation" if directions
           else "forward mode: one JVP per input element")
    return (vector_driver if directions else driver)(
        f"{primal.name}_jacfwd", f"The Jacobian of {primal.name} by {how}.", list(primal.params), jvp_fn,
        primal, seeds, [Result("{out}[1]", out_rank, value_size)], returns_value=True)


def jacrev_driver(primal: Function, vjp_fn: Function, wrt: list, out_rank: int) -> Driver:
    """Reverse mode: one VJP per element of the output."""
    seeds = [Seed("out_bar", "{value}" if out_rank else "", "{value}.size" if out_rank else "1")]
    results = [Result(_returned_item(j, len(wrt)), primal.types[w].rank, _size(primal, w))
               for j, w in enumerate(wrt)]
    return driver(f"{primal.name}_jacrev",
                  f"The Jacobian of {primal.name} by reverse mode: one VJP per output element.",
                  list(primal.params), vjp_fn, primal, seeds, results, returns_value=True)


def hessian_driver(fn: Function, hvp_fn: Function, wrt: list, directions: bool = False) -> Driver:
    """Forward over reverse: one Hessian-vector product per element of each input, or with
    `directions` one per block of elements (the gradient once per block)."""
    seeds = [Seed(f"{w}_dot", w if fn.types[w].rank else "", _size(fn, w)) for w in wrt]
    results = [Result(_returned_item(j, len(wrt)), fn.types[w].rank, _size(fn, w))
               for j, w in enumerate(wrt)]
    how = (f"Hessian-vector products (forward over reverse), up to {DIRECTIONS_PER_CALL} directions per "
           "evaluation of the gradient" if directions
           else "one Hessian-vector product (forward over reverse) per input element")
    return (vector_driver if directions else driver)(
        f"{fn.name}_hessian", f"The Hessian of {fn.name}: {how}.", list(fn.params), hvp_fn, None, seeds,
        results, returns_value=False)


# --- drivers of vector forward mode: blocks of directions per call ---------------------------



def vector_driver(name: str, doc: str, params: list, inner: Function, primal: Function | None,
                  seeds: list, results: list, returns_value: bool) -> Driver:
    """Like `driver`, with an inner function that takes a block of directions per tangent
    parameter (a leading axis) and returns the tangents of all of them: one call per block of up
    to DIRECTIONS_PER_CALL basis directions, so the primal runs once per block."""
    local, seeds, blocks = _driver_names(name, params, inner, primal, seeds, results,
                                         ("value", "out", "start", "count", "stop", "k"))

    def text(decorator: str) -> str:
        v, out, start, count, stop, k = (local[n] for n in ("value", "out", "start", "count", "stop", "k"))
        fill = lambda e: e.format(value=v, out=out)
        lines = [decorator] if decorator else []
        lines += [f"def {name}({', '.join(params)}):", f'    """{doc}"""']
        if returns_value:
            lines.append(f"    {v} = {primal.name}({', '.join(params)})")
        for (i, j), b in blocks.items():
            lines.append(f"    {b} = np.empty(({fill(seeds[i].size)}, {fill(results[j].size)}))")
        for i, s in enumerate(seeds):
            lines.append(f"    for {start} in range(0, {fill(s.size)}, {DIRECTIONS_PER_CALL}):")
            lines.append(f"        {stop} = min({start} + {DIRECTIONS_PER_CALL}, {fill(s.size)})")
            lines.append(f"        {count} = {stop} - {start}")
            args = []
            for other in seeds:
                if other is s:
                    lines.append(f"        {s.flat} = np.zeros(({count}, {fill(s.size)}))")
                    lines.append(f"        for {k} in range({count}):")
                    lines.append(f"            {s.flat}[{k}, {start} + {k}] = 1.0")
                    args.append(f"{s.flat}.reshape(({count},) + {fill(s.shape_of)}.shape)" if s.shape_of
                                else f"{s.flat}.reshape(({count},))")
                else:
                    zeros = f"np.zeros(({count},) + {fill(other.shape_of)}.shape)" if other.shape_of \
                        else f"np.zeros({count})"
                    args.append(zeros)
            lines.append(f"        {out} = {inner.name}({', '.join(params + args)})")
            for j, r in enumerate(results):
                item = fill(r.access)
                lines.append(f"        {blocks[i, j]}[{start}:{stop}] = "
                             f"np.ascontiguousarray({item}).reshape(({count}, {fill(r.size)}))")
        items = ", ".join(blocks.values()) + ("," if len(blocks) == 1 else "")
        lines.append(f"    return {v}, ({items})" if returns_value else f"    return ({items})")
        return "\n".join(lay_out_lines(lines)) + "\n"

    return Driver(name, ([primal] if primal is not None else []) + [inner], text, directions=True)
