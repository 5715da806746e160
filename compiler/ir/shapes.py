"""Symbolic shapes: which arrays of a function have the same shape, without knowing any size.

Every axis of every array gets a dimension. The dimensions of the parameters are named after them
(`X.shape[0]`); each primitive says how its result's dimensions follow from its operands'
(an elementwise operation broadcasts them, a matrix product keeps the outer ones, a reduction
drops one, expand_dims adds a literal 1). Dimensions known to be equal form one class
(union-find), so the backend can tell that `t9` and `s` have the same shape and that an
`unbroadcast` back to the same shape is the identity.

Broadcasting two dimensions of which neither is the literal 1 needs them equal, unless one of
them is 1 at run time. Where both come from the parameters, they are assumed equal, and the
assumption is recorded (`Shapes.assumptions`): code that relies on it checks it when it is
called, before doing anything, and hands the call over to code that assumes nothing when it does
not hold (a parameter with an axis of length 1 that broadcasts). Where a dimension does not come
from the parameters (an array made from a number, a slice), nothing is assumed: it is unknown,
and whatever depends on it keeps NumPy's general code."""
from __future__ import annotations

from .nodes import Assign, Function, Pop, Var, walk
from .primitives import PRIMITIVES
from .types import Type

# operations whose result has the shape of their first operand
SAME_SHAPE = {"alias", "copy", "stop_gradient", "zeros_like", "ones_like", "empty_like", "full_like"}
REDUCTIONS = {"sum", "mean", "max", "min", "prod"}


class Dim:
    """One dimension: a union-find node. `one`: the literal 1 (keepdims, expand_dims). `text`:
    how to read it from the parameters (`X.shape[0]`), for the dimensions that come from them."""
    __slots__ = ("parent", "one", "text")

    def __init__(self, one: bool = False, text: str | None = None):
        self.parent = self
        self.one = one
        self.text = text

    def find(self) -> "Dim":
        d = self
        while d.parent is not d:
            d.parent = d.parent.parent
            d = d.parent
        return d


ONE = Dim(one=True)


class Shapes:
    """The dimensions of each array variable of one function (None: rank unknown or not an array)."""

    def __init__(self, fn: Function):
        self.fn = fn
        self.assumptions: list = []          # (text, text, loc): parameter dimensions assumed equal
        self.poisoned: set = set()           # variables assigned arrays of different shapes
        for _ in range(8):                   # each round poisons at least one more variable, or stops
            before = len(self.poisoned)
            self._infer()
            if len(self.poisoned) == before:
                break

    # --- queries ---
    def of(self, name: str):
        """The dimensions of variable `name` (roots of their classes), or None when unknown."""
        dims = self.dims.get(name)
        return None if dims is None else tuple(d.find() for d in dims)

    def value(self, v):
        """The dimensions of an operand: () for numbers and constants, None when unknown."""
        if not isinstance(v, Var):
            return ()
        t = self.fn.types.get(v.name)
        if isinstance(t, Type) and t.rank == 0:
            return ()
        return self.of(v.name)

    @staticmethod
    def same(a, b) -> bool:
        return a is not None and b is not None and len(a) == len(b) and \
            all(x.find() is y.find() for x, y in zip(a, b))

    # --- inference ---
    def _fresh(self, rank: int) -> tuple:
        return tuple(Dim() for _ in range(rank))

    def _infer(self) -> None:
        self.dims: dict = {}
        self.assumptions = []
        fn = self.fn
        for p in fn.params:
            t = fn.types.get(p)
            if isinstance(t, Type) and t.rank > 0:
                self.dims[p] = tuple(Dim(text=f"{p}.shape[{k}]") for k in range(t.rank))
        for s in walk(fn.body):
            if isinstance(s, Assign):
                t = fn.types.get(s.target)
                if not isinstance(t, Type) or t.rank == 0:
                    continue
                dims = None if s.target in self.poisoned else self._rule(s, t.rank)
                self._define(s.target, dims if dims is not None and len(dims) == t.rank else self._fresh(t.rank))
            elif isinstance(s, Pop):
                t = fn.types.get(s.target)
                if isinstance(t, Type) and t.rank > 0:
                    self._define(s.target, self._fresh(t.rank))

    def _define(self, name: str, dims: tuple) -> None:
        old = self.dims.get(name)
        if old is not None and not self.same(old, dims):
            self.poisoned.add(name)
        self.dims[name] = dims

    def _operand(self, v):
        """An operand's dimensions for inference; a poisoned variable's are unknown at every use."""
        if isinstance(v, Var) and v.name in self.poisoned:
            t = self.fn.types.get(v.name)
            return self._fresh(t.rank) if isinstance(t, Type) and t.rank else ()
        return self.value(v)

    def broadcast(self, shapes: list, loc=None):
        """The dimensions of the broadcast of these shapes, unifying (and recording as assumed)
        dimensions of the parameters that must be equal; None when one is unknown."""
        if any(s is None for s in shapes):
            return None
        rank = max((len(s) for s in shapes), default=0)
        out = []
        for axis in range(rank):
            col = [s[len(s) - rank + axis].find() for s in shapes if len(s) - rank + axis >= 0]
            real = [d for d in col if not d.one]
            if not real:
                out.append(ONE)
                continue
            first = real[0]
            for d in real[1:]:
                d = d.find()
                first = first.find()
                if d is first:
                    continue
                if first.text is None or d.text is None:
                    first = Dim()            # unknown: no assumption can be checked
                    break
                self.assumptions.append((first.text, d.text, loc))
                d.parent = first
            out.append(first.find())
        return tuple(out)

    def _rule(self, s: Assign, rank: int):
        op, args = s.op, s.args
        prim = PRIMITIVES.get(op)
        if prim is not None and prim.broadcasting:
            return self.broadcast([self._operand(a) for a in args], s.loc)
        if op in SAME_SHAPE:
            first = self._operand(args[0])
            return first if first else None
        if op == "unbroadcast":
            return self._operand(args[1]) or None
        if op == "transpose" and dict(s.params).get("axes") is None:
            x = self._operand(args[0])
            return None if x is None else tuple(reversed(x))
        if op == "matmul":
            a, b = self._operand(args[0]), self._operand(args[1])
            if a is None or b is None or len(a) > 2 or len(b) > 2:
                return None
            inner_a = a[-1]
            inner_b = b[0] if len(b) == 1 else b[-2]
            self.broadcast([(inner_a,), (inner_b,)], s.loc)
            return tuple(a[:-1]) + tuple(b[:-2]) + tuple(b[-1:] if len(b) == 2 else ())
        if op in REDUCTIONS:
            x = self._operand(args[0])
            axis, keep = s.param("axis"), s.param("keepdims", False)
            if x is None or not isinstance(axis, int):
                return None
            axis %= len(x)
            return x[:axis] + ((ONE,) if keep else ()) + x[axis + 1:]
        if op == "expand_dims":
            x = self._operand(args[0])
            axis = s.param("axis")
            if x is None or not isinstance(axis, int):
                return None
            axis %= len(x) + 1
            return x[:axis] + (ONE,) + x[axis:]
        return None
