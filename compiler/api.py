"""The public API, shaped like JAX's: differentiable, grad, value_and_grad, vjp, jvp, source, ir.
It holds no compiler logic: it flattens arguments, asks specialize.py for compiled code, and puts
results back into the caller's structure."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from .errors import CompileError
from .ir.types import FLOAT
from .ir.printer import format_function
from . import specialize as sp

TARGETS = ("cpu", "python")
_CACHE: dict = {}          # (pyfunc, signature, mode, wrt, has_aux, target) -> Compiled
_LAST: dict = {}           # (pyfunc, mode, argnums, has_aux, target) -> the Compiled used last


class Differentiable:
    """A user function marked for cotangent. Calling it runs the compiled primal."""

    def __init__(self, pyfunc: Callable, target: str = "cpu"):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}"
                             + (" (CUDA is not available in this version)" if target == "cuda" else ""))
        self.pyfunc = pyfunc
        self.target = target
        self.__cotangent_function__ = pyfunc
        functools.update_wrapper(self, pyfunc)

    def __call__(self, *args):
        return _Transform(self.pyfunc, "primal", (), False, self.target)(*args)

    def __repr__(self) -> str:
        return f"<cotangent.differentiable {self.pyfunc.__qualname__} target={self.target!r}>"


def differentiable(fn: Callable | None = None, *, target: str = "cpu"):
    """Mark a function for differentiation: `@differentiable` or `@differentiable(target="python")`."""
    if fn is None:
        return lambda f: Differentiable(f, target)
    return Differentiable(fn, target)


def _unwrap(f):
    if isinstance(f, Differentiable):
        return f.pyfunc, f.target
    if isinstance(f, _Transform):
        raise CompileError("differentiating a derivative (grad of grad) is not supported yet",
                           hint="use ct.hessian when it arrives, or differentiate the function once")
    if not callable(f):
        raise TypeError(f"expected a function, got {type(f).__name__}")
    return f, "cpu"


class _Transform:
    """One transformation of one function (primal, grad, vjp, jvp), specialized per signature."""

    def __init__(self, pyfunc, mode, argnums, has_aux, target):
        self.pyfunc, self.mode, self.argnums, self.has_aux, self.target = pyfunc, mode, argnums, has_aux, target

    @property
    def last(self) -> sp.Compiled | None:
        """The code this transformation ran last (any instance of it: ct.grad(f) made anew finds it)."""
        return _LAST.get((self.pyfunc, self.mode, self.argnums, self.has_aux, self.target))

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
        first = compiled is None
        if first:
            compiled = sp.load_or_compile(self.pyfunc, specs, self.mode, argnums, self.has_aux, self.target)
            _CACHE[key] = compiled
        _LAST[(self.pyfunc, self.mode, self.argnums, self.has_aux, self.target)] = compiled
        return compiled, specs, argnums, first

    def _param(self, i):
        try:
            return self.pyfunc.__code__.co_varnames[i]
        except (AttributeError, IndexError):
            return "?"

    def run(self, args, extra=()):
        compiled, specs, argnums, first = self.specialize(args)
        flat = [leaf for a in args for leaf in sp.leaves(a)] + list(extra)
        return sp.call_checked(compiled, flat, first), compiled, specs, argnums

    def __call__(self, *args):
        out, compiled, specs, argnums = self.run(args)
        return out


def _structure_grads(grads, specs, argnums, single):
    """Flat float-leaf gradients back into each differentiated argument's structure."""
    grads = list(grads) if isinstance(grads, tuple) else [grads]
    it = iter(grads)
    per_arg = []
    for i in argnums:
        types = sp.spec_leaf_types(specs[i])
        filled = iter([next(it) if t.kind == FLOAT else None for t in types])
        per_arg.append(sp.rebuild(specs[i], filled))
    return per_arg[0] if single else tuple(per_arg)


def _argnums(argnums) -> tuple:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _count_float_leaves(specs, argnums):
    return sum(1 for i in argnums for t in sp.spec_leaf_types(specs[i]) if t.kind == FLOAT)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """f's value and its gradient with respect to the arguments in `argnums` (JAX's conventions:
    an int gives one gradient, a tuple a tuple; with has_aux, f returns (value, aux))."""
    pyfunc, target = _unwrap(f)
    t = _Transform(pyfunc, "grad", _argnums(argnums), has_aux, target)

    @functools.wraps(pyfunc)
    def value_and_grad_f(*args):
        (value, grads), compiled, specs, nums = t.run(args)
        if _count_float_leaves(specs, nums) == 1:
            grads = (grads,)
        structured = _structure_grads(grads, specs, nums, isinstance(argnums, int))
        if has_aux:
            value = (value[0], value[1] if len(value) == 2 else tuple(value[1:]))
        return value, structured

    value_and_grad_f._cotangent = t
    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function with respect to the arguments in `argnums`."""
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(vg)
    def grad_f(*args):
        value, g = vg(*args)
        return (g, value[1]) if has_aux else g

    grad_f._cotangent = vg._cotangent
    return grad_f


def vjp(f: Callable, *primals) -> tuple[Any, Callable]:
    """(f(*primals), pullback), where pullback(cotangent) gives one cotangent per primal."""
    pyfunc, target = _unwrap(f)
    nums = tuple(i for i, a in enumerate(primals)
                 if any(t.kind == FLOAT for t in sp.spec_leaf_types(sp.spec_of(a, f"argument {i}"))))
    t = _Transform(pyfunc, "vjp", nums, False, target)
    value = _Transform(pyfunc, "primal", (), False, target)(*primals)

    def pullback(cotangent):
        ct_arr = np.asarray(cotangent, dtype=np.float64)
        ct_leaf = float(ct_arr) if ct_arr.ndim == 0 else ct_arr
        (_, grads), compiled, specs, argnums = t.run(primals, extra=(ct_leaf,))
        if _count_float_leaves(specs, argnums) == 1:
            grads = (grads,)
        structured = _structure_grads(grads, specs, argnums, False)
        by_arg = dict(zip(argnums, structured))
        return tuple(by_arg.get(i) for i in range(len(primals)))

    pullback._cotangent = t
    return value, pullback


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """(f(*primals), the directional derivative along `tangents`); a None tangent means that
    argument is not differentiated."""
    pyfunc, target = _unwrap(f)
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError("jvp needs one tangent per primal (None for those not differentiated)")
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
    return value, tangent_out


def _transform_of(obj):
    t = getattr(obj, "_cotangent", None)
    if t is not None:
        return t
    if isinstance(obj, Differentiable):
        return _Transform(obj.pyfunc, "primal", (), False, obj.target)
    if isinstance(obj, _Transform):
        return obj
    raise TypeError("ct.source takes a function made by ct.differentiable, ct.grad, ct.value_and_grad or a pullback")


def source(obj, *example_args) -> str:
    """The generated Python source of a compiled function. Pass example arguments, or call the
    function once first: the source depends on the argument types."""
    t = _transform_of(obj)
    if example_args:
        extra_args = example_args
        compiled, *_ = t.specialize(extra_args)
        return compiled.source
    if t.last is None:
        raise CompileError(f"{t.pyfunc.__name__} has not been compiled for any argument types yet",
                           hint=f"call it once, or pass example arguments: ct.source(f, *args)")
    return t.last.source


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
