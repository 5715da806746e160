"""Symbolic mode: derivatives of straight-line scalar functions by SymPy, as one expression.

Reverse and forward mode differentiate a function one statement at a time; for a small scalar
function (a camera projection, a pose residual, a kinematic chain) called millions of times the
best code comes from treating the whole function as one expression, as SymForce does: build the
SymPy expression of every output, differentiate it, eliminate common subexpressions across the
value and every partial derivative together (`sympy.cse`), and print flat, branchless code.

The pass evaluates the function's typed IR with SymPy values in place of numbers:

- a number is a SymPy expression in the function's inputs; a small array of known shape (an
  argument, `np.array([x, y, z])`, a 3x3 rotation, `R @ p`) is a NumPy object array of them, so
  indexing, slicing, broadcasting, `@` and reductions follow NumPy's own rules, element by element;
- a `for` loop whose bounds are known numbers is unrolled; an `if` on a number keeps both branches
  and merges the values they assign as `a if cond else b` (SymPy's Piecewise), which is also how
  `np.where`, `max`, `min` and `clip` become expressions;
- operations with no derivative (comparisons, floor, sign, stop_gradient) are opaque functions whose
  derivative is zero;
- SymPy runs with automatic distribution off, so `0.5 * (a + b)` stays one product.

Anything else (a while loop, a loop over a run-time count, an index that depends on data, a call
with a custom derivative rule, arrays of unknown size) stops the pass with the statement's line:
`symbolic=True` reports it as a CompileError, `symbolic="auto"` falls back to the ordinary mode.
So does an expression over the size limit (LIMITS), so compile time stays bounded.

Derivatives follow the structure CSE finds: the value's expressions go through `sympy.cse` first,
which makes the value a straight-line program of shared subexpressions; the derivatives are then
accumulated over that program, in reverse (one sweep per output: each adjoint is the sum of its
uses' adjoints times local partials, `r2_bar = ...`) or forward (one sweep per input), whichever
gives the smaller program (a gradient is reverse, a Hessian forward over reverse). Local partials
come from SymPy, memoized per subexpression. The whole program, the value and every derivative
entry then go through one more `sympy.cse`. Compared with differentiating the expanded expressions
(as SymForce does), this keeps the factored forms reverse mode finds (`t * (k0 + 2 k1 r2)`, not
`t k0 + 2 t k1 r2`): on the camera projection of the benchmark, 310 operations against 426.

The result is printed as `formula` statements (rules/formula.py): one line per shared
subexpression, named after the user's variable when it computes a value the user named (found by
its value at two fixed random points, however CSE arranged it), with a comment back to that source
line; adjoints are named after their values (`r2_bar`). The output is deterministic: SymPy orders
the terms of sums and products canonically (by structure and names, never by hash), CSE runs with
order="none" (the expressions' own order; its "canonical" ordering counts tree nodes, which takes
exponential time on deep shared expressions), and symbols are numbered in the order they are made."""
from __future__ import annotations

import ast
import copy
import functools
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import CompileError
from ..ir.nodes import (Assign, SetItem, Return, If, For, While, Break, Continue, Var, Const, Function,
                        Loc, walk)
from ..ir.types import Type, FLOAT, INT, BOOL
from ..rules import derive, table
from ..ir.builder import NameAllocator
from ..rules.table import HELPERS
from ..rules.elementwise import DEFINITIONS
from ..rules import formula as _formula  # noqa: F401  (declares the formula primitive)

HOWS = ("symbolic", "auto")
KINDS = ("grad", "jacfwd", "jacrev", "hessian", "jacobian")


@dataclass(frozen=True)
class Limits:
    """How large a function symbolic mode takes on: elements of the differentiated inputs,
    derivative entries (outputs x inputs, or inputs squared for a Hessian), IR statements run
    (after unrolling), and distinct subexpressions of the outputs and of the derivative program.
    SymPy's time grows faster than these sizes, so they bound compile time."""
    inputs: int
    entries: int
    statements: int
    nodes: int
    derivatives: int


# "auto" takes what SymPy does in about a second (the benchmark's pose residual: 127 statements,
# 241 subexpressions, a derivative program of 1,300; a chain of eleven 3D joints: 359, 428,
# 1,600); symbolic=True takes functions several times larger, still within a minute or so.
LIMITS = {"auto": Limits(inputs=32, entries=256, statements=600, nodes=600, derivatives=3000),
          "symbolic": Limits(inputs=256, entries=4096, statements=6000, nodes=5000, derivatives=30000)}


class NotSymbolic(Exception):
    """What stops symbolic mode, and where."""

    def __init__(self, reason: str, loc: Loc | None = None, hint: str = ""):
        super().__init__(reason)
        self.reason, self.loc, self.hint = reason, loc, hint


def _sp():
    return derive.sympy()


# --- modes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mode:
    """A symbolic transformation as the mode string names it:
    "<how> <kind>[ per-sample[-add][-cuda]] <shapes>". `how`: "symbolic" (required) or "auto"
    (the ordinary mode where symbolic mode does not apply); `kind`: grad, jacfwd, jacrev, hessian,
    or jacobian (per-sample blocks shaped out.shape + in.shape, for ct.vmap); `shapes`: the shape
    of every argument leaf. per-sample: code a batch driver runs (its outputs become buffers);
    -add: the outputs are summed over the batch, so the code adds into them; -cuda: printed one
    primitive per statement, as the CUDA backend needs."""
    how: str
    kind: str
    shapes: tuple
    per_sample: bool = False
    add: bool = False
    cuda: bool = False

    @classmethod
    def parse(cls, mode: str) -> "Mode":
        how, kind, rest = mode.split(" ", 2)
        per_sample = add = cuda = False
        if rest.startswith("per-sample"):
            flag, rest = rest.split(" ", 1)
            per_sample, add, cuda = True, "-add" in flag, flag.endswith("-cuda")
        if how not in HOWS or kind not in KINDS:
            raise ValueError(mode)
        return cls(how, kind, ast.literal_eval(rest), per_sample, add, cuda)

    def text(self) -> str:
        flag = ""
        if self.per_sample:
            flag = " per-sample" + ("-add" if self.add else "") + ("-cuda" if self.cuda else "")
        return f"{self.how} {self.kind}{flag} {self.shapes!r}"


def mode_text(how, kind: str, shapes: tuple, per_sample: bool = False, add: bool = False,
              cuda: bool = False) -> str:
    how = "symbolic" if how is True else how
    if how not in HOWS:
        raise ValueError(f"symbolic must be False, True or 'auto', got {how!r}")
    return Mode(how, kind, tuple(tuple(int(n) for n in s) for s in shapes), per_sample, add, cuda).text()


# --- SymPy values of IR statements -----------------------------------------------------------

@functools.lru_cache(maxsize=None)
def opaque(op: str):
    """A SymPy function for an operation with derivative zero (floor, sign, stop_gradient...):
    SymPy's own floor and sign differentiate to Derivative(...) and DiracDelta."""
    sp = _sp()
    return type(f"ct_{op}", (sp.Function,), {"fdiff": lambda self, argindex=1: sp.S.Zero,
                                              "is_real": True, "op": op})


@functools.lru_cache(maxsize=None)
def _softplus():
    sp = _sp()

    def fdiff(self, argindex=1):
        return 1 / (1 + sp.exp(-self.args[0]))
    return type("ct_softplus", (sp.Function,), {"fdiff": fdiff, "is_real": True, "op": "softplus"})


def number(v):
    """A Python number as SymPy: integers (and floats that are integers) exactly, dyadic
    fractions (0.5, 0.25) exactly, other floats as 53-bit Floats, which round as doubles do."""
    sp = _sp()
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return sp.true if v else sp.false
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    v = float(v)
    if v != v or v in (math.inf, -math.inf):
        return sp.nan if v != v else (sp.oo if v > 0 else -sp.oo)
    if v.is_integer() and abs(v) < 2 ** 53:
        return sp.Integer(int(v))
    for k in range(1, 12):
        if (v * 2 ** k).is_integer():
            return sp.Rational(int(v * 2 ** k), 2 ** k)
    return sp.Float(v)


def _is_array(v) -> bool:
    return isinstance(v, np.ndarray)


def _objects(shape, fill) -> np.ndarray:
    a = np.empty(shape, dtype=object)
    a.fill(fill)
    return a


def _to_array(v) -> np.ndarray:
    if _is_array(v):
        return v
    a = np.empty((), dtype=object)
    a[()] = v
    return a


def _is_condition(v) -> bool:
    sp = _sp()
    return isinstance(v, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)) and not v.is_Symbol


def _boolean(v):
    """A SymPy truth value from a condition: a relational, a boolean, or a number (nonzero)."""
    sp = _sp()
    return v if _is_condition(v) else sp.Ne(v, 0)


def _arith(v):
    """A number from a value used in arithmetic: a condition counts as 1 or 0."""
    sp = _sp()
    if _is_condition(v):
        if v is sp.true:
            return sp.Integer(1)
        if v is sp.false:
            return sp.Integer(0)
        return sp.Piecewise((sp.Integer(1), v), (sp.Integer(0), True))
    return v


def _select(c, a, b):
    sp = _sp()
    if c is sp.true:
        return a
    if c is sp.false:
        return b
    if a == b:
        return a
    return sp.Piecewise((a, c), (b, True))


def _zero_derivative(op: str, *args):
    """floor, ceil, round, sign, int, stop_gradient...: computed when the arguments are numbers,
    else an opaque function with derivative zero."""
    sp = _sp()
    if all(a.is_Number for a in args):
        x = args[0]
        if op == "floor":
            return sp.floor(x)
        if op == "ceil":
            return sp.ceiling(x)
        if op == "round":
            return sp.Integer(round(float(x)))
        if op == "sign":
            return sp.sign(x)
        if op == "int":
            return sp.Integer(int(float(x)))
        if op == "stop_gradient":
            return x
    return opaque(op)(*args)


def _scalar_rule(op: str):
    """The SymPy function of an elementwise primitive, or None."""
    sp = _sp()
    if op == "pow":
        return lambda x, y: _arith(x) ** _arith(y)
    if op in ("mod", "fmod"):
        def mod(x, y):
            x, y = _arith(x), _arith(y)
            q = x / y
            if op == "mod":
                return x - y * _zero_derivative("floor", q)
            return x - y * _zero_derivative("sign", q) * _zero_derivative("floor", sp.Abs(q))
        return mod
    if op == "log1p":
        from sympy.codegen.cfunctions import log1p
        return lambda x: log1p(_arith(x))
    if op == "expm1":
        from sympy.codegen.cfunctions import expm1
        return lambda x: expm1(_arith(x))
    if op == "softplus":
        return lambda x: _softplus()(_arith(x))
    if op in DEFINITIONS:
        expr = DEFINITIONS[op].expr
        return lambda *a: expr(*[_arith(x) for x in a])
    if op in ("lt", "le", "gt", "ge", "eq", "ne"):
        rel = {"lt": sp.Lt, "le": sp.Le, "gt": sp.Gt, "ge": sp.Ge, "eq": sp.Eq, "ne": sp.Ne}[op]
        return lambda x, y: rel(_arith(x), _arith(y))
    if op in ("not", "logical_not"):
        return lambda x: sp.Not(_boolean(x))
    if op == "logical_and":
        return lambda x, y: sp.And(_boolean(x), _boolean(y))
    if op == "logical_or":
        return lambda x, y: sp.Or(_boolean(x), _boolean(y))
    if op == "where":
        return lambda c, x, y: _select(_boolean(c), _arith(x), _arith(y))
    if op == "maximum":       # a tie goes to the second operand: a constant there absorbs it (relu)
        return lambda x, y: _select(sp.Gt(_arith(x), _arith(y)), _arith(x), _arith(y))
    if op == "minimum":
        return lambda x, y: _select(sp.Lt(_arith(x), _arith(y)), _arith(x), _arith(y))
    if op in ("floor", "ceil", "round", "sign", "int", "stop_gradient"):
        return lambda x: _zero_derivative(op, _arith(x))
    if op == "floordiv":
        return lambda x, y: _zero_derivative("floor", _arith(x) / _arith(y))
    if op in ("alias", "float"):
        return lambda x: x
    if op == "bool":
        return lambda x: _boolean(x)
    return None


def elementwise(fn, *args):
    """fn over scalars, or over object arrays with NumPy's broadcasting."""
    if not any(_is_array(a) for a in args):
        return fn(*args)
    return np.vectorize(fn, otypes=[object])(*args)


def name_of(e) -> str:
    return type(e).__name__


class Numeric:
    """The values of SymPy expressions at two fixed pseudo-random points of the inputs: a key that
    recognizes one quantity however SymPy and CSE arranged its expression (the user's `pc_0` in a
    CSE subexpression), for names and comments only. None where the value is not a finite float."""

    def __init__(self, inputs):
        import random
        rng = random.Random(20240611)
        sp = _sp()
        self.values: dict = {}
        for s in sorted(inputs, key=lambda s: s.name):
            if s.is_integer:
                self.values[s] = (float(rng.randint(2, 5)), float(rng.randint(2, 5)))
            else:
                self.values[s] = (rng.uniform(0.2, 0.8), rng.uniform(-0.8, -0.2))
        self.sp = sp

    def key(self, expr):
        v = self.value(expr)
        if v is None or not all(isinstance(x, float) and math.isfinite(x) for x in v):
            return None
        return tuple(float(f"{x:.9g}") for x in v)

    def define(self, symbol, expr) -> None:
        """Give a symbol (a CSE or program symbol) the value of its definition."""
        self.values[symbol] = self.value(expr)

    def value(self, expr):
        """(value at point 1, value at point 2), or None. Values of subexpressions are kept."""
        memo = self.values
        stack = [(expr, False)]
        while stack:
            e, ready = stack.pop()
            if e in memo:
                continue
            if not ready:
                stack.append((e, True))
                stack.extend((a, False) for a in e.args if a not in memo)
                continue
            try:
                memo[e] = self._apply(e, [memo[a] for a in e.args])
            except (ValueError, TypeError, OverflowError, ZeroDivisionError, KeyError):
                memo[e] = None
        return memo.get(expr)

    def _apply(self, e, args):
        sp = self.sp
        if any(a is None for a in args):
            return None
        if e.is_Number or e.is_NumberSymbol:
            return (float(e), float(e))
        if e is sp.true or e is sp.false:
            return (bool(e), bool(e))
        if e.is_Symbol:
            return None
        out = []
        for k in range(2):
            xs = [a[k] for a in args]
            out.append(self._scalar(e, xs))
        return tuple(out)

    def _scalar(self, e, xs):
        sp = self.sp
        if e.is_Add:
            return math.fsum(xs)
        if e.is_Mul:
            return math.prod(xs)
        if e.is_Pow:
            return xs[0] ** xs[1]
        if isinstance(e, sp.Piecewise):
            for val, cond in xs:
                if cond:
                    return val
            return math.nan
        if name_of(e) == "ExprCondPair":
            return (xs[0], xs[1])
        name = type(e).__name__
        rel = {"StrictLessThan": lambda a, b: a < b, "LessThan": lambda a, b: a <= b,
               "StrictGreaterThan": lambda a, b: a > b, "GreaterThan": lambda a, b: a >= b,
               "Equality": lambda a, b: a == b, "Unequality": lambda a, b: a != b}
        if name in rel:
            return rel[name](*xs)
        if isinstance(e, sp.And):
            return all(xs)
        if isinstance(e, sp.Or):
            return any(xs)
        if isinstance(e, sp.Not):
            return not xs[0]
        f = {"exp": math.exp, "log": math.log, "sin": math.sin, "cos": math.cos, "tan": math.tan,
             "asin": math.asin, "acos": math.acos, "atan": math.atan, "atan2": math.atan2,
             "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh, "Abs": abs, "log1p": math.log1p,
             "expm1": math.expm1, "sign": lambda x: float(np.sign(x)), "floor": math.floor,
             "ceiling": math.ceil}.get(name)
        op = getattr(type(e), "op", None) if name.startswith("ct_") else None
        if op is not None:
            f = {"floor": math.floor, "ceil": math.ceil, "round": round, "sign": lambda x: float(np.sign(x)),
                 "int": int, "stop_gradient": lambda x: x,
                 "softplus": lambda x: float(np.logaddexp(x, 0.0))}.get(op)
        if f is None:
            raise TypeError(name)
        return float(f(*xs))


class Evaluator:
    """Runs the IR of a function on SymPy values. `origin` maps each value computed by a
    statement to (the name it was assigned to, its location), the first such statement winning:
    it names CSE's subexpressions after the user's variables and points their comments back to
    source lines."""

    def __init__(self, fn: Function, shapes: dict, limits: Limits):
        self.fn, self.limits = fn, limits
        self.env: dict = {}
        self.origin: dict = {}
        self.inputs: dict = {}        # parameter -> its symbol, or object array of element symbols
        self.symbol_name: dict = {}   # element symbol -> the name its load gets in the code
        self.first_read: dict = {}    # parameter -> the location of the first statement reading it
        self.steps = 0
        sp = _sp()
        taken = set(fn.types) | set(fn.params)
        for p in fn.params:
            t = fn.types[p]
            shape = shapes[p]
            if not isinstance(t, Type):
                raise NotSymbolic(f"argument {p} is not a number or an array")
            if t.rank == 0:
                s = sp.Symbol(p, real=True) if t.kind == FLOAT else sp.Symbol(p, integer=True)
                self.env[p] = self.inputs[p] = s
                continue
            if t.kind != FLOAT:
                raise NotSymbolic(f"argument {p} is an array of {t.kind}s, which symbolic mode cannot "
                                  "index with data", hint="pass integer arrays to the ordinary mode")
            if int(np.prod(shape)) > 4 * limits.inputs:
                raise NotSymbolic(f"argument {p} has {int(np.prod(shape))} elements: symbolic mode is for "
                                  "small fixed-size vectors and matrices")
            a = np.empty(shape, dtype=object)
            spaced = {idx: "_".join([p] + [str(i) for i in idx]) for idx in np.ndindex(*shape)}
            plain = {idx: p + "".join(str(i) for i in idx) for idx in np.ndindex(*shape)}
            names = spaced if not set(spaced.values()) & taken or set(plain.values()) & taken else plain
            for idx in np.ndindex(*shape):
                name = _fresh(taken, names[idx])
                s = sp.Symbol(name, real=True)
                a[idx] = s
                self.symbol_name[s] = (name, p, idx)
            a.flags.writeable = False       # a write into an argument stops the pass
            self.env[p] = self.inputs[p] = a
        self.numeric = Numeric([x for v in self.inputs.values() for x in (v.ravel() if _is_array(v) else [v])])

    # --- values ---
    def value(self, v):
        if isinstance(v, Const):
            return number(v.value)
        if isinstance(v, Var):
            if v.name not in self.env:
                raise NotSymbolic(f"{v.name} is not defined on every path here")
            return self.env[v.name]
        if isinstance(v, tuple):
            return tuple(self.value(x) for x in v)
        raise NotSymbolic(f"cannot read {v!r}")

    def integer(self, v, loc) -> int | None:
        x = self.value(v)
        if x is None:
            return None
        if getattr(x, "is_Integer", False):
            return int(x)
        raise NotSymbolic("an index, size or loop bound depends on the data", loc,
                          hint="symbolic mode needs sizes and indices that are known numbers")

    # --- statements ---
    def run(self):
        body = self.fn.body
        self.block(body[:-1])
        ret = body[-1]
        if not isinstance(ret, Return):
            raise NotSymbolic("the function does not end in a return")
        return ret, [self.value(v) for v in ret.values]

    def block(self, stmts):
        for s in stmts:
            self.steps += 1
            if self.steps > self.limits.statements:
                raise NotSymbolic(f"the function runs more than {self.limits.statements} statements "
                                  "(after unrolling its loops)", s.loc)
            if isinstance(s, Assign):
                self.assign(s)
            elif isinstance(s, SetItem):
                self.setitem(s)
            elif isinstance(s, If):
                self.branch(s)
            elif isinstance(s, For):
                self.loop(s)
            elif isinstance(s, While):
                raise NotSymbolic("a while loop", s.loc, hint="symbolic mode unrolls for loops over "
                                  "known ranges; use the ordinary mode for data-dependent loops")
            elif isinstance(s, (Break, Continue)):
                raise NotSymbolic("break or continue", s.loc)
            elif isinstance(s, Return):
                raise NotSymbolic("a return inside a loop", s.loc)
            else:
                raise NotSymbolic(f"{type(s).__name__} statements", s.loc)

    def note_reads(self, s, args):
        for a in args:
            if isinstance(a, Var) and a.name in self.inputs and a.name not in self.first_read:
                self.first_read[a.name] = s.loc

    def assign(self, s: Assign):
        self.note_reads(s, s.args)
        try:
            out = self.compute(s)
        except NotSymbolic as e:
            raise NotSymbolic(e.reason, e.loc or s.loc, e.hint) from None
        except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError) as e:
            raise NotSymbolic(f"{s.op} could not be evaluated symbolically ({type(e).__name__}: {e})",
                              s.loc) from None
        except RecursionError:          # SymPy's automatic evaluation of a deeply nested expression
            raise NotSymbolic(f"{s.op} nests the expression too deeply for SymPy", s.loc) from None
        self.env[s.target] = out
        self.remember(s.target, out, s.loc)

    def remember(self, name, out, loc):
        """Record where a value was computed, and under which of the user's names (the elements
        of a user's small array `pc` are pc_0, pc_1...; compiler temporaries have no name)."""
        sp = _sp()
        if name is not None and (self.fn.names.is_temp(name) or name in self.fn.params):
            name = None
        if _is_array(out):
            if out.size <= 64:
                for idx in np.ndindex(*out.shape):
                    self.remember(None if name is None else "_".join([name] + [str(i) for i in idx]),
                                  out[idx], loc)
            return
        if not isinstance(out, sp.Basic) or out.is_Atom:
            return
        key = self.numeric.key(out)
        if key is None:
            return
        known = self.origin.get(key)
        if known is None or (known[0] is None and name is not None):
            self.origin[key] = (name, loc)

    def origin_of(self, expr):
        """(user's name or None, location) of the statement that computed expr's value, or Nones."""
        key = self.numeric.key(expr) if expr is not None else None
        return self.origin.get(key, (None, None)) if key is not None else (None, None)

    def compute(self, s: Assign):
        sp = _sp()
        op, p = s.op, dict(s.params)
        largest = 4 * self.limits.inputs
        for a in s.args:
            v = self.env.get(a.name) if isinstance(a, Var) else None
            if _is_array(v) and v.size > largest:
                raise NotSymbolic(f"an array of {v.size} elements (symbolic mode expands arrays of up to "
                                  f"{largest} into numbers)")
        if op in ("zeros", "ones", "empty", "full", "eye"):
            dims = [self.integer(v, s.loc) for v in (s.args[:-1] if op == "full" else s.args)]
            if int(np.prod(dims)) > largest:
                raise NotSymbolic(f"an array of {int(np.prod(dims))} elements (symbolic mode expands arrays "
                                  f"of up to {largest} into numbers)")
        rule = _scalar_rule(op)
        if rule is not None:
            args = [self.value(a) for a in s.args]
            if op == "alias" and _is_array(args[0]):
                return args[0]          # the same array, as in Python: a write through one name shows in both
            return elementwise(rule, *args)
        if op == "copy":
            x = self.value(s.args[0])
            return x.copy() if _is_array(x) else x
        if op == "getitem":
            x = self.value(s.args[0])
            if not _is_array(x):
                raise NotSymbolic("indexing a number")
            return x[self.index(p["index"], s.args[1:], s.loc)]
        if op == "shape":
            return tuple(sp.Integer(n) for n in self.array(s.args[0]).shape)
        if op == "dim":
            return sp.Integer(self.array(s.args[0]).shape[p["axis"]])
        if op == "size":
            return sp.Integer(self.array(s.args[0]).size)
        if op == "tuple_getitem":
            return self.value(s.args[0])[p["i"]]
        if op == "trip_count":
            a, b, c = (self.integer(v, s.loc) for v in s.args)
            return sp.Integer(len(range(a, b, c)))
        if op in ("zeros", "ones", "empty", "full"):
            dims = [self.integer(v, s.loc) for v in (s.args[:-1] if op == "full" else s.args)]
            fill = self.value(s.args[-1]) if op == "full" else sp.Integer(1 if op == "ones" else 0)
            return _objects(tuple(dims), fill)
        if op in ("zeros_like", "ones_like", "empty_like", "full_like"):
            like = self.value(s.args[0])
            shape = tuple(int(n) for n in like) if isinstance(like, tuple) else np.shape(like)
            fill = self.value(s.args[1]) if op == "full_like" else sp.Integer(1 if op == "ones_like" else 0)
            return _objects(shape, fill) if shape else fill
        if op == "eye":
            n = [self.integer(v, s.loc) for v in s.args]
            out = _objects((n[0], n[-1]), sp.Integer(0))
            for i in range(min(n[0], n[-1])):
                out[i, i] = sp.Integer(1)
            return out
        if op == "arange":
            vals = [self.integer(v, s.loc) for v in s.args]
            return np.array([sp.Integer(i) for i in range(*vals)] or [], dtype=object)
        if op == "array_literal":
            return np.vectorize(number, otypes=[object])(np.array(p["value"], dtype=object))
        if op == "stack":
            return np.stack([_to_array(self.value(a)) for a in s.args], axis=p.get("axis", 0))
        if op == "concatenate":
            return np.concatenate([self.array(a) for a in s.args], axis=p.get("axis", 0))
        if op == "expand_dims":
            return np.expand_dims(_to_array(self.value(s.args[0])), p["axis"])
        if op == "squeeze":
            return np.squeeze(self.array(s.args[0]), axis=p["axis"])
        if op == "reshape":
            dims = tuple(self.integer(v, s.loc) for v in s.args[1:])
            return self.array(s.args[0]).reshape(dims)
        if op == "ravel":
            return self.array(s.args[0]).ravel()
        if op == "transpose":
            return np.transpose(self.array(s.args[0]), p.get("axes"))
        if op == "flip":
            return np.flip(self.array(s.args[0]), axis=p.get("axis"))
        if op == "diag":
            return np.diag(self.array(s.args[0]))
        if op == "trace":
            return _total(np.diag(self.array(s.args[0])))
        if op in ("matmul", "dot", "outer"):
            a, b = (self.value(x) for x in s.args)
            if not (_is_array(a) and _is_array(b)):
                return a * b
            return {"matmul": np.matmul, "dot": np.dot, "outer": np.outer}[op](a, b)
        if op in ("sum", "mean", "prod", "max", "min"):
            return self.reduce(op, self.value(s.args[0]), p.get("axis"), p.get("keepdims", False))
        if op == "norm":
            x = self.array(s.args[0])
            return sp.sqrt(_total(np.vectorize(lambda e: e ** 2, otypes=[object])(x).ravel()))
        if op == "cumsum":
            x = self.array(s.args[0])
            axis = p.get("axis")
            return np.cumsum(x.ravel() if axis is None else x, axis=0 if axis is None else axis)
        if op == "clip":
            x, lo, hi = (self.value(a) for a in s.args)

            def clip(v, a=None, b=None):
                out = v
                if a is not None:
                    out = _select(sp.Le(v, a), a, out)
                if b is not None:
                    out = _select(sp.Ge(v, b), b, out)
                return out
            if lo is None:
                return elementwise(lambda v, b: clip(v, None, b), x, hi)
            if hi is None:
                return elementwise(lambda v, a: clip(v, a, None), x, lo)
            return elementwise(clip, x, lo, hi)
        raise NotSymbolic(f"{op} has no symbolic form here",
                          hint="custom derivative rules and adjoint helpers keep the ordinary mode")

    def array(self, v) -> np.ndarray:
        x = self.value(v)
        if not _is_array(x):
            raise NotSymbolic("expected an array")
        return x

    def reduce(self, op, x, axis, keepdims):
        sp = _sp()
        if not _is_array(x):
            return x
        if isinstance(axis, tuple):     # several axes: one at a time, the last first
            for k in reversed(axis):
                x = self.reduce(op, x, k, keepdims)
            return x
        if op in ("max", "min"):
            better = sp.Gt if op == "max" else sp.Lt

            def pick(a, b):
                return _select(better(b, a), b, a)
            f = np.frompyfunc(pick, 2, 1)
            out = f.reduce(x.ravel() if axis is None else x, axis=0 if axis is None else axis,
                           keepdims=keepdims and axis is not None)
        elif op == "prod":
            out = np.frompyfunc(lambda a, b: a * b, 2, 1).reduce(
                x.ravel() if axis is None else x, axis=0 if axis is None else axis,
                keepdims=keepdims and axis is not None)
        else:
            flat = x.ravel() if axis is None else x
            out = _sum_axis(flat, 0 if axis is None else axis, keepdims and axis is not None)
            if op == "mean":
                n = x.size if axis is None else x.shape[axis]
                out = elementwise(lambda e: e / n, out)
        if axis is None and keepdims:
            out = _to_array(out).reshape((1,) * x.ndim)
        return out

    def index(self, pattern, operands, loc) -> tuple:
        it = iter(operands)
        key = []
        for entry in pattern:
            kind = entry[0]
            if kind == "slice":
                parts = [self.integer(next(it), loc) if flag else None for flag in entry[1:]]
                key.append(slice(*parts))
            elif kind == "newaxis":
                key.append(None)
            else:
                v = self.value(next(it))
                if _is_array(v):
                    if not all(getattr(e, "is_Integer", False) for e in v.ravel()):
                        raise NotSymbolic("an integer-array index that depends on the data", loc)
                    key.append(np.vectorize(int, otypes=[np.int64])(v))
                else:
                    if not getattr(v, "is_Integer", False):
                        raise NotSymbolic("an index that depends on the data", loc,
                                          hint="symbolic mode reads elements at indices that are known numbers")
                    key.append(int(v))
        return tuple(key)

    def setitem(self, s: SetItem):
        self.note_reads(s, (Var(s.target),))
        target = self.value(Var(s.target))
        if not _is_array(target):
            raise NotSymbolic("writing into a number", s.loc)
        key = self.index(dict(s.params)["index"], s.index_args, s.loc)
        value = self.value(s.value)
        try:
            if s.op == "add":
                target[key] = elementwise(lambda a, b: _arith(a) + _arith(b), target[key], value)
            else:
                target[key] = value
        except ValueError as e:
            if not target.flags.writeable or "read-only" in str(e):
                raise NotSymbolic("a write into an argument", s.loc,
                                  hint="copy the argument first (x = x.copy())") from None
            raise NotSymbolic(f"an element write ({e})", s.loc) from None

    def loop(self, s: For):
        start, stop, step = (self.integer(v, s.loc) for v in (s.start, s.stop, s.step))
        for inner in walk(s.body):
            if isinstance(inner, (Break, Continue, Return)):
                raise NotSymbolic("break, continue or return in a loop", inner.loc)
        trips = range(start, stop, step)
        sp = _sp()
        for i in trips:
            self.env[s.var] = sp.Integer(i)
            self.block(s.body)
        if s.counter:
            self.env[s.counter] = sp.Integer(len(trips))

    def branch(self, s: If):
        sp = _sp()
        c = _boolean(self.value(s.cond))
        if c is sp.true or c is sp.false:
            self.block(s.body if c is sp.true else s.orelse)
            return
        for inner in walk(s.body + s.orelse):
            if isinstance(inner, SetItem):
                raise NotSymbolic("an element write inside an if on the data", inner.loc,
                                  hint="compute both values and pick with np.where")
            if isinstance(inner, (Break, Continue, Return)):
                raise NotSymbolic("break, continue or return inside an if on the data", inner.loc)
        before = dict(self.env)
        self.block(s.body)
        then_env, self.env = self.env, dict(before)
        self.block(s.orelse)
        else_env = self.env
        merged = dict(before)
        for name in sorted(set(then_env) | set(else_env)):
            if name not in then_env or name not in else_env:
                merged.pop(name, None)          # defined on one path only: not readable after
                continue
            a, b = then_env[name], else_env[name]
            if a is b:
                merged[name] = a
            elif isinstance(a, tuple) or isinstance(b, tuple):
                if a != b:
                    raise NotSymbolic(f"{name} has different shapes in the two branches", s.loc)
                merged[name] = a
            elif _is_array(a) or _is_array(b):
                if np.shape(a) != np.shape(b):
                    raise NotSymbolic(f"{name} has different shapes in the two branches", s.loc)
                merged[name] = elementwise(lambda x, y: _select(c, x, y), a, b)
            else:
                merged[name] = _select(c, a, b)
            if merged[name] is not before.get(name):
                self.remember(name, merged[name], s.loc)
        self.env = merged


def _total(items):
    sp = _sp()
    items = list(items)
    return sp.Add(*items) if items else sp.Integer(0)


def _sum_axis(x: np.ndarray, axis: int, keepdims: bool):
    moved = np.moveaxis(x, axis, 0)
    out = np.empty(moved.shape[1:], dtype=object)
    for idx in np.ndindex(*out.shape):
        out[idx] = _total(moved[(slice(None),) + idx])
    if keepdims:
        out = np.expand_dims(out, axis)
    return out[()] if out.ndim == 0 else out


def _fresh(taken: set, base: str) -> str:
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


# --- derivatives -----------------------------------------------------------------------------

class Differentiator:
    """d expr / d x by the chain rule over the expression graph, memoized per (node, x), so a
    subexpression shared by several outputs (or used twice in one) is differentiated once."""

    def __init__(self):
        self.memo: dict = {}

    def __call__(self, expr, x):
        key = (expr, x)
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = self.rule(expr, x)
        return hit

    def rule(self, e, x):
        sp = _sp()
        if e == x:
            return sp.Integer(1)
        if e.is_Atom or x not in e.free_symbols:
            return sp.Integer(0)
        if e.is_Add:
            return sp.Add(*[self(a, x) for a in e.args])
        if e.is_Mul:
            args = e.args
            terms = []
            for i, a in enumerate(args):
                d = self(a, x)
                if d != 0:
                    terms.append(sp.Mul(*(args[:i] + (d,) + args[i + 1:])))
            return sp.Add(*terms)
        if e.is_Pow:
            b, ex = e.args
            db, dex = self(b, x), self(ex, x)
            out = sp.Integer(0)
            if db != 0:
                out += ex * b ** (ex - 1) * db
            if dex != 0:
                out += e * sp.log(b) * dex
            return out
        if isinstance(e, sp.Piecewise):
            return sp.Piecewise(*[(self(val, x), cond) for val, cond in e.args])
        if isinstance(e, sp.Abs):
            return opaque("sign")(e.args[0]) * self(e.args[0], x)
        if isinstance(e, sp.Function):
            total = sp.Integer(0)
            for i, a in enumerate(e.args):
                d = self(a, x)
                if d != 0:
                    total += e.fdiff(i + 1) * d
            return total
        raise NotSymbolic(f"SymPy cannot differentiate {type(e).__name__} here")


def graph_size(exprs, limit: int) -> int:
    """The number of distinct subexpressions (stops counting past `limit`)."""
    seen: set = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        if e in seen or not hasattr(e, "args"):
            continue
        seen.add(e)
        if len(seen) > limit:
            break
        stack.extend(e.args)
    return len(seen)


# --- formula trees from SymPy expressions ----------------------------------------------------

_FUNCTIONS = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin",
              "acos": "arccos", "atan": "arctan", "atan2": "arctan2", "sinh": "sinh", "cosh": "cosh",
              "tanh": "tanh", "Abs": "abs", "log1p": "log1p", "expm1": "expm1", "sign": "sign",
              "floor": "floor", "ceiling": "ceil"}
_RELATIONS = {"StrictLessThan": "lt", "LessThan": "le", "StrictGreaterThan": "gt",
              "GreaterThan": "ge", "Equality": "eq", "Unequality": "ne"}


class Trees:
    """SymPy expressions as formula trees over IR operands (rules/formula.py)."""

    def __init__(self, operand_of):
        self.operand_of = operand_of      # SymPy symbol -> IR Value

    def tree(self, expr) -> tuple[tuple, list]:
        self.args: list = []
        self.index: dict = {}
        t = self.node(expr)
        return t, self.args

    def arg(self, value) -> tuple:
        key = value.name if isinstance(value, Var) else ("const", value.value)
        if isinstance(value, Const):
            return ("const", value.value)
        if key not in self.index:
            self.index[key] = len(self.args)
            self.args.append(value)
        return ("arg", self.index[key])

    def node(self, e):
        sp = _sp()
        if e.is_Symbol:
            return self.arg(self.operand_of(e))
        if e is sp.true or e is sp.false:
            return ("const", bool(e))
        if e.is_Number or e.is_NumberSymbol:
            if e.is_Integer:
                return ("const", float(int(e)))
            return ("const", float(e))
        if e.is_Add:
            terms = sorted(e.args, key=lambda t: _is_negative(t))
            acc = None
            for t in terms:
                if _is_negative(t):
                    v = self.node(-t)
                    acc = ("neg", v) if acc is None else ("sub", acc, v)
                else:
                    v = self.node(t)
                    acc = v if acc is None else ("add", acc, v)
            return acc
        if e.is_Mul:
            coeff, factors = e.as_coeff_mul()
            if coeff < 0:
                return ("neg", self.node(-e))
            num, den = [], []
            for f in factors:
                if f.is_Pow and f.exp.is_Number and f.exp < 0:
                    den.append(sp.Pow(f.base, -f.exp))
                else:
                    num.append(f)
            acc = ("const", float(coeff)) if coeff != 1 or not num else None
            for f in num:
                v = self.node(f)
                acc = v if acc is None else ("mul", acc, v)
            if den:
                d = None
                for f in den:
                    v = self.node(f)
                    d = v if d is None else ("mul", d, v)
                acc = ("truediv", acc, d)
            return acc
        if e.is_Pow:
            b, ex = e.args
            if ex.is_Number:
                if ex < 0:
                    return ("truediv", ("const", 1.0), self.node(sp.Pow(b, -ex)))
                if ex.is_Integer:
                    return ("pow", self.node(b), ("const", int(ex)))
                if ex.is_Rational and ex.q == 2:
                    root = ("sqrt", self.node(b))
                    return root if ex.p == 1 else ("pow", root, ("const", int(ex.p)))
                return ("pow", self.node(b), ("const", float(ex)))
            return ("pow", self.node(b), self.node(ex))
        if isinstance(e, sp.Piecewise):
            pieces = list(e.args)
            tail = self.node(pieces[-1][0]) if pieces[-1][1] is sp.true else ("const", math.nan)
            if pieces[-1][1] is sp.true:
                pieces = pieces[:-1]
            for val, cond in reversed(pieces):
                tail = ("where", self.node(cond), self.node(val), tail)
            return tail
        name = type(e).__name__
        if name in _RELATIONS:
            return (_RELATIONS[name], self.node(e.args[0]), self.node(e.args[1]))
        if isinstance(e, (sp.And, sp.Or)):
            op = "logical_and" if isinstance(e, sp.And) else "logical_or"
            acc = self.node(e.args[0])
            for a in e.args[1:]:
                acc = (op, acc, self.node(a))
            return acc
        if isinstance(e, sp.Not):
            return ("not", self.node(e.args[0]))
        op = getattr(type(e), "op", None) if name.startswith("ct_") else _FUNCTIONS.get(name)
        if op == "stop_gradient":
            return self.node(e.args[0])
        if op is not None:
            return (op,) + tuple(self.node(a) for a in e.args)
        if name == "log" and len(e.args) == 2:
            return ("truediv", ("log", self.node(e.args[0])), ("log", self.node(e.args[1])))
        raise NotSymbolic(f"the derivative needs {name}, which cotangent cannot print")


def _is_negative(t) -> bool:
    c, _ = t.as_coeff_mul()
    return bool(c.is_Number and c < 0)


def expand(fn: Function) -> Function:
    """The function with every formula as three-address statements (one primitive each)."""
    out = copy.copy(fn)
    out.types = dict(fn.types)
    names = fn.names
    body = []
    for s in fn.body:
        if not (isinstance(s, Assign) and s.op == "formula"):
            body.append(s)
            continue
        p = dict(s.params)
        stmts: list = []

        def emit(tree, target=None):
            head = tree[0]
            if head == "arg":
                return s.args[tree[1]]
            if head == "const":
                return Const(tree[1])
            kids = [emit(k) for k in tree[1:]]
            types = [out.types[k.name] if isinstance(k, Var) else _const_type(k.value) for k in kids]
            name = target or names.fresh("t")
            out.types[name] = table.get(head).infer(types, {})
            stmts.append(Assign(name, head, tuple(kids), (), s.loc, s.role))
            return Var(name)
        result = emit(p["tree"], s.target)
        if not (isinstance(result, Var) and result.name == s.target):
            stmts.append(Assign(s.target, "alias", (result,), (), s.loc, s.role))
        body.extend(stmts)
    out.body = body
    return out


def _const_type(v) -> Type:
    if isinstance(v, bool):
        return Type(BOOL, 0)
    return Type(INT, 0) if isinstance(v, int) else Type(FLOAT, 0)


# --- the pass --------------------------------------------------------------------------------

@dataclass
class Report:
    """What symbolic mode made: the assignments and outputs after CSE, and their size."""
    assignments: list = field(default_factory=list)   # (SymPy symbol, expression), in print order
    outputs: list = field(default_factory=list)       # the value's and the derivatives' expressions
    operations: int = 0                               # sympy.count_ops over all of them
    accumulation: str = ""                            # "reverse" or "forward" over the program


class Program:
    """A straight-line program over SymPy symbols: the value, as CSE writes it, then the
    assignments that derivatives add (adjoints, tangents). `meta` says what each symbol is:
    ("primal", None), ("adjoint", (primal symbol, output index)), ("tangent", (primal symbol,
    input index)); `full` holds each primal symbol's expression in the inputs."""

    def __init__(self, taken: set):
        self.steps: list = []
        self.meta: dict = {}
        self.full: dict = {}
        self.taken = taken
        self.counters: dict = {}
        self.d = Differentiator()
        self.local: dict = {}

    def copy(self) -> "Program":
        """Another program with these steps, to extend another way (the value's part is shared)."""
        other = copy.copy(self)
        other.steps, other.meta = list(self.steps), dict(self.meta)
        other.taken, other.counters = set(self.taken), dict(self.counters)
        return other

    def symbol(self, prefix: str):
        sp = _sp()
        while True:
            k = self.counters.get(prefix, 0)
            self.counters[prefix] = k + 1
            name = f"{prefix}{k}"
            if name not in self.taken:
                self.taken.add(name)
                return sp.Symbol(name, real=True)

    def add(self, expr, meta) -> object:
        """A symbol for expr (expr itself when it is a symbol or a number)."""
        if expr.is_Atom:
            return expr
        sym = self.symbol({"primal": "_v", "adjoint": "_a", "tangent": "_d"}[meta[0]])
        self.steps.append((sym, expr))
        self.meta[sym] = meta
        return sym

    def partials(self, expr, known: set) -> list:
        """(symbol, d expr / d symbol) for the program symbols and inputs expr reads, in name order."""
        sp = _sp()
        out = []
        for c in sorted(expr.free_symbols & known, key=sp.default_sort_key):
            p = self.d(expr, c)
            if p != 0:
                out.append((c, p))
        return out


def primal_program(outs: list, inputs: set) -> tuple[Program, list]:
    """The value as a program: CSE over the output expressions."""
    sp = _sp()
    prog = Program({str(s) for s in inputs})
    gen = iter(lambda: prog.symbol("_v"), None)
    replacements, reduced = sp.cse(outs, symbols=gen, order="none")
    for sym, e in replacements:
        prog.steps.append((sym, e))
        prog.meta[sym] = ("primal", None)
        prog.full[sym] = e.xreplace(prog.full)
    return prog, list(reduced)


def reverse_entries(prog: Program, outs: list, ins: list) -> dict:
    """d out_i / d in_j by reverse accumulation over the value's program, one sweep per output:
    each adjoint is the sum of its uses' adjoints times the local partials, and becomes a symbol."""
    sp = _sp()
    steps = [(s, e) for s, e in prog.steps if prog.meta[s][0] == "primal"]
    known = {s for s, _ in steps} | set(ins)
    local = {s: prog.partials(e, known) for s, e in steps}
    entries = {}
    for i, out in enumerate(outs):
        contrib: dict = {}
        for c, p in prog.partials(out, known):
            contrib.setdefault(c, []).append(p)
        for s, _ in reversed(steps):
            if s not in contrib:
                continue
            a = sp.Add(*contrib.pop(s))
            if a == 0:
                continue
            a = prog.add(a, ("adjoint", (s, i)))
            for c, p in local[s]:
                contrib.setdefault(c, []).append(a * p)
        for j, x in enumerate(ins):
            entries[i, j] = sp.Add(*contrib.get(x, []))
    return entries


def forward_entries(prog: Program, outs: list, ins: list, over_adjoints: bool = False) -> dict:
    """d out_i / d in_j by forward accumulation over the program, one sweep per input: over the
    value's steps, or with `over_adjoints` over the adjoints too (forward over reverse)."""
    sp = _sp()
    steps = [(s, e) for s, e in prog.steps if over_adjoints or prog.meta[s][0] == "primal"]
    known = {s for s, _ in steps} | set(ins)
    local = {s: prog.partials(e, known) for s, e in steps}
    out_partials = [prog.partials(o, known) for o in outs]
    entries = {}
    for j, x in enumerate(ins):
        tangent = {x: sp.Integer(1)}
        for s, _ in steps:
            t = sp.Add(*[p * tangent[c] for c, p in local[s] if c in tangent])
            if t != 0:
                tangent[s] = prog.add(t, ("tangent", (s, j)))
        for i in range(len(outs)):
            entries[i, j] = sp.Add(*[p * tangent[c] for c, p in out_partials[i] if c in tangent])
    return entries


def derivatives(kind: str, accumulation: str, prog: Program, values: list, ins: list) -> dict:
    """The derivative entries, added to the program by one way of accumulating."""
    if kind == "hessian":               # forward over reverse: the gradient's entries, then their tangents
        grads = reverse_entries(prog, values, ins)
        g = [grads[0, j] for j in range(len(ins))]
        tangents = forward_entries(prog, g, ins, over_adjoints=True)
        return {(j, k): tangents[j, k] for j in range(len(ins)) for k in range(j, len(ins))}
    if accumulation == "reverse":
        return reverse_entries(prog, values, ins)
    return forward_entries(prog, values, ins)


def cse_all(prog: Program, values: list, entries: dict, inputs: set):
    """One CSE over the whole program, the value and every entry: (assignments in print order,
    reduced values, reduced entries, operation count)."""
    sp = _sp()
    keys = list(entries)
    exprs = [e for _, e in prog.steps] + values + [entries[k] for k in keys]
    gen = iter(lambda: prog.symbol("_c"), None)
    replacements, reduced = sp.cse(exprs, symbols=gen, order="none")
    n = len(prog.steps)
    defs = {s: e for s, e in replacements}
    defs.update({s: reduced[k] for k, (s, _) in enumerate(prog.steps)})
    vals = list(reduced[n:n + len(values)])
    ents = dict(zip(keys, reduced[n + len(values):]))
    ops = sum(sp.count_ops(e) for e in defs.values()) + sum(sp.count_ops(e) for e in vals) \
        + sum(sp.count_ops(e) for e in ents.values())
    return defs, vals, ents, int(ops)


def symbolic_function(fn: Function, mode: Mode, wrt: list, returned, suffix: str) -> Function:
    """The symbolic transformation of a lowered function, or NotSymbolic. SymPy runs with
    automatic distribution off, so 0.5 * (a + b) stays one product instead of two (fewer
    operations, and the order of operations the user wrote)."""
    from sympy.core.parameters import distribute
    with distribute(False):
        return _symbolic_function(fn, mode, wrt, returned, suffix)


def _symbolic_function(fn: Function, mode: Mode, wrt: list, returned, suffix: str) -> Function:
    sp = _sp()
    limits = LIMITS[mode.how]
    shapes = dict(zip(fn.params, mode.shapes))
    ev = Evaluator(fn, shapes, limits)
    ret, values = ev.run()
    if len(values) != 1:
        raise NotSymbolic("the function returns a tuple", ret.loc)
    value = values[0]
    if isinstance(value, tuple) or value is None:
        raise NotSymbolic("the function returns a shape", ret.loc)
    out_shape = np.shape(value)
    outs = [_arith(e) for e in (value.ravel() if _is_array(value) else [value])]
    for e in outs:
        if not isinstance(e, sp.Expr):
            raise NotSymbolic("the output is not a number", ret.loc)
    ins = []
    for w in wrt:
        x = ev.inputs[w]
        ins.append([x] if not _is_array(x) else list(x.ravel()))
    flat_ins = [x for group in ins for x in group]
    if len(flat_ins) > limits.inputs:
        raise NotSymbolic(f"{len(flat_ins)} differentiated inputs (the limit is {limits.inputs})")
    n_entries = len(outs) * len(flat_ins) if mode.kind != "hessian" else len(flat_ins) * (len(flat_ins) + 1) // 2
    if n_entries > limits.entries:
        raise NotSymbolic(f"{n_entries} derivative entries (the limit is {limits.entries})")
    if graph_size(outs, limits.nodes) > limits.nodes:
        raise NotSymbolic(f"the output's expression has more than {limits.nodes} distinct subexpressions",
                          hint="symbolic mode is for small scalar kernels; use the ordinary mode")
    inputs = {s for x in ev.inputs.values() for s in (x.ravel() if _is_array(x) else [x])}
    primal, vals = primal_program(outs, inputs)
    # reverse accumulation (one sweep per output) and forward (one per input): the one whose
    # program is smaller goes to CSE; a gradient is reverse, a Hessian forward over reverse
    ways = ["reverse"] if mode.kind in ("grad", "hessian") else (
        ["forward", "reverse"] if mode.kind == "jacfwd" else ["reverse", "forward"])
    best = None
    for way in ways:
        prog = primal.copy()
        entries = derivatives(mode.kind, way, prog, vals, flat_ins)
        size = graph_size([e for _, e in prog.steps] + list(entries.values()), limits.derivatives)
        if best is None or size < best[0]:
            best = (size, prog, entries, way)
    size, prog, entries, way = best
    if size > limits.derivatives:
        raise NotSymbolic(f"the derivatives have more than {limits.derivatives} distinct subexpressions",
                          hint="symbolic mode is for small scalar kernels; use the ordinary mode")
    defs, vals, ents, ops = cse_all(prog, vals, entries, inputs)
    return _Printer(fn, mode, ev, wrt, ins, out_shape, prog, defs, vals, ents, ops, way, ret,
                    returned, suffix).function()


class _Printer:
    """Builds the IR function from the CSE'd program: each symbol is assigned right before its
    first use (what the value needs first, then each derivative entry in order), element loads
    where they are first read, the value, then the derivative blocks."""

    def __init__(self, fn, mode, ev, wrt, ins, out_shape, prog, defs, vals, ents, ops, way, ret,
                 returned, suffix):
        self.fn, self.mode, self.ev, self.wrt, self.ins = fn, mode, ev, wrt, ins
        self.out_shape, self.prog, self.defs, self.vals, self.ents = out_shape, prog, defs, vals, ents
        self.ops, self.way, self.ret, self.returned, self.suffix = ops, way, ret, returned, suffix
        self.n_out = len(vals)
        self.names = NameAllocator(fn.names.avoid)      # temporaries numbered from t1 again
        for name in list(fn.params) + list(HELPERS) + [n for n, _, _ in ev.symbol_name.values()]:
            self.names.reserve(name)
        self.types = {p: fn.types[p] for p in fn.params}
        self.body: list = []
        self.var: dict = {}               # SymPy symbol -> IR Value
        self.order: list = []             # (symbol, expression), as printed
        self.primal_only: set = set()     # symbols whose values the function computes (not derivatives)
        self.loc_of: dict = {}            # name -> (statement index, location)
        self.deriv_role = "tangent" if way == "forward" and mode.kind != "hessian" else "adjoint"
        # a program symbol whose definition became one of CSE's symbols lends that symbol its name
        self.alias_of = {}
        for sym, d in defs.items():
            if d.is_Symbol and d in defs and prog.meta.get(d) is None and sym in prog.meta:
                self.alias_of.setdefault(d, sym)
        self.rank = {}
        for sym, _ in prog.steps:             # program order, each symbol after what it reads
            stack = [(sym, False)]
            while stack:
                x, done = stack.pop()
                if done:
                    self.rank.setdefault(x, len(self.rank))
                    continue
                if x in self.rank or x not in defs:
                    continue
                stack.append((x, True))
                stack.extend((c, False) for c in sorted(defs[x].free_symbols, key=lambda c: c.name, reverse=True)
                             if c in defs and c not in self.rank)
        for sym in defs:
            self.rank.setdefault(sym, len(self.rank))

    # --- names and locations ---
    def user_name(self, name) -> str | None:
        if name and not self.fn.names.is_temp(name) and name not in self.fn.params and name.isidentifier() \
                and self.names._free(name):
            return name
        return None

    def naming(self, sym, context_loc, context_role):
        """(name, location, role) of the statement assigning `sym`: a value of the function is
        named and located after the user's statement that computed it (found by its expression),
        an adjoint or tangent after its value (r2_bar: the adjoint of r2)."""
        own = sym
        sym = self.alias_of.get(sym, sym)
        meta = self.prog.meta.get(sym)
        if meta is None or meta[0] == "primal":
            if own not in self.primal_only:
                return self.names.fresh("t"), context_loc, context_role
            name, loc = self.ev.origin.get(self.ev.numeric.key(own), (None, None))
            name = self.user_name(name)
            if name:
                self.names.reserve(name)
            return name or self.names.fresh("t"), loc or self.latest_loc(own) or context_loc, "primal"
        what, (primal, index) = meta
        name, loc = self.ev.origin_of(self.prog.full.get(primal))
        base = name if name and not self.fn.names.is_temp(name) and name not in self.fn.params else None
        loc = loc or context_loc
        if base:
            if what == "adjoint":
                base += "_bar" if self.n_out == 1 or self.mode.kind == "hessian" else f"_bar{index}"
            else:
                base += f"_dot_{self.input_name(index)}"
            if self.names._free(base):
                self.names.reserve(base)
                return base, loc, self.deriv_role
        return self.names.fresh("t"), loc, self.deriv_role

    def latest_loc(self, sym):
        """The location of the last assigned of the values `sym` reads: a subexpression no
        statement of the user computed points at the line its inputs come from."""
        d = self.defs.get(sym)
        best = None
        for s in (d.free_symbols if d is not None else ()):
            v = self.var.get(s)
            hit = self.loc_of.get(v.name) if isinstance(v, Var) else None
            if hit is not None and (best is None or hit[0] > best[0]):
                best = hit
        return best[1] if best else None

    def input_name(self, j) -> str:
        k = 0
        for group, w in zip(self.ins, self.wrt):
            if j < k + len(group):
                s = group[j - k]
                return self.ev.symbol_name[s][0] if s in self.ev.symbol_name else w
            k += len(group)
        return str(j)

    # --- operands ---
    def operand(self, sym):
        v = self.var.get(sym)
        if v is None:
            raise NotSymbolic(f"internal: no value for {sym}")
        return v

    def load(self, sym):
        """`p_0 = p[0]`: an argument's element, read once, where it is first needed."""
        name, param, idx = self.ev.symbol_name[sym]
        self.types[name] = Type(FLOAT, 0)
        pattern = tuple(("int",) for _ in idx)
        loc = self.ev.first_read.get(param)
        if loc is not None:
            self.loc_of[name] = (len(self.body), loc)
        self.body.append(Assign(name, "getitem", (Var(param),) + tuple(Const(i) for i in idx),
                                (("index", pattern),), loc, "primal"))
        self.var[sym] = Var(name)

    def rank_of(self, s):
        """Symbols an expression reads are assigned in this order: defined ones in program order
        (CSE's subexpressions just before their first user), argument elements last (read just
        before the statement that needs them)."""
        if s in self.rank:
            return (0, self.rank[s], "")
        return (1, 0, s.name)

    def need(self, expr, loc, role):
        """Assign every symbol `expr` reads that is not assigned yet (its own needs first)."""
        stack = [(expr, None)]
        while stack:
            e, ready = stack.pop()
            if ready is not None:
                self.assign(ready, loc, role)
                continue
            missing = [s for s in e.free_symbols if s not in self.var]
            for s in sorted(missing, key=self.rank_of, reverse=True):
                if s in self.defs:
                    stack.append((None, s))
                    stack.append((self.defs[s], None))
                elif s in self.ev.symbol_name:
                    stack.append((None, s))
                elif s.name in self.fn.params:
                    self.var[s] = Var(s.name)
                else:
                    raise NotSymbolic(f"internal: {s} has no definition")

    def assign(self, sym, loc, role):
        if sym in self.var:
            return
        if sym in self.ev.symbol_name:
            self.load(sym)
            return
        d = self.defs[sym]
        self.ev.numeric.define(sym, d)
        if sym not in self.prog.meta or self.prog.meta[sym][0] == "primal":
            if all(s in self.ev.symbol_name or s.name in self.fn.params or s in self.primal_only
                   for s in d.free_symbols):
                self.primal_only.add(sym)         # a value of the function, not of a derivative
        if d.is_Symbol and d in self.var:          # another name for a value assigned already
            self.var[sym] = self.var[d]
            return
        name, own_loc, own_role = self.naming(sym, loc, role)
        self.var[sym] = self.formula(d, name, own_loc, own_role)
        self.order.append((sym, d))

    def formula(self, expr, target: str, loc, role: str):
        """`target = <expr>` (a copy when expr is one name or number); the Var assigned."""
        trees = Trees(self.operand)
        tree, args = trees.tree(expr)
        kind = BOOL if _is_condition(expr) else FLOAT
        self.types[target] = Type(kind, 0)
        if loc is not None:
            self.loc_of[target] = (len(self.body), loc)
        if tree[0] in ("arg", "const"):
            value = args[tree[1]] if tree[0] == "arg" else Const(tree[1])
            self.body.append(Assign(target, "alias", (value,), (), loc, role))
        else:
            self.body.append(Assign(target, "formula", tuple(args), (("kind", kind), ("tree", tree)), loc, role))
        return Var(target)

    def value_of(self, expr, loc, role):
        """A Value for an output entry: a name or number as it is, else a new statement."""
        sp = _sp()
        self.need(expr, loc, role)
        if expr is sp.true or expr is sp.false:
            return Const(bool(expr))
        if expr.is_Number:
            return Const(float(expr))
        if expr.is_Symbol:
            return self.operand(expr)
        return self.formula(expr, self.names.fresh("t"), loc, role)

    # --- the function ---
    def function(self) -> Function:
        ret_loc = self.ret.loc
        value = self.output_value(ret_loc)
        blocks = self.derivative_blocks(ret_loc)
        if self.mode.kind == "hessian":
            self.body.append(Return((tuple(blocks),), ret_loc, role=self.deriv_role))
        else:
            self.body.append(Return(((value,), tuple(blocks)), ret_loc, role=self.deriv_role))
        out = Function(f"{self.fn.name}_{self.suffix}", list(self.fn.params), self.body, self.fn.filename,
                       self.types)
        out.names = self.names
        out.symbolic = Report(list(self.order), list(self.vals) + list(self.ents.values()), self.ops, self.way)
        return expand(out) if self.mode.cuda else out

    def output_value(self, loc):
        ret_name = self.returned.name if isinstance(self.returned, Var) else None
        base = self.user_name(ret_name) or "value"
        if not self.out_shape:
            e = self.vals[0]
            self.need(e, loc, "primal")
            if e.is_Symbol or e.is_Number:
                return self.value_of(e, loc, "primal")
            return self.formula(e, self.names.fresh(base, temp=False), loc, "primal")
        name = self.names.fresh(base, temp=False)
        for e in self.vals:                 # what the value reads, before the array is made
            self.need(e, loc, "primal")
        self.zeros(name, self.out_shape, loc, "primal")
        for flat, idx in enumerate(np.ndindex(*self.out_shape)):
            e = self.vals[flat]
            if e == 0:
                continue
            v = self.value_of(e, loc, "primal")
            self.setitem(name, idx, v, loc, "primal")
        return Var(name)

    def zeros(self, name, shape, loc, role):
        self.types[name] = Type(FLOAT, len(shape))
        self.body.append(Assign(name, "zeros", tuple(Const(int(n)) for n in shape), (("dtype", None),), loc, role))

    def setitem(self, name, idx, v, loc, role):
        self.body.append(SetItem(name, tuple(Const(int(i)) for i in idx), (("index", (("int",),) * len(idx)),),
                                 v, loc, role, op="add" if self.mode.add else None))

    def derivative_blocks(self, loc) -> list:
        """One block per differentiated leaf (per pair of leaves for a Hessian), in the layout the
        API's drivers use: jacrev (out.size, in.size), jacfwd (in.size, out.size), grad the leaf's
        shape, jacobian (per sample) out.shape + in.shape, hessian (size_s, size_r) per (s, r)."""
        derivs = self.ents
        offsets, k = [], 0
        for group in self.ins:
            offsets.append(k)
            k += len(group)
        kind = self.mode.kind
        leaf_shapes = [np.shape(self.ev.inputs[w]) for w in self.wrt]
        specs = []
        if kind == "hessian":
            m = len(self.wrt)
            for s in range(m):
                for r in range(m):
                    def entry(idx, s=s, r=r):
                        a, b = offsets[s] + idx[0], offsets[r] + idx[1]
                        return derivs[min(a, b), max(a, b)]
                    specs.append((f"hess_{self.wrt[r]}_{self.wrt[s]}", (len(self.ins[s]), len(self.ins[r])), entry))
        for j, w in enumerate(self.wrt if kind != "hessian" else []):
            n = len(self.ins[j])
            if kind == "grad":
                shape = leaf_shapes[j]

                def entry(idx, j=j, shape=shape):
                    return derivs[0, offsets[j] + (int(np.ravel_multi_index(idx, shape)) if shape else 0)]
                specs.append((f"{w}_bar", shape, entry))
            elif kind == "jacobian":
                nd = len(self.out_shape)

                def entry(idx, j=j, nd=nd):
                    o = int(np.ravel_multi_index(idx[:nd], self.out_shape)) if nd else 0
                    i = int(np.ravel_multi_index(idx[nd:], leaf_shapes[j])) if len(idx) > nd else 0
                    return derivs[o, offsets[j] + i]
                specs.append((f"jac_{w}", tuple(self.out_shape) + tuple(leaf_shapes[j]), entry))
            elif kind == "jacrev":
                specs.append((f"jac_{w}", (self.n_out, n), lambda idx, j=j: derivs[idx[0], offsets[j] + idx[1]]))
            else:                                       # jacfwd: one row per input direction
                specs.append((f"jac_{w}", (n, self.n_out), lambda idx, j=j: derivs[idx[1], offsets[j] + idx[0]]))
        return [self.block(name, shape, entry, loc, self.deriv_role) for name, shape, entry in specs]

    def block(self, base: str, shape: tuple, entry, loc, role):
        if not shape:                       # a number: returned as it is, named after the leaf
            e = entry(())
            self.need(e, loc, role)
            if not e.is_Symbol:
                if e.is_Number or e is _sp().true or e is _sp().false:
                    return self.value_of(e, loc, role)
                return self.formula(e, self.names.fresh(base, temp=False), loc, role)
            v = self.operand(e)
            if self.mode.per_sample:
                return v
            name = self.names.fresh(base, temp=False)
            self.types[name] = Type(FLOAT, 0)
            self.body.append(Assign(name, "alias", (v,), (), loc, role))
            return Var(name)
        name = self.names.fresh(base, temp=False)
        for idx in np.ndindex(*shape):       # what the entries read, before the block is made
            self.need(entry(idx), loc, role)
        self.zeros(name, shape, loc, role)
        for idx in np.ndindex(*shape):
            e = entry(idx)
            if e == 0:
                continue
            v = self.value_of(e, loc, role)
            self.setitem(name, idx, v, loc, role)
        return Var(name)


def symbolic_ir(pyfunc, specs, mode: str, wrt_args: tuple, has_aux: bool) -> tuple:
    """specialize.transform_ir for a symbolic mode string: (lowered function, symbolic function,
    None), or under "auto" the ordinary transformation where symbolic mode does not apply (with
    the reason in its docstring)."""
    from .. import specialize as sz
    from ..frontend.lower import lower
    m = Mode.parse(mode)
    ordinary = {"jacobian": None}.get(m.kind, m.kind)
    fn, result = lower(pyfunc, specs)
    outs = result if isinstance(result, tuple) else (result,)
    leaf_names = sz._leaf_names(fn, specs)
    wrt = [n for i in wrt_args for n, t in leaf_names[i] if t.kind == FLOAT]
    _check_output(fn, result, m, has_aux)
    try:
        if has_aux:
            raise NotSymbolic("has_aux=True")
        suffix = {"jacobian": "jacobian"}.get(m.kind, m.kind)
        out_fn = symbolic_function(fn, m, wrt, outs[0].value, suffix)
    except NotSymbolic as e:
        # a function with loops or branches keeps them, its straight-line scalar code made
        # symbolic (transforms/regions.py); other reasons are an error under symbolic=True. (The
        # CUDA printer takes one primitive per statement: no formulas there.)
        regions = ordinary is not None and not has_aux and not m.cuda and _has_structure(fn)
        if ordinary is None or (m.how == "symbolic" and not regions):
            raise CompileError(f"symbolic mode cannot take {fn.name}: {e.reason}", e.loc,
                               hint=e.hint or "pass symbolic='auto' to use the ordinary mode where "
                                              "symbolic mode does not apply") from None
        fn2, out_fn, driver = sz.transform_ir(pyfunc, specs, ordinary, wrt_args, has_aux, regions=regions)
        where = f" at {e.loc.short()}" if e.loc is not None else ""
        how = "reverse" if ordinary in ("grad", "jacrev") else "forward"
        if regions:
            from .regions import where_text
            locs = getattr(fn2, "regions", [])
            made = (f"the scalar statements at {where_text(locs)} made symbolic (one expression each, "
                    f"its derivative by SymPy)") if locs else "no run of scalar statements to make symbolic"
            out_fn.doc = (out_fn.doc + f" Not symbolic as a whole ({e.reason}{where}): {how} mode, "
                          f"{made}.").strip()
        else:
            out_fn.doc = (out_fn.doc + f" Not symbolic ({e.reason}{where}): {how} mode.").strip()
        if ordinary == "grad" and not m.per_sample:
            from .tapes import group_tapes
            out_fn = group_tapes(out_fn)
        return fn2, out_fn, driver
    what = {"grad": "value and gradient", "jacfwd": "value and Jacobian", "jacrev": "value and Jacobian",
            "jacobian": "value and Jacobian", "hessian": "Hessian"}[m.kind]
    report = out_fn.symbolic
    out_fn.doc = (f"The {what} of {pyfunc.__name__} with respect to {', '.join(wrt)}, symbolic: the "
                  f"whole function as one SymPy expression, differentiated by {report.accumulation} "
                  f"accumulation, subexpressions shared by the value and every derivative "
                  f"({report.operations} operations).")
    return fn, out_fn, None


def _has_structure(fn: Function) -> bool:
    """Whether the lowered function has a loop or a branch (what symbolic regions are for)."""
    return any(isinstance(s, (For, While, If)) for s in walk(fn.body))


def _check_output(fn, result, m: Mode, has_aux: bool) -> None:
    """The errors the ordinary mode gives for a result the transformation cannot take."""
    first = result[0] if isinstance(result, tuple) else result
    loc = fn.body[-1].loc
    if m.kind in ("grad", "hessian"):
        if isinstance(result, tuple) and not (has_aux and m.kind == "grad"):
            raise CompileError(f"{m.kind} needs a function that returns one number; this one returns a tuple", loc,
                               hint="pass has_aux=True if the rest is auxiliary data" if m.kind == "grad" else "")
        if first.type.rank != 0 or first.type.kind != FLOAT:
            raise CompileError(f"{m.kind} needs a scalar float output, but {fn.name} returns {first.type}", loc,
                               hint="reduce it (np.sum, np.mean), or use ct.jacfwd / ct.jacrev")
    elif isinstance(result, tuple) or first.type.kind != FLOAT:
        raise CompileError(f"a Jacobian needs a function that returns one float number or array, but "
                           f"{fn.name} returns {'a tuple' if isinstance(result, tuple) else first.type}", loc)
