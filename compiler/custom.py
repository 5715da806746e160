"""User-defined derivative rules: `@ct.custom_derivative`.

A user's function joins the rule table as the primitive `custom_call`: its value is the function,
inlined as usual, and its tangent and adjoint are the user's JVP and VJP functions, inlined in
their place. The rules are ordinary differentiable Python, so forward mode runs through a VJP rule
and a Hessian works through a custom function. Each rule is checked against central differences
before it is used (when it is defined, given `example=` arguments; otherwise the first time it is
compiled, on arguments made from the argument types), so a wrong rule fails early and names the
argument it gets wrong."""
from __future__ import annotations

import functools
import inspect
from typing import Callable, Sequence

import numpy as np

from .errors import CompileError
from .rules.hand import prim

REGISTRY: dict = {}            # key -> CustomDerivative
EPS_CUBE_ROOT = np.finfo(np.float64).eps ** (1.0 / 3.0)


class CustomDerivative:
    """A function with derivative rules written by its author.

        @ct.custom_derivative
        def softplus(x):
            return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)

        @softplus.defvjp
        def softplus_vjp(x, out, g):          # one cotangent per argument (a tuple if several)
            return g / (1.0 + np.exp(-x))

        @softplus.defjvp
        def softplus_jvp(x, out, x_dot):      # the output's tangent
            return x_dot / (1.0 + np.exp(-x))
    """

    def __init__(self, fn: Callable, example: Sequence | None = None):
        self.pyfunc = fn
        self.vjp_fn: Callable | None = None
        self.jvp_fn: Callable | None = None
        self.example = tuple(example) if example is not None else None
        self.checked: set = set()
        self.key = f"{fn.__module__}.{fn.__qualname__}"
        REGISTRY[self.key] = self
        functools.update_wrapper(self, fn)

    __cotangent_custom__ = True     # how the frontend recognizes it (frontend/resolve.py)

    def __call__(self, *args):
        return self.pyfunc(*args)

    def lower_call(self, lw, node, args):
        """Lower a call to this function (the frontend calls this; it does not import this module)."""
        return lower_call(lw, node, self, args)

    def defvjp(self, fn: Callable) -> Callable:
        """Register fn(*args, out, g) -> one cotangent per argument (a tuple when there are several)."""
        self.vjp_fn = fn
        self.checked.discard("vjp")
        if self.example is not None:
            self.check("vjp", self.example)
        return fn

    def defjvp(self, fn: Callable) -> Callable:
        """Register fn(*args, out, *tangents) -> the output's tangent."""
        self.jvp_fn = fn
        self.checked.discard("jvp")
        if self.example is not None:
            self.check("jvp", self.example)
        return fn

    def __repr__(self) -> str:
        return f"<cotangent.custom_derivative {self.pyfunc.__qualname__}>"

    # --- checking ---
    def check(self, which: str, args: Sequence, rtol: float = 1e-5) -> None:
        """Compare a rule with central differences of the function at `args`; raise naming the
        argument whose derivative is wrong."""
        if which in self.checked:
            return
        rng = np.random.default_rng(0)
        args = [np.array(a, dtype=float) if np.ndim(a) else float(a) for a in args]
        names = list(inspect.signature(self.pyfunc).parameters)
        with np.errstate(all="ignore"):
            out = self.pyfunc(*args)
        if which == "vjp":
            g = rng.normal(size=np.shape(out)) if np.ndim(out) else float(rng.normal())
            got = self.vjp_fn(*args, out, g)
            got = got if isinstance(got, tuple) else (got,)
            if len(got) != len(args):
                raise CompileError(f"the VJP rule of {self.pyfunc.__name__} returns {len(got)} cotangents "
                                   f"for {len(args)} arguments")
            for k, (a, gk) in enumerate(zip(args, got)):
                v = rng.normal(size=np.shape(a)) if np.ndim(a) else float(rng.normal())
                fd = self._directional(args, k, v, lambda y: float(np.sum(np.asarray(y) * g)))
                self._compare("VJP", names[k], float(np.sum(np.asarray(gk) * v)), fd, rtol)
        else:
            for k, a in enumerate(args):
                v = rng.normal(size=np.shape(a)) if np.ndim(a) else float(rng.normal())
                tangents = [np.zeros_like(x) if np.ndim(x) else 0.0 for x in args]
                tangents[k] = v
                w = rng.normal(size=np.shape(out)) if np.ndim(out) else 1.0
                got = float(np.sum(np.asarray(self.jvp_fn(*args, out, *tangents)) * w))
                fd = self._directional(args, k, v, lambda y: float(np.sum(np.asarray(y) * w)))
                self._compare("JVP", names[k], got, fd, rtol)
        self.checked.add(which)

    def _directional(self, args, k, v, reduce):
        scale = max(1.0, float(np.max(np.abs(args[k]))))
        h = EPS_CUBE_ROOT * scale
        plus, minus = list(args), list(args)
        plus[k] = args[k] + h * v
        minus[k] = args[k] - h * v
        return (reduce(self.pyfunc(*plus)) - reduce(self.pyfunc(*minus))) / (2 * h)

    def _compare(self, what, name, got, fd, rtol):
        err = abs(got - fd) / max(abs(got), abs(fd), 1e-8)
        if err > rtol:
            raise CompileError(f"the {what} rule of {self.pyfunc.__name__} is wrong for argument {name!r}: "
                               f"it gives {got:.10g} where central differences give {fd:.10g} "
                               f"(relative error {err:.1e})",
                               hint="fix the rule, or remove it to let cotangent differentiate the function")

    def check_for_types(self, which: str, types: list) -> None:
        """Check a rule before its first use, on arguments made from the argument types."""
        if which in self.checked:
            return
        args = self.example
        if args is None:
            rng = np.random.default_rng(1)
            args = tuple(rng.uniform(0.5, 1.5, size=(3,) * t.rank) if t.rank else float(rng.uniform(0.5, 1.5))
                         for t in types)
            try:
                with np.errstate(all="ignore"):
                    self.pyfunc(*args)
            except Exception as e:  # noqa: BLE001 - the made-up arguments do not fit this function
                raise CompileError(f"cannot check the rules of {self.pyfunc.__name__} on arguments of shape 3: "
                                   f"{type(e).__name__}: {e}",
                                   hint="give example arguments: @ct.custom_derivative(example=(...))") from None
        self.check(which, args)


def custom_derivative(fn: Callable | None = None, *, example: Sequence | None = None):
    """Mark a function whose derivative rules its author writes (`@f.defvjp`, `@f.defjvp`)."""
    if fn is None:
        return lambda f: CustomDerivative(f, example)
    return CustomDerivative(fn, example)


# --- the primitive ---
def _inline(b, pyfunc, args):
    from .frontend.lower import lower_inlined
    return lower_inlined(b, pyfunc, args)


def _rule(p, which):
    custom = REGISTRY[p["rule"]]
    fn = custom.vjp_fn if which == "vjp" else custom.jvp_fn
    if fn is None:
        raise CompileError(f"{custom.pyfunc.__name__} has no {which.upper()} rule",
                           hint=f"define one with @{custom.pyfunc.__name__}.def{which}")
    return custom, fn


def _vjp(b, g, out, args, active, p):
    custom, fn = _rule(p, "vjp")
    custom.check_for_types("vjp", [a.type for a in args[:-1]])
    result = _inline(b, fn, list(args[:-1]) + [out, g])
    result = result if isinstance(result, tuple) else (result,)
    return [r if flag else None for r, flag in zip(result, active)] + [None]


def _jvp(b, out, args, tangents, p):
    custom, fn = _rule(p, "jvp")
    custom.check_for_types("jvp", [a.type for a in args[:-1]])
    tans = [t if t is not None else (b.const(0.0) if a.rank == 0 else b.op("zeros_like", a))
            for a, t in zip(args[:-1], tangents[:-1])]
    return _inline(b, fn, list(args[:-1]) + [out] + tans)


prim("custom_call", lambda types, p: types[-1], lambda a, p, t: a[-1], jvp=_jvp, vjp=_vjp,
     doc="a function with its author's derivative rules; its last operand is its value")


def lower_call(lw, node, custom: CustomDerivative, args):
    """The value of a custom function (inlined), wrapped so that differentiation uses its rules."""
    from .frontend.resolve import UserFunc
    from .ir.builder import Sym
    for a in args:
        if not isinstance(a, Sym):
            lw.error(node, f"arguments of {custom.pyfunc.__name__} must be numbers or arrays")
    value = lw.inline(node, UserFunc(custom.pyfunc), args)
    if not isinstance(value, Sym):
        lw.error(node, f"{custom.pyfunc.__name__} must return one number or array")
    return lw.b.op("custom_call", *args, value, rule=custom.key)


def entry_point(custom: CustomDerivative) -> Callable:
    """A plain function that calls `custom`, so ct.grad(custom) differentiates through its rules."""
    import linecache
    params = list(inspect.signature(custom.pyfunc).parameters)
    name = custom.pyfunc.__name__
    filename = f"<cotangent custom {custom.key}>"
    source = f"def {name}_call({', '.join(params)}):\n    return {name}({', '.join(params)})\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {name: custom}
    exec(compile(source, filename, "exec"), namespace)
    fn = namespace[f"{name}_call"]
    fn.__module__ = custom.pyfunc.__module__
    return fn
