"""cotangent's derivatives inside other tools: PyTorch (`to_torch`), JAX (`to_jax`) and SciPy
(`scipy_objective`).

The bridges share one `Engine`: a function's compiled transformations (primal, gradient, VJP, JVP,
Hessian-vector product), called on NumPy leaves and returning flat lists of the derivatives of its
float leaves. PyTorch and JAX are imported only when a bridge to them is made (interop_torch.py,
interop_jax.py), so `import cotangent` never needs them."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import api
from .arguments import with_defaults, count_float_leaves
from . import specialize as sp
from .errors import CompileError
from .ir.types import FLOAT


class Engine:
    """The compiled transformations of one function, for code that holds its arguments as NumPy
    leaves. `args` is always the tuple of the function's arguments (tuples and dicts allowed);
    `nums` the sorted indices of the differentiated arguments. Derivatives come back as flat lists
    over the float leaves of those arguments, in leaf order (tuples in order, dicts by sorted key)."""

    def __init__(self, f: Callable):
        self.pyfunc, self.target = api.unwrap(f)
        self.name = self.pyfunc.__name__
        self._transforms: dict = {}
        self._outputs: dict = {}

    def transform(self, mode: str, nums: tuple) -> api._Transform:
        t = self._transforms.get((mode, nums))
        if t is None:
            t = self._transforms[(mode, nums)] = api._Transform(self.pyfunc, mode, nums, False, self.target)
        return t

    def prepare(self, mode: str, nums: tuple, args) -> None:
        """Generate (or load) the code of one transformation for these argument kinds without
        running it, so that a CompileError shows where the bridge is traced or called."""
        self.transform(mode, nums).specialize(with_defaults(self.pyfunc, tuple(args)))

    def output_type(self, args):
        """The kind and rank of f's result for arguments of these kinds (the shapes need not be the
        real ones): lowering only, nothing is compiled."""
        specs = tuple(sp.spec_of(a, f"argument {i}") for i, a in enumerate(with_defaults(self.pyfunc, args)))
        out = self._outputs.get(specs)
        if out is None:
            from .frontend.lower import lower
            fn, result = lower(self.pyfunc, specs)
            if isinstance(result, tuple):
                raise CompileError(f"{self.name} returns a tuple; the PyTorch and JAX bridges take functions "
                                   "that return one number or one array", fn.body[-1].loc,
                                   hint="bridge one function per output, or stack the outputs into one array")
            out = self._outputs[specs] = result.type
        return out

    @staticmethod
    def float_positions(args, nums) -> list:
        """For each argument in `nums`, the positions of its float leaves among its leaves."""
        return [[k for k, leaf in enumerate(sp.leaves(args[i]))
                 if sp.leaf_type(leaf, "a leaf").kind == FLOAT] for i in nums]

    def primal(self, args):
        return self.transform("primal", ()).run(args)[0]

    def value_and_grad(self, args, nums: tuple) -> tuple:
        (value, grads), _, specs, done = self.transform("grad", nums).run(args)
        return value, _flat(grads, specs, done)

    def vjp(self, args, nums: tuple, cotangent) -> tuple:
        (value, grads), _, specs, done = self.transform("vjp", nums).run(args, extra=(_float_leaf(cotangent),))
        return value, _flat(grads, specs, done)

    def jvp(self, args, nums: tuple, tangents: Sequence) -> tuple:
        """(value, tangent of the output); `tangents` has one entry per float leaf of `nums`."""
        return self.transform("jvp", nums).run(args, extra=tuple(_float_leaf(t) for t in tangents))[0]

    def hvp(self, args, nums: tuple, tangents: Sequence) -> tuple:
        """(value, gradient, Hessian @ tangents), both flat over the float leaves of `nums`."""
        ((value, grads), products), _, specs, done = self.transform("hvp", nums).run(
            args, extra=tuple(_float_leaf(t) for t in tangents))
        return value, _flat(grads, specs, done), _flat(products, specs, done)


def _flat(grads, specs, nums) -> list:
    return [grads] if count_float_leaves(specs, nums) == 1 else list(grads)


def _float_leaf(x):
    """A tangent or cotangent as the generated code takes it: a Python float, or a float64 array
    (no copy when it already is one)."""
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


# --- the bridges: each imports its tool when it is made ---

def to_torch(f: Callable) -> Callable:
    """f as a PyTorch function: it takes tensors (and numbers, arrays, tuples and dicts, like f) and
    returns a tensor whose backward runs cotangent's compiled gradient or VJP. Float tensors that
    require grad are differentiated; the CPU tensors are handed to the compiled code as NumPy views,
    without copies. For a function returning a number, double backward (create_graph=True) runs
    cotangent's Hessian-vector product. See interop_torch.py."""
    from .interop_torch import TorchFunction
    return TorchFunction(f)


def to_jax(f: Callable, out_shape=None, mode: str = "reverse") -> Callable:
    """f as a JAX function that works under jax.jit, jax.grad and jax.vmap. A function returning a
    number supports every JAX transformation (forward and reverse mode, and second derivatives by
    forward over reverse, as jax.hessian takes them). One returning an array is reverse mode
    (jax.grad, jax.vjp, jax.jacrev), or forward mode (jax.jvp, jax.jacfwd) with mode="forward".
    An array result's shape cannot be known before f runs: pass `out_shape` (a shape, a
    jax.ShapeDtypeStruct, or a function of the arguments' ShapeDtypeStructs giving either), or call
    the function once outside jax.jit with arguments of the same shapes. See interop_jax.py."""
    from .interop_jax import JaxFunction
    return JaxFunction(f, out_shape, mode)


class ScipyObjective:
    """SciPy's view of a scalar function f(x, *args) of a 1-d float array x:

        minimize(obj.fun, x0, args=args, jac=True)                  # value and gradient in one call
        minimize(obj.fun, x0, args=args, jac=True, hess=obj.hess, method="Newton-CG")
        minimize(obj.fun, x0, args=args, jac=True, hessp=obj.hessp, method="trust-krylov")

    `fun` is ct.value_and_grad(f) (a float and a 1-d float64 array), `hess` is ct.hessian(f), and
    `hessp(x, p, *args)` is the Hessian-vector product ct.hvp(f, (x, *args), (p, None, ...)), which
    SciPy's signature needs an adapter for."""

    def __init__(self, f: Callable):
        self.f = f
        self.fun = api.value_and_grad(f)
        self.hess = api.hessian(f)
        pyfunc, target = api.unwrap(f)
        self._hvp = api._Transform(pyfunc, "hvp", (0,), False, target)

    def hessp(self, x, p, *args) -> np.ndarray:
        (_, product), *_ = self._hvp.run((x, *args), extra=(_float_leaf(p),))
        return product

    def __repr__(self) -> str:
        return f"<cotangent.scipy_objective {api.unwrap(self.f)[0].__qualname__}>"


def scipy_objective(f: Callable) -> ScipyObjective:
    """f(x, *args), a scalar function of a 1-d float array x, for scipy.optimize: `.fun` (value and
    gradient, for jac=True), `.hess`, `.hessp`. See ScipyObjective."""
    return ScipyObjective(f)
