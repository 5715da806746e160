"""ct.elementwise: a function of numbers applied to every element of its array arguments, like a
NumPy ufunc, with its derivative and its JVP computed the same way.

It is ct.vmap over the elements: the arguments are broadcast to one shape and flattened, arrays
are batched and numbers shared, and the per-element value, partial derivatives or tangent run as
one kernel (one CUDA thread per element on target="cuda", one loop over elements on the CPU)."""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from .errors import CompileError
from .batching import Batched, Plan, BatchedTransform


class Recent:
    """What ct.source shows for an elementwise function: the module its last call ran."""

    def __init__(self, pyfunc):
        self.pyfunc, self.last = pyfunc, None

    def specialize(self, args):
        raise CompileError("ct.source of an elementwise function takes no example arguments",
                           hint="call it once, then ct.source(f) shows the kernel that call ran")


class Elementwise:
    """f of numbers, applied elementwise: `e(x, y)`, `e.derivative(argnums)(x, y)`, `e.jvp(...)`.
    ct.source(e) shows the module of its last call (of any of the three)."""

    def __init__(self, f: Callable, target: str | None = None):
        from . import api
        if isinstance(f, api.Differentiable):
            self.pyfunc, own = f.pyfunc, f.target
        else:
            self.pyfunc, own = api.unwrap(f)
        self.target = target or own
        self._cotangent = Recent(self.pyfunc)
        functools.update_wrapper(self, self.pyfunc)

    def _flat(self, args: tuple):
        """Arguments broadcast and flattened (numbers stay numbers), their in_axes, and the shape."""
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        flat, axes = [], []
        for a in args:
            if isinstance(a, np.ndarray):
                flat.append(np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1))
                axes.append(0)
            elif isinstance(a, (int, float, np.integer, np.floating)):
                flat.append(a.item() if isinstance(a, np.generic) else a)
                axes.append(None)
            else:
                raise CompileError(f"ct.elementwise takes numbers and arrays, not {type(a).__name__}")
        if not arrays:      # all numbers: a batch of one
            flat = [np.array([v]) for v in flat]
            axes = [0] * len(flat)
        return flat, tuple(axes), shape

    def _run(self, plan_f, axes, args, plan: Plan | None = None, tangents: tuple = ()):
        """Run f's batch for `plan` (the plan of plan_f when None) and remember its module."""
        b = Batched(plan_f, axes, None, self.target)
        t = BatchedTransform(b, plan) if plan is not None else b._cotangent
        result = t.run(args, tangents)
        self._cotangent.last = t.last
        return result

    @staticmethod
    def _shaped(v, shape):
        return float(v[0]) if shape == () else v.reshape(shape)

    def __call__(self, *args):
        flat, axes, shape = self._flat(args)
        return self._shaped(self._run(self.pyfunc, axes, flat).values[0], shape)

    def derivative(self, argnums: int | Sequence[int] = 0) -> Callable:
        """The partial derivatives with respect to `argnums` at every element (a tuple for a
        tuple argnums), each of the broadcast shape."""
        from .api import grad

        @functools.wraps(self.pyfunc)
        def derivative_f(*args):
            flat, axes, shape = self._flat(args)
            g = self._run(grad(self.pyfunc, argnums), axes, flat).values[1:]
            if isinstance(argnums, int):
                return self._shaped(g[0], shape)
            return tuple(self._shaped(x, shape) for x in g)

        derivative_f._cotangent = self._cotangent
        return derivative_f

    def jvp(self, primals: Sequence, tangents: Sequence) -> tuple:
        """(values, tangents) at every element; a None tangent holds that argument fixed."""
        primals, tangents = tuple(primals), tuple(tangents)
        if len(primals) != len(tangents):
            raise ValueError("jvp needs one tangent per primal (None for those not differentiated)")
        nums = tuple(i for i, t in enumerate(tangents) if t is not None)
        flat, axes, shape = self._flat(primals + tuple(tangents[i] for i in nums))
        n = len(primals)
        size = max((np.size(a) for a in flat), default=1)
        dots = tuple(np.ascontiguousarray(np.broadcast_to(np.asarray(d, dtype=np.float64), (size,)))
                     for d in flat[n:])
        value, tangent = self._run(self.pyfunc, axes[:n], tuple(flat[:n]), Plan("jvp", nums), dots).values
        return self._shaped(value, shape), self._shaped(tangent, shape)


def elementwise(f: Callable | None = None, *, target: str | None = None):
    """`f` (numbers in, a number out) applied to every element of its arguments, which broadcast
    like a NumPy ufunc's. `@ct.elementwise(target="cuda")` runs it as a CUDA kernel, one thread
    per element; `.derivative(argnums)` and `.jvp(primals, tangents)` run the same way."""
    if f is None:
        return lambda g: Elementwise(g, target)
    return Elementwise(f, target)
