"""cotangent inside JAX: `ct.to_jax(f)`.

JAX runs the compiled code through `jax.pure_callback`, and learns its derivatives from a custom
rule. A function can carry a custom JVP rule or a custom VJP rule, not both, so the rule depends on
what f returns:

- a number (a loss, a likelihood): `jax.custom_jvp`, whose rule calls cotangent's value and
  gradient once and returns the tangent as `sum(gradient * tangent)`, an expression JAX can
  transpose itself. So jax.grad costs one compiled gradient, and jax.jvp, jax.jacfwd, jax.jacrev,
  jax.linearize all work. The gradient is itself a `custom_jvp` function whose rule is cotangent's
  Hessian-vector product, so second derivatives taken forward over reverse work too
  (jax.hessian, jax.jacfwd(jax.grad(f)), jax.jvp of jax.grad); reverse over reverse
  (jax.grad(jax.grad(f))) is an error from JAX, since a callback cannot be transposed.
- an array, mode="reverse" (the default): `jax.custom_vjp`: the primal runs forward, cotangent's
  VJP backward (jax.grad, jax.vjp, jax.jacrev). jax.jvp is an error from JAX.
- an array, mode="forward": `jax.custom_jvp` with cotangent's JVP as its rule (jax.jvp,
  jax.jacfwd, jax.linearize); jax.grad is an error from JAX.

Only the differentiated inputs are differentiated: the rules see which tangents are symbolic zeros
(or which primals are perturbed) and ask cotangent for those arguments only.

Under jax.vmap the callbacks get the whole batch (vmap_method="expand_dims") and loop over it in
Python, one compiled call per sample; for large batches, ct.vmap compiles the loop instead.

The compiled code computes in float64: float32 arrays are converted on the way in and results are
cast to the inputs' float dtype. Called outside any JAX transformation, the function runs the
compiled primal directly, without a callback."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from .interop import Engine
from .ir.types import BOOL, FLOAT


def _callback(host_fn, results: list, args: list) -> tuple:
    """jax.pure_callback of host_fn (NumPy arrays in, a tuple of arrays shaped as `results` out).
    Under jax.vmap the callback receives each argument with the batch axes in front (size 1 for
    the arguments not batched) and runs host_fn once per sample."""
    ndims = [jnp.ndim(a) for a in args]

    def host(*arrays):
        arrays = [np.asarray(a) for a in arrays]
        extra = {a.ndim - n for a, n in zip(arrays, ndims)} or {0}
        if len(extra) != 1:
            raise ValueError(f"inconsistent batch axes in a callback: {[a.shape for a in arrays]}")
        extra = extra.pop()
        if extra == 0:
            return _cast(host_fn(*arrays), results)
        batch = np.broadcast_shapes(*(a.shape[:extra] for a in arrays))
        outs = [np.empty(batch + r.shape, r.dtype) for r in results]
        views = [np.broadcast_to(a, batch + a.shape[extra:]) for a in arrays]
        for idx in np.ndindex(*batch):
            for o, r in zip(outs, _cast(host_fn(*(v[idx] for v in views)), results)):
                o[idx] = r
        return tuple(outs)

    return jax.pure_callback(host, tuple(results), *args, vmap_method="expand_dims")


def _cast(values, results) -> tuple:
    out = []
    for v, r in zip(values, results):
        v = np.asarray(v, dtype=r.dtype)
        if v.shape != r.shape:
            raise ValueError(f"the compiled code returned shape {v.shape} where {r.shape} was declared "
                             "(out_shape of ct.to_jax)")
        out.append(v)
    return tuple(out)


def _dummy(shape, dtype):
    """A stand-in for a leaf of this kind and rank, for generating code before any call."""
    dtype = np.dtype(dtype)
    kind = np.float64 if dtype.kind == "f" else np.bool_ if dtype.kind == "b" else np.int64
    return kind(0).item() if len(shape) == 0 else np.empty((0,) * len(shape), kind)


class _Signature:
    """One kind of call: the arguments' structure and each leaf's shape and dtype, with what the
    rules need to know about them."""

    def __init__(self, treedef, shapes, dtypes):
        self.treedef, self.shapes, self.dtypes = treedef, shapes, dtypes
        self.n = len(shapes)
        self.is_float = [np.dtype(d).kind == "f" for d in dtypes]
        arg_of = []
        for i, sub in enumerate(treedef.children()):
            arg_of += [i] * sub.num_leaves
        self.arg_of = arg_of
        floats = [d for d, f in zip(dtypes, self.is_float) if f]
        self.float_dtype = functools.reduce(jnp.promote_types, floats) if floats else \
            jax.dtypes.canonicalize_dtype(np.float64)

    def numpy_args(self, leaves) -> tuple:
        """The function's arguments, from NumPy leaves (float ones as float64)."""
        leaves = [np.asarray(x, dtype=np.float64) if f else np.asarray(x) for x, f in zip(leaves, self.is_float)]
        return self.treedef.unflatten(leaves)

    def dummy_args(self) -> tuple:
        return self.treedef.unflatten([_dummy(s, d) for s, d in zip(self.shapes, self.dtypes)])

    def structs(self, ks) -> list:
        return [jax.ShapeDtypeStruct(self.shapes[k], self.dtypes[k]) for k in ks]

    def live(self, tangents) -> list:
        """The float leaves whose tangent is not a symbolic zero."""
        return [k for k, t in enumerate(tangents) if self.is_float[k] and not isinstance(t, SymbolicZero)]

    def nums(self, ks) -> tuple:
        return tuple(sorted({self.arg_of[k] for k in ks}))

    def float_leaves(self, nums) -> list:
        """The float leaves of the arguments in `nums`: the order of cotangent's flat derivatives."""
        return [k for k in range(self.n) if self.is_float[k] and self.arg_of[k] in nums]


class JaxFunction:
    """f as a JAX function (made by ct.to_jax)."""

    def __init__(self, f, out_shape=None, mode: str = "reverse"):
        if mode not in ("reverse", "forward"):
            raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
        self.engine = Engine(f)
        self.out_shape, self.mode = out_shape, mode
        functools.update_wrapper(self, self.engine.pyfunc)
        self._signatures: dict = {}     # (structure, shapes and dtypes) -> (_Signature, result type)
        self._functions: dict = {}      # signature -> the custom_jvp / custom_vjp function of the leaves
        self._gradients: dict = {}      # (signature, nums) -> the custom_jvp gradient function
        self._shapes: dict = {}         # signature -> an array result's shape, learned from a call

    def __call__(self, *args):
        leaves, treedef = jax.tree_util.tree_flatten(args)
        leaves = [x if isinstance(x, jax.Array) else jnp.asarray(x) for x in leaves]
        key = (treedef, tuple((x.shape, x.dtype) for x in leaves))
        if not any(isinstance(x, jax.core.Tracer) for x in leaves):
            return self._direct(key, leaves)        # no transformation: no callback needed
        fn = self._functions.get(key)
        if fn is None:
            fn = self._functions[key] = self._make(key)
        return fn(*leaves)

    def _signature(self, key) -> tuple:
        """(the _Signature, the result's kind and rank) of one kind of call."""
        hit = self._signatures.get(key)
        if hit is None:
            sig = _Signature(key[0], [s for s, _ in key[1]], [d for _, d in key[1]])
            hit = self._signatures[key] = (sig, self.engine.output_type(sig.dummy_args()))
        return hit

    def _direct(self, key, leaves):
        sig, out = self._signature(key)
        value = np.asarray(self.engine.primal(sig.numpy_args(leaves)))
        if out.rank > 0:
            self._shapes[key] = value.shape
        return jnp.asarray(value.astype(sig.float_dtype, copy=False) if out.kind == FLOAT else value)

    def _result(self, key, sig, out) -> jax.ShapeDtypeStruct:
        """The result's shape and dtype, without running f."""
        dtype = sig.float_dtype if out.kind == FLOAT else np.dtype(np.bool_) if out.kind == BOOL else \
            jax.dtypes.canonicalize_dtype(np.int64)
        if out.rank == 0:
            return jax.ShapeDtypeStruct((), dtype)
        given = self.out_shape
        if callable(given):
            given = given(*sig.treedef.unflatten(sig.structs(range(sig.n))))
        if given is None:
            given = self._shapes.get(key)
        if given is None:
            raise ValueError(
                f"ct.to_jax({self.engine.name}): {self.engine.name} returns an array, whose shape cannot be known "
                "before it runs; pass out_shape= (a shape, a jax.ShapeDtypeStruct, or a function of the "
                "arguments' ShapeDtypeStructs, e.g. out_shape=lambda x, p: x.shape), or call it once outside "
                "jax.jit and jax.vmap with arguments of these shapes")
        shape = tuple(given.shape) if hasattr(given, "shape") else tuple(given)
        if len(shape) != out.rank:
            raise ValueError(f"out_shape {shape} has rank {len(shape)}, but {self.engine.name} returns an "
                             f"array of rank {out.rank}")
        return jax.ShapeDtypeStruct(shape, dtype)

    def _make(self, key):
        sig, out_type = self._signature(key)
        result = self._result(key, sig, out_type)
        engine = self.engine
        engine.prepare("primal", (), sig.dummy_args())

        def primal(leaves):
            return _callback(lambda *xs: (engine.primal(sig.numpy_args(xs)),), [result], leaves)[0]

        if out_type.kind != FLOAT:
            return lambda *leaves: primal(leaves)
        if out_type.rank == 0:
            return self._scalar(key, sig, result, primal)
        if self.mode == "forward":
            return self._forward(sig, result, primal)
        return self._reverse(sig, result, primal)

    # --- a function of a number: custom_jvp from the gradient, which JAX transposes itself ---
    def _scalar(self, key, sig, result, primal):
        @jax.custom_jvp
        def f(*leaves):
            return primal(leaves)

        def rule(primals, tangents):
            live = sig.live(tangents)
            if not live:
                return f(*primals), jnp.zeros((), result.dtype)
            nums = sig.nums(live)
            value, *grads = self._gradient(key, sig, result, nums)(*primals)
            at = {k: i for i, k in enumerate(sig.float_leaves(nums))}
            return value, _dot([grads[at[k]] for k in live], [tangents[k] for k in live], result.dtype)

        f.defjvp(rule, symbolic_zeros=True)
        return f

    def _gradient(self, key, sig, result, nums):
        """(value, gradient over the float leaves of `nums`) as a custom_jvp function whose rule is
        cotangent's Hessian-vector product: forward over reverse."""
        g = self._gradients.get((key, nums))
        if g is not None:
            return g
        engine, floats = self.engine, sig.float_leaves(nums)
        engine.prepare("grad", nums, sig.dummy_args())

        @jax.custom_jvp
        def g(*leaves):
            def host(*xs):
                value, grads = engine.value_and_grad(sig.numpy_args(xs), nums)
                return (value, *grads)
            return _callback(host, [result, *sig.structs(floats)], list(leaves))

        def rule(primals, tangents):
            live = sig.live(tangents)
            if not live:
                outs = g(*primals)
                return outs, tuple(jnp.zeros_like(o) for o in outs)
            both = tuple(sorted(set(nums) | set(sig.nums(live))))
            engine.prepare("hvp", both, sig.dummy_args())
            every = sig.float_leaves(both)
            directions = [tangents[k] if k in live else jnp.zeros(sig.shapes[k], sig.dtypes[k]) for k in every]

            def host(*xs):
                return tuple(engine.hvp(sig.numpy_args(xs[:sig.n]), both, xs[sig.n:])[2])
            # the value and gradient from a callback of their own: under jax.vmap over the tangents
            # alone (jax.jacfwd, jax.hessian) the primal outputs must stay unbatched
            value, *grads = self._gradient(key, sig, result, both)(*primals)
            products = _callback(host, sig.structs(every), [*primals, *directions])
            at = {k: i for i, k in enumerate(every)}
            value_dot = _dot([grads[at[k]] for k in live], [tangents[k] for k in live], result.dtype)
            return ((value, *[grads[at[k]] for k in floats]),
                    (value_dot, *[products[at[k]] for k in floats]))

        g.defjvp(rule, symbolic_zeros=True)
        self._gradients[(key, nums)] = g
        return g

    # --- a function of an array: custom_vjp from cotangent's VJP ---
    def _reverse(self, sig, result, primal):
        engine = self.engine

        @jax.custom_vjp
        def f(*leaves):
            return primal(leaves)

        def fwd(*leaves):
            values = tuple(p.value for p in leaves)
            # which leaves are differentiated, kept in the residuals' structure (None: yes, (): no)
            marks = tuple(None if sig.is_float[k] and p.perturbed else () for k, p in enumerate(leaves))
            return primal(values), (values, marks)

        def bwd(residuals, cotangent):
            values, marks = residuals
            live = [k for k, m in enumerate(marks) if m is None]
            if not live or isinstance(cotangent, SymbolicZero):
                return (None,) * sig.n
            nums = sig.nums(live)
            floats = sig.float_leaves(nums)
            engine.prepare("vjp", nums, sig.dummy_args())

            def host(*xs):
                return tuple(engine.vjp(sig.numpy_args(xs[:sig.n]), nums, xs[sig.n])[1])
            grads = _callback(host, sig.structs(floats), [*values, cotangent])
            at = {k: i for i, k in enumerate(floats)}
            return tuple(grads[at[k]] if k in live else None for k in range(sig.n))

        f.defvjp(fwd, bwd, symbolic_zeros=True)
        return f

    # --- a function of an array, mode="forward": custom_jvp from cotangent's JVP ---
    def _forward(self, sig, result, primal):
        engine = self.engine

        @jax.custom_jvp
        def f(*leaves):
            return primal(leaves)

        def rule(primals, tangents):
            live = sig.live(tangents)
            if not live:
                return f(*primals), jnp.zeros(result.shape, result.dtype)
            nums = sig.nums(live)
            floats = sig.float_leaves(nums)
            engine.prepare("jvp", nums, sig.dummy_args())
            directions = [tangents[k] if k in live else jnp.zeros(sig.shapes[k], sig.dtypes[k]) for k in floats]

            def host(*xs):
                return (engine.jvp(sig.numpy_args(xs[:sig.n]), nums, xs[sig.n:])[1],)
            # the value from its own callback, which stays unbatched under jax.vmap over the tangents
            return f(*primals), _callback(host, [result], [*primals, *directions])[0]

        f.defjvp(rule, symbolic_zeros=True)
        return f

    def __repr__(self) -> str:
        return f"<cotangent.to_jax {self.engine.pyfunc.__qualname__} mode={self.mode!r}>"


def _dot(grads, tangents, dtype):
    """sum over the leaves of <gradient, tangent>: the tangent of a scalar function, linear in the
    tangents, in JAX operations (so that JAX can transpose it)."""
    return functools.reduce(jnp.add, [jnp.sum(g * t) for g, t in zip(grads, tangents)]).astype(dtype)
