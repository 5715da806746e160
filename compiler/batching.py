"""ct.vmap: a function written for one sample, run over a batch of samples in one compiled loop.

The per-sample function (its value, its gradient, its JVP, VJP or Hessian-vector product) is
generated as usual, specialized to one sample's argument types (a batched argument loses its
batch axis); per-sample Jacobians and Hessians are rows of such a batch (batch_jacobians.py). A
driver then runs it over the batch: a `numba.prange` loop with one accumulator row per thread on the CPU
(backends/parallel.py), or a kernel with one thread per sample on CUDA (backends/cuda.py). Summed
outputs (reduce="sum"/"mean", and the gradients of shared arguments under ct.grad) are added
race-free; per-sample outputs are written to their own rows.

`in_axes` follows JAX: one entry per argument (or one int for all), None for an argument shared by
every sample, an int for the axis along which it is batched (every leaf of a tuple or dict
argument is batched along that axis), or a tuple or dict shaped like the argument with an entry
per item; `out_axes` says where the batch axis goes in the per-sample outputs."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numba
import numpy as np

from .errors import CompileError
from .config import config
from .ir.types import FLOAT
from . import specialize as sp, live, results
from .backends.parallel import Output, driver_source, buffer_driver_source
from .backends.buffers import buffer_form, printer, source_lines, workspace_source, hoist_shared
from .backends.pysource import statement_code, njit_decorator
from .backends.launch import BufferRun
from .backends import loader
from .higher import Driver

TARGETS = ("cpu", "python", "cuda")
JACOBIANS = ("jacfwd", "jacrev", "hessian")     # per-sample Jacobians and Hessians: one driver loop each
REDUCTIONS = (None, "sum", "mean")
_CACHE: dict = {}


@dataclass(frozen=True)
class Plan:
    """What the driver computes from the per-sample function.

    inner: the per-sample transformation ("primal", "grad", "vjp", "jvp" or "hvp"); argnums: what it
    differentiates; keep_value: whether the value is an output; summed: "all", "none", or
    "shared" (the value and the gradients of shared arguments are summed, a batched argument's
    gradient is per sample: the gradient of a summed batch); restore_axes: put the batch axis of a
    batched argument's gradient back where in_axes took it from; has_aux: the per-sample function
    returns (value, aux)."""
    inner: str
    argnums: tuple = ()
    keep_value: bool = True
    summed: str = "none"
    restore_axes: bool = False
    has_aux: bool = False


class Batched:
    """f mapped over a batch. Calling it gives per-sample outputs stacked along axis 0 (a number
    per sample when f returns a number), or their sum or mean with `reduce`."""

    def __init__(self, f: Callable, in_axes: int | None | Sequence = 0, reduce: str | None = None,
                 target: str | None = None, out_axes: int | Sequence = 0):
        from . import api
        self.out_axes = out_axes
        if reduce is not None and out_axes != 0:
            raise CompileError("out_axes places the batch axis of per-sample outputs, but reduce="
                               f"{reduce!r} sums it away", hint="leave out_axes at 0 with reduce")
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
        inner = getattr(f, "_cotangent", None)
        if isinstance(f, Batched) or isinstance(inner, BatchedTransform):
            raise CompileError("ct.vmap of a batched function is not supported",
                               hint="write the inner loop in the per-sample function instead")
        if inner is not None and hasattr(inner, "batch_plan"):     # symbolic=...: symbolic.py
            self.pyfunc, own_target = inner.pyfunc, inner.target
            self.plan, self.single = inner.batch_plan(f, reduce)
        elif inner is not None and inner.mode in JACOBIANS:
            self.pyfunc, own_target = inner.pyfunc, inner.target
            self.plan = Plan(inner.mode, inner.argnums, keep_value=False, summed="all" if reduce else "none")
            self.single = getattr(f, "_single_argnum", False)
        elif inner is not None:
            if inner.mode != "grad":
                raise CompileError(f"ct.vmap takes a function, ct.grad(f), ct.value_and_grad(f), ct.jacfwd(f), "
                                   f"ct.jacrev(f) or ct.hessian(f), not a {inner.mode} transformation",
                                   hint="for per-sample JVPs, VJPs and Hessian-vector products call ct.jvp, "
                                        "ct.vjp or ct.hvp on ct.vmap(f, in_axes)")
            self.pyfunc, own_target = inner.pyfunc, inner.target
            self.plan = Plan("grad", inner.argnums, keep_value=getattr(f, "_returns_value", False),
                             summed="all" if reduce else "none", has_aux=inner.has_aux)
            self.single = getattr(f, "_single_argnum", False)
        else:
            self.pyfunc, own_target = (f.pyfunc, f.target) if isinstance(f, api.Differentiable) \
                else api.unwrap(f)
            self.plan = Plan("primal", summed="all" if reduce else "none")
            self.single = False
        self.target = target or (own_target if own_target in TARGETS else "cpu")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        self.in_axes, self.reduce = in_axes, reduce
        self._expanded = None
        self._cotangent = BatchedTransform(self, self.plan)
        functools.update_wrapper(self, self.pyfunc)

    def __call__(self, *args):
        return self._placed(self._call(args))

    def _call(self, args):
        if self.plan.inner in JACOBIANS and self.target != "python":    # rows of JVPs, VJPs or HVPs
            from .batch_jacobians import ExpandedJacobians
            if self._expanded is None:
                self._expanded = ExpandedJacobians(self)
            out = self._expanded(args)
            self._cotangent._last = self._expanded.last
            return out.jacobians(self.single)
        out = self._cotangent.run(args)
        if self.plan.inner == "primal":
            return results.shaped(_nested(out.values, _structure(self._cotangent.last.ir.body[-1].values)),
                                  results.template(self.pyfunc))
        if self.plan.inner in JACOBIANS:
            return out.jacobians(self.single)
        if self.plan.has_aux:
            value_aux, grads = self._with_aux(out)
            return (value_aux, grads) if self.plan.keep_value else (grads, value_aux[1])
        return out.structured(self.single)

    def _with_aux(self, out: "Result") -> tuple:
        """((value, aux), gradients) from a has_aux batch: the value and aux leaves come first."""
        from .arguments import structure_grads
        value_aux = self._cotangent.last.ir.body[-1].values[0]
        count = len(list(_leaf_accesses(value_aux, "", True)))
        nested = _nested(out.values[:count], _structure(value_aux))
        value = (nested[0], nested[1] if len(nested) == 2 else tuple(nested[1:]))
        return value, structure_grads(tuple(out.values[count:]), out.specs, out.argnums, self.single)

    def _placed(self, result):
        """The per-sample outputs with their batch axis where out_axes puts it (JAX's convention:
        an int for every output, or a tuple shaped like the result)."""
        if self.out_axes == 0 or self.reduce is not None:
            return result
        return _move_batch_axis(result, self.out_axes)

    def __repr__(self) -> str:
        return (f"<cotangent.vmap {self.pyfunc.__qualname__} in_axes={self.in_axes!r} "
                f"reduce={self.reduce!r} target={self.target!r}>")

    # --- the hooks api.value_and_grad and api.jacfwd/jacrev call ---
    def batched_value_and_grad(self, argnums, has_aux: bool) -> Callable:
        """ct.value_and_grad of the batched function: it must be reduced to one number."""
        if self.plan.inner != "primal":
            raise CompileError("differentiating a derivative (grad of vmap of grad) is not supported",
                               hint="use ct.hessian on the per-sample function")
        if has_aux:
            raise CompileError("has_aux is not supported on a batched function")
        if self.reduce is None:
            raise CompileError("ct.grad needs one number, but this vmap returns one value per sample",
                               hint='use ct.vmap(f, in_axes, reduce="sum") (or "mean") for the gradient '
                                    "of the sum, or ct.vmap(ct.grad(f), in_axes) for per-sample gradients")
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        t = BatchedTransform(self, Plan("grad", nums, summed="shared", restore_axes=True))
        single = isinstance(argnums, int)

        @functools.wraps(self.pyfunc)
        def value_and_grad_f(*args):
            out = t.run(args)
            return out.values[0], out.structured(single)[1]

        value_and_grad_f._cotangent = t
        return value_and_grad_f

    def batched_jacobian(self, argnums, mode: str) -> Callable:
        """ct.jacrev / ct.jacfwd of the batched function: per-sample gradients of shared arguments
        (the Jacobian of the per-sample values), or the gradient when the batch is reduced."""
        if self.reduce is not None:
            vg = self.batched_value_and_grad(argnums, False)
            grad_f = functools.wraps(self.pyfunc)(lambda *args: vg(*args)[1])
            grad_f._cotangent = vg._cotangent
            return grad_f
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        if self.plan.inner != "primal":
            raise CompileError(f"ct.{mode} of vmap of grad (second order) is not supported")
        for i in nums:
            if _axes_of(self.in_axes, i) is not None:
                raise CompileError(
                    f"ct.{mode} of a vmap with respect to a batched argument ({_param(self.pyfunc, i)}) "
                    "would be a block-diagonal Jacobian of batch x batch blocks",
                    hint="use ct.vmap(ct.grad(f, argnums), in_axes) for per-sample gradients")
        t = BatchedTransform(self, Plan("grad", nums, keep_value=False, summed="none"))
        single = isinstance(argnums, int)

        @functools.wraps(self.pyfunc)
        def jacobian_f(*args):
            return t.run(args).structured(single)

        jacobian_f._cotangent = t
        return jacobian_f

    # --- ct.jvp, ct.vjp and ct.hvp of the batched function: one derivative per sample ---
    def _primal_only(self, what: str) -> None:
        if self.plan.inner != "primal":
            raise CompileError(f"ct.{what} of a vmap of a derivative is not supported",
                               hint=f"call ct.{what} on ct.vmap(f, in_axes) of the function itself")

    def _direction_leaves(self, primals: tuple, directions: tuple, nums: tuple, what: str) -> list:
        """The float leaves of the directions of the differentiated arguments, batch axis first:
        a batched argument's direction is batched along the same axis; a shared argument's
        direction is the same for every sample."""
        n = self._batch_size(primals)
        out = []
        for i in nums:
            where = f"argument {i} ({_param(self.pyfunc, i)})"
            a = primals[i]
            types = sp.spec_leaf_types(sp.spec_of(a, where))
            given = sp.leaves(directions[i])
            if len(given) != len(types):
                raise ValueError(f"the {what} of {where} does not have the argument's structure")
            axes = _leaf_axes(a, _axes_of(self.in_axes, i), where)
            for leaf, primal, t, ax in zip(given, sp.leaves(a), types, axes):
                if t.kind != FLOAT:
                    continue
                arr = np.asarray(leaf, dtype=np.float64)
                if arr.shape != np.shape(primal):
                    raise ValueError(f"the {what} of {where} has shape {arr.shape}, but the argument has "
                                     f"shape {np.shape(primal)}")
                out.append(np.ascontiguousarray(np.moveaxis(arr, ax, 0)) if ax is not None else
                           np.ascontiguousarray(np.broadcast_to(arr, (n,) + arr.shape)))
        return out

    def _batch_size(self, args: tuple) -> int:
        """The number of samples, read from the first batched leaf (prepare checks them all)."""
        for i, a in enumerate(args):
            for leaf, ax in zip(sp.leaves(a), _leaf_axes(a, _axes_of(self.in_axes, i), f"argument {i}")):
                if ax is not None and np.ndim(leaf):
                    return np.shape(leaf)[ax]
        return prepare(self.pyfunc, args, self.in_axes).n      # raises the error for no batched argument

    def batched_jvp(self, primals: tuple, tangents: tuple) -> tuple:
        """ct.jvp of the batched function: the per-sample values and tangents (their sums or
        means with reduce)."""
        self._primal_only("jvp")
        nums = tuple(i for i, t in enumerate(tangents) if t is not None)
        t = BatchedTransform(self, Plan("jvp", nums, summed="all" if self.reduce else "none"))
        out = t.run(primals, tuple(self._direction_leaves(primals, tangents, nums, "tangent")))
        values = t.last.ir.body[-1].values[0]
        count = len(list(_leaf_accesses(values, "", True)))
        shape = _structure(values if isinstance(values, tuple) else (values,))
        tmpl = results.template(self.pyfunc)
        return self._placed((results.shaped(_nested(out.values[:count], shape), tmpl),
                             results.shaped(_nested(out.values[count:], shape), tmpl)))

    def batched_vjp(self, primals: tuple) -> tuple:
        """ct.vjp of the batched function: its values and a pullback that takes one cotangent per
        sample (batch axis first; one cotangent for all with reduce) and gives per primal the
        gradient: per sample for a batched argument, summed over the batch for a shared one."""
        self._primal_only("vjp")
        nums = tuple(i for i, a in enumerate(primals)
                     if any(t.kind == FLOAT for t in sp.spec_leaf_types(sp.spec_of(a, f"argument {i}"))))
        value = self._call(primals)
        if isinstance(value, tuple):
            raise CompileError("ct.vjp of a vmap of a function returning a tuple is not supported",
                               hint="take the vjp of each output's function, or return one array")
        t = BatchedTransform(self, Plan("vjp", nums, summed="shared", restore_axes=True))
        placed = self._placed(value)

        def pullback(cotangent):
            from .arguments import structure_grads
            arr = np.asarray(cotangent, dtype=np.float64)
            if arr.shape != np.shape(placed):
                raise ValueError(f"the cotangent has shape {arr.shape}, but the batched result has shape "
                                 f"{np.shape(placed)}")
            if self.reduce is None:
                seed = np.ascontiguousarray(np.moveaxis(arr, self.out_axes, 0)) if arr.ndim else arr
            else:
                n = self._batch_size(primals)
                seed = np.ascontiguousarray(np.broadcast_to(arr, (n,) + arr.shape))
            out = t.run(primals, (seed,))
            by_arg = dict(zip(nums, structure_grads(tuple(out.values[1:]), out.specs, nums, False)))
            return tuple(by_arg.get(i) for i in range(len(primals)))

        pullback._cotangent = t
        return placed, pullback

    def batched_hvp(self, primals: tuple, tangents: tuple) -> tuple:
        """ct.hvp of the batched function: (gradient, Hessian @ tangents). Reduced, it is the
        Hessian of the sum (or mean); otherwise one gradient and product per sample."""
        from .arguments import structure_grads
        self._primal_only("hvp")
        nums = tuple(i for i, t in enumerate(tangents) if t is not None)
        t = BatchedTransform(self, Plan("hvp", nums, summed="shared" if self.reduce else "none",
                                        restore_axes=True))
        out = t.run(primals, tuple(self._direction_leaves(primals, tangents, nums, "tangent")))
        count = (len(out.values) - 1) // 2
        single = len(nums) == 1
        grads = structure_grads(tuple(out.values[1:1 + count]), out.specs, nums, single)
        products = structure_grads(tuple(out.values[1 + count:]), out.specs, nums, single)
        return self._placed((grads, products))


def _move_batch_axis(result, out_axes):
    """`result` with the leading batch axis of each array moved to its entry of out_axes."""
    if isinstance(out_axes, int):
        if isinstance(result, tuple):
            return tuple(_move_batch_axis(r, out_axes) for r in result)
        if isinstance(result, dict):
            return {k: _move_batch_axis(v, out_axes) for k, v in result.items()}
        return result if result is None else np.moveaxis(result, 0, out_axes)
    if isinstance(out_axes, (tuple, list)) and isinstance(result, tuple) and len(out_axes) == len(result):
        return tuple(_move_batch_axis(r, a) for r, a in zip(result, out_axes))
    if isinstance(out_axes, dict) and isinstance(result, dict) and set(out_axes) == set(result):
        return {k: _move_batch_axis(result[k], out_axes[k]) for k in result}
    raise CompileError(f"out_axes {out_axes!r} does not match the structure of the result",
                       hint="give an int for every output, or a tuple or dict of ints shaped like the result "
                            "(None, an output without a batch axis, is not supported)")


def vmap(f: Callable, in_axes: int | None | Sequence = 0, reduce: str | None = None,
         target: str | None = None, out_axes: int | Sequence = 0) -> Batched:
    """f, written for one sample, mapped over a batch: `in_axes` says which arguments are batched
    (an int: the batch axis) and which are shared (None). With reduce=None the result has one row
    per sample; with "sum" or "mean" it is reduced over the batch, so
    `ct.grad(ct.vmap(f, in_axes, reduce="sum"), argnums)` is the summed gradient. Per-sample
    gradients: `ct.vmap(ct.grad(f, argnums), in_axes)`; per-sample Jacobians and Hessians:
    `ct.vmap(ct.jacfwd(f), in_axes)` (jacrev, hessian). target: "cpu" (threads), "cuda" (a GPU
    kernel) or "python"; by default the target f was made differentiable for. out_axes (JAX's):
    where the batch axis goes in each per-sample output (an int, or a tuple shaped like the
    result). in_axes entries may be tuples or dicts shaped like their argument (pytrees).
    Per-sample JVPs, VJPs and Hessian-vector products: ct.jvp, ct.vjp and ct.hvp of the vmap."""
    return Batched(f, in_axes, reduce, target, out_axes)


def _axes_of(in_axes, i: int):
    if in_axes is None or isinstance(in_axes, int):
        return in_axes
    return in_axes[i]


def _param(pyfunc, i: int) -> str:
    try:
        return pyfunc.__code__.co_varnames[i]
    except (AttributeError, IndexError):
        return "?"


@dataclass
class Batch:
    """The arguments of one call, ready for a driver: leaves with the batch axis first."""
    leaves: list          # flat, as the driver takes them
    batched: list         # per leaf: is it batched
    specs: tuple          # per-sample signature
    axes: tuple           # per argument: its batch axis, None, or (a tuple or dict argument) per leaf
    n: int
    leaf_axes: list = None   # per leaf: the axis it was batched along in the caller's array, or None


def _leaf_axes(arg, axes, where: str) -> list:
    """The batch axis of each leaf of `arg` (in specialize.leaves order): `axes` is an int or None
    for every leaf, or (JAX's pytree in_axes) a tuple or dict shaped like the argument."""
    if axes is None or isinstance(axes, int):
        return [axes] * len(sp.leaves(arg))
    if isinstance(axes, (tuple, list)) and isinstance(arg, tuple) and len(axes) == len(arg):
        return [a for j, (x, ax) in enumerate(zip(arg, axes)) for a in _leaf_axes(x, ax, f"{where}[{j}]")]
    if isinstance(axes, dict) and isinstance(arg, dict) and set(axes) == set(arg):
        return [a for k in sorted(arg) for a in _leaf_axes(arg[k], axes[k], f"{where}[{k!r}]")]
    raise CompileError(f"in_axes for {where} is {axes!r}, which does not match the argument's structure "
                       f"({type(arg).__name__})",
                       hint="give an int or None for the whole argument, or a tuple or dict of them shaped "
                            "like it")


def prepare(pyfunc, args: tuple, in_axes) -> Batch:
    """Move every batched leaf's batch axis to the front and check that the batch sizes agree."""
    if not (in_axes is None or isinstance(in_axes, int)):
        in_axes = tuple(in_axes)
        if len(in_axes) != len(args):
            raise CompileError(f"in_axes has {len(in_axes)} entries but {pyfunc.__name__} was called with "
                               f"{len(args)} arguments", hint="give one entry per argument (None: shared)")
    leaves, batched, specs, axes, sizes, leaf_axes = [], [], [], [], {}, []
    for i, a in enumerate(args):
        axis = _axes_of(in_axes, i)
        axes.append(axis)
        where = f"argument {i} ({_param(pyfunc, i)})"
        full = sp.spec_of(a, where)
        per_leaf = _leaf_axes(a, axis, where)
        leaf_axes += per_leaf
        if all(ax is None for ax in per_leaf):
            leaves += sp.leaves(a)
            batched += [False] * sp.spec_leaf_count(full)
            specs.append(full)
            continue
        sample = []
        for leaf, ax in zip(sp.leaves(a), per_leaf):
            if ax is None:
                leaves.append(leaf)
                batched.append(False)
                sample.append(leaf)
                continue
            if not isinstance(leaf, np.ndarray) or leaf.ndim == 0:
                raise CompileError(f"{where} is batched (in_axes {ax}) but is a number",
                                   hint="pass an array with a batch axis, or give it in_axes None")
            if not -leaf.ndim <= ax < leaf.ndim:
                raise CompileError(f"{where} has {leaf.ndim} axes, so it cannot be batched along axis {ax}")
            m = np.ascontiguousarray(np.moveaxis(leaf, ax, 0))
            sizes.setdefault(m.shape[0], where)
            leaves.append(m)
            batched.append(True)
            sample.append(m[0])
        if len(sizes) > 1:
            raise CompileError("batched arguments have different batch sizes: " + ", ".join(
                f"{w}: {n}" for n, w in sizes.items()))
        specs.append(sp.spec_of(sp.rebuild(full, iter(sample)), where))
    if not sizes:
        raise CompileError("ct.vmap needs at least one batched argument",
                           hint="give the batched argument's axis in in_axes (None means shared)")
    n = next(iter(sizes))
    if n == 0:
        raise CompileError("the batch is empty")
    return Batch(leaves, batched, tuple(specs), tuple(axes), n, leaf_axes)


class Result:
    """The driver's flat outputs and how to put them back into the caller's structure."""

    def __init__(self, values: list, specs, argnums, plan: Plan, sample_shapes=(), lead=()):
        self.values, self.specs, self.argnums, self.plan = values, specs, argnums, plan
        self.sample_shapes, self.lead = list(sample_shapes), tuple(lead)

    def structured(self, single: bool):
        from .arguments import structure_grads
        g = structure_grads(tuple(self.values[1:]), self.specs, self.argnums, single)
        return (self.values[0], g) if self.plan.keep_value else g

    def jacobians(self, single: bool):
        """Per-sample Jacobians (Hessians) in JAX's shapes, the batch axis first (none when
        reduced): out.shape + in.shape per differentiated argument, H[i][j] for Hessians. The
        driver gives each as blocks of (direction, element) rows."""
        lead, plan = self.lead, self.plan
        shapes = self._float_leaf_shapes()
        flip = lambda b: np.swapaxes(b, -1, -2)
        if plan.inner == "hessian":
            blocks, m = self.values, len(shapes)
            return self._per_argument(lambda r: self._per_argument(
                lambda s: np.ascontiguousarray(flip(blocks[s * m + r])).reshape(lead + shapes[r] + shapes[s]),
                single), single)
        value, blocks = self.values[0], self.values[1:]
        out_shape = np.shape(value)[len(lead):]
        return self._per_argument(lambda k: np.ascontiguousarray(
            flip(blocks[k]) if plan.inner == "jacfwd" else blocks[k]).reshape(lead + out_shape + shapes[k]), single)

    def _float_leaf_shapes(self) -> list:
        out = []
        for i in self.argnums:
            start = sum(sp.spec_leaf_count(s) for s in self.specs[:i])
            out += [self.sample_shapes[start + j] for j, t in enumerate(sp.spec_leaf_types(self.specs[i]))
                    if t.kind == FLOAT]
        return out

    def _per_argument(self, leaf_value, single: bool):
        """Each differentiated argument's structure, its k-th float leaf replaced by leaf_value(k)."""
        k, per_arg = 0, []
        for i in self.argnums:
            filled = []
            for t in sp.spec_leaf_types(self.specs[i]):
                filled.append(leaf_value(k) if t.kind == FLOAT else None)
                k += t.kind == FLOAT
            per_arg.append(sp.rebuild(self.specs[i], iter(filled)))
        return per_arg[0] if single else tuple(per_arg)


class BatchedTransform:
    """One plan of one batched function, compiled per signature (what ct.source shows)."""

    def __init__(self, batched: Batched, plan: Plan):
        self.batched, self.plan = batched, plan
        self.pyfunc = batched.pyfunc
        self._last = None

    @property
    def last(self):
        return self._last

    def specialize(self, args, tangents: tuple = ()) -> tuple:
        """The compiled driver for these arguments; `tangents` (JVP only) are batched leaves of the
        differentiated arguments' float leaves, batch axis first."""
        from .arguments import with_defaults
        args = with_defaults(self.pyfunc, args)
        batch = prepare(self.pyfunc, args, self.batched.in_axes)
        batch.leaves += list(tangents)
        batch.batched += [True] * len(tangents)
        plan = self.plan
        for i in plan.argnums:
            if not any(t.kind == FLOAT for t in sp.spec_leaf_types(batch.specs[i])):
                raise CompileError(f"argument {i} ({_param(self.pyfunc, i)}) of {self.pyfunc.__name__} "
                                   "has no float leaves: only float arguments can be differentiated")
        target = self.batched.target
        built = replace(plan, keep_value=True)     # the same code whether the caller keeps the value
        if plan.inner.startswith(("symbolic ", "auto ")):      # symbolic code is made per sample shapes
            from .symbolic import sample_mode
            built = replace(built, inner=sample_mode(plan.inner, batch, target))
        key = (self.pyfunc, batch.specs, tuple(batch.batched), built, target, config.boundscheck)
        compiled = _CACHE.get(key)
        if compiled is not None and not compiled.watch.current():
            compiled = None         # a definition it was made from has changed since
        first = compiled is None
        if first:
            watch = live.Watch(self.pyfunc)
            compiled = replace(build(self.pyfunc, batch.specs, batch.batched, built, target,
                                     config.boundscheck), watch=watch)
            _CACHE[key] = compiled
        self._last = compiled
        return compiled, batch, first

    def run(self, args, tangents: tuple = ()) -> Result:
        compiled, batch, first = self.specialize(args, tangents)
        if first:       # a failing sample is located in the plain Python driver, on one sample
            one = [leaf[:1] if b else leaf for leaf, b in zip(batch.leaves, batch.batched)]
            sp.call_checked(replace(compiled, run=compiled.python_run), one + [1], False)
        chunks = min(numba.get_num_threads(), batch.n) if self.batched.target == "cpu" else 1
        values = list(sp.call_checked(compiled, batch.leaves + [chunks], False))
        plan = self.plan
        if self.batched.reduce == "mean":
            values = [v / batch.n for v in values]
        if plan.restore_axes:
            values = self._restore(values, batch)
        shapes = [leaf.shape[1:] if b else np.shape(leaf) for leaf, b in zip(batch.leaves, batch.batched)]
        return Result(values, batch.specs, plan.argnums, plan, shapes, () if self.batched.reduce else (batch.n,))

    def _restore(self, values: list, batch: Batch) -> list:
        """A batched argument's gradient (and, for a Hessian-vector product, its tangent) with its
        batch axis back where in_axes took it from; the value and aux come first, as they are."""
        axes = []
        for i in self.plan.argnums:
            leaf_index = sum(sp.spec_leaf_count(s) for s in batch.specs[:i])
            axes += [batch.leaf_axes[leaf_index + j] if batch.batched[leaf_index + j] else None
                     for j, t in enumerate(sp.spec_leaf_types(batch.specs[i])) if t.kind == FLOAT]
        groups = 2 if self.plan.inner == "hvp" else 1
        first = len(values) - groups * len(axes)
        return values[:first] + [v if ax is None else np.moveaxis(v, 0, ax)
                                 for v, ax in zip(values[first:], axes * groups)]


def _outputs(out_fn, plan: Plan, grad_batched: list) -> list:
    """One output per value the per-sample function returns: its value (and aux), then each
    gradient or tangent (a Hessian-vector product: the gradients, then their tangents);
    `grad_batched` says, per gradient, whether its leaf is batched."""
    from .backends.pysource import _type_of
    ret = out_fn.body[-1]
    rank = lambda v: _type_of(out_fn, v).rank
    if plan.inner == "primal":
        summed = plan.summed != "none"
        if len(ret.values) == 1 and not isinstance(ret.values[0], tuple):
            return [Output("value", "{out}", rank(ret.values[0]), summed)]
        return [Output(f"value_{k}", access, rank(v), summed)
                for k, (access, v) in enumerate(leaf for j, v in enumerate(ret.values)
                                                for leaf in _leaf_accesses(v, f"{{out}}[{j}]", True))]
    if plan.inner == "hvp":        # ((value, gradients), gradient tangents)
        (value, grads), dots = ret.values
        values = list(_leaf_accesses(value, "{out}[0][0]", False))
        items = [list(_leaf_accesses(grads, "{out}[0][1]", False)), list(_leaf_accesses(dots, "{out}[1]", True))]
    else:                           # (value or (value, aux), gradients or tangents)
        value, grads = ret.values
        values = list(_leaf_accesses(value, "{out}[0]", True))
        items = [list(_leaf_accesses(grads, "{out}[1]", True))]
    outs = [Output("value" if k == 0 else f"aux_{k}", access, rank(v), plan.summed != "none")
            for k, (access, v) in enumerate(values)]
    for group in items:
        for j, (access, item) in enumerate(group):
            batched = grad_batched[j] if j < len(grad_batched) else True
            summed = plan.summed == "all" or (plan.summed == "shared" and not batched)
            outs.append(Output(getattr(item, "name", f"out_{j}"), access, rank(item), summed))
    return outs


def _leaf_accesses(value, access: str, unwrap: bool):
    """(how to read it from the per-sample result, value) for each leaf of a returned value; a
    1-tuple at the top of a return (`unwrap`) prints as its element (pysource._returned)."""
    if not isinstance(value, tuple):
        yield access, value
    elif unwrap and len(value) == 1:
        yield from _leaf_accesses(value[0], access, True)
    else:
        for j, v in enumerate(value):
            yield from _leaf_accesses(v, f"{access}[{j}]", False)


def _structure(values, counter=None):
    """The nesting of a returned tuple, with leaves numbered in order (None: a single value)."""
    if counter is None:
        if len(values) == 1 and not isinstance(values[0], tuple):
            return None
        counter = iter(range(1 << 30))
    return tuple(_structure(v, counter) if isinstance(v, tuple) else next(counter) for v in values)


def _nested(values: list, structure):
    """The batch's outputs in the per-sample function's tuple structure."""
    if structure is None:
        return values[0]
    return tuple(_nested(values, s) if isinstance(s, tuple) else values[s] for s in structure)


def _flat_result(r, outputs: list) -> list:
    """The per-sample function's result as a flat list, in the order of _outputs."""
    flat = []
    for o in outputs:
        v = r
        for index in re.findall(r"\[(\d+)\]", o.access):
            v = v[int(index)]
        flat.append(v)
    return flat


def fused_symbolic(*args):
    """The CPU batch module of symbolic per-sample code as one loop (symbolic.py) and the name of
    its function that runs a range of samples, or None."""
    from .symbolic import fused_module_source
    return fused_module_source(*args)


def _build_jacobians(pyfunc, specs, fn, jacobian, plan: Plan, leaf_batched: list, target: str,
                     boundscheck: bool) -> sp.Compiled:
    """Per-sample Jacobians (Hessians) on the Python target: the driver of one sample's Jacobian
    (higher.py), called by the batch driver once per sample; its blocks are stacked (or summed)
    like any output. (The CPU and CUDA targets run them as rows: batch_jacobians.py.)"""
    from .backends.pysource import _type_of
    count = sum(1 for i in plan.argnums for t in sp.spec_leaf_types(specs[i]) if t.kind == FLOAT)
    summed = plan.summed != "none"
    if plan.inner == "hessian":
        outputs = [Output(f"block_{k}", f"{{out}}[{k}]", 2, summed) for k in range(count * count)]
    else:
        value = Output("value", "{out}[0]", _type_of(fn, fn.body[-1].values[0]).rank, summed)
        outputs = [value] + [Output(f"block_{k}", f"{{out}}[1][{k}]", 2, summed) for k in range(count)]
    params = list(fn.params)
    name = f"{jacobian.name}_batch"
    what = {"jacfwd": "Jacobians (forward mode)", "jacrev": "Jacobians (reverse mode)", "hessian": "Hessians"}
    doc = (f"The {what[plan.inner]} of {fn.name} over a batch, "
           + ("summed over the batch." if summed else "one per sample."))

    def text(decorator: str) -> str:
        return jacobian.text(decorator) + "\n\n" + driver_source(
            name, doc, params, list(leaf_batched), jacobian.name, outputs, "cpu" if decorator else "python", boundscheck)

    return sp._load_driver(pyfunc, fn, f"vmap {plan.inner}", Driver(name, jacobian.functions, text),
                           "python" if target == "python" else "cpu", boundscheck)


def build(pyfunc, specs, leaf_batched: list, plan: Plan, target: str, boundscheck: bool = True) -> sp.Compiled:
    """Generate and load the per-sample function and its driver for one signature: the plain
    Python driver always (it locates errors), and the target's own (its indices checked unless
    `boundscheck` is False)."""
    wrt_args = plan.argnums
    fn, out_fn, jacobian = sp.transform_ir(pyfunc, specs, plan.inner, wrt_args, plan.has_aux)
    if plan.inner in JACOBIANS:
        return _build_jacobians(pyfunc, specs, fn, jacobian, plan, leaf_batched, target, boundscheck)
    leaf_arg = [i for i, s in enumerate(specs) for _ in range(sp.spec_leaf_count(s))]
    leaf_types = [t for s in specs for t in sp.spec_leaf_types(s)]
    grad_batched = [leaf_batched[k] for i in wrt_args for k in range(len(leaf_types))
                    if leaf_arg[k] == i and leaf_types[k].kind == FLOAT]
    if plan.inner == "jvp":
        grad_batched = [True]
    outputs = _outputs(out_fn, plan, grad_batched)
    params = list(out_fn.params)
    batched = list(leaf_batched) + [True] * (len(params) - len(leaf_batched))   # JVP tangents
    what = {"primal": "values", "grad": "values and gradients", "jvp": "values and tangents"}.get(
        plan.inner, "values and derivatives")
    how = {"all": "summed over the batch", "none": "one row per sample",
           "shared": "summed over the batch" + (" (a batched argument's gradient: one row per sample)"
                                                if any(grad_batched) else "")}[plan.summed]
    doc = f"The {what} of {fn.name} over a batch, {how}."
    name = f"{out_fn.name}_batch"
    mode = f"vmap {plan.inner}"

    def allocating(kind):
        driver = Driver(name, [out_fn], lambda decorator: driver_source(
            name, doc, params, batched, out_fn.name, outputs, "cpu" if decorator else "python", boundscheck))
        return sp._load_driver(pyfunc, fn, mode, driver, kind, boundscheck)

    python = allocating("python")
    if target == "python":
        return python
    try:
        b = buffer_form(out_fn, [o.summed for o in outputs],
                        frozenset(p for p, bt in zip(params, batched) if not bt))
    except CompileError:
        if target == "cuda":
            raise
        return allocating("cpu")       # arrays made inside: each sample allocates its own
    header = sp._header(pyfunc, fn, mode)
    kinds = tuple(w[2] for w in b.workspace.values())
    sizing = f"{out_fn.name}_workspace"
    if target == "cuda":
        from .backends import cuda
        src = cuda.module_source(b, header, name, doc, params, batched, outputs)
        if b.workspace:
            src += "\n\n" + workspace_source(b, sizing, params)
        module = loader.load(src, name)
        runner = BufferRun(getattr(module, name), outputs, len(b.tapes), "cuda", module.sum_rows, kinds)
    elif not b.workspace and plan.inner.startswith(("symbolic ", "auto ")) and (fused := fused_symbolic(
            b, header, name, doc, params, batched, outputs, boundscheck)) is not None:    # one loop: symbolic.py
        src, rows = fused
        module = loader.load(src, name)
        runner = BufferRun(getattr(module, name), outputs, 0, "cpu", rows=getattr(module, rows))
    else:
        hoisted = [(st.target, statement_code(b.fn, st))
                   for st in hoist_shared(b, frozenset(p for p, bt in zip(params, batched) if not bt))]
        code = printer(b, statement_code, "{tape_need}[0] = max({tape_need}[0], {need})")
        lines, _ = source_lines(b, njit_decorator(boundscheck), code)
        src = "\n".join([f"# {line}" for line in header.splitlines()]
                        + ["import numpy as np", "import numba", "", ""] + lines + ["", ""]) + "\n" \
            + buffer_driver_source(name, doc, params, batched, b.fn.name, outputs, b.tape_params, boundscheck,
                                   list(b.workspace), hoisted)
        if b.workspace:
            src += "\n\n" + workspace_source(b, sizing, params)
        module = loader.load(src, name)
        runner = BufferRun(getattr(module, name), outputs, len(b.tapes), "cpu", None, kinds)
    per_sample = getattr(loader.load(python.source, name), out_fn.name)
    shapes: dict = {}

    def output_shapes(leaves) -> list:
        sample = [leaf[0] if bt else leaf for leaf, bt in zip(leaves, batched)]
        key = tuple((np.shape(v), None if isinstance(v, np.ndarray) else v) for v in sample)
        if key not in shapes:       # from one sample, in plain Python
            shapes[key] = [np.shape(v) for v in _flat_result(per_sample(*sample), outputs)]
        return shapes[key]

    def scratch_shapes(leaves) -> tuple:
        """The scratch arrays' shapes, from the shared arguments (and the sample's shapes)."""
        if not b.workspace:
            return ()
        sample = [leaf[0] if bt else leaf for leaf, bt in zip(leaves, batched)]
        return tuple(tuple(int(d) for d in np.atleast_1d(s)) for s in getattr(module, sizing)(*sample))

    def run(*args):
        *leaves, chunks = args
        return runner(leaves, leaves[batched.index(True)].shape[0], chunks, output_shapes(leaves),
                      scratch_shapes(leaves))

    run.ptx = lambda leaves, cc=(9, 0): runner.ptx(leaves, leaves[batched.index(True)].shape[0],
                                                   output_shapes(leaves), cc, scratch_shapes(leaves))
    return sp.Compiled(run, python.python_run, src, None, module.__file__, out_fn, python.python_locmap)
