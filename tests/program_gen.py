"""Random, well-typed, differentiable Python/NumPy programs, for property-based tests of the compiler.

A program is a module's source text: optional helpers (`g`, and a recursive `h`, with `h2` for a
mutual recursion), the function `f` to differentiate, and `args()`, which returns the arguments `f` is checked at (float arrays of small shapes, floats,
and sometimes an integer `n` used for trip counts). `f` always returns a scalar float. Printed, a
program is a complete regression test: `f(*args())` reproduces the failure.

What the programs contain
-------------------------
Arithmetic (+ - * and division by safe denominators such as `1.0 + b * b`), NumPy elementwise
functions with bounded or positive arguments (`np.exp(np.tanh(e))`, `np.log(1.0 + e * e)`,
`np.sqrt(1.0 + e * e)`), reductions (`np.sum`, `np.mean`, with and without `axis`, `np.max`),
`np.maximum`/`np.minimum`/`np.abs`, `np.where`, matrix products and `np.outer` with consistent
shapes, the wider NumPy surface (`np.arcsinh`, `np.cbrt`, `np.logaddexp`, `np.roll`, `np.flip`,
`np.cumsum`/`np.cumprod`, `np.triu`/`np.tril`, `np.swapaxes`, `np.einsum`, `np.var`,
`x[..., None]`), broadcasting, element/row/column/slice reads, calls to the helper, conditional expressions
and conditions built with and/or/not. With the control-flow features switched on: if/elif/else on
data (with values merged from the branches), early returns, `for` loops over `range(...)` with
any start/stop/step (negative steps, empty ranges, trip counts from `n` or from shapes, nested
loops whose bounds depend on the outer index), `break`/`continue`, `while` loops whose trip count
depends on the data (a counter and a data condition, or an accumulator running up to a threshold),
element and slice writes (`y[i] = ...`, `y[i, j] += ...`, `y[a:b] = ...`) into arrays the
function created (`np.zeros`, `np.ones`, `np.empty` filled by a loop, `x.copy()`, or any fresh
result), augmented assignment, and values overwritten in loops.

With "recursive_helper", a program has a recursive helper `h` (compiled as a unit of its own, never
inlined), called from `f` (at least once outside any block, and wherever expressions are made: in
loops, branches, conditions, arguments of other calls, `h(h(...), 2)`) and from `g`. It is one of

* a recursion on a depth: `def h(p, k)`, with p a number or an array of an argument's shape and a
  result that is a number or of p's shape; a few generated statements (branches, loops, early
  returns, writes into its own arrays), then the base case `if k <= 0: return ...` and the
  recursive case `return <term> + c * h(<bounded map of p>, k - 1)` (or k - 2, or two recursive
  calls, or split by a branch on the data), in either order; sometimes a mutual recursion
  h -> h2 -> h. Callers pass a depth of at most 4: a literal, or an integer name (a loop index,
  n, a length) all of whose values are that small, so one unit runs at several depths;
* divide and conquer on an index range: `def h(q, lo, hi)`, `if hi - lo <= 1: return <bounded
  map of q[lo]>`, `mid = (lo + hi) // 2`, and a bounded combination (`a + np.tanh(b)`,
  `a * 0.5 + b`, `np.maximum(a, b)`, ...) of `h(q, lo, mid)` and `h(q, mid, hi)`; callers pass a
  vector of fixed length L and `0, len(x)`, or any range inside it (bounds from loop indices too);
* divide and conquer on halves: `def h(q)`, `if len(q) <= 1: return ...`, and a combination of
  `h(q[:mid])` and `h(q[mid:])`; callers pass vectors of any length (a new length at every depth).

The recursion always ends, on integer comparisons, whatever its integer arguments (`k <= 0`,
`hi - lo <= 1`, `len(q) <= 1`; `hi - lo == 1` and `len(q) == 1` only without the edge cases,
whose integer arguments may be anything). A recursive helper returns a new float number or array
(never an argument or a view of one) and never writes into its arguments.

Each construct is a named feature (FEATURES below); a generator is given the set it may use, so
constructs the compiler does not support yet stay in the generator behind a flag. Constructs that
trigger an open compiler bug can be left out too (AVOIDABLE, the `avoid` argument), so that a test
suite stays green while the bug is open and its regression test is marked xfail.

Programs are well typed by construction: every value's exact shape is known while generating
(dimensions are concrete numbers), every index and slice is in range for every value a loop index
can take, and names defined on only some paths (in one branch, or inside a loop) are never read
afterwards. Arrays the program writes into are never aliased: a name is only written through if
it was bound to a freshly computed array, and the right-hand side of an array assignment is
always a fresh computation, never a bare name or view, so NumPy's in-place semantics and a value
semantics agree. `np.where` is used on arrays only (on numbers it returns a mutable 0-d array).

Why a generated program cannot fail for numerical reasons
---------------------------------------------------------
`ct.check_grad` compares with central differences, which straddle a kink when an input moves a
value across a branch condition, a `np.maximum` tie, an `np.abs` zero, an `np.max` tie or a loop
exit test. Instead of hoping that random inputs avoid such points, every program is first run
as plain Python in an instrumented copy (its AST rewritten so that each comparison and each kinked
call reports to a monitor) at the candidate inputs:

* every float comparison and kink must be decided by a margin of at least MARGIN (1e-3), about
  150 times the central-difference step at inputs of size 1, so a step cannot flip it unless the
  compared value is 150 times more sensitive than the input; comparisons of integers (loop
  indices, counters) are exact and need no margin;
* the sequence of all decisions (which branch, which loop exit, which operand of each maximum)
  must be identical at a few nearby points, 5 steps away along random directions, which catches
  the too-sensitive values the margin test lets through;
* every intermediate value must stay finite and below MAX_MAGNITUDE (1e3), so that rounding
  error in central differences stays far below the tolerance;
* central differences along two random directions give the same slope at two steps (STEPS, 2e-5
  and 5e-6) to 1e-4: a function that changes over distances near check_grad's step (a smooth
  but steep turn, as loops that multiply a value by a function of itself can make) would fool
  central differences without any branch flipping.

If the inputs fail, the next seed's inputs are tried (up to INPUT_TRIES), and only if all fail
is the program rejected (a `hypothesis.reject`); a tie that is exact (margin 0, as in
`x[0] > x[-1]` when len(x) == 1) is there at every input, and rejects the program at once. The
same run checks the generator itself: every name must hold a value of the shape it was generated
with, and `f` must return a float. Values are kept in a safe range by construction
too: inputs lie in [-1, 1], `exp` only sees bounded arguments, denominators are at least 1,
`log` and `sqrt` see `1 + e*e`, trip counts are at most a few dozen, and loop-carried values are
updated by sums (growing linearly) or bounded maps; recursive helpers recurse at most 4 deep (a
vector of at most 4 elements for divide and conquer), pass their recursive calls bounded maps
(tanh, sin, a contraction) of their values, and add the recursive results with coefficients of at
most 1 (at most 1/2 each for two calls); the magnitude check catches the rest. The instrumented run
instruments the helpers too: every value and float comparison inside every recursive call is
checked, and the exit tests of the recursion (`k <= 0`, `hi - lo <= 1`) compare integers, exact
and needing no margin.

Edge cases (EDGE_CASES, for the safety fuzzer in test_safety_fuzz.py) turn the safety off on
purpose: indices out of range and computed negative ones, slice bounds past the ends, divisions,
logs, roots, remainders and powers at any input, reductions of empty slices. Such a program is not
checked for numerical safety (only its shapes are checked, by one instrumented run) and gets input
variants (`Program.variants`, each an `args()` source): its own arguments, then zeros, -0.0, +-1,
tiny and huge values, inf and nan, and for half the programs every array in another memory layout
(strided with SENTINEL between the elements, reversed, offset, transposed or Fortran-ordered).
With no edge case asked for, the generator makes exactly the programs it made before.

The generator draws every choice through a Chooser: `DrawChooser` (Hypothesis's `draw`, so
failures shrink to small programs: every first option is the simplest) or `RandomChooser` (a
seeded `random.Random`, for reproducing a program from a number: `random_program(seed)`).

    python tests/program_gen.py 17            # print the program of seed 17
    python tests/program_gen.py 17 --all      # with every feature, supported or not
    python tests/program_gen.py 17 --features=recursive_helper,for   # straight-line and these
"""
from __future__ import annotations

import abc

import ast
import hashlib
import importlib.util
import math
import os
import random
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# --- features ---------------------------------------------------------------------------------

#: constructs of straight-line programs
STRAIGHT_LINE = frozenset({
    "helper",       # a second function, g, called from f (a unit of its own, or inlined if small)
    "ifexp",        # `a if cond else b`
    "boolops",      # and / or / not in conditions, np.logical_and/or/not in np.where
    "int_arg",      # an integer argument n (never differentiated)
    "index",        # x[i], A[i, j], A[i], A[:, j]
    "slice_read",   # x[a:b], x[a:b:step]
    "augassign",    # s += e, s *= e on names
    "kinks",        # np.maximum, np.minimum, np.abs, np.max, np.min
    "linalg",       # @, np.dot, np.outer, A.T @ x
    "numpy",        # the wider NumPy surface: np.arcsinh, np.cbrt, np.logaddexp, np.roll, np.flip,
                    # np.cumsum/cumprod, np.triu/tril, np.swapaxes, np.einsum, np.var, x[..., None]
})
#: control flow and mutation
CONTROL_FLOW = frozenset({
    "if",           # if / elif / else statements on data
    "return",       # early return inside an if
    "for",          # for i in range(start, stop, step), nested
    "break",        # break / continue
    "while",        # while loops with data-dependent trip counts
    "setitem",      # y[i] = e, y[i, j] += e, y[i] = row on arrays made in the function
    "slice_write",  # y[a:b] = e, y[a:b] += e
})
#: recursion: helpers compiled as units of their own that call themselves (or each other)
RECURSION = frozenset({
    "recursive_helper",  # h (and h2) called from f and g: on a depth k, an index range, or halves
})
#: constructs the compiler documents as unsupported (a CompileError): off unless asked for
UNSUPPORTED = frozenset({
    "return_in_loop",   # `if c: return e` inside a loop
})
FEATURES = STRAIGHT_LINE | CONTROL_FLOW | RECURSION | UNSUPPORTED

#: edge cases, for the safety fuzzer (test_safety_fuzz.py): programs that may raise or compute inf
#: and nan, checked by comparing targets with each other and with NumPy, not with central
#: differences. Off unless asked for; with any of them on, a program has input variants (below).
EDGE_CASES = frozenset({
    "out_of_range",    # an index past either end: x[3] of 3 elements, x[-4], x[i + 1] at the last i
    "negative_index",  # negative indices computed from loop indices (x[i - 3])
    "edge_slices",     # slice bounds past the ends or negative (x[-5:9], x[4:-9:-1]), clamped as NumPy does
    "domain_edges",    # x / y, np.log(x), np.sqrt(x), np.arcsin(x), x % y, x ** y... at any input
    "edge_inputs",     # inputs with zeros (and -0.0), +-1, tiny and huge values, inf and nan
    "layouts",         # strided (x[::2]), reversed, offset, transposed and Fortran-ordered arguments
    "empty",           # reductions of empty slices (np.sum(x[3:]) of 3 elements; np.max raises)
})

#: constructs left out while a compiler bug they trigger is open (see test_random_programs.py)
AVOIDABLE = frozenset({
    "inactive_broadcast",  # an array that may not depend on the differentiated arguments broadcast
                           # against one that does, by + or - (and differentiating only some arguments)
    "power",              # e ** 2 (the other squares, e * e and np.square, stay)
    "write_computed",     # element and slice writes into computed arrays (only into np.zeros/ones/empty/copy)
    "rebind_inner_loop",  # rebinding an outer array in a loop nested in another loop (or in g's loops)
    "nested_return",      # an early return inside a branch that itself ends with a return
    "self_slice_write",   # y[a:b] = y (the value written is the array itself)
    "index_alias",        # an array both indexed (x[i], x[a:b], A[i]) and a bare operand of + or -
    "write_call_result",  # an array bound to g's result itself (it may be written into)
    "write_aliased",      # element and slice writes into an array that is a bare operand of + or -
    "constant_condition", # a comparison of constants only (`0.25 > 1.5 and ...`)
    "mutual_array_recursion",  # a mutual recursion (h -> h2 -> h) whose result is an array
    "recursive_ifexp",    # `a if c else b` of arrays in a recursive helper (which may also write
                          # into its own arrays: `p if c else v` with v written into)
    "recursive_rebound_write",  # a write, inside a branch or loop of a recursive helper, into its
                                # parameter rebound to a new array there
})

MARGIN = 1e-3           # least distance of a float comparison or kink from its tie
MAX_MAGNITUDE = 1e3     # largest intermediate value
PERTURBATION = 3e-5     # distance of the points whose decisions must agree (5 steps)
STEPS = (2e-5, 5e-6)    # steps of the two directional central differences that must agree
INPUT_TRIES = 8         # input seeds tried for one program before rejecting it
MAX_ITERATIONS = 36     # most iterations of the innermost body of a loop nest


# --- choosers ---------------------------------------------------------------------------------

class Chooser(abc.ABC):
    """Every random decision of the generator. Lower numbers are simpler choices."""

    @abc.abstractmethod
    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]; the one source of randomness (a seeded RNG, or hypothesis)."""

    def maybe(self, p: float) -> bool:
        """True with probability p; shrinks to False."""
        return self.integer(0, 999) >= 1000 - int(p * 1000)

    def pick(self, options):
        return options[self.integer(0, len(options) - 1)]

    def weighted(self, options):
        """One value of [(weight, value), ...]; shrinks towards the first."""
        options = [(w, v) for w, v in options if w > 0]
        total = sum(w for w, _ in options)
        k = self.integer(0, total - 1)
        for w, v in options:
            if k < w:
                return v
            k -= w
        raise AssertionError("unreachable")


class RandomChooser(Chooser):
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)


class DrawChooser(Chooser):
    """Choices drawn by Hypothesis, so that a failing program shrinks."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self.draw, self.st = draw, st

    def integer(self, lo, hi):
        return lo if lo == hi else self.draw(self.st.integers(lo, hi))


# --- the program ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Program:
    source: str                  # the module: helper, f, args()
    argnums: tuple               # the float arguments to differentiate
    features: frozenset          # the features the program uses
    variants: tuple = ()         # edge-case programs: more `def args():` sources (the first is the module's)

    def __repr__(self) -> str:   # Hypothesis prints the falsifying example with repr
        return f"Program(argnums={self.argnums}, source='''\n{self.source}''')"

    def variant_args(self) -> list:
        """The arguments of each input variant (fresh arrays on each call)."""
        out = []
        for text in self.variants:
            ns = {"np": np}
            exec(text, ns)
            out.append(ns["args"]())
        return out

    def with_variant(self, k: int) -> str:
        """The module with the args() of variant k: a complete reproducer."""
        head = self.source[:self.source.index("def args():")]
        return head + self.variants[k]

    @property
    def name(self) -> str:
        return "prog_" + hashlib.sha256(self.source.encode()).hexdigest()[:16]

    def load(self, directory):
        """Import the program from a file of its own (cotangent reads source with inspect)."""
        return load_source(self.source, directory, self.name)


def load_source(source: str, directory, name: str | None = None):
    """Import source as a module from a file named by its hash (written atomically: test processes
    running in parallel write the same programs, and Hypothesis seeds `random` alike in each)."""
    name = name or "prog_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    path = Path(directory) / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- generation -------------------------------------------------------------------------------

@dataclass
class Var:
    name: str
    shape: tuple          # () for a number
    owned: bool = False   # bound to an array this function made: it may be written into
    made: bool = False    # ... by a constructor or .copy() (not computed by arithmetic)
    active: bool = False  # surely depends on the differentiated arguments
    indexable: bool = True  # may be indexed (with "index_alias" avoided: then never a bare + operand)


@dataclass(frozen=True)
class Int:
    code: str
    vals: frozenset       # every value it can take


def _broadcasts(small: tuple, big: tuple) -> bool:
    return len(small) <= len(big) and big[len(big) - len(small):] == small


def _rng_values(start: Int, stop: Int, step: int) -> tuple[frozenset, int]:
    vals, trips = set(), 0
    for a in start.vals:
        for b in stop.vals:
            r = range(a, b, step)
            vals.update(r)
            trips = max(trips, len(r))
    return frozenset(vals), trips


class Gen:
    """Generates one function's body into self.lines."""

    FLOAT_CMP = ("<", ">", "<=", ">=")

    def __init__(self, ch: Chooser, features, dims, used: set, shapes: dict, helper=None, ret_shape=(),
                 budget=12, depth_limit=2, avoid=frozenset(), rec=None):
        self.ch, self.feat, self.dims, self.used = ch, features, dims, used
        self.avoid = avoid
        self.shapes = shapes                # every float name's shape, checked by the safety run
        self.helper = helper                # (name, shape_a, shape_b, shape_ret) or None
        self.rec = rec                      # the recursive helper this function may call (a RecHelper) or None
        self.rec_calls = 0                  # calls to it at function level (outside blocks)
        self.ret_shape = ret_shape
        self.lines: list[str] = []
        self.ind = 1
        self.env: dict[str, Var] = {}
        self.ints: dict[str, Int] = {}      # integer names: arguments, loop indices, counters
        self.frozen: set = set()            # names the body must not rebind (loop progress)
        self.loop_depth = 0
        self.block_depth = 0
        self.iterations = 1                 # iterations of the current body per call
        self.budget = budget
        self.depth_limit = depth_limit
        self.counter = 0
        self.loop_outer: list[set] = []     # per enclosing loop: the names defined outside it
        self.is_helper = False
        self.recursive = False              # the body of a recursive helper
        self.parameters = frozenset()       # ... and its parameters
        self.no_return = 0                  # > 0: no early return here (see AVOIDABLE)
        self.locals: list[str] = []         # float names defined at function level, in order
        self.modified: set = set()          # names assigned after their definition

    # --- small helpers ---
    def has(self, feature) -> bool:
        return feature in self.feat

    def use(self, feature):
        self.used.add(feature)

    def emit(self, line: str):
        self.lines.append("    " * self.ind + line)

    def fresh(self, prefix="v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def fvars(self, shape=None):
        return [v for v in self.env.values() if shape is None or v.shape == shape]

    def shape_pool(self):
        """Shapes with a value of that shape in scope (and numbers)."""
        return sorted({v.shape for v in self.env.values()} | {()}, key=lambda s: (len(s), s))

    def const(self) -> str:
        return self.ch.pick(["0.5", "1.5", "-0.3", "2.0", "0.25", "-1.2", "0.7", "3.0"])

    # --- integers: indices, range bounds ---
    def int_atoms(self) -> list[Int]:
        atoms = [Int(str(c), frozenset({c})) for c in range(0, 4)]
        for name, iv in self.ints.items():
            atoms.append(Int(name, iv.vals))
        for v in self.fvars():
            if len(v.shape) == 1:
                atoms.append(Int(f"len({v.name})", frozenset({v.shape[0]})))
            elif len(v.shape) == 2:
                atoms.append(Int(f"{v.name}.shape[0]", frozenset({v.shape[0]})))
                atoms.append(Int(f"{v.name}.shape[1]", frozenset({v.shape[1]})))
        return atoms

    def int_expr(self, ok) -> Int | None:
        """An integer expression all of whose values satisfy ok(values)."""
        cands = []
        for a in self.int_atoms():
            cands.append(a)
            if not a.code.isdigit():
                cands.append(Int(f"{a.code} - 1", frozenset(x - 1 for x in a.vals)))
                cands.append(Int(f"{a.code} + 1", frozenset(x + 1 for x in a.vals)))
                cands.append(Int(f"{a.code} // 2", frozenset(x // 2 for x in a.vals)))
        cands = [c for c in cands if c.vals and ok(c.vals)]
        # prefer names over literals: the interesting programs index with variables
        named = [c for c in cands if not c.code.lstrip("-").isdigit()]
        if named and self.ch.maybe(0.75):
            return self.ch.pick(named)
        return self.ch.pick(cands) if cands else None

    def index(self, length: int) -> str:
        """An index valid for an axis of this length (negative indices included); with the edge
        cases, sometimes one out of range, or a negative one computed from a loop index."""
        if self.has("out_of_range") and self.ch.maybe(0.05):
            return self.bad_index(length)
        if self.has("negative_index") and self.ch.maybe(0.2):
            e = self.int_expr(lambda vals: all(0 <= x < length for x in vals))
            if e is not None and not e.code.isdigit():
                self.use("negative_index")
                return f"({e.code}) - {length}"
        ok = lambda vals: all(-length <= x < length for x in vals)
        e = self.int_expr(lambda vals: all(0 <= x < length for x in vals))
        if self.ch.maybe(0.15):
            c = self.ch.integer(1, length)
            return f"-{c}"
        if e is not None and ok(e.vals):
            # sometimes count from the end
            if len(e.vals) > 0 and self.ch.maybe(0.15):
                return f"{length} - 1 - {e.code}" if " " not in e.code else f"{length} - 1 - ({e.code})"
            return e.code
        return str(self.ch.integer(0, length - 1))

    def bad_index(self, length: int) -> str:
        """An index out of range for an axis of this length: always, or at some loop index."""
        self.use("out_of_range")
        kind = self.ch.integer(0, 3)
        if kind == 0:
            return str(length + self.ch.integer(0, 1))
        if kind == 1:
            return f"-{length + self.ch.integer(1, 2)}"
        e = self.int_expr(lambda vals: len(vals) > 1 and all(0 <= x < length for x in vals))
        if e is None:
            return str(length)
        return f"({e.code}) + 1" if kind == 2 else f"({e.code}) - {length + 1}"

    def edge_slice(self, length: int, want=None) -> str | None:
        """Slice code with bounds that may lie past either end or be negative (NumPy clamps them),
        selecting `want` elements (or at least one); None if none was found."""
        for _ in range(12):
            a = self.ch.integer(-length - 3, length + 3) if self.ch.maybe(0.85) else None
            b = self.ch.integer(-length - 3, length + 3) if self.ch.maybe(0.85) else None
            step = self.ch.pick([1, 1, 2, -1, -2, 3])
            n = len(range(length)[a:b:step])
            if n >= 1 and (want is None or n == want):
                self.use("edge_slices")
                text = f"{'' if a is None else a}:{'' if b is None else b}"
                return text + (f":{step}" if step != 1 else ""), n
        return None

    def slice_of(self, length: int) -> tuple[str, int]:
        """A slice of an axis of this length with at least one element: (code, its length)."""
        if self.has("edge_slices") and self.ch.maybe(0.35):
            found = self.edge_slice(length)
            if found is not None:
                return found
        kind = self.ch.integer(0, 3)
        a = self.ch.integer(0, length - 1)
        b = self.ch.integer(a + 1, length)
        if kind == 0:
            return f"{a}:{b}", b - a
        if kind == 1:
            return (f"{a}:", length - a) if self.ch.maybe(0.5) else (f":{b}", b)
        if kind == 2:
            step = self.ch.integer(2, 3)
            return f"{a}:{b}:{step}", len(range(a, b, step))
        # from the end, backwards
        n = len(range(length)[b - 1:(a - 1 if a > 0 else None):-1])
        return (f"{b - 1}:{a - 1}:-1" if a > 0 else f"{b - 1}::-1"), n

    # --- expressions ---
    def leaves(self, shape):
        """Code for values of exactly this shape that need no computation (names, reads)."""
        out = [(4, v.name) for v in self.fvars(shape)]
        if shape == ():
            out.append((2, None))  # a constant
            if self.has("index"):
                for v in self.indexable():
                    if len(v.shape) == 1:
                        out.append((2, ("elem1", v)))
                    elif len(v.shape) == 2:
                        out.append((1, ("elem2", v)))
        elif len(shape) == 1:
            k = shape[0]
            if self.has("index"):
                for v in self.indexable():
                    if len(v.shape) == 2 and v.shape[1] == k:
                        out.append((1, ("row", v)))
                    if len(v.shape) == 2 and v.shape[0] == k:
                        out.append((1, ("col", v)))
            if self.has("slice_read"):
                for v in self.indexable():
                    if len(v.shape) == 1 and v.shape[0] >= k:
                        out.append((1, ("slice", v)))
        return out

    def indexable(self):
        return [v for v in self.fvars() if v.indexable]

    def has_leaf(self, shape) -> bool:
        return bool(self.leaves(shape))

    def bare_ok(self, name: str, bare: str) -> bool:
        """Whether a name may stand alone here: `bare` is "any", "addable" (an operand of + or -,
        or a branch of `a if c else b`) or "indexable" (an argument of g, which may index it)."""
        v = self.env[name]
        if bare == "any" or v.shape == () or not self.split_arrays():
            return True
        return v.indexable == (bare == "indexable")

    def leaf(self, shape, bare="any") -> str:
        opts = self.leaves(shape)
        allowed = [(w, c) for w, c in opts if not isinstance(c, str) or self.bare_ok(c, bare)]
        if not allowed:
            return f"np.tanh({self.ch.pick([c for _, c in opts])})"
        choice = self.ch.weighted(allowed)
        if choice is None:
            return self.const()
        if isinstance(choice, str):
            return choice
        kind, v = choice
        self.use("index" if kind != "slice" else "slice_read")
        if kind == "elem1":
            return f"{v.name}[{self.index(v.shape[0])}]"
        if kind == "elem2":
            return f"{v.name}[{self.index(v.shape[0])}, {self.index(v.shape[1])}]"
        if kind == "row":
            return f"{v.name}[{self.index(v.shape[0])}]"
        if kind == "col":
            return f"{v.name}[:, {self.index(v.shape[1])}]"
        # a slice with exactly shape[0] elements
        k, n = shape[0], v.shape[0]
        if self.has("edge_slices") and self.ch.maybe(0.35):
            found = self.edge_slice(n, want=k)
            if found is not None:
                return f"{v.name}[{found[0]}]"
        if self.ch.maybe(0.3) and n >= 2 * k - 1 and k > 1:
            a = self.ch.integer(0, n - (2 * k - 1))
            return f"{v.name}[{a}:{a + 2 * k - 1}:2]"
        a = self.ch.integer(0, n - k)
        if a == 0 and self.ch.maybe(0.3):
            return f"{v.name}[:{k}]"
        if a + k == n and self.ch.maybe(0.3):
            return f"{v.name}[{a}:]" if a else f"{v.name}[::-1]"
        return f"{v.name}[{a}:{a + k}]"

    def operand_shapes(self, shape):
        """Shapes that broadcast to `shape` and have a leaf."""
        return [s for s in self.shape_pool() + [shape] if _broadcasts(s, shape) and self.has_leaf(s)]

    def expr(self, shape, d: int, fresh=False, bare="any") -> str:
        """An expression of exactly this shape; `fresh`: a new array, never a name or a view;
        `bare`: which names may be the whole expression (see bare_ok)."""
        arrays = shape != ()
        opts = []
        if not (fresh and arrays):
            opts.append((6 if d <= 0 else 2, "leaf"))
        if d > 0 or (fresh and arrays) or not opts:
            opts += [(3, "unary"), (4, "binary")]
            if arrays:
                opts.append((1, "where"))
            if self.has("kinks"):
                opts.append((1, "minmax"))
            if self.has("ifexp") and not (fresh and arrays) and not (
                    arrays and self.recursive and "recursive_ifexp" in self.avoid):
                opts.append((1, "ifexp"))
            if self.helper and self.helper[3] == shape and all(self.has_leaf(s) for s in self.helper[1:3]):
                opts.append((2, "helper"))
            if self.rec and self.rec_fits(shape):
                opts.append((2, "recursive"))
            if self.has("numpy"):
                opts.append((1, "numpy"))
            opts += [(w, r) for w, r in self.reductions(shape)]
        kind = self.ch.weighted(opts)
        d1 = d - 1
        if kind == "leaf":
            return self.leaf(shape, bare)
        if kind == "unary":
            return self.unary(shape, d1)
        if kind == "binary":
            return self.binary(shape, d1)
        if kind == "where":
            c = self.array_cond(shape, d1)
            a, b = self.pair(shape, d1)
            return f"np.where({c}, {a}, {b})"
        if kind == "minmax":
            self.use("kinks")
            if self.ch.maybe(0.3):
                return f"np.abs({self.expr(shape, d1)})"
            fn = self.ch.pick(["np.maximum", "np.minimum"])
            if self.ch.maybe(0.3):
                a = self.expr(shape, d1)
                b = self.other_const(a)
                a, b = (a, b) if self.ch.maybe(0.5) else (b, a)
            else:
                a, b = self.pair(shape, d1, distinct=True)
            return f"{fn}({a}, {b})"
        if kind == "ifexp":
            self.use("ifexp")
            return (f"({self.expr(shape, d1, bare='addable')} if {self.cond(d1)} "
                    f"else {self.expr(shape, d1, bare='addable')})")
        if kind == "helper":
            self.use("helper")
            name, sa, sb, _ = self.helper
            call = f"{name}({self.expr(sa, d1, bare='indexable')}, {self.expr(sb, d1, bare='indexable')})"
            if fresh and arrays and "write_call_result" in self.avoid:
                call = f"0.5 * {call}"   # an array that may be written into: not g's result itself
            return call
        if kind == "recursive":
            return self.rec_call(d1, fresh and arrays)
        if kind == "numpy":
            self.use("numpy")
            return self.numpy_call(shape, d1, fresh and arrays)
        return self.reduction(kind, shape, d1)

    def numpy_call(self, shape, d, fresh=False) -> str:
        """A call from the wider NumPy surface that gives this shape: smooth elementwise functions
        of bounded arguments, and moves, cumulative sums and products, triangles, einsum and
        variances that keep or reduce shapes exactly. `fresh`: no view (np.flip, np.swapaxes and a
        transposing einsum are views, of an argument too, which must not be written into)."""
        forms = ["np.arcsinh({0})", "np.cbrt(1.5 + np.tanh({0}))", "np.exp2(np.tanh({0}))",
                 "np.logaddexp({0}, 0.5)", "np.reciprocal(2.0 + np.cos({0}))", "np.deg2rad({0})",
                 "np.arctanh(0.5 * np.tanh({0}))", "np.arccosh(2.0 + {0} * {0})", "np.sinc(0.5 * np.tanh({0}))"]
        if len(shape) == 1:
            forms += ["np.roll({0}, 1)", "np.flip({0})", "np.cumsum({0})",
                      "np.cumprod(0.75 + 0.25 * np.tanh({0}))", "np.sum({0}[..., None], axis=1)"]
        elif len(shape) == 2:
            forms += ["np.flip({0}, axis=0)", "np.roll({0}, -1, axis=1)", "np.cumsum({0}, axis=1)",
                      "np.sum({0}[None, ...], axis=0)"]
            if shape[0] == shape[1]:
                forms += ["np.triu({0})", "np.tril({0}, -1) + {0}", "np.swapaxes({0}, 0, 1)",
                          "np.einsum('ij->ji', {0})", "np.einsum('ij,jk->ik', {0}, {0})"]
        else:
            arrays = [s for s in self.shape_pool() if s != () and self.has_leaf(s)]
            vectors = [s for s in arrays if len(s) == 1]
            if arrays:
                s = self.ch.pick(arrays)
                forms += [f"np.var({self.expr(s, d)})", f"np.mean(np.square({self.expr(s, d)}))"]
            if vectors:
                s = self.ch.pick(vectors)
                forms.append(f"np.einsum('i,i->', {self.expr(s, d)}, {self.expr(s, d)})")
        if fresh:
            forms = [f for f in forms if not f.startswith(("np.flip", "np.swapaxes", "np.einsum('ij->ji'"))]
        form = self.ch.pick(forms)
        return form.format(f"({self.expr(shape, d)})") if "{0}" in form else form

    # --- calls to the recursive helper ---
    def rec_arg_shapes(self):
        """Shapes of the float argument a call to the recursive helper may pass."""
        r = self.rec
        if r.kind == "halves":     # any vector: the recursion works on any length
            return [s for s in self.shape_pool() if len(s) == 1 and self.has_leaf(s)]
        return [r.arg] if self.has_leaf(r.arg) else []

    def rec_fits(self, shape) -> bool:
        return shape == self.rec.ret and bool(self.rec_arg_shapes())

    def rec_call(self, d, fresh=False) -> str:
        """A call to the recursive helper: its result has shape self.rec.ret."""
        self.use("recursive_helper")
        if self.block_depth == 0:
            self.rec_calls += 1
        r = self.rec
        shape = self.ch.pick(self.rec_arg_shapes())
        a = self.expr(shape, d, bare="indexable")
        if r.kind == "depth":
            # the depth: a literal, or a name (a loop index, n, a length) whose values are all small
            e = self.int_expr(lambda vals: all(0 <= x <= r.depth for x in vals)) if self.ch.maybe(0.6) else None
            call = f"{r.name}({a}, {e.code if e is not None else self.ch.integer(0, r.depth)})"
        elif r.kind == "range":
            length = shape[0]
            lo = 0 if self.ch.maybe(0.6) else self.ch.integer(0, length - 1)
            if lo == 0 and a in self.env and self.ch.maybe(0.5):
                hi = self.ch.pick([f"len({a})", f"{a}.shape[0]"])
            else:
                e = self.int_expr(lambda vals: all(lo + 1 <= x <= length for x in vals))
                hi = e.code if e is not None and self.ch.maybe(0.7) else str(self.ch.integer(lo + 1, length))
            call = f"{r.name}({a}, {lo}, {hi})"
        else:
            call = f"{r.name}({a})"
        if fresh and r.ret != () and "write_call_result" in self.avoid:
            call = f"0.5 * {call}"   # an array that may be written into: not h's result itself
        return call

    def pair(self, shape, d, distinct=False):
        """Two operands whose broadcast has this shape, in random order; `distinct`: not the same
        code (a comparison or a maximum of a value with itself is a tie at every input)."""
        other = self.ch.pick(self.operand_shapes(shape))
        a, b = self.expr(shape, d), self.expr(other, d)
        if distinct and a == b:
            b = self.other_const(a)
        return (a, b) if self.ch.maybe(0.5) else (b, a)

    def other_const(self, code: str) -> str:
        c = self.const()
        return c if c != code else "0.1"

    def unary(self, shape, d) -> str:
        e = self.expr(shape, d)
        forms = ["np.sin({0})", "np.cos({0})", "np.tanh({0})", "-{0}", "np.exp(np.tanh({0}))",
                 "np.log(1.0 + {0} * {0})", "np.sqrt(1.0 + {0} * {0})", "{0} * {0}",
                 "{0} ** 2" if "power" not in self.avoid else "np.square({0})",
                 "np.square({0})", "1.0 / (1.0 + {0} * {0})", "np.exp(-({0} * {0}))",
                 "np.arctan({0})", "np.exp(0.5 * np.sin({0}))"]
        if self.has("domain_edges") and self.ch.maybe(0.4):
            self.use("domain_edges")
            forms = ["np.log({0})", "np.sqrt({0})", "1.0 / {0}", "np.arcsin({0})", "np.arccos({0})",
                     "np.log1p({0})", "np.log10({0})", "np.tan({0})", "np.exp(800.0 * {0})",
                     "np.cosh(400.0 * {0})", "np.abs({0})", "np.log(np.abs({0}))"]
        return self.ch.pick(forms).format(f"({e})")

    def is_active(self, code: str) -> bool:
        """Whether code surely depends on the differentiated arguments."""
        code = re.sub(r"len\(\w+\)|\w+\.shape(\[\d+\])?|np\.(zeros|ones|empty)_like\(\w+\)", "", code)
        return any(self.env[t].active for t in re.findall(r"[A-Za-z_]\w*", code) if t in self.env)

    def binary(self, shape, d) -> str:
        if self.has("domain_edges") and self.ch.maybe(0.3):
            return self.edge_binary(shape, d)
        other = self.ch.pick(self.operand_shapes(shape))
        op = self.ch.pick(["+", "*", "-", "/"])
        bare = "addable" if op in "+-" else "any"
        a, b = self.expr(shape, d, bare=bare), self.expr(other, d, bare=bare)
        if op in "+-" and other != shape and "inactive_broadcast" in self.avoid and not self.is_active(a):
            op = "*"
        if self.ch.maybe(0.5):
            a, b = b, a
        if op == "/":
            if self.ch.maybe(0.5):
                return f"({a}) / (1.0 + ({b}) * ({b}))"
            return f"({a}) / (2.0 + np.cos({b}))"
        return f"({a}) {op} ({b})"

    def edge_binary(self, shape, d) -> str:
        """A binary operation at any input: a division by anything, a remainder, a power."""
        self.use("domain_edges")
        other = self.ch.pick(self.operand_shapes(shape))
        a, b = self.expr(shape, d), self.expr(other, d)
        if self.ch.maybe(0.5):
            a, b = b, a
        form = self.ch.pick(["({0}) / ({1})", "({0}) / ({1})", "({0}) % ({1})", "np.fmod({0}, {1})",
                             "np.arctan2({0}, {1})", "({0}) ** ({1})", "np.abs({0}) ** ({1})"])
        if "**" in form and not (self.mentions_data(a) and self.mentions_data(b)):
            form = "({0}) / ({1})"     # a power of constants is a Python float's (or complex) power
        return form.format(a, b)

    def reductions(self, shape):
        """(weight, kind) for the reductions and products giving this shape."""
        out = []
        arrays = [s for s in self.shape_pool() if s != ()]
        lin = self.has("linalg")
        if shape == ():
            if arrays:
                out += [(2, "sum"), (1, "mean")]
                if self.has("kinks"):
                    out.append((1, "max"))
            if lin and any(len(s) == 1 for s in arrays):
                out.append((1, "dot"))
        elif len(shape) == 1:
            k = shape[0]
            mats = [s for s in arrays if len(s) == 2]
            if any(s[0] == k for s in mats):
                out.append((1, "sum_axis1"))
                if lin and self.has_leaf((mats[0][1],)):
                    out.append((1, "matvec"))
            if any(s[1] == k for s in mats):
                out.append((1, "sum_axis0"))
                if lin:
                    out.append((1, "vecmat"))
        elif len(shape) == 2 and lin:
            if self.has_leaf((shape[0],)) and self.has_leaf((shape[1],)):
                out.append((1, "outer"))
        return out

    def reduction(self, kind, shape, d) -> str:
        arrays = [s for s in self.shape_pool() if s != ()]
        if kind in ("sum", "mean", "max") and self.has("empty") and self.ch.maybe(0.1):
            vecs = [v for v in self.indexable() if len(v.shape) == 1]
            if vecs:
                self.use("empty")
                v = self.ch.pick(vecs)
                fn = self.ch.pick(["max", "min"]) if kind == "max" else kind
                return f"np.{fn}({v.name}[{v.shape[0]}:])"
        if kind in ("sum", "mean", "max"):
            s = self.ch.pick(arrays)
            e = self.expr(s, d)
            if kind == "max":
                self.use("kinks")
                return f"np.{self.ch.pick(['max', 'min'])}({e})"
            if self.ch.maybe(0.2):
                return f"({e}).{kind}()"
            return f"np.{kind}({e})"
        if kind == "dot":
            self.use("linalg")
            s = self.ch.pick([s for s in arrays if len(s) == 1])
            a, b = self.expr(s, d), self.expr(s, d)
            return f"np.dot({a}, {b})" if self.ch.maybe(0.5) else f"({a}) @ ({b})"
        k = shape[0]
        mats = [s for s in arrays if len(s) == 2]
        if kind == "sum_axis1":
            m = self.ch.pick([s for s in mats if s[0] == k])
            return f"np.{self.ch.pick(['sum', 'mean'])}({self.expr(m, d)}, axis=1)"
        if kind == "sum_axis0":
            m = self.ch.pick([s for s in mats if s[1] == k])
            return f"np.{self.ch.pick(['sum', 'mean'])}({self.expr(m, d)}, axis=0)"
        if kind == "matvec":
            self.use("linalg")
            m = self.ch.pick([s for s in mats if s[0] == k and self.has_leaf((s[1],))])
            return f"({self.expr(m, d)}) @ ({self.expr((m[1],), d)})"
        if kind == "vecmat":
            self.use("linalg")
            m = self.ch.pick([s for s in mats if s[1] == k])
            if not self.has_leaf((m[0],)):
                return f"np.sum({self.expr(m, d)}, axis=0)"
            if self.ch.maybe(0.5):
                return f"({self.expr(m, d)}).T @ ({self.expr((m[0],), d)})"
            return f"({self.expr((m[0],), d)}) @ ({self.expr(m, d)})"
        if kind == "outer":
            self.use("linalg")
            return f"np.outer({self.expr((shape[0],), d)}, {self.expr((shape[1],), d)})"
        raise AssertionError(kind)

    # --- conditions ---
    def compare(self, d) -> str:
        op = self.ch.pick(self.FLOAT_CMP)
        a = self.expr((), d)
        b = self.const() if self.ch.maybe(0.5) else self.expr((), d)
        if a == b:
            b = self.other_const(a)
        if "constant_condition" in self.avoid and not self.mentions_data(a + " " + b):
            data = self.ch.pick([v for v in self.fvars()])
            a = f"{a} + {data.name if data.shape == () else f'np.sum({data.name})'}"
        return f"{a} {op} {b}"

    def mentions_data(self, code: str) -> bool:
        return any(t in self.env for t in re.findall(r"[A-Za-z_]\w*", code))

    def int_compare(self) -> str | None:
        loops = [(n, iv) for n, iv in self.ints.items() if len(iv.vals) > 1]
        if not loops:
            return None
        name, iv = self.ch.pick(loops)
        vals = sorted(iv.vals)
        c = self.ch.pick(vals)
        form = self.ch.integer(0, 3)
        if form == 0:
            return f"{name} == {c}"
        if form == 1:
            return f"{name} % 2 == {self.ch.integer(0, 1)}"
        return f"{name} {'>' if form == 2 else '<'} {c}"

    def cond(self, d) -> str:
        """A condition on numbers (a Python bool)."""
        kind = self.ch.weighted([(4, "cmp"), (1 if self.ints else 0, "int"),
                                 (2 if self.has("boolops") else 0, "bool")])
        if kind == "int":
            c = self.int_compare()
            if c is not None:
                return c
        if kind == "bool" and d > 0:
            self.use("boolops")
            op = self.ch.pick(["and", "or", "not"])
            if op == "not":
                return f"not ({self.cond(d - 1)})"
            return f"({self.cond(d - 1)}) {op} ({self.cond(d - 1)})"
        return self.compare(d)

    def array_cond(self, shape, d) -> str:
        """An elementwise condition whose shape broadcasts to `shape`."""
        if self.has("boolops") and d > 0 and self.ch.maybe(0.25):
            self.use("boolops")
            op = self.ch.pick(["and", "or", "not"])
            if op == "not":
                return f"np.logical_not({self.array_cond(shape, d - 1)})"
            return f"np.logical_{op}({self.array_cond(shape, d - 1)}, {self.array_cond(shape, d - 1)})"
        cs = self.ch.pick([s for s in self.operand_shapes(shape) if s != ()] or [shape])
        a, b = self.pair(cs, d, distinct=True)
        if self.ch.maybe(0.4):
            b = self.other_const(a)
        return f"{a} {self.ch.pick(self.FLOAT_CMP)} {b}"

    # --- statements ---
    def body(self, lo, hi, d=2):
        n = self.ch.integer(lo, hi)
        for k in range(n):
            if self.budget <= 0 and k >= lo:
                break
            self.stmt(d)

    def targets(self, owned_only=False):
        return [v for v in self.env.values() if v.name not in self.frozen and (v.owned or not owned_only)]

    def returns_allowed(self) -> bool:
        return (self.has("return") and self.has("if") and not self.no_return
                and (self.loop_depth == 0 or self.has("return_in_loop")))

    def rebindable(self):
        """Names a statement may rebind (or update in place) here."""
        out = self.targets()
        if "rebind_inner_loop" in self.avoid and self.loop_outer and (len(self.loop_outer) >= 2 or self.is_helper):
            out = [v for v in out if v.shape == () or v.name not in self.loop_outer[-1]]
        return out

    def element_targets(self):
        """Arrays an element write may go into."""
        return [v for v in self.targets(owned_only=True) if v.shape != ()
                and (v.made or "write_computed" not in self.avoid)
                and (v.indexable or "write_aliased" not in self.avoid)
                and not (v.name in self.parameters and self.block_depth > 0
                         and "recursive_rebound_write" in self.avoid)]

    def stmt(self, d):
        self.budget -= 1
        nested = self.block_depth < self.depth_limit and self.budget > 2
        in_loop = self.loop_depth > 0
        rebindable = self.rebindable()
        opts = [(5, "new"), (3 if rebindable else 0, "overwrite"),
                (2 if self.has("augassign") and rebindable else 0, "aug"),
                (2 if self.has("setitem") else 0, "alloc"),
                (4 if self.has("setitem") and self.element_targets() else 0, "setitem"),
                (2 if self.has("slice_write") and any(len(v.shape) == 1 for v in self.element_targets()) else 0,
                 "slice"),
                (2 if self.has("if") and nested else 0, "if"),
                (2 if self.has("for") and nested and self.iterations < MAX_ITERATIONS else 0, "for"),
                (1 if self.has("while") and nested and self.iterations < MAX_ITERATIONS // 4 else 0, "while"),
                (2 if self.has("break") and in_loop else 0, "break"),
                (1 if self.returns_allowed() else 0, "return"),
                (1 if self.has("setitem") and self.has("for") and nested else 0, "fill")]
        kind = self.ch.weighted(opts)
        getattr(self, "stmt_" + kind)(d)

    def coin_indexable(self, made=False) -> bool:
        """With "index_alias" avoided, each array is either indexed or added, never both."""
        return made or not self.split_arrays() or self.ch.maybe(0.5)

    def split_arrays(self) -> bool:
        """Whether each array is either indexed and written, or a bare operand of + and -."""
        return "index_alias" in self.avoid or "write_aliased" in self.avoid

    def bind_new(self, shape, code, owned, made=False):
        name = self.fresh()
        self.emit(f"{name} = {code}")
        self.env[name] = Var(name, shape, owned, made, self.is_active(code), self.coin_indexable(made))
        self.shapes[name] = shape
        if self.block_depth == 0:
            self.locals.append(name)
        return name

    def stmt_new(self, d):
        pool = self.shape_pool()
        # sometimes a shape that no value has yet, made by a product or an outer product
        dims = self.dims
        extra = [s for s in [(dims[0],), (dims[1],), dims] if s not in pool]
        if extra and self.has("linalg") and self.ch.maybe(0.2):
            shape = self.ch.pick(extra)
            code = self.make_shape(shape, d)
            if code is not None:
                self.bind_new(shape, code, True)
                return
        shape = self.ch.pick(pool)
        self.bind_new(shape, self.expr(shape, d, fresh=True), True)

    def make_shape(self, shape, d):
        n, m = self.dims
        vec = {k: self.has_leaf((k,)) for k in (n, m)}
        if len(shape) == 2 and vec[n] and vec[m]:
            return f"np.outer({self.expr((n,), d)}, {self.expr((m,), d)})"
        if len(shape) == 1 and self.has_leaf((n, m)):
            if shape[0] == n and vec[m]:
                return f"({self.expr((n, m), d)}) @ ({self.expr((m,), d)})"
            if shape[0] == m and vec[n]:
                return f"({self.expr((n,), d)}) @ ({self.expr((n, m), d)})"
        return None

    def stmt_overwrite(self, d):
        v = self.ch.pick(self.rebindable())
        code = self.expr(v.shape, d, fresh=True)
        if self.ch.maybe(0.4) and v.shape == ():
            # a recurrence on itself: a loop-carried value
            code = self.ch.pick([f"np.tanh({v.name} * {self.const()} + {code})",
                                 f"{v.name} + {code}", f"0.5 * {v.name} + np.sin({code})"])
        self.emit(f"{v.name} = {code}")
        self.env[v.name] = Var(v.name, v.shape, True, False, self.is_active(code), v.indexable)
        self.modified.add(v.name)

    def stmt_aug(self, d):
        cands = [v for v in self.rebindable() if v.shape == () or v.owned]
        if not cands:
            return self.stmt_new(d)
        self.use("augassign")
        v = self.ch.pick(cands)
        op = self.ch.pick(["+=", "-=", "*="])
        shape = self.ch.pick(self.operand_shapes(v.shape))
        if op != "*=" and ((shape != v.shape and not v.active and "inactive_broadcast" in self.avoid)
                           or not self.bare_ok(v.name, "addable")):
            op = "*="
        e = self.expr(shape, d, bare="addable" if op != "*=" else "any")
        if op == "*=":
            e = self.ch.pick([f"np.cos({e})", f"(0.5 + 0.25 * np.tanh({e}))", f"np.exp(-({e}) * ({e}))"])
        self.emit(f"{v.name} {op} {e}")
        self.modified.add(v.name)
        v.active = v.active or self.is_active(e)

    def stmt_alloc(self, d):
        self.use("setitem")
        arrays = [v for v in self.fvars() if v.shape != ()]
        n, m = self.dims
        shape = self.ch.pick([(n,), (m,), (n, m)] + [v.shape for v in arrays])
        same = [v for v in arrays if v.shape == shape]
        kind = self.ch.integer(0, 3)
        if kind == 2 and same:
            src = self.ch.pick(same)
            code = f"{src.name}.copy()" if self.ch.maybe(0.6) else f"np.zeros_like({src.name})"
        else:
            fn = "np.zeros" if kind != 1 else "np.ones"
            code = f"{fn}({self.shape_code(shape)})"
        self.bind_new(shape, code, True, made=True)

    def shape_code(self, shape) -> str:
        """Code for a shape: literal, or from other values' shapes, or n."""
        same = [v for v in self.fvars() if v.shape == shape]
        if same and self.ch.maybe(0.4):
            v = self.ch.pick(same)
            return f"len({v.name})" if len(shape) == 1 and self.ch.maybe(0.5) else f"{v.name}.shape"
        parts = []
        for k in shape:
            e = self.int_expr(lambda vals, k=k: vals == frozenset({k}))
            parts.append(e.code if e is not None and self.ch.maybe(0.5) else str(k))
        return parts[0] if len(parts) == 1 and self.ch.maybe(0.5) else f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"

    def stmt_setitem(self, d):
        self.use("setitem")
        v = self.ch.pick(self.element_targets())
        op = self.ch.pick(["=", "+=", "=", "-=", "*="])
        if len(v.shape) == 1:
            target, shape = f"{v.name}[{self.index(v.shape[0])}]", ()
        else:
            form = self.ch.integer(0, 2)
            if form == 0:
                target, shape = f"{v.name}[{self.index(v.shape[0])}, {self.index(v.shape[1])}]", ()
            elif form == 1:
                target, shape = f"{v.name}[{self.index(v.shape[0])}]", (v.shape[1],)
            else:
                target, shape = f"{v.name}[:, {self.index(v.shape[1])}]", (v.shape[0],)
        if shape != () and (not self.has_leaf(shape) or self.ch.maybe(0.3)):
            shape = ()
        e = self.expr(shape, d)
        if op == "*=":
            e = f"np.cos({e})"
        self.emit(f"{target} {op} {e}")
        v.active = v.active or self.is_active(e)

    def stmt_slice(self, d):
        self.use("slice_write")
        v = self.ch.pick([v for v in self.element_targets() if len(v.shape) == 1])
        sl, k = self.slice_of(v.shape[0])
        shape = (k,) if self.has_leaf((k,)) and self.ch.maybe(0.7) else ()
        op = self.ch.pick(["=", "+=", "-="])
        e = self.expr(shape, d)
        if e == v.name and "self_slice_write" in self.avoid:
            e = f"np.tanh({e})"
        self.emit(f"{v.name}[{sl}] {op} {e}")
        v.active = v.active or self.is_active(e)

    def stmt_fill(self, d):
        """An np.empty array filled element by element in a loop."""
        self.use("setitem")
        self.use("for")
        n, m = self.dims
        k = self.ch.pick([n, m])
        name = self.bind_new((k,), f"np.empty({k})", True, made=True)
        i = self.loop_name()
        self.emit(f"for {i} in range({k}):")
        self.ints[i] = Int(i, frozenset(range(k)))
        saved = self.enter()
        self.loop_depth += 1
        self.iterations *= k
        del self.env[name]   # not readable until filled
        e = self.expr((), d)
        self.emit(f"{name}[{i}] = {e}")
        filled_active = self.is_active(e)
        self.leave(saved, [self.snapshot()], loop=True)
        self.loop_depth -= 1
        self.iterations //= k
        del self.ints[i]
        self.env[name] = Var(name, (k,), True, True, filled_active)

    # --- blocks ---
    def enter(self):
        self.ind += 1
        self.block_depth += 1
        return self.snapshot()

    def snapshot(self):
        return {k: Var(v.name, v.shape, v.owned, v.made, v.active, v.indexable) for k, v in self.env.items()}

    def leave(self, before, ends, loop=False):
        """Back to the enclosing block: names of `before` stay, owned where every path that
        continues (and, for loops, the path that skips the body) left them owned."""
        self.ind -= 1
        self.block_depth -= 1
        paths = list(ends) + ([before] if loop else [])
        env = {}
        for k, v in before.items():
            owned = all(p[k].owned for p in paths if k in p) if paths else v.owned
            made = all(p[k].made for p in paths if k in p) if paths else v.made
            active = all(p[k].active for p in paths if k in p) if paths else v.active
            env[k] = Var(v.name, v.shape, owned, made, active, v.indexable)
        self.env = env

    def stmt_if(self, d):
        self.use("if")
        n_elif = self.ch.weighted([(3, 0), (2, 1), (1, 2)])
        has_else = self.ch.maybe(0.6)
        ret_first = self.returns_allowed() and self.ch.maybe(0.2)
        # values assigned on every path, read after the if
        merged = []
        if has_else:
            for _ in range(self.ch.weighted([(2, 0), (2, 1), (1, 2)])):
                merged.append((self.fresh(), self.ch.pick(self.shape_pool())))
                self.shapes[merged[-1][0]] = merged[-1][1]
        before = self.snapshot()
        ends = []
        heads = [f"if {self.cond(d)}:"] + [f"elif {self.cond(d)}:" for _ in range(n_elif)]
        heads += ["else:"] if has_else else []
        for b, head in enumerate(heads):
            self.emit(head)
            self.enter()
            self.env = {k: Var(v.name, v.shape, v.owned, v.made, v.active, v.indexable)
                        for k, v in before.items()}
            guard = b == 0 and ret_first and "nested_return" in self.avoid
            self.no_return += guard
            self.body(1, 3, d)
            self.no_return -= guard
            if b == 0 and ret_first:
                self.use("return")
                if self.loop_depth:
                    self.use("return_in_loop")
                self.emit(f"return {self.expr(self.ret_shape, d, fresh=True)}")
            else:
                for name, shape in merged:
                    self.emit(f"{name} = {self.expr(shape, d, fresh=True)}")
                ends.append(self.snapshot())
            self.ind -= 1
            self.block_depth -= 1
        self.ind += 1
        self.block_depth += 1
        self.leave(before, ends + ([] if has_else else [before]))
        for name, shape in merged:
            self.env[name] = Var(name, shape, True)
            if self.block_depth == 0:
                self.locals.append(name)

    def loop_name(self) -> str:
        for name in ("i", "j", "k", "l", "i2", "j2", "k2"):
            if name not in self.ints:
                return name
        return self.fresh("i")

    def stmt_for(self, d):
        self.use("for")
        room = MAX_ITERATIONS // self.iterations
        form = self.ch.integer(0, 3)
        small = lambda vals: all(0 <= x <= 6 for x in vals)
        if form <= 1:
            stop = self.int_expr(small) or Int("3", frozenset({3}))
            if form == 0:
                header_args, start, step = stop.code, Int("0", frozenset({0})), 1
            else:
                start = self.int_expr(lambda vals: all(0 <= x <= 4 for x in vals)) or Int("1", frozenset({1}))
                header_args, step = f"{start.code}, {stop.code}", 1
        elif form == 2:
            start = self.int_expr(lambda vals: all(0 <= x <= 3 for x in vals)) or Int("0", frozenset({0}))
            stop = self.int_expr(small) or Int("5", frozenset({5}))
            step = self.ch.integer(2, 3)
            header_args = f"{start.code}, {stop.code}, {step}"
        else:
            start = self.int_expr(lambda vals: all(0 <= x <= 6 for x in vals)) or Int("3", frozenset({3}))
            stop = self.ch.pick([Int("-1", frozenset({-1})), Int("0", frozenset({0}))] +
                                ([self.int_expr(lambda vals: all(-1 <= x <= 3 for x in vals))] if self.ch.maybe(0.3) else []))
            if stop is None:
                stop = Int("-1", frozenset({-1}))
            step = -self.ch.integer(1, 2)
            header_args = f"{start.code}, {stop.code}, {step}"
        vals, trips = _rng_values(start, stop, step)
        if trips > room or (trips == 0 and not self.ch.maybe(0.1)):
            trips = min(room, self.ch.integer(1, 3))
            vals, header_args = frozenset(range(trips)), str(trips)
        i = self.loop_name()
        self.emit(f"for {i} in range({header_args}):")
        self.loop_block(i, vals, max(trips, 1), d)

    def loop_block(self, i, vals, trips, d, prologue=None):
        if i is not None:
            self.ints[i] = Int(i, vals)
        self.loop_outer.append(set(self.env))
        before = self.enter()
        if prologue:
            prologue()
        self.loop_depth += 1
        self.iterations *= trips
        self.body(1, 3, d)
        self.leave(before, [self.snapshot()], loop=True)
        self.loop_outer.pop()
        self.loop_depth -= 1
        self.iterations //= trips
        if i is not None:
            del self.ints[i]

    def stmt_while(self, d):
        self.use("while")
        room = MAX_ITERATIONS // self.iterations
        if self.ch.maybe(0.5):
            # a counter, and a data condition that may end the loop early
            c = self.fresh("c")
            bound = self.int_expr(lambda vals: all(1 <= x <= min(6, room) for x in vals)) or Int("2", frozenset({2}))
            self.emit(f"{c} = 0")
            data = ""
            if self.has("boolops") and self.ch.maybe(0.7):
                self.use("boolops")
                data = f" and {self.compare(d)}"
            self.emit(f"while {c} < {bound.code}{data}:")
            trips = max(bound.vals)
            self.ints[c] = Int(c, frozenset(range(1, trips + 1)))

            def prologue():
                self.emit(f"{c} += 1")
            self.loop_block(c, frozenset(range(1, trips + 1)), trips, d, prologue)
        else:
            # an accumulator that runs up to a threshold: between 1 and 10 trips, data-dependent
            t = self.fresh("t")
            self.emit(f"{t} = np.tanh({self.expr((), d)})")
            self.env[t] = Var(t, (), True)
            self.shapes[t] = ()
            if self.block_depth == 0:
                self.locals.append(t)
            self.emit(f"while {t} < 1.0:")
            self.frozen.add(t)
            trips = min(10, room)

            def prologue():
                self.emit(f"{t} = {t} + 0.2 + 0.3 * np.cos({self.expr((), d)}) ** 2")
            self.loop_block(None, frozenset(), trips, d, prologue)
            self.frozen.discard(t)

    def stmt_break(self, d):
        self.use("break")
        self.emit(f"if {self.cond(d)}:")
        self.ind += 1
        self.emit(self.ch.pick(["break", "continue"]))
        self.ind -= 1

    def stmt_return(self, d):
        self.use("return")
        if self.loop_depth:
            self.use("return_in_loop")
        self.use("if")
        self.emit(f"if {self.cond(d)}:")
        self.ind += 1
        self.emit(f"return {self.expr(self.ret_shape, d, fresh=True)}")
        self.ind -= 1

    # --- the final return ---
    def final_return(self, d):
        """The result: a fresh expression plus every value defined at function level, so that
        every statement can reach the output."""
        terms = [self.expr(self.ret_shape, d, fresh=True)]
        if self.rec and not self.is_helper and not self.rec_calls and self.rec_arg_shapes():
            # f calls the recursive helper at least once on every path that gets here
            call = self.rec_call(d)
            terms.append(f"{self.const()} * {call if self.rec.ret == () else f'np.sum({call})'}")
        params = [k for k in self.env if k in self.modified and k not in self.locals]
        for name in params + self.locals:
            v = self.env.get(name)
            if v is None:
                continue
            weight = self.const()
            if v.shape == self.ret_shape or v.shape == ():
                bare = self.bare_ok(name, "addable") and self.ch.maybe(0.5)
                terms.append(name if bare else f"{weight} * {name}")
            else:
                red = self.ch.pick(["np.sum({0})", "np.mean({0})", "np.sum({0} * {0})", "np.sum(np.sin({0}))"])
                terms.append(f"{weight} * {red.format(name)}")
        self.emit("return " + " + ".join(terms))


# --- recursive helpers ------------------------------------------------------------------------

@dataclass(frozen=True)
class RecHelper:
    """A recursive helper as its callers see it."""
    name: str             # "h" (not r: f has a float parameter r)
    kind: str             # "depth": h(p, k); "range": h(q, lo, hi); "halves": h(q)
    arg: tuple            # the shape of its float argument ("halves": any vector)
    ret: tuple            # the shape of its result
    depth: int = 0        # "depth": the largest k a call passes


REC_COEFFICIENTS = ("0.5", "-0.5", "0.3", "0.9", "-0.7", "0.25")


def _recursive_helpers(ch: Chooser, features, dims, used: set, shapes: dict, float_params, avoid):
    """The recursive helper h (and, for a mutual recursion, h2): (RecHelper, source lines).

    Values stay bounded at every depth: the float argument of a recursive call is a bounded map
    (tanh, sin, a contraction) of the caller's values, the result adds the recursive result times a
    coefficient of at most 1 (at most 1/2 each for two calls) to a term computed from bounded
    values, and depths are at most 4. Every recursion ends on integers: `k <= 0` (k falls by 1 or
    2), `hi - lo <= 1` (halves of an index range), `len(q) <= 1` (halves of the vector); the
    forms that would not end at a bad integer argument (`hi - lo == 1`, `len(q) == 1`) are used
    only without the edge cases, whose integer arguments may be anything."""
    used.add("recursive_helper")
    vectors = [p[2] for p in float_params if len(p[2]) == 1]
    kind = ch.weighted([(3, "depth"), (2 if vectors else 0, "range"), (1 if vectors else 0, "halves")])
    edges = bool(features & EDGE_CASES)
    if kind == "depth":
        sa = ch.pick([()] + [p[2] for p in float_params])
        ret = ch.pick([(), sa])
        depth = ch.integer(1, 4)
        rec = RecHelper("h", "depth", sa, ret, depth)
        mutual = ret == () or "mutual_array_recursion" not in avoid
        names = ["h", "h2"] if mutual and ch.maybe(0.25) else ["h"]     # h2: a mutual recursion h -> h2 -> h
        lines = []
        for k, name in enumerate(names):
            callee = names[(k + 1) % len(names)]
            lines += ([""] if lines else []) + _depth_function(ch, features, dims, used, shapes, avoid, name,
                                                               callee, rec, 200 + 100 * k)
        return rec, lines
    length = ch.pick(vectors)[0]
    if kind == "range":
        return RecHelper("h", "range", (length,), ()), _range_function(ch, features, dims, used, shapes, avoid,
                                                                         length, edges)
    return RecHelper("h", "halves", (length,), ()), _halves_function(ch, features, used, edges)


def _bounded_map(ch: Chooser, g: Gen, shape, name: str) -> str:
    """A value of this shape, bounded whatever the function's values are: a recursive call's argument."""
    e = g.expr(shape, 1)
    return ch.pick([f"np.tanh({e})", f"np.sin({e})", f"np.tanh({name} * {ch.pick(['0.5', '1.5', '-0.8'])})",
                    f"0.5 * {name} + 0.25 * np.cos({e})"])


def _depth_function(ch: Chooser, features, dims, used, shapes, avoid, name, callee, rec: RecHelper, counter):
    """def name(p, k): recursion on a depth k, calling `callee` (itself, or its partner) at k - 1
    (or k - 2); a prelude of a few generated statements (branches, loops, early returns), then the
    base case and the recursive case, in either order, the recursive case sometimes split by a
    branch on the data, sometimes with two recursive calls."""
    sa, ret = rec.arg, rec.ret
    step = 1 if ch.maybe(0.75) else 2
    g = Gen(ch, features, dims, used, shapes, ret_shape=ret, budget=ch.integer(0, 5), depth_limit=1, avoid=avoid)
    g.env = {"p": Var("p", sa)}
    shapes["p"] = sa
    g.ints = {"k": Int("k", frozenset(range(1 - step, rec.depth + 1)))}
    g.is_helper = g.recursive = True
    g.parameters = frozenset({"p"})
    g.counter = counter
    g.body(0, 3)

    def recursive_case():
        c = ch.pick(REC_COEFFICIENTS)
        term = f"({g.expr(ret, 1)})"
        call = f"{callee}({_bounded_map(ch, g, sa, 'p')}, k - {step})"
        form = ch.integer(0, 4)
        if form == 0:
            return f"{term} + {c} * {call}"
        if form == 1:
            return f"np.tanh({term} + {call})"
        if form == 2:
            return f"{term} * (1.0 + {c} * np.tanh({call}))"
        if form == 3:   # two recursive calls (a tree of calls): coefficients of at most 1/2
            call2 = f"{callee}({_bounded_map(ch, g, sa, 'p')}, k - {step})"
            return f"{term} + {ch.pick(['0.5', '-0.5', '0.25'])} * {call} + {ch.pick(['0.5', '-0.25'])} * {call2}"
        return f"{term} * (0.1 * k) + {c} * {call}"

    base = g.expr(ret, 2, fresh=True)
    base_test, rec_test = ch.pick([("k <= 0", "k > 0"), ("k < 1", "k >= 1"), ("0 >= k", "0 < k")])
    lines = [f"def {name}(p, k):", *g.lines]
    if ch.maybe(0.7):
        lines += [f"    if {base_test}:", f"        return {base}"]
        if ch.maybe(0.3):
            lines += [f"    if {g.cond(1)}:", f"        return {recursive_case()}"]
        lines += [f"    return {recursive_case()}"]
    else:
        lines += [f"    if {rec_test}:", f"        return {recursive_case()}", f"    return {base}"]
    return lines


def _leaf_form(ch: Chooser, x: str) -> str:
    """A bounded number computed from the element x (and the index lo, where there is one)."""
    forms = [f"np.tanh({x})", f"np.sin({x})", f"np.cos({x}) * {ch.pick(REC_COEFFICIENTS)}",
             f"1.0 / (1.0 + {x} * {x})", f"np.exp(np.tanh({x}))", f"np.tanh({x}) + 1.5"]
    if "lo" in x:
        forms.append(f"np.sin({x}) * (lo + 1.0)")
    return ch.pick(forms)


def _combine(ch: Chooser, features, used, a: str, b: str) -> str:
    """A bounded combination of the results of the two halves."""
    forms = [f"{a} + {b}", f"{a} + np.tanh({b})", f"{a} * 0.5 + {b}", f"np.sin({a}) + {b}",
             f"{a} * {b}", f"{a} + {b} * {ch.pick(REC_COEFFICIENTS)}"]
    if "kinks" in features and ch.maybe(0.2):
        used.add("kinks")
        return f"{ch.pick(['np.maximum', 'np.minimum'])}({a}, {b})"
    return ch.pick(forms)


def _range_function(ch: Chooser, features, dims, used, shapes, avoid, length, edges) -> list:
    """def h(q, lo, hi): divide and conquer on the index range [lo, hi) of a vector."""
    base = _leaf_form(ch, "q[lo]")
    if ch.maybe(0.4):
        # and a generated term, which may read q anywhere (at indices valid for every lo and hi)
        g = Gen(ch, features, dims, used, shapes, budget=0, avoid=avoid)
        g.env = {"q": Var("q", (length,))}
        g.is_helper = g.recursive = True
        shapes["q"] = (length,)
        g.ints = {"lo": Int("lo", frozenset(range(length))), "hi": Int("hi", frozenset(range(1, length + 1)))}
        base = f"{base} + {ch.pick(REC_COEFFICIENTS)} * np.tanh({g.expr((), 2)})"
    tests = ["hi - lo <= 1", "hi <= lo + 1", "hi - lo < 2"] + ([] if edges else ["hi - lo == 1"])
    lines = ["def h(q, lo, hi):", f"    if {ch.pick(tests)}:", f"        return {base}",
             "    mid = (lo + hi) // 2"]
    left, right = "h(q, lo, mid)", "h(q, mid, hi)"
    if ch.maybe(0.5):
        left, right = right, left
    if ch.maybe(0.4):
        lines += [f"    left = {left}", f"    right = {right}"]
        shapes.update(left=(), right=())
        left, right = "left", "right"
    return lines + [f"    return {_combine(ch, features, used, left, right)}"]


def _halves_function(ch: Chooser, features, used, edges) -> list:
    """def h(q): divide and conquer on the halves of a vector (a different length at every depth)."""
    size = ch.pick(["len(q)", "q.shape[0]"])
    tests = [f"{size} <= 1", f"{size} < 2"] + ([] if edges else [f"{size} == 1"])
    base = _leaf_form(ch, "q[0]") if ch.maybe(0.7) else "np.sum(np.tanh(q))"
    a, b = "h(q[:mid])", "h(q[mid:])"
    if ch.maybe(0.5):
        a, b = b, a
    return ["def h(q):", f"    if {ch.pick(tests)}:", f"        return {base}", f"    mid = {size} // 2",
            f"    return {_combine(ch, features, used, a, b)}"]


# --- a whole program --------------------------------------------------------------------------

def _literal(x) -> str:
    if isinstance(x, np.ndarray):
        return f"np.array({x.tolist()!r})"
    return repr(x)


def _draw_values(seed: int, params):
    rng = np.random.default_rng(seed)
    out = []
    for name, kind, shape, value in params:
        if kind == "int":
            out.append(value)
        elif shape == ():
            out.append(float(np.round(rng.uniform(-1.0, 1.0), 3)))
        else:
            out.append(np.round(rng.uniform(-1.0, 1.0, shape), 3))
    return out


#: values an edge-case input takes besides uniform ones; a NaN or an infinity is rarer
EDGE_VALUES = (0.0, 0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-8, -1e8)
NONFINITE = (float("inf"), float("-inf"), float("nan"))
SENTINEL = 777.0        # the elements a strided argument skips: reading one shows up in the result
EDGE_VARIANTS = 6       # input variants of an edge-case program (the first is its args())


def _edge_array(rng, shape, nonfinite: bool):
    x = np.round(rng.uniform(-1.0, 1.0, shape), 3)
    share = rng.choice([0.0, 0.3, 0.6, 1.0])
    pick = rng.random(shape) < share
    x = np.where(pick, rng.choice(EDGE_VALUES, shape), x)
    if nonfinite and rng.random() < 0.5:
        x = np.where(rng.random(shape) < 0.2, rng.choice(NONFINITE, shape), x)
    if rng.random() < 0.1:
        x = np.zeros(shape)
    return x


def _edge_values(seed: int, params, dims, out_of_range: bool):
    """Edge-case inputs: zeros, -0.0, +-1, tiny and huge values, sometimes inf and nan; with
    `out_of_range`, an integer argument may also exceed the shapes it indexes."""
    rng = np.random.default_rng(seed)
    nonfinite = rng.random() < 0.3
    out = []
    for name, kind, shape, value in params:
        if kind == "int":
            out.append(int(rng.choice([value, value, value + 1, max(dims) + 1, 0])) if out_of_range else value)
        elif shape == ():
            out.append(float(_edge_array(rng, (), nonfinite)))
        else:
            out.append(_edge_array(rng, shape, nonfinite))
    return out


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "np.nan"
    if v in (float("inf"), float("-inf")):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(float(v))


def _list_text(x) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_list_text(v) for v in x) + "]"
    return _float_text(x)


def _layout_text(x, layout: str) -> str:
    """Code for an array equal to x, laid out in memory as `layout` says: "C"; "F" (Fortran order);
    "T" (the transpose of a C array); "step" (every second element of an array whose other
    elements are SENTINEL); "rev" (a reversed view of a reversed copy); "offset" (a view that
    starts one element in)."""
    x = np.asarray(x, dtype=float)
    if layout == "C" or x.ndim == 0:
        return f"np.array({_list_text(x.tolist())})"
    if layout == "F":
        return f"np.asfortranarray(np.array({_list_text(x.tolist())}))"
    if layout == "T":
        return f"np.array({_list_text(x.T.tolist())}).T"
    if layout == "rev":
        flip = x[::-1] if x.ndim == 1 else x[::-1, ::-1]
        return f"np.array({_list_text(flip.tolist())})" + ("[::-1]" if x.ndim == 1 else "[::-1, ::-1]")
    if layout == "offset":
        flat = [SENTINEL] + x.ravel().tolist()
        return f"np.array({_list_text(flat)})[1:].reshape({x.shape})"
    big = np.full(tuple(2 * k for k in x.shape), SENTINEL)      # "step"
    if x.ndim == 1:
        big[::2] = x
        return f"np.array({_list_text(big.tolist())})[::2]"
    big[::2, ::2] = x
    return f"np.array({_list_text(big.tolist())})[::2, ::2]"


def _args_text(params, values, layouts) -> str:
    parts = [_float_text(v) if kind == "float" and shape == () else
             (repr(v) if kind == "int" else _layout_text(v, layouts.get(name, "C")))
             for (name, kind, shape, _), v in zip(params, values)]
    return f"def args():\n    return ({', '.join(parts)}{',' if len(parts) == 1 else ''})\n"


def _variants(ch: Chooser, params, dims, features, seed: int, values0, count: int) -> tuple:
    """The args() sources of an edge-case program: its own, then edge-case values. With "layouts",
    half the programs pass every array in another memory layout (one per argument and program, the
    same in every variant, so that Numba compiles one specialization for all of them)."""
    layouts = {}
    if "layouts" in features and ch.maybe(0.5):
        for name, kind, shape, _ in params:
            if kind == "float" and shape != ():
                layouts[name] = ch.pick(["step", "rev", "offset"] + (["F", "T"] if len(shape) == 2 else []))
    out = [_args_text(params, values0, layouts)]
    for k in range(1, count):
        edge = "edge_inputs" in features and k % 3 != 0
        values = (_edge_values(seed + k, params, dims, "out_of_range" in features) if edge
                  else _draw_values(seed + k, params))
        out.append(_args_text(params, values, layouts))
    return tuple(out)


def _render(helper_lines, f_lines, params, values) -> str:
    parts = ["import numpy as np", ""]
    if helper_lines:
        parts += ["", *helper_lines, ""]
    parts += ["", f"def f({', '.join(p[0] for p in params)}):", *f_lines, "", ""]
    parts += ["def args():", f"    return ({', '.join(_literal(v) for v in values)}{',' if len(values) == 1 else ''})", ""]
    return "\n".join(parts)


def generate(ch: Chooser, features=STRAIGHT_LINE, budget: int = 12, avoid=frozenset(), variants=EDGE_VARIANTS):
    """A Program, or None when no inputs tried make it numerically safe (see the docstring).
    `avoid`: constructs of AVOIDABLE to leave out; `variants`: how many input variants an
    edge-case program gets."""
    features, avoid = frozenset(features), frozenset(avoid)
    assert avoid <= AVOIDABLE, avoid - AVOIDABLE
    unknown = features - FEATURES - EDGE_CASES
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}")
    used: set = set()
    shapes: dict = {}
    n = ch.integer(1, 4)
    m = ch.integer(1, 3)
    dims = (n, m)
    params = []   # (name, kind, shape, value for ints)
    vec_names, mat_names = iter(["x", "z", "u"]), iter(["A", "B", "C"])
    for _ in range(ch.integer(1, 3)):
        shape = ch.pick([(n,), (m,), (n, m)])
        params.append((next(mat_names) if len(shape) == 2 else next(vec_names), "float", shape, None))
    for name in ["s", "r"][:ch.integer(0, 2)]:
        params.append((name, "float", (), None))
    if "int_arg" in features and ch.maybe(0.4):
        used.add("int_arg")
        params.append(("n", "int", None, ch.integer(0, max(n, m))))
    rot = ch.integer(0, len(params) - 1)
    params = params[rot:] + params[:rot]
    float_params = [p for p in params if p[1] == "float"]

    def setup(gen):
        for name, kind, shape, value in params:
            if kind == "float":
                gen.env[name] = Var(name, shape, False, False, True, gen.coin_indexable())
                shapes[name] = shape
            else:
                gen.ints[name] = Int(name, frozenset({value}))

    rec = None
    rec_lines = []
    if "recursive_helper" in features and ch.maybe(0.4):
        rec, rec_lines = _recursive_helpers(ch, features, dims, used, shapes, float_params, avoid)

    helper = None
    helper_lines = []
    if "helper" in features and ch.maybe(0.35):
        sa = ch.pick([p[2] for p in float_params])
        sb = ch.pick([(), sa] + [p[2] for p in float_params])
        ret = ch.pick([(), sa])
        hg = Gen(ch, features, dims, used, shapes, ret_shape=ret, budget=ch.integer(1, 4), depth_limit=1,
                 avoid=avoid, rec=rec)
        hg.env = {"a": Var("a", sa), "b": Var("b", sb)}
        hg.is_helper = True
        shapes.update(a=sa, b=sb)
        hg.counter = 100
        hg.body(1, 3)
        hg.final_return(2)
        helper = ("g", sa, sb, ret)
        helper_lines = ["def g(a, b):", *hg.lines]
    if rec_lines:
        helper_lines = rec_lines + ([""] if helper_lines else []) + helper_lines

    gen = Gen(ch, features, dims, used, shapes, helper=helper, budget=budget, avoid=avoid, rec=rec)
    setup(gen)
    gen.body(2, max(2, budget // 2))
    gen.final_return(2)

    fnums = tuple(i for i, p in enumerate(params) if p[1] == "float")
    argnums = fnums
    if len(fnums) > 1 and "inactive_broadcast" not in avoid and ch.maybe(0.2):
        argnums = tuple(sorted({ch.pick(fnums) for _ in range(len(fnums) - 1)}))

    seed = ch.integer(0, 2 ** 16)
    if features & EDGE_CASES:
        # no numerical safety asked: the program runs once to check the generator's shapes, then
        # gets its input variants
        values = _draw_values(seed, params)
        source = _render(helper_lines, gen.lines, params, values)
        check_shapes(source, values, shapes)
        return Program(_canonical(source), argnums, frozenset(used),
                       _variants(ch, params, dims, features, seed, values, variants))
    for attempt in range(INPUT_TRIES):
        values = _draw_values(seed + attempt, params)
        source = _render(helper_lines, gen.lines, params, values)
        safe = safe_at_inputs(source, values, shapes)
        if safe:
            # round-trip through ast: canonical parentheses and spacing
            return Program(_canonical(source), argnums, frozenset(used))
        if safe is None:
            return None
    return None


def _canonical(source: str) -> str:
    tree = ast.parse(source)
    out = []
    for node in tree.body:
        text = ast.unparse(node)
        if isinstance(node, ast.FunctionDef):
            out.append("\n\n" + text + "\n")
        else:
            out.append(text + "\n")
    return "".join(out).lstrip("\n")


def random_program(seed: int, features=STRAIGHT_LINE, budget: int = 12, avoid=frozenset(),
                   variants=EDGE_VARIANTS) -> Program:
    """The program of a seed (the first that passes the safety checks from that seed on)."""
    k = 0
    while True:
        prog = generate(RandomChooser(seed * 7919 + k), features, budget, avoid, variants)
        if prog is not None:
            return prog
        k += 1


def programs(features=STRAIGHT_LINE, budget: int = 12, avoid=frozenset()):
    """A Hypothesis strategy of Programs using only the given features."""
    from hypothesis import reject, strategies as st

    @st.composite
    def _programs(draw):
        prog = generate(DrawChooser(draw), features, budget, avoid)
        if prog is None:
            reject()
        return prog
    return _programs()


# --- the safety checks: an instrumented run -----------------------------------------------------

class _Unsafe(Exception):
    """The instrumented run found the inputs too close to a kink, a tie or an overflow."""


class Monitor:
    """Told every float comparison, kink and computed value of an instrumented run."""

    CMP = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal,
           "==": np.equal, "!=": np.not_equal}

    def __init__(self):
        self.margin = math.inf
        self.trace: list = []
        self.result = None

    @staticmethod
    def _is_int(x) -> bool:
        return isinstance(x, (int, np.integer)) or (isinstance(x, np.ndarray) and x.dtype.kind in "iub")

    def _gap(self, a, b):
        diff = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
        if diff.size:
            self.margin = min(self.margin, float(np.min(diff)))

    def cmp(self, a, op, b):
        r = self.CMP[op](a, b)
        if not (self._is_int(a) and self._is_int(b)):
            self._gap(a, b)
        self.trace.append(np.asarray(r).tobytes())
        return r if isinstance(r, np.ndarray) else bool(r)

    def kink2(self, fn, a, b):
        self._gap(a, b)
        self.trace.append(np.asarray(np.greater(a, b)).tobytes())
        return self.value(fn(a, b))

    def kabs(self, fn, a):
        self._gap(a, 0.0)
        self.trace.append(np.asarray(np.greater(a, 0.0)).tobytes())
        return self.value(fn(a))

    def kred(self, fn, a):
        flat = np.sort(np.ravel(np.asarray(a, dtype=float)))
        if flat.size >= 2:
            gap = flat[-1] - flat[-2] if fn in (np.max, np.amax) else flat[1] - flat[0]
            self.margin = min(self.margin, float(gap))
        self.trace.append(np.asarray(np.argmax(a) if fn in (np.max, np.amax) else np.argmin(a)).tobytes())
        return self.value(fn(a))

    @staticmethod
    def typed(name, shape, x):
        ok = np.shape(x) == tuple(shape) and (not isinstance(x, np.ndarray) or x.ndim > 0)
        if not ok or not isinstance(x, (float, np.floating, np.ndarray)):
            raise AssertionError(f"generator bug: {name} should have shape {shape}, has {np.shape(x)} "
                                 f"({type(x).__name__})")

    def value(self, x):
        if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
            a = np.asarray(x)
            if a.size and not (np.all(np.isfinite(a)) and np.max(np.abs(a)) <= MAX_MAGNITUDE):
                raise _Unsafe("magnitude")
        return x


class _Instrument(ast.NodeTransformer):
    KINK2 = {"maximum", "minimum"}
    KRED = {"max", "min"}

    def __init__(self, shapes):
        self.shapes = shapes

    def _typed(self, target):
        """`_m.typed(name, shape, name)` after an assignment to a float name."""
        if isinstance(target, ast.Name) and target.id in self.shapes:
            return [ast.Expr(self._m("typed", [ast.Constant(target.id), ast.Constant(self.shapes[target.id]),
                                                ast.Name(target.id, ast.Load())]))]
        return []

    def visit_Assign(self, node):
        self.generic_visit(node)
        return [node] + [c for t in node.targets for c in self._typed(t)]

    @staticmethod
    def _m(attr, args):
        return ast.Call(ast.Attribute(ast.Name("_m", ast.Load()), attr, ast.Load()), args, [])

    def visit_Compare(self, node):
        self.generic_visit(node)
        pairs, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            sym = {ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}[type(op)]
            pairs.append(self._m("cmp", [left, ast.Constant(sym), right]))
            left = right
        return pairs[0] if len(pairs) == 1 else ast.BoolOp(ast.And(), pairs)

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
            if f.attr in self.KINK2:
                return self._m("kink2", [f, *node.args])
            if f.attr == "abs":
                return self._m("kabs", [f, *node.args])
            if f.attr in self.KRED and not node.keywords:
                return self._m("kred", [f, *node.args])
        return self._m("value", [node])

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return self._m("value", [node])

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        load = ast.parse(ast.unparse(node.target), mode="eval").body
        return [node, ast.Expr(self._m("value", [load]))] + self._typed(node.target)


def instrumented(source: str, shapes: dict):
    """The module's namespace, with comparisons and kinks reporting to the namespace's `_m`."""
    tree = _Instrument(shapes).visit(ast.parse(source))
    ast.fix_missing_locations(tree)
    ns = {"__name__": "instrumented"}
    exec(compile(tree, "<instrumented>", "exec"), ns)
    return ns


class LenientMonitor(Monitor):
    """A monitor that lets any value through (edge-case programs compute inf and nan)."""

    def value(self, x):
        return x


def check_shapes(source: str, values, shapes: dict) -> None:
    """Run the program once as instrumented Python to check that every name has the shape it was
    generated with (AssertionError if not); errors the program raises itself (an index out of
    range, an empty maximum) end the check there."""
    ns = instrumented(source, shapes)
    ns["_m"] = LenientMonitor()
    # floats as NumPy's (s ** s at s < 0 is nan, not a complex number), as the fuzzer runs them
    args = [v.copy() if isinstance(v, np.ndarray) else np.float64(v) if isinstance(v, float) else v
            for v in values]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")      # NumPy's "Mean of empty slice"
        try:
            ns["f"](*args)
        except Exception as e:  # noqa: BLE001 - the program's own error ends the run; the monitor's do not
            if isinstance(e, AssertionError):
                raise


def run_monitored(ns, values):
    m = Monitor()
    ns["_m"] = m
    args = [v.copy() if isinstance(v, np.ndarray) else v for v in values]
    with np.errstate(all="ignore"):
        out = ns["f"](*args)
    if not (np.ndim(out) == 0 and np.isfinite(float(out)) and abs(float(out)) <= MAX_MAGNITUDE):
        raise _Unsafe("result")
    if isinstance(out, np.ndarray) or not isinstance(out, (float, np.floating)):
        raise AssertionError(f"f returned {type(out).__name__}, not a float")
    m.result = float(out)
    return m


def safe_at_inputs(source: str, values, shapes=None):
    """Whether f is smooth, and decides every branch the same way, around these inputs. With
    `shapes` ({name: shape}), also that every float name has its declared shape (a check of the
    generator itself: a mismatch raises AssertionError)."""
    ns = instrumented(source, shapes or {})
    try:
        base = run_monitored(ns, values)
    except _Unsafe:
        return False
    if base.margin == 0.0:
        return None   # an exact tie: almost surely one at every input (x[0] > x[-1] with len(x) == 1)
    if base.margin < MARGIN:
        return False
    rng = np.random.default_rng(12345)
    directions = []
    for _ in range(3):
        direction = [None if isinstance(v, int) else rng.choice([-1.0, 1.0], np.shape(v)) for v in values]
        directions.append(direction)
        try:
            m = run_monitored(ns, _moved(values, direction, PERTURBATION))
        except _Unsafe:
            return False
        if m.trace != base.trace:
            return False
    # central differences along a direction agree at two steps: no curvature so strong (a value
    # changing over a distance near the step) that a step of check_grad's size would misjudge it
    try:
        f0 = base.result
        for direction in directions[:2]:
            slopes = []
            for h in (STEPS[0], STEPS[1]):
                up = run_monitored(ns, _moved(values, direction, h)).result
                down = run_monitored(ns, _moved(values, direction, -h)).result
                slopes.append((up - down) / (2 * h))
            if abs(slopes[0] - slopes[1]) > 1e-4 * (abs(slopes[0]) + abs(slopes[1])) + 1e-7 * max(1.0, abs(f0)):
                return False
    except _Unsafe:
        return False
    return True


def _moved(values, direction, h):
    out = []
    for v, d in zip(values, direction):
        if d is None:
            out.append(v)
        elif isinstance(v, np.ndarray):
            out.append(v + h * d)
        else:
            out.append(float(v + h * d))
    return out


def feature_counts(progs) -> dict:
    counts = {f: 0 for f in sorted(FEATURES)}
    for p in progs:
        for f in p.features:
            counts[f] += 1
    return counts


_TOP_LEVEL_FOR = re.compile(r"^    for (\w+) in range\((.*)\):$")


def checkpointed_variant(source: str, snapshots: int) -> str | None:
    """The program with every `for` loop at the top level of a function that neither breaks nor
    returns marked `ct.checkpointed(range(...), snapshots=...)`; None when there is no such loop.
    Its gradient must equal the unmarked program's (tests/test_random_programs.py)."""
    lines = source.split("\n")
    marked = False
    for k, line in enumerate(lines):
        m = _TOP_LEVEL_FOR.match(line)
        if not m:
            continue
        body = []
        for later in lines[k + 1:]:
            if later.strip() and not later.startswith("        "):
                break
            body.append(later.strip())
        if any(b == "break" or b.startswith("return") for b in body):
            continue
        lines[k] = f"    for {m.group(1)} in ct.checkpointed(range({m.group(2)}), snapshots={snapshots}):"
        marked = True
    if not marked:
        return None
    text = "\n".join(lines)
    return text.replace("import numpy as np\n", "import numpy as np\nimport cotangent as ct\n", 1)


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    feats = FEATURES if "--all" in sys.argv else STRAIGHT_LINE
    for arg in sys.argv[2:]:
        if arg.startswith("--features="):
            feats = STRAIGHT_LINE | frozenset(a for a in arg.split("=", 1)[1].split(",") if a)
    print(random_program(seed, feats).source)
