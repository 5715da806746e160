"""The safety fuzzer: random programs at their edges, on every target, against NumPy.

tests/program_gen.py generates, with the features of program_gen.EDGE_CASES, programs that index
out of range (always, or at one loop index) and with computed negative indices, slice past the
ends, divide by anything and take logs, roots, arcsines and powers anywhere, reduce empty slices;
and gives each program input variants (its own arguments, then zeros, -0.0, +-1, tiny and huge
values, inf and nan, and strided, reversed, transposed and Fortran-ordered arrays). Each variant is
run by

* plain NumPy running the original function (float arguments passed as np.float64, so that NumPy's
  rules apply: 1.0 / 0.0 is inf, as in cotangent's compiled code);
* target="python": the primal and ct.value_and_grad;
* target="cpu" (Numba, error_model="numpy", bounds checked): the primal (twice: an index out of
  range must raise on every call, not only on the first) and ct.value_and_grad;

and every outcome must be the same: equal values (NaN where NaN, the same infinities, finite
values to 1e-7), or the same exception type (an index out of range is an IndexError naming the
program's file on the compiled targets). The gradients of the two targets must agree too, and no
call may change its arguments.

Some differences are not the compiler's: NumPy itself raising ZeroDivisionError or returning a
complex number (a Python float's rules, where the program divides or powers two constants) is not
compared with NumPy, and a difference of values is counted as inconclusive at a near-tie (a
comparison decided by less than 1e-9, which NumPy's and Numba's different summation orders can
flip) or where the program is ill-conditioned (NumPy's own result moves beyond the tolerance when
the inputs move by an ulp, as cos(s) does at s = 3e8).
Differences that are open compiler issues (KNOWN, SCALAR_MINMAX, NEGATIVE_BASE below) are counted
and not failed; each has a strict-xfail test with its smallest reproducer, which fails (XPASS)
once the issue is fixed, as a reminder to remove its entry so that the fuzzer checks it again.

The default run checks 300 programs (1,800 variants) on NumPy and the Python target (Hypothesis,
so failures shrink) and 6 (36 variants) on Numba too, whose two compiles per program, primal and
gradient, all the program's variants share; `-m exhaustive` checks 10,000 programs (60,000
variants) on Python and 1,000 programs (12,000 variants) on Numba, writing counts and every
failure, with a reproducer, to $COTANGENT_FUZZ_REPORT (default: safety_fuzz/ in the cache
directory) before failing.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

import cotangent as ct
import program_gen as pg
import test_random_programs as trp

FEATURES = trp.FEATURES | pg.EDGE_CASES
AVOIDED = trp.AVOIDED
TIE = 1e-9              # a decision closer than this to its tie may differ between NumPy and Numba
RTOL, ATOL = 1e-7, 1e-9

PYTHON_SHARDS, PYTHON_PER_SHARD = 6, 50                        # 300 programs, each with its variants
NUMBA_SEEDS = range(6)                                         # 6 programs x 6 variants on Numba
EXHAUSTIVE_PYTHON_SHARDS, EXHAUSTIVE_PYTHON_PER_SHARD = 10, 1000
EXHAUSTIVE_NUMBA_SHARDS, EXHAUSTIVE_NUMBA_PER_SHARD = 10, 100  # 1,000 programs x 12 variants
EXHAUSTIVE_NUMBA_VARIANTS = 12


# --- running and comparing ---------------------------------------------------------------------

class Outcome:
    """What a call did: returned a value, or raised."""

    def __init__(self, thunk):
        self.value, self.error = None, None
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.value = thunk()
            except Exception as e:  # noqa: BLE001 - compared below
                self.error = e

    @property
    def kind(self) -> str:
        """"value", or the exception's most specific built-in type (ct.BoundsError: IndexError)."""
        if self.error is None:
            return "value"
        for cls in type(self.error).__mro__:
            if cls.__module__ == "builtins":
                return cls.__name__
        return type(self.error).__name__

    def __repr__(self) -> str:
        if self.error is None:
            return f"value {self.value!r}"
        text = str(self.error).strip().splitlines()
        return f"{type(self.error).__name__}({text[0] if text else ''})"


def leaves_of(x) -> list:
    if isinstance(x, (tuple, list)):
        return [leaf for v in x for leaf in leaves_of(v)]
    return [x]


def same_values(a, b) -> bool:
    la, lb = leaves_of(a), leaves_of(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype.kind == "c" or y.dtype.kind == "c":
            return False
        x, y = x.astype(float), y.astype(float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return False
        inf = np.isinf(x) | np.isinf(y)
        if not np.array_equal(x[inf], y[inf]):
            return False
        fin = ~(np.isnan(x) | inf)
        if not np.allclose(x[fin], y[fin], rtol=RTOL, atol=ATOL * max(1.0, float(np.max(np.abs(x[fin]), initial=0)))):
            return False
    return True


def numpy_args(args) -> tuple:
    """The arguments as NumPy would hold them: floats as np.float64 (so 1.0 / 0.0 is inf)."""
    return tuple(np.float64(a) if isinstance(a, float) else a for a in args)


def copies(args) -> list:
    return [a.copy(order="K") if isinstance(a, np.ndarray) else a for a in args]


def unchanged(args, saved) -> bool:
    return all(np.array_equal(a, b, equal_nan=True) if isinstance(a, np.ndarray) else
               (a == b or (np.isnan(a) and np.isnan(b))) for a, b in zip(args, saved))


def decision_margin(prog: pg.Program, args) -> float:
    """How close the program's closest decision (comparison, maximum, abs) is to its tie."""
    ns = pg.instrumented(prog.source, {})
    ns["_m"] = monitor = pg.LenientMonitor()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(Exception):      # the program's own error: the margins seen so far count
            ns["f"](*numpy_args(copies(args)))
    return monitor.margin


def ill_conditioned(mod, args, reference: Outcome) -> bool:
    """Whether NumPy's own result changes beyond the tolerance when the inputs move by an ulp or
    two: then the last bits in which NumPy and Numba differ (summation order, libm) decide it too."""
    rng = np.random.default_rng(0)
    for _ in range(3):
        moved = [a * (1.0 + 4e-16 * rng.choice([-1.0, 1.0], np.shape(a))) if isinstance(a, (float, np.ndarray))
                 else a for a in numpy_args(copies(args))]
        o = Outcome(lambda m=moved: mod.f(*m))
        if o.kind != reference.kind or (o.error is None and not same_values(o.value, reference.value)):
            return True
    return False


class Mismatch(AssertionError):
    """Two of NumPy, the Python target and Numba disagree on a program's value or exception."""


# --- open issues: differences from NumPy the compiler has today --------------------------------------

def _underlying(o: Outcome) -> str:
    """The type of error a call raised, seen through a CompileError that names it ("ValueError: ...")."""
    if isinstance(o.error, ct.CompileError):
        head = str(o.error.message).split(":")[0]
        return head if head.endswith("Error") else o.kind
    return o.kind


def _error_as_compile_error(name, o, numpy, calls) -> bool:
    return isinstance(o.error, ct.CompileError) and numpy.error is not None and _underlying(o) == numpy.kind


def _unused_value_left_out(name, o, numpy, calls) -> bool:
    primal = dict(calls).get(name.replace("value_and_grad", "primal"))
    return "value_and_grad" in name and numpy.error is not None and primal is not None \
        and _underlying(primal) == numpy.kind and _underlying(o) != numpy.kind


def _another_error_first(name, o, numpy, calls) -> bool:
    return numpy.kind in ("IndexError", "ValueError") and _underlying(o) in ("IndexError", "ValueError") \
        and isinstance(o.error, ct.Error)


def _layout_a_allocation(name, o, numpy, calls) -> bool:
    return isinstance(o.error, NotImplementedError) and "allocate array with layout 'A'" in str(o.error)


def _zero_constant_division(name, o, numpy, calls) -> bool:
    return numpy.error is None and _underlying(o) == "ZeroDivisionError"


def _inplace_broadcast(name, o, numpy, calls) -> bool:
    return numpy.kind == "ValueError" and "non-broadcastable output operand" in str(numpy.error) and o.error is None


#: differences from NumPy that are open issues: counted, not failed. Each has a strict-xfail
#: regression test below; when one passes, remove its entry here.
KNOWN = {
    # test_runtime_error_keeps_its_type: an error other than an index out of range (an empty
    # maximum, a negative dimension) is raised as a ct.CompileError naming NumPy's type in its message
    "a runtime error raised as CompileError": _error_as_compile_error,
    # test_gradient_checks_unused_values: gradient code leaves out values that are never used, and
    # the errors computing them raises (an index out of range, an empty maximum), which the primal raises
    "an unused value's error left out of gradient code": _unused_value_left_out,
    # test_augmented_element_assignment_reads_the_element_first: `y[i] += e` evaluates e before
    # reading y[i], so where both fail, another error is raised than in Python
    "another error raised first": _another_error_first,
    # test_gradient_divides_by_a_zero_constant_as_numpy: the Python target's gradient of
    # x / (3.0 - 3.0) divides Python floats, and raises ZeroDivisionError (Numba's gives inf)
    "a gradient divides by a zero constant as Python floats": _zero_constant_division,
    # test_augmented_assignment_does_not_broadcast_its_target: `v *= e` with e of a larger shape
    # than v makes a new, larger v, where NumPy raises (it cannot write the result into v)
    "an augmented assignment broadcasts its target": _inplace_broadcast,
    # test_fortran_argument_rebound_in_a_loop: Numba types a Fortran-ordered argument that a loop
    # rebinds to a C array as layout 'A', and cannot allocate the result of A * A for it
    # (NotImplementedError from Numba, not a CompileError)
    "Numba cannot allocate for a layout-'A' array": _layout_a_allocation,
}
#: test_scalar_maximum_propagates_nan: np.maximum and np.minimum of two numbers are printed as
#: Python's max and min, which keep the first operand when the second is NaN
SCALAR_MINMAX = "np.maximum and np.minimum of numbers as Python's max and min"
#: test_gradient_of_power_of_negative_constant: SymPy's derivative of c ** x at c < 0 is complex
NEGATIVE_BASE = "the gradient of a negative constant's power does not compile"


class _PythonMinMax:
    """numpy, but np.maximum and np.minimum of two numbers are Python's max and min (NaN-blind)."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def maximum(a, b):
        return max(a, b) if np.ndim(a) == 0 and np.ndim(b) == 0 else np.maximum(a, b)

    @staticmethod
    def minimum(a, b):
        return min(a, b) if np.ndim(a) == 0 and np.ndim(b) == 0 else np.minimum(a, b)


def _numpy_with_python_minmax(prog: pg.Program, args) -> Outcome:
    ns: dict = {}
    exec(compile(prog.source, "<fuzz>", "exec"), ns)
    ns["np"] = _PythonMinMax()
    return Outcome(lambda: ns["f"](*numpy_args(args)))


def _problems(numpy: Outcome, calls, vg, targets, filename, known: Counter) -> list:
    """(what, text) of every difference: "kind", "value", "message" or "arguments"."""
    problems = []
    # NumPy following a Python float's rules (a division or power of two constants) is not compared
    python_float = numpy.kind == "ZeroDivisionError" or (numpy.error is None and np.iscomplexobj(numpy.value))
    for name, o in calls:
        if o.kind == "IndexError" and filename not in str(o.error):
            problems.append(("message", f"{name}: the IndexError does not name {filename}: {o!r}"))
        if python_float:
            continue
        if o.kind != numpy.kind:
            cause = next((k for k, test in KNOWN.items() if test(name, o, numpy, calls)), None)
            if cause is not None:
                known[cause] += 1
            else:
                problems.append(("kind", f"{name}: {o!r}, but NumPy: {numpy!r}"))
        elif o.error is None:
            got = o.value[0] if "value_and_grad" in name else o.value
            if not same_values(got, numpy.value):
                problems.append(("value", f"{name}: {got!r}, but NumPy: {numpy.value!r}"))
    if len(targets) > 1:
        a, b = (vg[t] for t in targets)
        known_each = all(o.kind == numpy.kind or any(test(f"{t} value_and_grad", o, numpy, calls)
                                                     for test in KNOWN.values())
                         for t, o in ((targets[0], a), (targets[1], b)))
        if a.kind != b.kind:
            if not (known_each and not python_float):
                problems.append(("kind", f"value_and_grad: {targets[0]} {a!r}, {targets[1]} {b!r}"))
        elif a.error is None and not same_values(a.value, b.value):
            problems.append(("value", f"value_and_grad: {targets[0]} {a.value!r}, {targets[1]} {b.value!r}"))
    return problems


def check_edge_program(prog: pg.Program, targets=("python", "cpu"), counts: Counter | None = None) -> Counter:
    """Every variant of the program on NumPy and the targets: the same values or exception types.
    Returns counts of what was seen; raises Mismatch with a reproducer on a difference."""
    counts = Counter() if counts is None else counts
    mod = prog.load(trp.program_dir())
    fs = {t: ct.differentiable(mod.f, target=t) for t in targets}
    vgs = {t: ct.value_and_grad(fs[t], argnums=prog.argnums) for t in targets}
    filename = Path(mod.__file__).name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ct.source(vgs[targets[0]], *prog.variant_args()[0])
    except ct.CompileError as e:
        counts["rejected by the compiler: " + str(e.message).splitlines()[0][:100]] += 1
        return counts
    except TypeError as e:
        if "Cannot convert complex to float" not in str(e):
            raise
        counts[f"known: {NEGATIVE_BASE}"] += 1
        return counts
    for k, args in enumerate(prog.variant_args()):
        saved = copies(args)
        numpy = Outcome(lambda a=args: mod.f(*numpy_args(a)))
        calls = [(f"{t} primal", Outcome(lambda t=t, a=args: fs[t](*a))) for t in targets]
        calls += [(f"{t} primal, again", Outcome(lambda t=t, a=args: fs[t](*a))) for t in targets if t != "python"]
        vg = {t: Outcome(lambda t=t, a=args: vgs[t](*a)) for t in targets}
        calls += [(f"{t} value_and_grad", vg[t]) for t in targets]
        known = Counter()
        problems = _problems(numpy, calls, vg, targets, filename, known)
        if not unchanged(args, saved):
            problems.append(("arguments", "a call changed its arguments"))
        counts["variants"] += 1
        if numpy.kind == "ZeroDivisionError" or (numpy.error is None and np.iscomplexobj(numpy.value)):
            counts["NumPy followed a Python float's rules"] += 1
        elif numpy.error is not None:
            counts[f"NumPy raised {numpy.kind}"] += 1
        elif np.all(np.isfinite(numpy.value)):
            counts["NumPy returned a finite value"] += 1
        else:
            counts["NumPy returned inf or nan"] += 1
        if problems and not _problems(_numpy_with_python_minmax(prog, args), calls, vg, targets, filename, Counter()):
            counts[f"known: {SCALAR_MINMAX}"] += 1
            continue
        counts.update({f"known: {cause}": n for cause, n in known.items()})
        if problems and all(what == "value" for what, _ in problems):
            if decision_margin(prog, args) < TIE:
                counts["inconclusive (a near-tie)"] += 1
                continue
            if ill_conditioned(mod, args, numpy):
                counts["inconclusive (ill-conditioned)"] += 1
                continue
        if problems:
            counts["mismatches"] += 1
            raise Mismatch("\n".join(text for _, text in problems)
                           + f"\n\nThe program (argnums={prog.argnums}, variant {k}):\n\n" + prog.with_variant(k))
    counts["programs"] += 1
    return counts


def edge_programs(budget: int = 10):
    return pg.programs(FEATURES, budget=budget, avoid=AVOIDED)


# --- the default run ------------------------------------------------------------------------------

@pytest.mark.parametrize("shard", range(PYTHON_SHARDS))
@trp.examples(PYTHON_PER_SHARD)
@given(prog=edge_programs())
def test_edge_programs_python(shard, prog):
    check_edge_program(prog, targets=("python",))


def test_edge_programs_numba():
    failures, counts = [], Counter()
    for seed in NUMBA_SEEDS:
        # without recursive helpers, which Numba compiles again in every process (it cannot cache
        # recursion); test_random_programs.py compiles those with Numba
        prog = pg.random_program(seed, FEATURES - pg.RECURSION, budget=6, avoid=AVOIDED)
        try:
            check_edge_program(prog, counts=counts)
        except Mismatch as e:
            failures.append(str(e))
    assert counts["programs"] + len(failures) == len(NUMBA_SEEDS)
    assert not failures, f"{len(failures)} of {len(NUMBA_SEEDS)} programs differ; the first:\n{failures[0]}"


def test_edge_generator_uses_every_edge_case():
    progs = [pg.random_program(seed, FEATURES, avoid=AVOIDED) for seed in range(60)]
    counts = Counter(f for p in progs for f in p.features)
    assert all(counts[f] >= 3 for f in pg.EDGE_CASES - {"edge_inputs", "layouts"}), counts
    assert all(len(p.variants) == pg.EDGE_VARIANTS for p in progs)
    texts = "".join(v for p in progs for v in p.variants)
    for layout in ("np.asfortranarray(", ").T", "[::2]", "[::-1]", "[1:].reshape("):
        assert layout in texts, layout
    assert "np.nan" in texts and "np.inf" in texts and "-0.0" in texts
    # the edge cases leave the other programs as they were
    assert pg.random_program(3, trp.FEATURES).variants == ()


# --- the open issues (KNOWN, SCALAR_MINMAX, NEGATIVE_BASE) ---------------------------------------------

KNOWN_SOURCE = """
import numpy as np


def unused_read(x):
    v = x[5]
    return np.sum(x * x)


def empty_max(x):
    return np.max(x[3:])


def element_first(x):
    y = np.zeros(1)
    y[2] += np.max(x[3:])
    return np.sum(y)


def scalar_maximum(s, r):
    return np.maximum(r, s)


def negative_base(s):
    return (-0.3) ** s


def fortran_rebound(A, x):
    for i in range(2):
        A = np.outer(x, x)
    return np.sum(A * A)


def zero_constant(x):
    return np.sum(x) / (3.0 - 3.0)


def inplace_broadcast(x):
    v = np.zeros((1, 1))
    v *= np.outer(x[:1], x)
    return np.sum(v)
"""


@pytest.fixture(scope="module")
def known():
    return pg.load_source(KNOWN_SOURCE, trp.program_dir())


@pytest.mark.xfail(strict=True, reason="open: gradient code leaves out unused values and their errors")
def test_gradient_checks_unused_values(known):
    with pytest.raises(IndexError):
        ct.grad(ct.differentiable(known.unused_read, target="python"))(np.ones(3))


@pytest.mark.xfail(strict=True, reason="open: runtime errors other than IndexError are raised as CompileError")
def test_runtime_error_keeps_its_type(known):
    with pytest.raises(ValueError):
        ct.differentiable(known.empty_max, target="python")(np.ones(3))


@pytest.mark.xfail(strict=True, reason="open: y[i] += e evaluates e before reading y[i]")
def test_augmented_element_assignment_reads_the_element_first(known):
    with pytest.raises(IndexError):
        ct.differentiable(known.element_first, target="python")(np.ones(3))


@pytest.mark.xfail(strict=True, reason="open: np.maximum of two numbers is printed as Python's max")
def test_scalar_maximum_propagates_nan(known):
    assert np.isnan(ct.differentiable(known.scalar_maximum, target="python")(np.nan, 1.0))


@pytest.mark.xfail(strict=True, reason="open: Numba cannot allocate A * A for a layout-'A' A")
def test_fortran_argument_rebound_in_a_loop(known):
    A = np.asfortranarray(np.ones((3, 3)))
    assert ct.differentiable(known.fortran_rebound, target="cpu")(A, np.ones(3)) == 9.0


@pytest.mark.xfail(strict=True, reason="open: the Python target's gradient divides Python floats")
def test_gradient_divides_by_a_zero_constant_as_numpy(known):
    with np.errstate(all="ignore"):
        assert np.all(np.isinf(ct.grad(ct.differentiable(known.zero_constant, target="python"))(np.ones(2))))


@pytest.mark.xfail(strict=True, reason="open: v *= e rebinds v to the broadcast shape, where NumPy raises")
def test_augmented_assignment_does_not_broadcast_its_target(known):
    with pytest.raises(ValueError):
        ct.differentiable(known.inplace_broadcast, target="python")(np.ones(3))


@pytest.mark.xfail(strict=True, reason="open: SymPy's derivative of (-0.3) ** s is complex, and compiling fails")
def test_gradient_of_power_of_negative_constant(known):
    assert np.isnan(ct.grad(ct.differentiable(known.negative_base, target="python"))(2.0))


# --- thousands, behind the exhaustive marker ---------------------------------------------------------

def report_dir() -> Path:
    return Path(os.environ.get("COTANGENT_FUZZ_REPORT") or Path(ct.config.cache_dir) / "safety_fuzz")


def _exhaustive(name: str, seeds, targets, budget: int, variants: int = pg.EDGE_VARIANTS):
    counts, failures, start = Counter(), [], time.monotonic()
    for seed in seeds:
        prog = None
        try:
            prog = pg.random_program(seed, FEATURES, budget=budget, avoid=AVOIDED, variants=variants)
            check_edge_program(prog, targets=targets, counts=counts)
        except Mismatch as e:
            failures.append({"seed": seed, "report": str(e)})
        except Exception as e:  # noqa: BLE001 - the fuzzer itself must not stop on one program
            failures.append({"seed": seed, "report": "".join(traceback.format_exception(e)) + "\n"
                             + (prog.source if prog else "(while generating the program)")})
    report_dir().mkdir(parents=True, exist_ok=True)
    (report_dir() / f"{name}.json").write_text(json.dumps(
        {"counts": dict(counts), "failures": failures, "seconds": time.monotonic() - start}, indent=1))
    assert not failures, f"{len(failures)} of {len(seeds)} programs failed (see {report_dir() / name}.json):\n" \
                         f"{failures[0]['report']}"


@pytest.mark.exhaustive
@pytest.mark.parametrize("shard", range(EXHAUSTIVE_PYTHON_SHARDS))
def test_many_edge_programs_python(shard):
    n = EXHAUSTIVE_PYTHON_PER_SHARD
    _exhaustive(f"python_{shard}", range(10_000 + shard * n, 10_000 + (shard + 1) * n), ("python",), 12)


@pytest.mark.exhaustive
@pytest.mark.parametrize("shard", range(EXHAUSTIVE_NUMBA_SHARDS))
def test_many_edge_programs_numba(shard):
    n = EXHAUSTIVE_NUMBA_PER_SHARD
    _exhaustive(f"numba_{shard}", range(100_000 + shard * n, 100_000 + (shard + 1) * n), ("python", "cpu"), 8,
                EXHAUSTIVE_NUMBA_VARIANTS)
