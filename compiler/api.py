"""The public API, shaped like JAX's: differentiable, grad, value_and_grad, vjp, jvp, jacfwd,
jacrev, hessian, hvp, source, ir.
It holds no compiler logic: it flattens arguments, asks specialize.py for compiled code, and puts
results back into the caller's structure."""
from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from .config import config
from .errors import CompileError
from .ir.types import FLOAT
from .ir.nodes import flat_values
from .ir.printer import format_function
from . import specialize as sp
from . import results
from .arguments import with_defaults, structure_grads, argnums_tuple, count_float_leaves
from .transforms.checkpoint import parse_budget

TARGETS = ("cpu", "python", "cuda")
_CACHE: dict = {}          # (pyfunc, signature, mode, wrt, has_aux, target) -> Compiled
_LAST: dict = {}           # (pyfunc, mode, argnums, has_aux, target) -> the Compiled used last
_LAST_SIGNATURE: dict = {}  # the same key -> (specs, argnums) of that call


class Differentiable:
    """A user function marked for cotangent. Calling it runs the compiled primal."""

    def __init__(self, pyfunc: Callable, target: str = "cpu"):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self.pyfunc = pyfunc
        self.target = target
        self.__cotangent_function__ = pyfunc
        functools.update_wrapper(self, pyfunc)
        self._primal = _Transform(pyfunc, "primal", (), False, target)   # keeps its fast path

    def __call__(self, *args):
        if self.target == "cuda":       # a CUDA function of numbers runs elementwise, like a ufunc
            from .ufunc import Elementwise
            return Elementwise(self)(*args)
        out = self._primal(*args)
        tmpl = results.template(self.pyfunc)
        return out if tmpl is None else results.shaped(out, tmpl)

    def __repr__(self) -> str:
        return f"<cotangent.differentiable {self.pyfunc.__qualname__} target={self.target!r}>"

    def _repr_html_(self) -> str:
        """In a notebook: the generated source of the last call (see notebook.py)."""
        from .notebook import source_html
        return source_html(self)


def stop_gradient(x):
    """x itself, with no derivative flowing through it (JAX's lax.stop_gradient): inside a function
    cotangent differentiates, whatever is computed from `stop_gradient(x)` counts as a constant.
    The usual use is the shift of a stable log-softmax, whose gradient is zero anyway."""
    return x


stop_gradient.__cotangent_primitive__ = "stop_gradient"     # how the frontend recognizes it


def differentiable(fn: Callable | None = None, *, target: str = "cpu"):
    """Mark a function for differentiation: `@differentiable` or `@differentiable(target="python")`."""
    if fn is None:
        return lambda f: Differentiable(f, target)
    return Differentiable(fn, target)


def unwrap(f):
    """(the Python function, the target) of anything the API differentiates."""
    if isinstance(f, Differentiable):       # one call of a CUDA function's derivative runs on the CPU
        return f.pyfunc, "cpu" if f.target == "cuda" else f.target
    if isinstance(f, _Transform) or getattr(f, "_cotangent", None) is not None:
        raise CompileError("differentiating a derivative (grad of grad) is not supported",
                           hint="use ct.hessian(f) or ct.hvp(f, primals, tangents) (forward over reverse), "
                                "or ct.jacfwd / ct.jacrev of f itself")
    from .custom import CustomDerivative, entry_point
    if isinstance(f, CustomDerivative):
        return entry_point(f), "cpu"
    if not callable(f):
        raise TypeError(f"expected a function, got {type(f).__name__}")
    return f, "cpu"


class _Transform:
    """One transformation of one function (primal, grad, vjp, jvp), specialized per signature."""

    def __init__(self, pyfunc, mode, argnums, has_aux, target):
        self.pyfunc, self.mode, self.argnums, self.has_aux, self.target = pyfunc, mode, argnums, has_aux, target
        self._fast: dict = {}       # argument kinds -> (compiled, specs, argnums), for plain arguments

    @property
    def last(self) -> sp.Compiled | None:
        """The code this transformation ran last (any instance of it: ct.grad(f) made anew finds it)."""
        compiled = _LAST.get((self.pyfunc, self.mode, self.argnums, self.has_aux, self.target))
        if compiled is not None and compiled.boundscheck not in (None, config.boundscheck) \
                and isinstance(compiled.twin, sp.Compiled):
            return compiled.twin        # the variant the current ct.config.boundscheck runs
        return compiled

    def specialize(self, args) -> tuple:
        specs = tuple(sp.spec_of(a, f"argument {i} ({self._param(i)})") for i, a in enumerate(args))
        for i in self.argnums:
            if i >= len(args) or i < -len(args):
                raise CompileError(f"argnums={i} but {self.pyfunc.__name__} was called with {len(args)} arguments")
            if not any(t.kind == FLOAT for t in sp.spec_leaf_types(specs[i])):
                raise CompileError(
                    f"argument {i} ({self._param(i)}) of {self.pyfunc.__name__} is "
                    f"{sp.spec_leaf_types(specs[i])[0] if sp.spec_leaf_count(specs[i]) == 1 else 'not float'}: "
                    "only float arguments can be differentiated",
                    hint="pass it as a float (e.g. 2.0, or x.astype(float)), or leave it out of argnums")
        argnums = tuple(i % len(args) for i in self.argnums)
        key = (self.pyfunc, specs, self.mode, argnums, self.has_aux, self.target)
        compiled = _CACHE.get(key)
        if compiled is not None and not compiled.watch.current():
            _note_changed(self.pyfunc, key, compiled.watch)
            compiled = None         # a definition it was made from has changed since: generate anew
        first = compiled is None
        if first:
            compiled = sp.load_or_compile(self.pyfunc, specs, self.mode, argnums, self.has_aux, self.target)
            _CACHE[key] = compiled
        _LAST[(self.pyfunc, self.mode, self.argnums, self.has_aux, self.target)] = compiled
        _LAST_SIGNATURE[(self.pyfunc, self.mode, self.argnums, self.has_aux, self.target)] = (specs, argnums)
        return compiled, specs, argnums, first

    @property
    def last_signature(self) -> tuple:
        """(specs, argnums) of the code this transformation ran last."""
        return _LAST_SIGNATURE.get((self.pyfunc, self.mode, self.argnums, self.has_aux, self.target))

    def _param(self, i):
        try:
            return self.pyfunc.__code__.co_varnames[i]
        except (AttributeError, IndexError):
            return "?"

    def run(self, args, extra=()):
        key = _plain_key(args)
        hit = self._fast.get(key) if key is not None else None
        if hit is not None and hit[0].watch.holds():
            # seen before, and nothing it was made from has changed: no flattening, no specs, no hashing
            compiled, specs, argnums = hit
            _LAST[(self.pyfunc, self.mode, self.argnums, self.has_aux, self.target)] = compiled
            return sp.call_checked(compiled, [*args, *extra], False), compiled, specs, argnums
        given = len(args)
        args = with_defaults(self.pyfunc, args)
        compiled, specs, argnums, first = self.specialize(args)
        flat = [leaf for a in args for leaf in sp.leaves(a)] + list(extra)
        out = sp.call_checked(compiled, flat, first)
        if key is not None and len(args) == given:
            self._fast[key] = (compiled, specs, argnums)
        return out, compiled, specs, argnums

    def __call__(self, *args):
        out, compiled, specs, argnums = self.run(args)
        return out


RECOMPILES_BEFORE_WARNING = 5
_RECOMPILES: dict = {}      # cache key -> how often a changed definition made it compile again


def _note_changed(pyfunc, key, watch) -> None:
    """Count recompiles caused by changed definitions; warn once when a name keeps changing (a
    global assigned in a loop recompiles on every new value: it should be an argument)."""
    n = _RECOMPILES[key] = _RECOMPILES.get(key, 0) + 1
    if n == RECOMPILES_BEFORE_WARNING:
        names = ", ".join(watch.changed()) or "a definition it uses"
        warnings.warn(f"{pyfunc.__name__} was compiled again {n} times because {names} changed between "
                      "calls; cotangent follows globals as they are now, so a value that keeps changing "
                      "should be passed as an argument instead", RuntimeWarning, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The stack level of the first frame outside cotangent's compiler, for warnings."""
    import sys
    here = __file__.rsplit("/", 1)[0]
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame, level = frame.f_back, level + 1
    return level


def _plain_key(args) -> tuple | None:
    """The kinds of arguments that are each one leaf (floats, ints, bools, arrays of rank >= 1), or
    None when any is a tuple, dict, 0-d array or NumPy scalar (those take the general path)."""
    key = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            if a.ndim == 0:
                return None
            key.append((a.dtype.char, a.ndim))
        elif t is float or t is int or t is bool:
            key.append(t)
        else:
            return None
    return tuple(key)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   symbolic: bool | str = False, memory_limit: int | str | None = None) -> Callable:
    """f's value and its gradient with respect to the arguments in `argnums` (JAX's conventions:
    an int gives one gradient, a tuple a tuple; with has_aux, f returns (value, aux)).
    symbolic=True derives the whole function at once with SymPy (straight-line scalar code; see
    jacrev); "auto" does so where it applies and is small. memory_limit (bytes, or "1GiB"):
    loops whose tape would not fit in it keep snapshots of their state instead (checkpointing)."""
    if hasattr(f, "batched_value_and_grad"):        # a ct.vmap: its own compiled batch loop
        return f.batched_value_and_grad(argnums, has_aux)
    pyfunc, target = unwrap(f)
    budget = parse_budget(memory_limit)
    mode = "grad" if budget is None or symbolic is not False else f"grad memory_limit={budget}"
    t = _symbolic_or_plain(pyfunc, mode, argnums, has_aux, target, symbolic)

    plans: dict = {}                # id(specs) -> (one float leaf, every argnum a single float leaf)

    @functools.wraps(pyfunc)
    def value_and_grad_f(*args):
        (value, grads), compiled, specs, nums = t.run(args)
        plan = plans.get(id(specs))
        if plan is None or plan[0] is not specs:
            plan = plans[id(specs)] = (specs, count_float_leaves(specs, nums) == 1,
                                       all(isinstance(specs[i], sp.Type) for i in nums))
        if plan[1]:
            grads = (grads,)
        if plan[2]:                 # nothing to rebuild: one array or number per differentiated argument
            structured = grads[0] if isinstance(argnums, int) else tuple(grads)
        else:
            structured = structure_grads(grads, specs, nums, isinstance(argnums, int))
        if has_aux:
            value = (value[0], value[1] if len(value) == 2 else tuple(value[1:]))
            tmpl = results.template(pyfunc)
            if tmpl is not None:      # a dict in the aux
                aux = results.item(tmpl, 1) if len(tmpl[1]) == 2 else ("tuple", tmpl[1][1:])
                value = (value[0], results.shaped(value[1], aux))
        return value, structured

    value_and_grad_f._cotangent = t
    value_and_grad_f._returns_value, value_and_grad_f._single_argnum = True, isinstance(argnums, int)
    return _shows_source(value_and_grad_f)


def _shows_source(fn: Callable) -> Callable:
    """fn, which a notebook displays as the generated source of its last call (see notebook.py)."""
    def _repr_html_() -> str:
        from .notebook import source_html
        return source_html(fn)
    fn._repr_html_ = _repr_html_
    return fn


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         symbolic: bool | str = False, memory_limit: int | str | None = None) -> Callable:
    """The gradient of a scalar function with respect to the arguments in `argnums` (memory_limit:
    see value_and_grad)."""
    vg = value_and_grad(f, argnums, has_aux, symbolic, memory_limit)

    @functools.wraps(vg)
    def grad_f(*args):
        value, g = vg(*args)
        return (g, value[1]) if has_aux else g

    grad_f._cotangent = vg._cotangent
    grad_f._returns_value, grad_f._single_argnum = False, isinstance(argnums, int)
    return _shows_source(grad_f)


def vjp(f: Callable, *primals) -> tuple[Any, Callable]:
    """(f(*primals), pullback), where pullback(cotangent) gives one cotangent per primal. For f
    returning a tuple, the cotangent is a tuple of as many (None for zeros), as in JAX."""
    if hasattr(f, "batched_vjp"):                   # a ct.vmap: one VJP per sample
        return f.batched_vjp(tuple(primals))
    pyfunc, target = unwrap(f)
    nums = tuple(i for i, a in enumerate(primals)
                 if any(t.kind == FLOAT for t in sp.spec_leaf_types(sp.spec_of(a, f"argument {i}"))))
    t = _Transform(pyfunc, "vjp", nums, False, target)
    value = _Transform(pyfunc, "primal", (), False, target)(*primals)
    tmpl = results.template(pyfunc)

    def pullback(cotangent):
        if tmpl is not None:          # a dict cotangent for a dict result
            cotangent = results.flat_like(cotangent, tmpl, value)
        (_, grads), compiled, specs, argnums = t.run(primals, extra=tuple(_cotangent_leaves(value, cotangent)))
        if count_float_leaves(specs, argnums) == 1:
            grads = (grads,)
        structured = structure_grads(grads, specs, argnums, False)
        by_arg = dict(zip(argnums, structured))
        return tuple(by_arg.get(i) for i in range(len(primals)))

    pullback._cotangent = t
    return results.shaped(value, tmpl), pullback


def _cotangent_leaves(value, cotangent, where: str = "the result") -> list:
    """The cotangent's arrays and numbers in the order of the output's leaves, each of its
    output's shape; a tuple output takes a tuple of as many cotangents, None standing for zeros."""
    if isinstance(value, tuple):
        if cotangent is None:
            cotangent = (None,) * len(value)
        if not isinstance(cotangent, (tuple, list)) or len(cotangent) != len(value):
            got = f"a tuple of {len(cotangent)}" if isinstance(cotangent, (tuple, list)) else type(cotangent).__name__
            raise ValueError(f"{where} is a tuple of {len(value)}: pass the cotangent as a tuple of "
                             f"{len(value)} (None for zeros), not {got}")
        return [leaf for k, (v, c) in enumerate(zip(value, cotangent))
                for leaf in _cotangent_leaves(v, c, f"{where}[{k}]")]
    shape = np.shape(value)
    arr = np.zeros(shape) if cotangent is None else np.asarray(cotangent, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"the cotangent of {where} has shape {arr.shape}, but {where} has shape {shape}")
    return [float(arr) if arr.ndim == 0 else arr]


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """(f(*primals), the directional derivative along `tangents`); a None tangent means that
    argument is not differentiated. For f returning a tuple, the derivative is a tuple too."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError("jvp needs one tangent per primal (None for those not differentiated)")
    if hasattr(f, "batched_jvp"):                   # a ct.vmap: one JVP per sample
        return f.batched_jvp(primals, tangents)
    pyfunc, target = unwrap(f)
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    t = _Transform(pyfunc, "jvp", nums, False, target)
    compiled, specs, argnums, first = t.specialize(primals)
    extra = []
    for i in argnums:
        for leaf, ty in zip(sp.leaves(tangents[i]), sp.spec_leaf_types(specs[i])):
            if ty.kind == FLOAT:
                extra.append(leaf)
    flat = [leaf for a in primals for leaf in sp.leaves(a)] + extra
    value, tangent_out = sp.call_checked(compiled, flat, first)
    if isinstance(value, tuple):        # the tangents come flat: nest them as the value is
        tangent_out = _nested_like(value, iter(tangent_out))
    tmpl = results.template(pyfunc)
    return results.shaped(value, tmpl), results.shaped(tangent_out, tmpl)


def _nested_like(value, flat):
    return tuple(_nested_like(v, flat) if isinstance(v, tuple) else next(flat) for v in value)


def _per_argument(args, specs, argnums, leaf_value, single: bool):
    """Each differentiated argument's structure with its k-th float leaf replaced by
    leaf_value(k, leaf) (None for the leaves that are not floats)."""
    k = 0
    per_arg = []
    for i in argnums:
        filled = []
        for leaf, ty in zip(sp.leaves(args[i]), sp.spec_leaf_types(specs[i])):
            if ty.kind == FLOAT:
                filled.append(leaf_value(k, leaf))
                k += 1
            else:
                filled.append(None)
        per_arg.append(sp.rebuild(specs[i], iter(filled)))
    return per_arg[0] if single else tuple(per_arg)


def _block(block, shape: tuple):
    """A (rows, columns) block of derivatives in the shape JAX gives it; a number when 0-d."""
    block = np.ascontiguousarray(block)
    return float(block.reshape(())) if shape == () else block.reshape(shape)


def _symbolic_or_plain(pyfunc, mode, argnums, has_aux, target, symbolic):
    """The transformation, made symbolic by symbolic.py when asked (symbolic=True or "auto")."""
    if symbolic is False:
        return _Transform(pyfunc, mode, argnums_tuple(argnums), has_aux, target)
    from .symbolic import transform
    return transform(pyfunc, mode, argnums, has_aux, target, symbolic)


def _jacobian(f, argnums, mode: str, symbolic=False) -> Callable:
    if hasattr(f, "batched_jacobian"):              # a ct.vmap: per-sample gradients
        return f.batched_jacobian(argnums, mode)
    pyfunc, target = unwrap(f)
    t = _symbolic_or_plain(pyfunc, mode, argnums, False, target, symbolic)
    single = isinstance(argnums, int)

    returns_tuple = False       # set once f is seen to return a tuple (it then always does)

    @functools.wraps(pyfunc)
    def jacobian_f(*args):
        nonlocal returns_tuple
        if not returns_tuple:
            try:
                (value, blocks), compiled, specs, nums = t.run(args)
            except CompileError:          # a tuple or dict result (a dict of one key returns its value)
                if not isinstance(_Transform(pyfunc, "primal", (), False, target)(*args), tuple) \
                        and results.template(pyfunc) is None:
                    raise
                returns_tuple = True
            else:
                out_shape = np.shape(value)
                # jacfwd stacks one row per input direction, jacrev one row per output element
                return _per_argument(args, specs, nums, lambda k, leaf: _block(
                    blocks[k].T if mode == "jacfwd" else blocks[k], out_shape + np.shape(leaf)), single)
        return _jacobian_of_tuple(f, args, argnums, mode)

    jacobian_f._cotangent, jacobian_f._single_argnum = t, single
    return jacobian_f


def _jacobian_of_tuple(f, args, argnums, mode: str):
    """JAX's Jacobian of a function returning a tuple: a tuple with one entry per output, each the
    Jacobian of that output (a tuple over `argnums` when argnums is a tuple). Built from the
    compiled VJP (jacrev: one call per output element) or JVP (jacfwd: one call per input
    element); the arguments differentiated must be numbers or arrays."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    nums = tuple(i % len(args) for i in nums)
    for i in nums:
        if not isinstance(args[i], (float, np.floating, np.ndarray)) or np.asarray(args[i]).dtype.kind != "f":
            raise CompileError(f"the Jacobian of a function returning a tuple takes float numbers or arrays as "
                               f"the arguments it differentiates; argument {i} is {type(args[i]).__name__}")
    tmpl = results.template(unwrap(f)[0])       # dicts in the result: the blocks go back into them
    if mode == "jacrev":
        value, pullback = vjp(f, *args)
        value = results.flat(value, tmpl)
        outs = list(flat_values(value))
        blocks = []
        for k, out in enumerate(outs):
            rows = {i: [] for i in nums}
            for e in range(int(np.size(out))):
                seed = [None] * len(outs)
                seed[k] = np.eye(1, int(np.size(out)), e).reshape(np.shape(out))
                grads = pullback(results.shaped(_nested_like(value, iter(seed)), tmpl))
                for i in nums:
                    rows[i].append(np.asarray(grads[i], dtype=np.float64))
            blocks.append({i: np.array(rows[i]).reshape(np.shape(out) + np.shape(args[i])) for i in nums})
    else:
        columns: dict = {}
        for i in nums:
            size = int(np.size(args[i]))
            for e in range(size):
                tangents = [None] * len(args)
                tangents[i] = np.eye(1, size, e).reshape(np.shape(args[i])) if np.ndim(args[i]) else 1.0
                value, dots = jvp(f, args, tangents)
                value, dots = results.flat(value, tmpl), results.flat(dots, tmpl)
                for k, d in enumerate(flat_values(dots)):
                    columns.setdefault((k, i), []).append(np.asarray(d, dtype=np.float64))
        outs = list(flat_values(value))
        blocks = [{i: np.moveaxis(np.array(columns[(k, i)]), 0, -1).reshape(np.shape(out) + np.shape(args[i]))
                   for i in nums} for k, out in enumerate(outs)]
    as_value = lambda a: float(a) if np.ndim(a) == 0 else a      # noqa: E731
    per_output = [as_value(b[nums[0]]) if isinstance(argnums, int) else tuple(as_value(b[i]) for i in nums)
                  for b in blocks]
    return results.shaped(_nested_like(value, iter(per_output)), tmpl)


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, symbolic: bool | str = False) -> Callable:
    """The Jacobian of f, column by column with forward mode (one JVP per input element): the
    cheaper choice when f has fewer inputs than outputs. Shapes follow JAX: out.shape + in.shape
    per differentiated argument; a tuple argnums gives a tuple. symbolic: as in jacrev."""
    return _jacobian(f, argnums, "jacfwd", symbolic)


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, symbolic: bool | str = False) -> Callable:
    """The Jacobian of f, row by row with reverse mode (one VJP per output element): the cheaper
    choice when f has fewer outputs than inputs. Same shapes as jacfwd.
    symbolic=True: for straight-line scalar code (small fixed-size arrays, loops over known ranges,
    branches on numbers), SymPy builds the whole function as one expression, differentiates it and
    shares subexpressions between the value and every entry (CSE): flat code, no loop over
    directions; a CompileError says what stops it. symbolic="auto": symbolic where it applies and
    is small, the ordinary mode elsewhere."""
    return _jacobian(f, argnums, "jacrev", symbolic)


def hessian(f: Callable, argnums: int | Sequence[int] = 0, symbolic: bool | str = False) -> Callable:
    """The Hessian of a scalar function, by forward mode over reverse mode: one Hessian-vector
    product per input element, each about the cost of two gradients. For an array argument x the
    result has shape x.shape + x.shape; with a tuple argnums, `H[i][j]` is the block of arguments
    i and j (JAX's nesting; dict and tuple arguments nest the same way)."""
    pyfunc, target = unwrap(f)
    t = _symbolic_or_plain(pyfunc, "hessian", argnums, False, target, symbolic)
    single = isinstance(argnums, int)

    @functools.wraps(pyfunc)
    def hessian_f(*args):
        blocks, compiled, specs, nums = t.run(args)
        m = count_float_leaves(specs, nums)
        # blocks[s * m + r]: row k is the gradient's r-th leaf along direction k of the s-th leaf
        return _per_argument(args, specs, nums, lambda r, leaf_r: _per_argument(
            args, specs, nums, lambda s, leaf_s: _block(
                blocks[s * m + r].T, np.shape(leaf_r) + np.shape(leaf_s)), single), single)

    hessian_f._cotangent, hessian_f._single_argnum = t, single
    return hessian_f


def hvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """(gradient, Hessian @ tangents) of a scalar function at `primals`, by forward mode over
    reverse mode, without forming the Hessian: JAX's `jvp(grad(f, argnums), primals, tangents)`.
    A None tangent holds that argument fixed; with one differentiated argument both results have
    its structure, with several they are tuples in argument order."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError("hvp needs one tangent per primal (None for those held fixed)")
    if hasattr(f, "batched_hvp"):                   # a ct.vmap: per sample, or of the reduced sum
        return f.batched_hvp(primals, tangents)
    pyfunc, target = unwrap(f)
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    t = _Transform(pyfunc, "hvp", nums, False, target)
    compiled, specs, argnums, first = t.specialize(primals)
    extra = [leaf for i in argnums for leaf, ty in zip(sp.leaves(tangents[i]), sp.spec_leaf_types(specs[i]))
             if ty.kind == FLOAT]
    flat = [leaf for a in primals for leaf in sp.leaves(a)] + extra
    (_, grads), products = sp.call_checked(compiled, flat, first)
    products = products if isinstance(products, tuple) else (products,)
    single = len(argnums) == 1
    return (structure_grads(tuple(grads), specs, argnums, single),
            structure_grads(products, specs, argnums, single))


def _transform_of(obj):
    t = getattr(obj, "_cotangent", None)
    if t is not None:
        return t
    if isinstance(obj, Differentiable):
        return _Transform(obj.pyfunc, "primal", (), False, obj.target)
    if isinstance(obj, _Transform):
        return obj
    raise TypeError("ct.source takes a function made by ct.differentiable, ct.grad, ct.value_and_grad, "
                    "ct.jacfwd, ct.jacrev, ct.hessian or a pullback")


def source(obj, *example_args, units: bool = True, inline: bool = False, loops: bool = True) -> str:
    """The generated Python source of a compiled function. Pass example arguments, or call the
    function once first: the source depends on the argument types.

    The functions it calls are compiled separately (units), and their modules follow its own,
    callees first (units=False leaves them out). inline=True shows instead the whole computation
    as one flat function, every call inlined (for reading; it is not what runs). On the CPU
    target, runs of elementwise statements run as loop nests; loops=False shows them as the
    NumPy statements they were made from (what the Python target runs)."""
    t = _transform_of(obj)
    if not isinstance(t, _Transform):       # a vmap or an elementwise kernel: its own module
        if example_args:
            return t.specialize(example_args)[0].source
        if t.last is None:
            raise CompileError(f"{t.pyfunc.__name__} has not been compiled for any argument types yet",
                               hint="call it once, or pass example arguments: ct.source(f, *args)")
        return t.last.source
    if example_args:
        compiled, specs, argnums, _ = t.specialize(example_args)
    elif t.last is None:
        raise CompileError(f"{t.pyfunc.__name__} has not been compiled for any argument types yet",
                           hint="call it once, or pass example arguments: ct.source(f, *args)")
    else:
        compiled, (specs, argnums) = t.last, t.last_signature or (None, None)
    if (inline or not loops) and specs is not None:
        compiled = sp.compile_transform(t.pyfunc, specs, t.mode, argnums, t.has_aux, t.target,
                                        compiled.boundscheck if compiled.boundscheck is not None else True,
                                        inline=inline, loops=loops)
    text = compiled.source
    if units:
        for description, unit_source in compiled.details().units or ():
            text += f"\n\n# {'-' * 20} separately compiled: {description}\n" + unit_source
    return text


class IRView:
    def __init__(self, fn):
        self.function = fn

    def __str__(self) -> str:
        return format_function(self.function)

    __repr__ = __str__


def ir(f: Callable, *example_args) -> IRView:
    """The typed IR of f specialized to the example arguments (or its last compiled signature)."""
    t = _transform_of(f) if not callable(f) or hasattr(f, "_cotangent") or isinstance(f, Differentiable) \
        else _Transform(f, "primal", (), False, "cpu")
    if example_args:
        specs = tuple(sp.spec_of(a, f"argument {i}") for i, a in enumerate(example_args))
        from .frontend.lower import lower
        fn, _ = lower(t.pyfunc, specs)
        return IRView(fn)
    if t.last is None:
        raise CompileError(f"{t.pyfunc.__name__} has not been compiled yet",
                           hint="pass example arguments: ct.ir(f, *args)")
    return IRView(t.last.details().ir)
