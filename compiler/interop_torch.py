"""cotangent inside PyTorch: `ct.to_torch(f)`.

A call hands the CPU tensors to the compiled code as NumPy views (no copies) and wraps the result
in a tensor. When some float tensor requires grad, the call goes through a torch.autograd.Function:

- f returns a number: the forward runs cotangent's value-and-gradient (one compiled call) and keeps
  the gradient, so the backward only scales it by the incoming gradient. With create_graph=True the
  backward computes the gradient again through a second Function (`_Gradient`), whose own backward is
  cotangent's Hessian-vector product: double backward, as torch.autograd.gradgradcheck checks it.
- f returns an array: the forward runs the compiled primal, the backward the compiled VJP (which
  runs the primal sweep again). Differentiating that backward is an error, not a zero.

The compiled code computes in float64: float64 tensors are read in place, float32 ones are converted
on the way in, and results and gradients are cast back to the tensors' dtype."""
from __future__ import annotations

import functools

import numpy as np
import torch

from . import specialize as sp
from .interop import Engine
from .ir.types import FLOAT


def _flatten(x, out: list):
    """Append x's leaves to `out` in cotangent's order (tuples in order, dicts by sorted key);
    return the structure that `_rebuild` fills again."""
    if isinstance(x, tuple):
        return ("tuple", tuple(_flatten(v, out) for v in x))
    if isinstance(x, dict):
        keys = tuple(sorted(x))
        return ("dict", keys, tuple(_flatten(x[k], out) for k in keys))
    out.append(x)
    return None


def _rebuild(structure, it):
    if structure is None:
        return next(it)
    if structure[0] == "tuple":
        return tuple(_rebuild(s, it) for s in structure[1])
    return {k: _rebuild(s, it) for k, s in zip(structure[1], structure[2])}


def _leaf_kind(x):
    if isinstance(x, torch.Tensor):
        return ("tensor", x.dtype, x.dim(), x.requires_grad and x.is_floating_point())
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.char, x.ndim)
    return type(x)


def _as_numpy(x):
    """A tensor as a NumPy view of its memory (float64, int and bool tensors), or as a float64 copy
    (other float dtypes: the compiled code computes in float64); anything else as it is."""
    if isinstance(x, torch.Tensor):
        if x.device.type != "cpu":
            raise TypeError(f"ct.to_torch runs on CPU tensors, got one on {x.device} (move it with .cpu())")
        x = x.detach()
        if x.is_floating_point() and x.dtype != torch.float64:
            x = x.to(torch.float64)
        return x.numpy()
    return x


class _Plan:
    """What one kind of call needs: the arguments' structure, which leaves are differentiated, where
    their gradients sit among the compiled code's outputs, and the result's kind and dtype."""

    def __init__(self, engine: Engine, structures, leaves, np_args, grad_enabled: bool):
        self.engine, self.structures = engine, structures
        self.n_leaves = len(leaves)
        self.out_type = engine.output_type(np_args)
        floats = [x.dtype for x in leaves if isinstance(x, torch.Tensor) and x.is_floating_point()]
        self.dtype = functools.reduce(torch.promote_types, floats) if floats else torch.get_default_dtype()
        self.tensors = [k for k, x in enumerate(leaves) if isinstance(x, torch.Tensor)]
        arg_of, position = [], []
        for i, s in enumerate(structures):
            n = len(sp.leaves(np_args[i]))
            arg_of += [i] * n
            position += list(range(n))
        self.diff = [k for k in self.tensors if grad_enabled and self.out_type.kind == FLOAT
                     and leaves[k].requires_grad and leaves[k].is_floating_point()]
        self.nums = tuple(sorted({arg_of[k] for k in self.diff}))
        index, n = {}, 0        # (argument, leaf position) -> index among the flat float-leaf gradients
        for i, floats_at in zip(self.nums, Engine.float_positions(np_args, self.nums)):
            for j in floats_at:
                index[(i, j)] = n
                n += 1
        self.grad_index = [index[(arg_of[k], position[k])] for k in self.diff]
        self.leaf_dtypes = [leaves[k].dtype for k in self.diff]

    def numpy_args(self, leaves) -> tuple:
        it = iter([_as_numpy(x) for x in leaves])
        return tuple(_rebuild(s, it) for s in self.structures)

    def result(self, value, np_args) -> torch.Tensor:
        if not isinstance(value, np.ndarray):
            return torch.full((), value, dtype=self.dtype) if self.out_type.kind == FLOAT else torch.as_tensor(value)
        if _may_share(value, np_args):
            value = value.copy()        # f returned (a view of) an argument: the tensor gets its own memory
        out = torch.from_numpy(value)
        return out.to(self.dtype) if self.out_type.kind == FLOAT and out.dtype != self.dtype else out

    def gradients(self, flat, np_args) -> list:
        """The differentiated leaves' gradients as tensors of their dtypes, never sharing memory
        with an argument (PyTorch may accumulate into a gradient in place)."""
        out = []
        for k, dtype in zip(self.grad_index, self.leaf_dtypes):
            g = flat[k]
            if isinstance(g, np.ndarray):
                out.append(torch.from_numpy(g.copy() if _may_share(g, np_args) else g).to(dtype))
            else:
                out.append(torch.full((), g, dtype=dtype))
        return out

    def scatter(self, per_diff) -> tuple:
        """One entry per leaf: the given tensors at the differentiated leaves, None elsewhere."""
        out = [None] * self.n_leaves
        for k, g in zip(self.diff, per_diff):
            out[k] = g
        return tuple(out)

    def save(self, ctx, leaves) -> None:
        ctx.plan = self
        ctx.save_for_backward(*[leaves[k] for k in self.tensors])
        ctx.others = [None if isinstance(x, torch.Tensor) else x for x in leaves]

    @staticmethod
    def saved(ctx) -> list:
        leaves, tensors = list(ctx.others), iter(ctx.saved_tensors)
        for k in ctx.plan.tensors:
            leaves[k] = next(tensors)
        return leaves


def _may_share(a: np.ndarray, np_args) -> bool:
    """Whether array `a`, made by the compiled code, may share memory with an argument. An array
    owning its memory can only be an argument itself (arguments are tensors' views or the caller's
    arrays, never views of a result)."""
    if a.flags.owndata:
        return any(a is x for x in sp.leaves(np_args))
    return any(isinstance(x, np.ndarray) and np.may_share_memory(a, x) for x in sp.leaves(np_args))


class _Scalar(torch.autograd.Function):
    """f returning a number: value and gradient in the forward, the gradient scaled in the backward."""

    @staticmethod
    def forward(ctx, plan: _Plan, *leaves):
        np_args = plan.numpy_args(leaves)
        value, flat = plan.engine.value_and_grad(np_args, plan.nums)
        plan.save(ctx, leaves)
        ctx.gradients = plan.gradients(flat, np_args)
        return plan.result(value, np_args)

    @staticmethod
    def backward(ctx, g):
        plan = ctx.plan
        if torch.is_grad_enabled():         # create_graph=True: a gradient that can be differentiated
            grads = _Gradient.apply(plan, *_Plan.saved(ctx))
            grads = grads if isinstance(grads, tuple) else (grads,)
        else:
            grads = ctx.gradients
        return (None, *plan.scatter([g.to(x.dtype) * x for x in grads]))


class _Gradient(torch.autograd.Function):
    """The gradient of a scalar f; its backward is the Hessian-vector product (forward over reverse)."""

    @staticmethod
    def forward(ctx, plan: _Plan, *leaves):
        np_args = plan.numpy_args(leaves)
        _, flat = plan.engine.value_and_grad(np_args, plan.nums)
        plan.save(ctx, leaves)
        return tuple(plan.gradients(flat, np_args))

    @staticmethod
    def backward(ctx, *v):
        plan, leaves = ctx.plan, _Plan.saved(ctx)
        np_args = plan.numpy_args(leaves)
        tangents = [np.zeros(np.shape(x)) for x in _float_leaves(np_args, plan.nums)]
        for k, vk in zip(plan.grad_index, v):
            if vk is not None:
                tangents[k] = _as_numpy(vk)
        _, _, products = plan.engine.hvp(np_args, plan.nums, tangents)
        inputs = [leaves[k] for k in plan.diff] + [x for x in v if x is not None]
        products = _first_order_only(plan.gradients(products, np_args), inputs,
                                     f"third derivatives of {plan.engine.name} (through ct.to_torch) are not supported")
        return (None, *plan.scatter(products))


class _Array(torch.autograd.Function):
    """f returning an array: the compiled primal forward, the compiled VJP backward."""

    @staticmethod
    def forward(ctx, plan: _Plan, *leaves):
        np_args = plan.numpy_args(leaves)
        plan.save(ctx, leaves)
        return plan.result(plan.engine.primal(np_args), np_args)

    @staticmethod
    def backward(ctx, g):
        plan, leaves = ctx.plan, _Plan.saved(ctx)
        np_args = plan.numpy_args(leaves)
        _, flat = plan.engine.vjp(np_args, plan.nums, _as_numpy(g))
        grads = _first_order_only(plan.gradients(flat, np_args), [leaves[k] for k in plan.diff] + [g],
                                  f"second derivatives of {plan.engine.name}, which returns an array, are not "
                                  "supported through ct.to_torch (a function returning a number has them)")
        return (None, *plan.scatter(grads))


class _Unsupported(torch.autograd.Function):
    """The identity on its first n tensors, whose backward is an error: marks derivatives computed by
    compiled code that cannot be differentiated again, so that trying is an error and not a zero."""

    @staticmethod
    def forward(ctx, message: str, n: int, *tensors):
        ctx.message = message
        return tuple(t.clone() for t in tensors[:n])

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.message)


def _first_order_only(grads: list, inputs: list, message: str) -> list:
    """`grads` as they are, unless a graph is being built (create_graph=True) through inputs that
    require grad: then wrapped so that differentiating them raises `message`."""
    if not torch.is_grad_enabled() or not any(x.requires_grad for x in inputs):
        return grads
    out = _Unsupported.apply(message, len(grads), *grads, *inputs)
    return list(out) if isinstance(out, tuple) else [out]


def _float_leaves(np_args, nums) -> list:
    return [leaf for i in nums for leaf in sp.leaves(np_args[i])
            if sp.leaf_type(leaf, "a leaf").kind == FLOAT]


class TorchFunction:
    """f as a PyTorch function (made by ct.to_torch)."""

    def __init__(self, f):
        self.engine = Engine(f)
        self.f = f
        functools.update_wrapper(self, self.engine.pyfunc)
        self._plans: dict = {}

    def __call__(self, *args):
        leaves: list = []
        structures = tuple(_flatten(a, leaves) for a in args)
        grad_enabled = torch.is_grad_enabled()
        key = (structures, tuple(_leaf_kind(x) for x in leaves), grad_enabled)
        plan = self._plans.get(key)
        if plan is None:
            np_leaves = iter([_as_numpy(x) for x in leaves])
            np_args = tuple(_rebuild(s, np_leaves) for s in structures)
            plan = self._plans[key] = _Plan(self.engine, structures, leaves, np_args, grad_enabled)
        if not plan.diff:
            np_args = plan.numpy_args(leaves)
            return plan.result(self.engine.primal(np_args), np_args)
        if plan.out_type.rank == 0:
            return _Scalar.apply(plan, *leaves)
        return _Array.apply(plan, *leaves)

    def __repr__(self) -> str:
        return f"<cotangent.to_torch {self.engine.pyfunc.__qualname__}>"
