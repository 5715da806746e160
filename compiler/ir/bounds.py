"""Index proofs: which element accesses of a function stay within their arrays' shapes, so that its
compiled code can leave out Numba's index checks (a compare and a branch at every index, and the
error paths, which cost both run time and compile time in loops over numbers).

Every integer gets a range [lo, hi] whose ends are linear forms in values known on entry: an
axis length of a parameter (`x.shape[0]`), an int parameter, or an expression of those
(`state.shape[0] // 2`). Ranges come from the loops an index runs over and the arithmetic that
made it; a name assigned in several places gets the hull of its definitions (the forward sweep's
loop and the adjoint's reversed one agree), one assigned from itself (a counter) none. Each
integer index of an access `x[..., i, ...]` then needs hi < n and lo >= -n, n the axis length:

- proven when that follows from the forms alone (`z[k]` for k in range(b) and z = np.zeros(b));
- checked once, on entry, when both sides are known there (`main_params[w, 3 * b + k]` needs
  4 * b - 1 < main_params.shape[1]): if such a check fails, the call raises IndicesUnproven and
  runs the code compiled with every index checked instead, because the check is sufficient, not
  necessary (an access under an `if` may never reach the end of its loop's range);
- checked where it is otherwise: an explicit test before the access that raises IndexError as
  Numba's own check would (an index read from an array, a counter).

A function that indexes with integer arrays or calls an operation that indexes with the user's
numbers (lists used as stacks, np.add.at) keeps Numba's checks everywhere."""
from __future__ import annotations

from dataclasses import dataclass, field

from .nodes import Assign, SetItem, For, While, Push, Pop, TapeNew, Function, Var, Const, walk
from .primitives import PRIMITIVES
from .types import Type, INT
from ..rules.indexing import index_axes, result_axes

# operations that index with values the user computes: their functions keep Numba's checks
INDEXING_OPS = {"index_add", "add_at", "take_flat", "positions", "mask_nonzero", "nonzero", "flatnonzero",
                "list_index", "list_top", "list_head", "list_pad", "list_room", "diagonal_put",
                "revolve_forward", "revolve_reverse", "checkpoint_snapshots", "last_written"}
SAME_SHAPE = {"alias", "copy", "stop_gradient", "zeros_like", "ones_like", "empty_like", "full_like", "astype"}
REDUCTIONS = {"sum", "mean", "max", "min", "prod"}


@dataclass(frozen=True)
class Form:
    """const + Σ coeff · atom, each atom the text of a value computable on entry."""
    terms: tuple = ()            # sorted (atom text, int coefficient), no zero coefficients
    const: int = 0

    @staticmethod
    def atom(text: str) -> "Form":
        return Form(((text, 1),), 0)

    def __add__(self, other: "Form") -> "Form":
        merged = dict(self.terms)
        for a, c in other.terms:
            merged[a] = merged.get(a, 0) + c
        return Form(tuple(sorted((a, c) for a, c in merged.items() if c)), self.const + other.const)

    def scale(self, k: int) -> "Form":
        return Form(tuple((a, c * k) for a, c in self.terms if c * k), self.const * k)

    def __sub__(self, other: "Form") -> "Form":
        return self + other.scale(-1)

    def plus(self, k: int) -> "Form":
        return Form(self.terms, self.const + k)

    @property
    def constant(self) -> bool:
        return not self.terms

    def text(self) -> str:
        parts = []
        for a, c in self.terms:
            term = a if abs(c) == 1 else f"{abs(c)} * {a}"
            parts.append(("- " if c < 0 else "+ ") + term)
        if self.const or not parts:
            parts.append(("- " if self.const < 0 else "+ ") + str(abs(self.const)))
        out = " ".join(parts)
        return out[2:] if out.startswith("+ ") else "-" + out[2:]


@dataclass(frozen=True)
class Span:
    """lo <= value <= hi; None: not known on entry."""
    lo: Form | None
    hi: Form | None

    @property
    def exact(self) -> Form | None:
        return self.lo if self.lo is not None and self.lo == self.hi else None


UNKNOWN = Span(None, None)
NEUTRAL = Span(None, None)       # a pop that gives back only the variable's own earlier values
ONE = Form((), 1)


def _const(k: int) -> Span:
    return Span(Form((), k), Form((), k))


@dataclass
class Proof:
    """What printing a function without Numba's index checks needs: `entry`, the conditions
    checked on entry (texts), and `inline`, id(access) -> the (index text, array, axis)
    tests printed before it. `eligible` is False when the function keeps Numba's checks."""
    eligible: bool
    entry: list = field(default_factory=list)
    inline: dict = field(default_factory=dict)
    proven: int = 0              # accesses that need no test at all


class _Ranges:
    """The ranges of a function's integers and the axis lengths of its arrays, as Forms."""

    def __init__(self, fn: Function):
        self.fn = fn
        self.defs: dict = {}
        self.nonneg_atoms: set = set()   # atoms known to be >= 0 (lengths)
        self.pushed: dict = {}           # tape -> the values pushed onto it (a pop gives one back)
        for s in walk(fn.body):
            for name in _defined(s):
                self.defs.setdefault(name, []).append(s)
            if isinstance(s, Push):
                self.pushed.setdefault(s.tape, []).append(s.value)
        self.spans: dict = {}
        self.shapes: dict = {}
        self.busy: set = set()

    # --- integers ---
    def span(self, v) -> Span:
        if isinstance(v, Const):
            return _const(v.value) if type(v.value) is int else UNKNOWN
        return self._memo(self.spans, v.name, self._span, UNKNOWN)    # UNKNOWN: defined from itself

    def _memo(self, cache: dict, name: str, compute, cyclic):
        """compute(name), once; `cyclic` for a name reached again while it is being computed."""
        if name in cache:
            return cache[name]
        if name in self.busy:
            return cyclic
        self.busy.add(name)
        try:
            out = compute(name)
        finally:
            self.busy.discard(name)
        cache[name] = out
        return out

    def _span(self, name: str) -> Span:
        t = self.fn.types.get(name)
        if not isinstance(t, Type) or t.kind != INT or t.rank:
            return UNKNOWN
        if name in self.fn.params:
            return Span(Form.atom(name), Form.atom(name)) if name not in self.defs else UNKNOWN
        return self._hull([self._def_span(s, name) for s in self.defs.get(name, [])])

    @staticmethod
    def _hull(spans: list) -> Span:
        spans = [sp for sp in spans if sp is not NEUTRAL]
        if not spans:
            return UNKNOWN
        lo, hi = spans[0].lo, spans[0].hi
        for sp in spans[1:]:
            lo = _lower(lo, sp.lo)
            hi = _upper(hi, sp.hi)
        return Span(lo, hi)

    def _given_back(self, name: str, into: str, item: int | None = None):
        """The values the pops into `name` may give back: every value pushed onto their tapes (item
        `item` of each pushed tuple), less `into`'s own (a value of `into` pushed and popped back
        into it: its other definitions decide). None when one of them is not known."""
        pops = [s for s in self.defs.get(name, []) if isinstance(s, Pop)]
        if not pops or (item is not None and len(pops) != len(self.defs[name])):
            return None
        out = []
        for pop in pops:
            for v in self.pushed.get(pop.tape, [None]):
                if item is not None:
                    v = v[item] if isinstance(v, tuple) and isinstance(item, int) and 0 <= item < len(v) else None
                if not isinstance(v, Var):
                    return None
                if v.name != into:
                    out.append(v)
        return out

    def _span_of_values(self, values) -> Span:
        return NEUTRAL if values == [] else UNKNOWN if values is None else self._hull([self.span(v) for v in values])

    def _dims_of_values(self, values):
        return NEUTRAL if values == [] else None if values is None else self._agreed([self.dims(v) for v in values])

    def _def_span(self, s, name: str) -> Span:
        if isinstance(s, For) and s.var == name:
            start, stop, step = s.mirrors or (s.start, s.stop, s.step)     # a reversed loop: the loop's values
            step = step.value if isinstance(step, Const) else None
            start, stop = self.span(start), self.span(stop)
            if type(step) is int and step > 0:
                return Span(start.lo, None if stop.hi is None else stop.hi.plus(-1))
            if type(step) is int and step < 0:
                return Span(None if stop.lo is None else stop.lo.plus(1), start.hi)
            return UNKNOWN
        if isinstance(s, Pop):
            return self._span_of_values(self._given_back(name, name))
        if not isinstance(s, Assign):
            return UNKNOWN                    # a trip counter, a tape's count
        op, args = s.op, s.args
        if op == "alias":
            return self.span(args[0])
        if op in ("add", "sub"):
            a, b = self.span(args[0]), self.span(args[1])
            if op == "sub":
                b = Span(None if b.hi is None else b.hi.scale(-1), None if b.lo is None else b.lo.scale(-1))
            return Span(_sum(a.lo, b.lo), _sum(a.hi, b.hi))
        if op == "neg":
            a = self.span(args[0])
            return Span(None if a.hi is None else a.hi.scale(-1), None if a.lo is None else a.lo.scale(-1))
        if op == "mul":
            a, b = self.span(args[0]), self.span(args[1])
            for x, k in ((a, b.exact), (b, a.exact)):
                if k is not None and k.constant:
                    c = k.const
                    lo, hi = (x.lo, x.hi) if c >= 0 else (x.hi, x.lo)
                    return Span(None if lo is None else lo.scale(c), None if hi is None else hi.scale(c))
            return self._opaque(a, b, "*")
        if op == "floordiv":
            a, b = self.span(args[0]), self.span(args[1])
            k = b.exact
            if k is not None and k.constant and k.const > 0:
                return Span(self._floordiv(a.lo, k.const), self._floordiv(a.hi, k.const))
            return self._opaque(a, b, "//")
        if op == "mod":
            b = self.span(args[1]).exact
            if b is not None and b.constant and b.const > 0:
                return Span(Form((), 0), Form((), b.const - 1))
            return self._opaque(self.span(args[0]), self.span(args[1]), "%")
        if op == "trip_count":            # len(range(start, stop, step)): at most stop - start
            start, stop = self.span(args[0]), self.span(args[1])
            step = args[2].value if isinstance(args[2], Const) else None
            if type(step) is int and step > 0:
                return Span(Form((), 0), None if stop.hi is None or start.lo is None else stop.hi - start.lo)
            return Span(Form((), 0), None)
        if op == "dim":
            dims = self.dims(args[0])
            axis = s.param("axis")
            if dims is not None and isinstance(axis, int) and -len(dims) <= axis < len(dims) and dims[axis] is not None:
                return Span(dims[axis], dims[axis])
            return UNKNOWN
        if op == "tuple_getitem" and isinstance(args[0], Var) and s.role == "tape":
            return self._span_of_values(self._given_back(args[0].name, name, s.param("i")))
        if op == "tuple_getitem" and isinstance(args[0], Var):
            shape = self._shape_tuple(args[0].name)
            i = s.param("i")
            if shape is not None and isinstance(i, int) and -len(shape) <= i < len(shape) and shape[i] is not None:
                return Span(shape[i], shape[i])
            return UNKNOWN
        if op == "size":
            dims = self.dims(args[0])
            if dims is not None and all(d is not None for d in dims):
                return self._product(dims)
            return UNKNOWN
        if op == "int" and self._is_int(args[0]):
            return self.span(args[0])
        return UNKNOWN

    def _is_int(self, v) -> bool:
        t = self.fn.types.get(v.name) if isinstance(v, Var) else None
        return isinstance(t, Type) and t.kind == INT and t.rank == 0

    def _opaque(self, a: Span, b: Span, operator: str) -> Span:
        """a op b for two values known on entry: an atom of its own."""
        x, y = a.exact, b.exact
        if x is None or y is None:
            return UNKNOWN
        text = f"({_paren(x)} {operator} {_paren(y)})"
        if self.nonneg(x) and self.nonneg(y) and operator in ("*", "//", "%"):
            self.nonneg_atoms.add(text)
        f = Form.atom(text)
        return Span(f, f)

    def _product(self, dims) -> Span:
        out = dims[0]
        for d in dims[1:]:
            out = self._opaque(Span(out, out), Span(d, d), "*").exact
        return Span(out, out) if out is not None else UNKNOWN

    def nonneg(self, f: Form) -> bool:
        """Whether f >= 0 for every call: a number >= 0 plus atoms known >= 0 (lengths)."""
        return f.const >= 0 and all(c > 0 and a in self.nonneg_atoms for a, c in f.terms)

    def _floordiv(self, f: Form | None, k: int) -> Form | None:
        if f is None:
            return None
        if f.constant:
            return Form((), f.const // k)
        text = f"({_paren(f)} // {k})"
        if self.nonneg(f):
            self.nonneg_atoms.add(text)
        return Form.atom(text)

    def _shape_tuple(self, name: str):
        """The lengths held by `name` when its one definition is `x.shape`."""
        made = self.defs.get(name, [])
        if len(made) == 1 and isinstance(made[0], Assign) and made[0].op == "shape":
            return self.dims(made[0].args[0])
        return None

    # --- arrays ---
    def dims(self, v):
        """The axis lengths of array `v` as Forms (None for an axis not known), or None."""
        if not isinstance(v, Var):
            return None
        return self._memo(self.shapes, v.name, self._dims, None)

    def _dims(self, name: str):
        t = self.fn.types.get(name)
        if not isinstance(t, Type) or not t.rank:
            return None
        if name in self.fn.params:
            if name in self.defs:
                return None
            texts = [f"{name}.shape[{k}]" for k in range(t.rank)]
            self.nonneg_atoms.update(texts)
            return tuple(Form.atom(x) for x in texts)
        found = None
        for s in self.defs.get(name, []):
            if isinstance(s, Pop):
                d = self._dims_of_values(self._given_back(name, name))
            else:
                d = self._def_dims(s, t.rank) if isinstance(s, Assign) else None
            if d is NEUTRAL:
                continue
            if d is None or len(d) != t.rank or (found is not None and d != found):
                return None
            found = d
        return found

    @staticmethod
    def _agreed(shapes: list):
        return shapes[0] if shapes and all(sh is not None and sh == shapes[0] for sh in shapes) else None

    def _def_dims(self, s: Assign, rank: int):
        op, args = s.op, s.args
        if op in ("zeros", "ones", "empty"):
            return tuple(self.span(a).exact for a in args)
        if op == "full":
            return tuple(self.span(a).exact for a in args[:-1])
        if op in SAME_SHAPE:
            return self.dims(args[0])
        if op == "transpose" and s.param("axes") is None:
            d = self.dims(args[0])
            return None if d is None else tuple(reversed(d))
        if op == "getitem":
            return self._getitem_dims(s)
        if op == "tuple_getitem" and isinstance(args[0], Var):
            return self._dims_of_values(self._given_back(args[0].name, s.target, s.param("i")))
        if op == "expand_dims":
            x, axis = self.dims(args[0]), s.param("axis")
            if x is None or not isinstance(axis, int):
                return None
            axis %= len(x) + 1
            return x[:axis] + (ONE,) + x[axis:]
        if op in REDUCTIONS:
            x, axis = self.dims(args[0]), s.param("axis")
            if x is None or not isinstance(axis, int):
                return None
            axis %= len(x)
            return x[:axis] + ((ONE,) if s.param("keepdims", False) else ()) + x[axis + 1:]
        if op == "matmul":
            a, b = self.dims(args[0]), self.dims(args[1])
            if a is None or b is None or len(a) != 2 or len(b) not in (1, 2):
                return None
            return (a[0],) + tuple(b[1:])
        prim = PRIMITIVES.get(op)
        if prim is not None and prim.broadcasting:
            shapes = [self.dims(a) if isinstance(a, Var) and getattr(self.fn.types.get(a.name), "rank", 0) else ()
                      for a in args]
            if any(sh is None for sh in shapes):
                return None
            out = []
            for axis in range(rank):
                col = {sh[len(sh) - rank + axis] for sh in shapes if len(sh) - rank + axis >= 0}
                if len(col) > 1:
                    col.discard(ONE)          # a length 1 broadcasts against the other
                out.append(col.pop() if len(col) == 1 else None)
            return tuple(out)
        return None

    def _getitem_dims(self, s: Assign):
        """x[...]: an integer drops an axis, `:` keeps it, None adds a 1; other slices make axes
        of unknown length; an integer-array index, unknown."""
        x = self.dims(s.args[0])
        if x is None:
            return None
        return result_axes(s.param("index"), s.args[1:], x, ONE, lambda: None,
                           lambda v: getattr(self.fn.types.get(getattr(v, "name", "")), "rank", 0) > 0)


def _defined(s) -> list:
    if isinstance(s, Assign) or isinstance(s, Pop):
        return [s.target]
    if isinstance(s, For):
        return [s.var] + ([s.counter] if s.counter else [])
    if isinstance(s, While):
        return [s.counter] if s.counter else []
    if isinstance(s, TapeNew):
        return [s.tape] + ([s.top] if s.top else [])
    return []


def _sum(a: Form | None, b: Form | None) -> Form | None:
    return None if a is None or b is None else a + b


def _lower(a: Form | None, b: Form | None) -> Form | None:
    """A lower bound of both: the smaller where their difference is a number."""
    return _bound(a, b, upper=False)


def _upper(a: Form | None, b: Form | None) -> Form | None:
    """An upper bound of both: the larger where their difference is a number."""
    return _bound(a, b, upper=True)


def _bound(a: Form | None, b: Form | None, upper: bool) -> Form | None:
    if a is None or b is None or not (a - b).constant:
        return None
    return a if ((a - b).const >= 0) == upper else b


def _paren(f: Form) -> str:
    """A form's text as an operand of * or //: bare when it is one atom or a number."""
    if f.constant or (len(f.terms) == 1 and f.terms[0][1] == 1 and not f.const):
        return f.text()
    return f"({f.text()})"


def _accesses(fn: Function):
    """(statement, array name, index pattern, index operands) of every getitem and SetItem."""
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.op == "getitem" and isinstance(s.args[0], Var):
            yield s, s.args[0].name, s.param("index"), s.args[1:]
        elif isinstance(s, SetItem):
            yield s, s.target, dict(s.params)["index"], s.index_args


def prove(fn: Function) -> Proof:
    """The index proof of `fn` (see the module's docstring)."""
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.op in INDEXING_OPS:
            return Proof(False)
    ranges = _Ranges(fn)
    proof = Proof(True)
    conditions: dict = {}
    for s, array, pattern, operands in _accesses(fn):
        if pattern is None:
            return Proof(False)
        dims = ranges.dims(Var(array))
        tests = []
        for entry, axis, ops in index_axes(pattern, operands):
            if entry[0] != "int":
                continue                     # a slice (its bounds clamp) or a new axis
            index = ops[0]
            if isinstance(index, Var) and getattr(fn.types.get(index.name), "rank", 0):
                return Proof(False)          # an integer-array index
            n = dims[axis] if dims is not None and axis < len(dims) else None
            needs = _needs(ranges.span(index), n, ranges)
            if needs is None:
                tests.append((_value_text(index), array, axis))
            elif needs:
                conditions.update(dict.fromkeys(needs))
            else:
                proof.proven += 1
        if tests:
            proof.inline[id(s)] = tests
    kept = [c for c in conditions if not any(_implies(d, c, ranges) for d in conditions)]
    proof.entry = [_condition_text(c) for c in kept]
    return proof


def _implies(d: tuple, c: tuple, ranges: "_Ranges") -> bool:
    """Whether condition d, a ("<", a, n) (a < n) or (">=", a, n) (a >= -n), implies another
    condition c: the same kind and length, d's bound strictly the stronger."""
    if d[0] != c[0] or d[2] != c[2]:
        return False
    gap = d[1] - c[1] if d[0] == "<" else c[1] - d[1]
    return ranges.nonneg(gap) and bool(gap.terms or gap.const > 0)


def _condition_text(c: tuple) -> str:
    kind, a, n = c
    return f"{a.text()} < {n.text()}" if kind == "<" else f"{a.text()} >= -{_paren(n)}"


def _needs(span: Span, n: Form | None, ranges: _Ranges) -> list | None:
    """The entry conditions under which every value of `span` indexes an axis of length `n`
    ([] when none is needed), or None when they are not known on entry."""
    out = []
    if span.hi is None or n is None:
        return None
    upper = n - span.hi.plus(1)                # n - hi - 1 >= 0
    if not ranges.nonneg(upper):
        out.append(("<", span.hi, n))
    if span.lo is None:
        return None
    if not ranges.nonneg(span.lo) and not ranges.nonneg(span.lo + n):
        out.append((">=", span.lo, n))
    return out


def _value_text(v) -> str:
    return v.name if isinstance(v, Var) else repr(v.value)
