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
not hold (a parameter with an axis of length 1 that broadcasts). A dimension that does not come
from the parameters (a slice `w[0:b]`, an array made from a number) cannot be checked on entry;
broadcasting it against another still merges the two, and marks the class (`Dim.point`): each loop
nest that reads an array along such a dimension checks its length first, and hands the call over
the same way when it differs."""
from __future__ import annotations

from .nodes import Assign, Function, Pop, Push, Var, walk
from .primitives import PRIMITIVES
from ..rules.indexing import result_axes
from .types import Type

# operations whose result has the shape of their first operand
SAME_SHAPE = {"alias", "copy", "stop_gradient", "zeros_like", "ones_like", "empty_like", "full_like"}
# operations that move elements within their operand's shape (printed as calls, never in loop nests)
REARRANGED = {"flip", "roll", "astype"}
REDUCTIONS = {"sum", "mean", "max", "min", "prod"}


class Dim:
    """One dimension: a union-find node. `one`: the literal 1 (keepdims, expand_dims). `text`:
    how to read it from the parameters (`X.shape[0]`), for the dimensions that come from them."""
    __slots__ = ("parent", "one", "text", "point")

    def __init__(self, one: bool = False, text: str | None = None):
        self.parent = self
        self.one = one
        self.text = text
        self.point = False       # merged with a dimension not from the parameters: checked where used

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
        """The dimensions of an operand: () for numbers and constants, None when unknown. A shape
        tuple (`x.shape`, also one read back from a tape) gives the dimensions it holds."""
        if not isinstance(v, Var):
            return ()
        t = self.fn.types.get(v.name)
        if isinstance(t, Type) and t.rank == 0:
            return ()
        if v.name in self.tuples:
            return tuple(d.find() for d in self.tuples[v.name])
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
        self.lengths: dict = {}              # an int assigned once, from a shape: name -> its Dim
        self.tuples: dict = {}               # a shape tuple (x.shape): name -> its dimensions
        self.tapes: dict = {}                # tape -> what each push holds (a tuple per pushed value)
        self.popped: dict = {}               # a tuple popped off a tape -> what its elements hold
        fn = self.fn
        writers: dict = {}
        for s in walk(fn.body):             # (a pop gives back the value pushed: not counted)
            if isinstance(s, Assign) and s.role != "tape":
                writers[s.target] = writers.get(s.target, 0) + 1
        for p in fn.params:
            t = fn.types.get(p)
            if isinstance(t, Type) and t.rank > 0:
                self.dims[p] = tuple(Dim(text=f"{p}.shape[{k}]") for k in range(t.rank))
        self.by_text = {d.text: d for dims in self.dims.values() for d in dims}
        self.literals: dict = {}             # length -> its Dim (literal)
        self.classes: dict = {}              # a class of the forward sweep's residuals -> its Dim here
        self.indexed: dict = {}              # x[...] statement -> (x's dimensions, the result's)
        # an adjoint sweep split from its forward sweep: (residuals, their dimensions, the adjoint)
        self.given = given = getattr(fn, "residual_dims", None)
        if given is not None and given[2] in self.dims:   # the incoming adjoint: shaped like the value
            value = self._residual(given[1].get(0))
            if value is not None and len(value) == len(self.dims[given[2]]):
                self.broadcast([self.dims[given[2]], value])
        for s in walk(fn.body):
            if isinstance(s, Assign):
                if writers.get(s.target) == 1:
                    self._lengths(s)
                self._unpack(s)
                t = fn.types.get(s.target)
                if not isinstance(t, Type) or t.rank == 0:
                    continue
                dims = None if s.target in self.poisoned else self._rule(s, t.rank)
                self._define(s.target, dims if dims is not None and len(dims) == t.rank else self._fresh(t.rank))
            elif isinstance(s, Push):
                self._push(s)
            elif isinstance(s, Pop):
                self._pop(s)

    def _held(self, v):
        """What a pushed value holds, for the pop that reads it back: array dimensions, a shape
        tuple ("shape", dims), or None."""
        if not isinstance(v, Var) or v.name in self.poisoned:
            return None
        if v.name in self.tuples:
            return ("shape", self.tuples[v.name])
        t = self.fn.types.get(v.name)
        return self.dims.get(v.name) if isinstance(t, Type) and t.rank > 0 else None

    def _push(self, s: Push) -> None:
        packed = isinstance(s.value, tuple)
        held = (packed, tuple(self._held(v) for v in (s.value if packed else (s.value,))))
        old = self.tapes.get(s.tape)
        if old is None and s.tape not in self.tapes:
            self.tapes[s.tape] = held
        elif old is not None and (old[0] != packed or len(old[1]) != len(held[1]) or
                                  not all(_same_held(a, b) for a, b in zip(old[1], held[1]))):
            self.tapes[s.tape] = None            # pushes of different shapes: nothing known

    def _pop(self, s: Pop) -> None:
        held = self.tapes.get(s.tape)
        t = self.fn.types.get(s.target)
        if held is not None and not held[0]:
            self._restore(s.target, held[1][0])
        elif held is not None:
            self.popped[s.target] = held[1]
        elif isinstance(t, Type) and t.rank > 0:
            self._define(s.target, self._fresh(t.rank))

    def _restore(self, name: str, held) -> None:
        t = self.fn.types.get(name)
        if isinstance(held, tuple) and len(held) == 2 and held[0] == "shape":
            self.tuples[name] = held[1]
        elif isinstance(t, Type) and t.rank > 0:
            self._define(name, held if held is not None and len(held) == t.rank else self._fresh(t.rank))

    def _lengths(self, s: Assign) -> None:
        """Record the shape tuples and the ints that are lengths of axes (n = x.shape[0])."""
        if s.op == "shape" and isinstance(s.args[0], Var):
            x = self._operand(s.args[0])
            if x is not None:
                self.tuples[s.target] = x
        elif s.op == "tuple_getitem" and isinstance(s.args[0], Var) and s.args[0].name in self.tuples:
            dims = self.tuples[s.args[0].name]
            i = s.param("i")
            if isinstance(i, int) and -len(dims) <= i < len(dims):
                self.lengths[s.target] = dims[i]
        elif s.op == "dim" and isinstance(s.args[0], Var):
            x = self._operand(s.args[0])
            axis = s.param("axis")
            if x is not None and isinstance(axis, int) and -len(x) <= axis < len(x):
                self.lengths[s.target] = x[axis]
        elif s.op == "alias" and isinstance(s.args[0], Var) and s.args[0].name in self.lengths:
            self.lengths[s.target] = self.lengths[s.args[0].name]

    def _unpack(self, s: Assign) -> None:
        """A shape tuple unpacked from values popped together off one tape."""
        if s.op == "tuple_getitem" and isinstance(s.args[0], Var) and s.args[0].name in self.popped:
            held = self.popped[s.args[0].name]
            i = s.param("i")
            if isinstance(i, int) and 0 <= i < len(held) and isinstance(held[i], tuple) \
                    and len(held[i]) == 2 and held[i][0] == "shape":
                self.tuples[s.target] = held[i][1]

    def _length(self, v):
        """The dimension an array size given as `v` makes: a recorded length, a literal, or a new one."""
        if isinstance(v, Var) and v.name in self.lengths:
            return self.lengths[v.name]
        if not isinstance(v, Var) and isinstance(v.value, int) and not isinstance(v.value, bool) and v.value >= 0:
            return self.literal(v.value)
        return Dim()

    def literal(self, n: int) -> Dim:
        """The dimension of length n, written in the code (`reshape((4, 8))`, `np.zeros(3)`): one per
        length, so two arrays of length 8 have one dimension; `8` is its text, so a parameter's
        dimension broadcast against it is assumed to be 8 and checked on entry like any other."""
        if n == 1:
            return ONE
        if n not in self.literals:
            self.literals[n] = Dim(text=str(n))
        return self.literals[n]

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
                if first.text is None and d.text is None:
                    first = Dim()            # two unknown lengths: either may be 1 (a keepdims
                    break                    # residual), so nothing is assumed
                if first.text is None or d.text is None:
                    # not checkable on entry: assumed here, and checked by each nest relying on it
                    root, other = (first, d) if first.text is not None else (d, first)
                    other.parent = root
                    root.point = True
                    first = root
                    continue
                self.assumptions.append((first.text, d.text, loc))
                d.parent = first
                first.point = first.point or d.point
            out.append(first.find())
        return tuple(out)

    def _rule(self, s: Assign, rank: int):
        op, args = s.op, s.args
        given = self.given
        if op == "tuple_getitem" and given is not None and isinstance(args[0], Var) and args[0].name == given[0]:
            return self._residual(given[1].get(s.param("i")))
        if op == "tuple_getitem" and isinstance(args[0], Var) and args[0].name in self.popped:
            held = self.popped[args[0].name]
            i = s.param("i")
            if isinstance(i, int) and 0 <= i < len(held) and held[i] is not None and held[i][:1] != ("shape",):
                return held[i]
            return None
        prim = PRIMITIVES.get(op)
        if prim is not None and prim.broadcasting:
            return self.broadcast([self._operand(a) for a in args], s.loc)
        if op in SAME_SHAPE or op in REARRANGED:
            first = self._operand(args[0])
            return first if first else None
        if op in ("unbroadcast", "sum_tiles", "sum_repeats"):    # shaped like their second operand
            return self._operand(args[1]) or None
        if op == "transpose":
            x, axes = self._operand(args[0]), s.param("axes")
            if x is None or (axes is not None and len(axes) != len(x)):
                return None
            return tuple(reversed(x)) if axes is None else tuple(x[k] for k in axes)
        if op == "reshape":
            sizes = args[1:]
            if len(sizes) != rank or any(not isinstance(a, Var) and a.value == -1 for a in sizes):
                return None
            return tuple(self._length(a) for a in sizes)
        if op == "broadcast_to":
            return tuple(self._length(a) for a in args[1:])
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
        if op in ("zeros", "ones", "empty"):
            return tuple(self._length(a) for a in args)
        if op in ("stacked_empty", "stacked_zeros"):       # (directions,) + the value's shape
            like = self._operand(args[1])
            return None if like is None else (self._length(args[0]),) + tuple(like)
        if op == "full":
            return tuple(self._length(a) for a in args[:-1])
        if op == "getitem":
            return self._getitem(s)
        if op == "expand_dims":
            x = self._operand(args[0])
            axis = s.param("axis")
            if x is None or not isinstance(axis, int):
                return None
            axis %= len(x) + 1
            return x[:axis] + (ONE,) + x[axis:]
        return None

    def _residual(self, spec):
        """The dimensions of a residual read by an adjoint sweep split from its forward sweep, as
        that sweep's shapes give them (`residual_dims`): a parameter's dimension, a literal length, or a
        class the residuals share. Lengths the forward sweep only assumed stay checked where used."""
        if spec is None:
            return None
        out = []
        for axis in spec:
            if axis == "one":
                out.append(ONE)
                continue
            texts, cls, point = axis
            params = [(self.by_text[t],) if not t.isdigit() else (self.literal(int(t)),)
                      for t in texts if t in self.by_text or t.isdigit()]
            if params:          # the forward sweep's assumptions between parameters, checked here too
                d = self.broadcast(params)[0]
            else:
                d = self.classes.setdefault(cls, Dim())
                point = True
            d = d.find()
            d.point = d.point or point
            out.append(d)
        return tuple(out)

    def residual_specs(self, values) -> dict:
        """For a forward sweep: the dimensions of each value it returns (position -> one entry per
        axis, see `_residual`): its result, whose adjoint the adjoint sweep takes, and the residuals
        that sweep reads back."""
        classes: dict = {}
        texts: dict = {}                 # a class -> the parameters' dimensions in it
        for p in self.fn.params:
            for d in self.dims.get(p, ()):
                texts.setdefault(id(d.find()), []).append(d.text)
        for n, d in self.literals.items():
            texts.setdefault(id(d.find()), []).append(str(n))
        out = {}
        for i, v in enumerate(values):
            dims = self.value(v) if isinstance(v, Var) and v.name not in self.poisoned else None
            if not dims:
                continue
            out[i] = tuple("one" if d.one else (tuple(texts.get(id(d), ())), classes.setdefault(id(d), len(classes)),
                                                d.point)
                           for d in (x.find() for x in dims))
        return out

    def _getitem(self, s: Assign):
        """x[...]: an integer drops an axis, `:` keeps it, None adds a 1; other slices make new
        dimensions; an integer-array index, unknown. The same statement again (an adjoint sweep
        recomputing `w[0:b]`) on an operand of the same dimensions gives the same dimensions, as the
        same variable does on every trip of a loop: its slices are the same lengths."""
        x = self._operand(s.args[0])
        if x is None:
            return None
        key = (s.target, s.args, s.params)
        try:
            seen = self.indexed.get(key)
        except TypeError:                    # a constant that cannot be hashed: not remembered
            key, seen = None, None
        if seen is not None and self.same(seen[0], x):
            return seen[1]
        out = result_axes(s.param("index"), s.args[1:], x, ONE, Dim,
                          lambda v: isinstance(v, Var) and getattr(self.fn.types.get(v.name), "rank", 0) > 0)
        if out is not None and key is not None:
            self.indexed[key] = (x, out)
        return out


def _same_held(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if a[:1] == ("shape",) or b[:1] == ("shape",):
        return a[:1] == b[:1] and Shapes.same(a[1], b[1])
    return Shapes.same(a, b)
