"""From a Python function and concrete arguments to compiled, callable code, once per signature.

A signature is the structure of the arguments (tuples, dicts) and each leaf's kind and rank. For
each (signature, transformation, target) the function is lowered, transformed, printed and loaded;
the results are kept in memory here and on disk by the loader."""
from __future__ import annotations

import copy
import signal
import sys
import threading
import traceback
from contextlib import contextmanager, suppress
from pathlib import Path
from dataclasses import dataclass, replace

import numpy as np

from .errors import CompileError, BoundsError, IndicesUnproven, ShapeAssumption
from .ir.types import Type, FLOAT, INT, BOOL
from .ir.nodes import Assign, walk, flat_values
from .config import VERSION, config
from . import rules  # noqa: F401  (fills the rule table)
from .frontend.lower import lower
from .transforms.summed_calls import fold_summed_calls
from .transforms.reverse import reverse
from .transforms.forward import forward
from .transforms.directions import CannotStack
from .transforms.tapes import array_tapes, group_tapes
from . import higher
from .backends.pysource import module_source, njit_decorator
from .backends import loader
from .backends.loader import numba_opt_level
from . import fingerprint, live
from .fingerprint import compiler_digest
from .units import Linker, LOCMAPS


# --- argument structure ---
def leaf_type(x, where: str) -> Type:
    if isinstance(x, (bool, np.bool_)):
        return Type(BOOL, 0)
    if isinstance(x, (int, np.integer)):
        return Type(INT, 0)
    if isinstance(x, (float, np.floating)):
        return Type(FLOAT, 0)
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return leaf_type(x.item(), where)
        kind = x.dtype.kind
        if kind == "f":
            return Type(FLOAT, x.ndim)
        if kind in "iu":
            return Type(INT, x.ndim)
        if kind == "b":
            return Type(BOOL, x.ndim)
        raise CompileError(f"{where}: arrays of dtype {x.dtype} are not supported",
                           hint="use float64, int64 or bool arrays")
    if isinstance(x, list):
        raise CompileError(f"{where} is a list", hint="pass a NumPy array (np.asarray(...)) or a tuple")
    raise CompileError(f"{where} has type {type(x).__name__}, which cotangent cannot differentiate through",
                       hint="pass floats, ints, NumPy arrays, or tuples and dicts of these")


def spec_of(x, where: str):
    if isinstance(x, tuple):
        return ("tuple", tuple((i, spec_of(v, f"{where}[{i}]")) for i, v in enumerate(x)))
    if isinstance(x, dict):
        for k in x:
            if not isinstance(k, str) or not k.isidentifier():
                raise CompileError(f"{where} has the key {k!r}", hint="dict arguments need identifier keys")
        return ("dict", tuple((k, spec_of(x[k], f"{where}[{k!r}]")) for k in sorted(x)))
    return leaf_type(x, where)


def leaves(x) -> list:
    if isinstance(x, tuple):
        return [leaf for v in x for leaf in leaves(v)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in leaves(x[k])]
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return [x.item()]
    if isinstance(x, np.generic):
        return [x.item()]
    return [x]


def spec_leaf_count(spec) -> int:
    if isinstance(spec, Type):
        return 1
    return sum(spec_leaf_count(s) for _, s in spec[1])


def spec_leaf_types(spec) -> list:
    if isinstance(spec, Type):
        return [spec]
    return [t for _, s in spec[1] for t in spec_leaf_types(s)]


def rebuild(spec, it):
    """The structure of `spec` filled from iterator `it` (None where a leaf is not float)."""
    if isinstance(spec, Type):
        return next(it)
    kind, items = spec
    values = {k: rebuild(s, it) for k, s in items}
    return tuple(values[i] for i in range(len(items))) if kind == "tuple" else values


@dataclass
class Compiled:
    """A specialized, transformed, loaded function and what is needed to call and explain it."""
    run: object              # the callable over leaves
    python_run: object       # the same source as plain Python, for locating errors
    source: str
    locmap: dict
    path: str
    ir: object
    python_locmap: dict
    rebuild: object = None   # set on code loaded through the index: recompiles to get ir and locmaps
    llvm_opt: int = 3        # LLVM optimization level for Numba's compile of `run` (see llvm_opt_level)
    watch: object = None     # live.Watch: whether the definitions it was generated from still hold
    boundscheck: bool | None = None   # the ct.config.boundscheck `run` was compiled with (None: plain Python)
    twin: object = None      # () -> the same code compiled with the other boundscheck setting
    units: list = None       # (description, Python source) of each separately compiled unit it calls
    general: object = None   # () -> the same code without loop nests, for shapes the nests do not assume
    checked: object = None   # () -> the same code with every index checked, for calls its index proofs do not cover
    shapes_vary: bool = False  # a call's shapes broke the nests' assumptions: later calls run `general`

    def details(self) -> "Compiled":
        """This, with the IR and line maps (loaded-from-index code regenerates them on demand)."""
        if self.ir is None and self.rebuild is not None:
            full = self.rebuild()
            self.ir, self.locmap, self.python_locmap = full.ir, full.locmap, full.python_locmap
            self.units = full.units
        return self


def load_or_compile(pyfunc, specs, mode: str, wrt_args: tuple, has_aux: bool, target: str,
                    boundscheck: bool | None = None, loops: bool = True, proofs: bool = True) -> Compiled:
    """Compiled code for one signature: from the cache index when this exact function, signature
    and compiler were seen before, otherwise generated now and recorded in the index. Indices are
    checked as ct.config.boundscheck says, unless `boundscheck` is given. Elementwise code runs
    as loop nests on the CPU target unless `loops` is False (the general code those nests fall
    back to, compiled the first time a call needs it). With `proofs`, indices proven in range
    (compiler/ir/bounds.py) are not checked again; without, Numba checks every index (the code a
    call runs when the conditions of those proofs do not hold)."""
    if boundscheck is None:
        boundscheck = config.boundscheck
    if target != "python":
        checks = dict(boundscheck=boundscheck,
                      twin=lambda: load_or_compile(pyfunc, specs, mode, wrt_args, has_aux, target, not boundscheck,
                                                   loops),
                      general=lambda: load_or_compile(pyfunc, specs, mode, wrt_args, has_aux, target, boundscheck,
                                                      False, proofs))
        if proofs and boundscheck:
            checks["checked"] = lambda: load_or_compile(pyfunc, specs, mode, wrt_args, has_aux, target, True,
                                                        loops, False)
    else:
        checks = {}
    watch = live.Watch(pyfunc)          # before generating: the definitions the code is made from
    fp = fingerprint.of(pyfunc, specs, mode, wrt_args, has_aux, target, digest=watch.digest)
    if not boundscheck and target != "python":
        fp += "-nobounds"       # its source differs (the decorator), so its index entry does too
    if not proofs and target != "python":
        fp += "-checked"
    if not loops and target != "python":
        fp += "-general"
    elif target != "python" and not loader.links_cacheable():
        fp += "-numpy-calls"    # printed without the cached kernels (NUMBA_OPT=0): other source
    again = lambda: compile_transform(pyfunc, specs, mode, wrt_args, has_aux, target, boundscheck, loops=loops,
                                      proofs=proofs)
    hit = loader.index_lookup(fp)
    if hit is not None:
        name, py_path, path = hit
        with suppress(loader.LinkError):    # a unit it calls is missing from the cache: generated again below
            python_run = getattr(loader.load(Path(py_path).read_text(), name), name)
            src = Path(path).read_text()
            run = python_run if path == py_path else getattr(loader.load(src, name), name)
            return Compiled(run, python_run, src, None, path, None, None, rebuild=again, watch=watch, **checks)
    compiled = replace(again(), watch=watch, **checks)
    loader.index_store(fp, compiled.python_run.__name__, compiled.python_run.__code__.co_filename, compiled.path)
    return compiled


def _display_name(pyfunc) -> str:
    return f"{pyfunc.__module__}.{pyfunc.__qualname__}".replace("<locals>.", "")


def compile_transform(pyfunc, specs, mode: str, wrt_args: tuple, has_aux: bool, target: str,
                      boundscheck: bool = True, inline: bool = False, loops: bool = True,
                      proofs: bool = True) -> Compiled:
    """Generate and load the code of one transformation. Calls to user functions become calls to
    separately compiled units (compiler/units.py), except where the cost model inlines them, or
    everywhere with `inline` (one flat function, as ct.source(..., inline=True) shows). With
    `loops`, the CPU target prints runs of elementwise statements as loop nests (backends/loops.py);
    with `proofs`, indices proven in range are compiled without Numba's checks (compiler/ir/bounds.py)."""
    linker = None if inline or mode.startswith(("symbolic ", "auto ")) else Linker(loops=loops, proofs=proofs)
    fn, out_fn, driver = transform_ir(pyfunc, specs, mode, wrt_args, has_aux, linker)
    if driver is not None:
        return _load_driver(pyfunc, fn, mode, driver, target, boundscheck, linker, loops, proofs)
    header = _header(pyfunc, fn, mode)
    if budget_mode(mode)[0] in ("grad", "vjp"):
        out_fn = group_tapes(array_tapes(out_fn))
    links = linker.link([out_fn], "python") if linker else []
    src_py, locmap = module_source([out_fn], "python", header, links=links)
    py_module = loader.load(src_py, out_fn.name)
    python_run = getattr(py_module, out_fn.name)
    units = linker.unit_sources("python") if linker else []
    if target == "python":
        return Compiled(python_run, python_run, src_py, locmap, py_module.__file__, out_fn, locmap, units=units)
    links = linker.link([out_fn], "cpu", boundscheck) if linker else []
    src, nb_locmap = module_source([out_fn], "cpu", header, boundscheck, links,
                                   cache=not (linker and linker.reaches_recursion([out_fn])), loops=loops,
                                   proofs=proofs)
    module = loader.load(src, out_fn.name)
    units = linker.unit_sources("cpu", boundscheck) if linker else []
    return Compiled(getattr(module, out_fn.name), python_run, src, nb_locmap, module.__file__, out_fn, locmap,
                    llvm_opt=llvm_opt_level([out_fn] + _unit_functions(linker)), units=units)


def _unit_functions(linker) -> list:
    return [fn for fn in linker.units.values() if fn is not None] if linker else []


ARRAY_STATEMENTS_FOR_O1 = 40


def llvm_opt_level(functions) -> int:
    """1 for code made mostly of array operations, else 3 (Numba's default).

    Numba inlines each NumPy array operation as its own loop nest, so a gradient of array code is
    one very large LLVM function; O3 spends most of its compile time there (16 of 22 s on ADBench's
    GMM in array form, against 7 s at O1) and gains nothing measurable, since the time goes to the
    array loops and their allocations either way. Scalar loops keep O3, whose vectorizer pays off
    (GMM written with loops runs 12% slower at O1)."""
    arrays = sum(1 for fn in functions for s in walk(fn.body)
                 if isinstance(s, Assign) and getattr(fn.types.get(s.target), "rank", 0))
    return 1 if arrays >= ARRAY_STATEMENTS_FOR_O1 else 3


def transform_ir(pyfunc, specs, mode: str, wrt_args: tuple, has_aux: bool, linker=None,
                 regions: bool = False) -> tuple:
    """(the lowered function, its transformed IR, the driver of a Jacobian or Hessian or None):
    everything but printing and loading, so other backends can print the same IR. With a
    `linker`, calls may be calls to units (which the linker then prints); without, all inline.
    With `regions`, the straight-line scalar code between loops and branches is made symbolic
    before differentiation (transforms/regions.py; the lowered function's `regions` lists where)."""
    if mode.startswith(("symbolic ", "auto ")):     # ct.jacrev(f, symbolic=...): transforms/symbolic.py
        from .transforms.symbolic import symbolic_ir
        return symbolic_ir(pyfunc, specs, mode, wrt_args, has_aux)
    fn, result = lower(pyfunc, specs, calls=linker)
    if regions:
        from .transforms.regions import symbolic_regions
        fn, made = symbolic_regions(fn)
        fn.regions = made
    driver = None
    mode, memory_limit = budget_mode(mode)
    outs = tuple(flat_values(result if isinstance(result, tuple) else (result,)))   # `return loss, (a, b)`: in order
    values = tuple(r.value for r in outs)
    leaf_names = _leaf_names(fn, specs)
    wrt = [n for i in wrt_args for n, t in leaf_names[i] if t.kind == FLOAT]
    if mode == "primal":
        out_fn = fn
    elif mode in ("grad", "vjp"):
        first = outs[0]
        if mode == "grad":
            if has_aux and not isinstance(result, tuple):
                raise CompileError("has_aux=True needs the function to return (value, aux)",
                                   fn.body[-1].loc)
            if isinstance(result, tuple) and not has_aux:
                raise CompileError("grad needs a function that returns one number; this one returns a tuple",
                                   fn.body[-1].loc, hint="pass has_aux=True if the rest is auxiliary data")
            if first.type.rank != 0 or first.type.kind != FLOAT:
                raise CompileError(f"grad needs a scalar float output, but {fn.name} returns {first.type}",
                                   fn.body[-1].loc, hint="reduce it (np.sum, np.mean), or use ct.vjp / ct.jacrev")
        seed = "one" if mode == "grad" else "each" if isinstance(result, tuple) and not has_aux else "param"
        out_fn = reverse(_split(fn, linker, values, wrt), values, wrt, seed=seed, suffix=mode,
                         memory_limit=memory_limit)
        if linker is not None:
            fold_summed_calls(out_fn, linker.result_of)
    elif mode == "jvp":                 # a tuple result: a tangent per output, flat
        out_fn = forward(fn, values, wrt)
    elif mode in ("hvp", "hessian"):
        _check_scalar_output(fn, result, f"ct.{mode}")
        out_fn = None
        if mode == "hessian":
            out_fn = _vector_form(lambda: higher.hvp_function(copy.deepcopy(fn), values, wrt, directions=True), linker)
        directions = out_fn is not None
        out_fn = out_fn or higher.hvp_function(fn, values, wrt)
        if mode == "hessian":
            driver = higher.hessian_driver(fn, out_fn, wrt, directions)
    elif mode in ("jacfwd", "jacrev"):
        first = outs[0]
        if isinstance(result, tuple) or first.type.kind != FLOAT:
            raise CompileError(f"ct.{mode} needs a function that returns one float number or array, "
                               f"but {fn.name} returns {'a tuple' if isinstance(result, tuple) else first.type}",
                               fn.body[-1].loc)
        primal = copy.deepcopy(fn)
        primal.doc = _docline(pyfunc, "primal", wrt)
        if mode == "jacfwd":
            out_fn = _vector_form(lambda: forward(copy.deepcopy(fn), values, wrt, directions=True), linker)
            directions = out_fn is not None
            out_fn = out_fn or forward(fn, values, wrt)
            driver = higher.jacfwd_driver(primal, out_fn, wrt, first.type.rank, directions)
        else:
            out_fn = reverse(_split(fn, linker, values, wrt), values, wrt, seed="param", suffix="vjp")
            driver = higher.jacrev_driver(primal, out_fn, wrt, first.type.rank)
    else:
        raise ValueError(mode)
    out_fn.doc = _docline(pyfunc, {"jacfwd": "jvp", "jacrev": "vjp", "hessian": "hvp"}.get(mode, mode), wrt)
    if driver is not None and driver.directions:
        out_fn.doc = out_fn.doc[:-1] + ", in each direction along the first axis of the tangents."
    return fn, out_fn, driver


def _vector_form(build, linker):
    """The vector forward-mode function `build` makes, with the vector JVP units it calls built
    too; None where some tangent has no stacked form (then one JVP per direction is used). The
    clean-up passes rename statements in place, so `build` works on a copy of the function."""
    try:
        out_fn = build()
        seen: set = set()
        todo = [out_fn]
        while todo:
            for s in walk(todo.pop().body):
                unit = s.param("unit") if isinstance(s, Assign) and s.op == "call" else None
                if unit is not None and unit not in seen and any(k == "vjvp" for k, _ in unit.chain):
                    seen.add(unit)
                    todo.append(linker.ir(unit))
        return out_fn
    except CannotStack:
        return None


def budget_mode(mode: str) -> tuple:
    """("grad", 1073741824) from "grad memory_limit=1073741824" (ct.grad(f, memory_limit=...)),
    (mode, None) from a mode without a budget."""
    base, _, budget = mode.partition(" memory_limit=")
    return (base, int(budget)) if budget else (mode, None)


def _split(fn, linker, values, wrt):
    """fn with its calls to units split into forward and adjoint sweeps (units.Linker.split_calls)."""
    if linker is None or not any(getattr(s, "op", None) == "call" for s in walk(fn.body)):
        return fn
    fn = copy.deepcopy(fn)
    linker.split_calls(fn, values, wrt)
    return fn


def _header(pyfunc, fn, mode) -> str:
    # the compiler digest in the header renames the module (and so drops Numba's cache of it)
    # whenever the compiler or the helpers the module calls change
    return (f"Generated by cotangent {VERSION} (compiler {compiler_digest()}): "
            f"{mode} of {_display_name(pyfunc)}.\n"
            f"Signature: ({', '.join(f'{p}: {fn.types[p]}' for p in fn.params)}).")


def _check_scalar_output(fn, result, what: str) -> None:
    if isinstance(result, tuple):
        raise CompileError(f"{what} needs a function that returns one number; this one returns a tuple",
                           fn.body[-1].loc)
    if result.type.rank != 0 or result.type.kind != FLOAT:
        raise CompileError(f"{what} needs a scalar float output, but {fn.name} returns {result.type}",
                           fn.body[-1].loc, hint="reduce it (np.sum, np.mean), or use ct.jacfwd / ct.jacrev")


def _load_driver(pyfunc, fn, mode: str, driver, target: str, boundscheck: bool = True, linker=None,
                 loops: bool = True, proofs: bool = True) -> Compiled:
    """The module of a Jacobian or Hessian: the derivative it loops over, then the driver loop."""
    header = _header(pyfunc, fn, mode)
    inner = driver.functions[-1]

    def module(kind):
        links = linker.link(driver.functions, kind, boundscheck) if linker else []
        cache = not (linker and linker.reaches_recursion(driver.functions))
        src, locmap = module_source(driver.functions, kind, header, boundscheck, links, cache, loops=loops,
                                    proofs=proofs)
        return src + "\n\n" + driver.text(njit_decorator(boundscheck, cache=cache) if kind == "cpu" else ""), locmap

    src_py, locmap = module("python")
    py_module = loader.load(src_py, driver.name)
    python_run = getattr(py_module, driver.name)
    units = linker.unit_sources("python") if linker else []
    if target == "python":
        return Compiled(python_run, python_run, src_py, locmap, py_module.__file__, inner, locmap, units=units)
    src, nb_locmap = module("cpu")
    nb_module = loader.load(src, driver.name)
    units = linker.unit_sources("cpu", boundscheck) if linker else []
    return Compiled(getattr(nb_module, driver.name), python_run, src, nb_locmap, nb_module.__file__, inner, locmap,
                    # a vector JVP is loop nests over directions, which O3 vectorizes (87 µs against
                    # 142 µs at O1 for the Hessian of benchmarks/forward_mode.py's logistic loss)
                    llvm_opt=3 if driver.directions else llvm_opt_level(driver.functions + _unit_functions(linker)),
                    units=units)


def _docline(pyfunc, mode, wrt) -> str:
    what = {"primal": "The value of", "grad": "The value and gradient of",
            "vjp": "The value and vector-Jacobian product of", "jvp": "The value and tangent (JVP) of",
            "hvp": "The value, gradient and Hessian-vector product (forward over reverse) of"}[mode]
    tail = f" with respect to {', '.join(wrt)}" if mode != "primal" and wrt else ""
    return f"{what} {pyfunc.__name__}{tail}."


def _leaf_names(fn, specs):
    names, k = [], 0
    for spec in specs:
        n = spec_leaf_count(spec)
        names.append(list(zip(fn.params[k:k + n], spec_leaf_types(spec))))
        k += n
    return names


def call_checked(compiled: Compiled, leaves_, first: bool):
    """Run compiled code (see _call_checked). Numba's code is typed for float64: float32 arguments
    are computed in float64, and when every float array argument is float32 the results (values,
    gradients, tangents) come back in float32, as NumPy and JAX give them. The Python target runs
    NumPy on the arguments as they are (and its results too are float32 then)."""
    converted, single = _from_float32(leaves_)
    out = _call_checked(compiled, leaves_ if compiled.run is compiled.python_run else converted, first)
    return _to_float32(out) if single else out


def _from_float32(leaves_) -> tuple[list, bool]:
    """The leaves with float32 ones in float64, and whether the float arrays were all float32."""
    has32 = has64 = False
    out = []
    for leaf in leaves_:
        dtype = getattr(leaf, "dtype", None)
        if dtype == np.float32:
            has32 = True
            leaf = leaf.astype(np.float64) if isinstance(leaf, np.ndarray) else float(leaf)
        elif dtype == np.float64 and isinstance(leaf, np.ndarray):
            has64 = True
        out.append(leaf)
    return out, has32 and not has64


def _to_float32(out):
    if isinstance(out, tuple):
        return tuple(_to_float32(x) for x in out)
    if isinstance(out, np.ndarray) and out.dtype == np.float64:
        return out.astype(np.float32)
    if isinstance(out, (float, np.float64)):
        return np.float32(out)
    return out


def _call_checked(compiled: Compiled, leaves_, first: bool):
    """Run compiled code; if it fails, run the Python version to say which source line failed.

    Compiled code checks its indices (unless ct.config.boundscheck is off), so an index out of
    range fails the call and is found here on any call. Code compiled without the checks gets the
    plain-Python check before its first call instead: Numba would read the wrong memory."""
    if compiled.boundscheck is not None and compiled.boundscheck != config.boundscheck:
        compiled, first = _variant(compiled, "twin", first)
    if compiled.checked is not None and not config.index_proofs:
        compiled, first = _variant(compiled, "checked", first)
    if compiled.shapes_vary:
        general, first = _variant(compiled, "general", first)
        return _call_checked(general, leaves_, first)
    if compiled.run is compiled.python_run:
        leaves_ = numpy_scalars(leaves_)
    elif first and not compiled.boundscheck:
        _locate(compiled, leaves_, budget=config.first_call_check_seconds)
    try:
        if first:
            with numba_opt_level(compiled.llvm_opt):
                return compiled.run(*leaves_)
        return compiled.run(*leaves_)
    except IndicesUnproven:
        # an index proof's entry condition does not hold for these arguments (it is sufficient,
        # not necessary): this call runs the code that checks every index
        checked, first = _variant(compiled, "checked", first)
        return _call_checked(checked, leaves_, first)
    except ShapeAssumption:
        # shapes the nests do not assume (an axis of length 1 that broadcasts, or lengths that
        # differ): this call and every later one run the general code, instead of starting the
        # nests and giving up each time
        compiled.shapes_vary = True
        general, first = _variant(compiled, "general", first)
        return _call_checked(general, leaves_, first)
    except Exception as e:  # noqa: BLE001 - re-raised with the user's line where it can be found
        _locate(compiled, leaves_)
        raise_compile_failure(compiled, e)


def _variant(compiled: Compiled, which: str, first: bool) -> tuple:
    """Another variant of the same code (a field of `compiled` holding it, or the function that
    makes it), made the first time a call needs it, and whether this is its first call. The
    variants: `twin`, compiled under the ct.config.boundscheck now in force (the setting changed
    after `compiled` was cached: the API's caches key on the function and its signature);
    `checked`, with every index checked (a call its index proofs do not cover); `general`, without
    loop nests (shapes the nests do not assume, such as an axis of length 1 that broadcasts)."""
    made = getattr(compiled, which)
    if isinstance(made, Compiled):
        return made, first
    made = made()
    setattr(compiled, which, made)
    return made, True


def numpy_scalars(leaves_) -> list:
    """Python float and int leaves as NumPy scalars, so that plain-Python code computes as NumPy
    and as the compiled code do: 1.0 / x at x = 0 is inf and x ** 0.5 at x = -1 is nan, where
    Python floats raise ZeroDivisionError or give a complex number."""
    return [np.float64(v) if type(v) is float else np.int64(v) if type(v) is int else v for v in leaves_]


class _OutOfTime(Exception):
    """The first-call check ran out of its time."""


def _alarm_in_use() -> bool:
    """Whether the program has its own real-time timer or SIGALRM handler (which the time limit
    would replace): then the first-call check is left out rather than disturb it."""
    return signal.getitimer(signal.ITIMER_REAL)[0] > 0 or signal.getsignal(signal.SIGALRM) not in (
        signal.SIG_DFL, signal.SIG_IGN, None)


@contextmanager
def _time_limit(seconds):
    """Raise _OutOfTime in the block after `seconds` (a real-time timer; main thread only)."""
    def expire(signum, frame):
        raise _OutOfTime()
    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _locate(compiled: Compiled, leaves_, budget: float | None = None):
    """Run the plain-Python twin of the generated code; an error there is raised as a CompileError
    at the user's line. Before the first compiled call this is a check that Numba cannot make (it
    does not check indices), run for at most `budget` seconds so large inputs stay fast; after a
    failure it runs to the end to find the line."""
    if budget is not None and (budget <= 0 or threading.current_thread() is not threading.main_thread()
                               or _alarm_in_use()):
        return
    leaves_ = numpy_scalars(leaves_)
    with np.errstate(all="ignore"):
        try:
            if budget is None:
                compiled.python_run(*leaves_)
            else:
                with _time_limit(budget):
                    compiled.python_run(*leaves_)
        except _OutOfTime:
            return
        except Exception as e:  # noqa: BLE001
            loc = None
            for frame, lineno in traceback.walk_tb(sys.exc_info()[2]):
                filename = frame.f_code.co_filename
                if filename == compiled.python_run.__code__.co_filename:
                    loc = compiled.details().python_locmap.get(lineno)
                elif filename in LOCMAPS:
                    loc = LOCMAPS[filename].get(lineno) or loc
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            if isinstance(e, IndexError):
                raise BoundsError(msg, loc, hint=_hint_for(e)) from None
            raise CompileError(f"{type(e).__name__}: {msg}", loc, hint=_hint_for(e)) from None


def _hint_for(e: Exception) -> str:
    text = str(e).lower()
    if isinstance(e, ZeroDivisionError):
        return "a number is divided by zero here; note that both sides of `a if c else b` are evaluated"
    if isinstance(e, IndexError):
        return "an index is out of range for the array's shape"
    if any(w in text for w in ("broadcast", "shape", "mismatch", "dimension")):
        return "check the shapes of the arguments"
    return ""


def raise_compile_failure(compiled, e):
    name = type(e).__module__ or ""
    if name.startswith("numba"):
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CompileError(f"Numba could not compile the generated code: {first}",
                           hint=f"this is a cotangent bug; target='python' runs it without Numba. "
                                f"Generated source: {compiled.path}") from None
    if isinstance(e, IndexError) and not isinstance(e, BoundsError):     # not found again in Python
        raise BoundsError(f"{e} (in {compiled.path})", hint=_hint_for(e)) from None
    raise e
