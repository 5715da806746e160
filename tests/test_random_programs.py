"""The whole compiler on random programs (tests/program_gen.py): gradients, tangents and values.

Each generated program `f` is checked by `check_program`:

* the compiled primal returns what Python returns when it runs `f` itself;
* `ct.check_grad`: the reverse-mode gradient against central differences, and the forward-mode
  JVP along a random direction against the reverse-mode gradient (<J v, w> = <v, J^T w>);
* `ct.value_and_grad` returns the primal value too.

And, on fewer programs (25 on Python, one on Numba), the gradient with the program's top-level
`for` loops marked `ct.checkpointed` (program_gen.checkpointed_variant) equals the taped one to 1e-12.

These programs are numerically safe by construction; test_safety_fuzz.py runs the same generator at
the edges (indices out of range, inf and nan, views of any layout) against NumPy on both targets.

Most programs run on target="python" (compiled in milliseconds); a few run on Numba (target="cpu",
seconds each). The default run checks 500 programs on Python and 8 on Numba (about a minute on two
cores with an empty cache); `python -m pytest -n auto -m exhaustive` checks 2,000 larger ones and 32
more on Numba (about 4.5 minutes on two cores). Generating a gradient's source twice gives the same text, in one process (from
an empty cache each time) and in processes with different string-hash seeds.

Every test is reproducible: the "cotangent-ci" Hypothesis profile is derandomized (the programs of
a test depend only on its name) and has no example database. For hunting bugs, run with
COTANGENT_PBT_PROFILE=cotangent-explore (new random programs each run, failures kept in the
database) and COTANGENT_PBT_SCALE=10 (ten times the examples). A failure prints the program,
complete with its arguments, shrunk by Hypothesis: paste it into a file and it is a regression
test (see test_program_regressions.py).

Features: ENABLED lists the constructs the generator may use (program_gen.FEATURES names them
all): straight-line code, control flow, and recursive helpers (a depth recursion, possibly mutual,
and divide and conquer on an index range or on halves of a vector, called from f and g at several
sites, in loops and branches). A construct the compiler does not support stays out of ENABLED, and
test_disabled_feature_is_still_unsupported fails as soon as it compiles, as a reminder to switch
it on here; today that is only `return` inside a loop, which the README lists as unsupported.
COTANGENT_PBT_FEATURES=all (or a comma-separated list) overrides ENABLED, to try features early.

Known bugs: AVOID lists constructs that trigger an open compiler bug; the generator leaves them
out so that these tests stay green while the bug is open. Each has a strict-xfail regression test
in test_program_regressions.py (test_recursion_regressions.py for recursion); when one starts
passing, remove its entry here.
COTANGENT_PBT_AVOID=none (or a comma-separated list) overrides AVOID, to hunt for those bugs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings

import cotangent as ct
import program_gen as pg

# --- configuration ------------------------------------------------------------------------------

#: the constructs the compiler supports (program_gen.UNSUPPORTED lists what it documents it rejects)
ENABLED = pg.STRAIGHT_LINE | pg.CONTROL_FLOW | pg.RECURSION

#: constructs that trigger an open compiler bug, left out of the programs; each has a strict-xfail
#: regression test in test_program_regressions.py (named in the comment)
AVOID = frozenset({
    "self_slice_write",    # test_slice_write_of_the_array_itself
    "constant_condition",  # test_constant_condition_around_early_return_on_numba
})


def _features():
    spec = os.environ.get("COTANGENT_PBT_FEATURES", "")
    if not spec:
        return ENABLED
    if spec == "all":
        return pg.FEATURES
    return frozenset(s.strip() for s in spec.split(",") if s.strip())


def _avoid():
    spec = os.environ.get("COTANGENT_PBT_AVOID")
    if spec is None:
        return AVOID
    return frozenset(s.strip() for s in spec.split(",") if s.strip() and s.strip() != "none")


FEATURES = _features()
AVOIDED = _avoid()

settings.register_profile(
    "cotangent-ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "cotangent-explore", derandomize=False, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("COTANGENT_PBT_PROFILE", "cotangent-ci")
SCALE = float(os.environ.get("COTANGENT_PBT_SCALE", "1"))


def examples(n: int) -> settings:
    return settings(settings.get_profile(PROFILE), max_examples=max(1, int(n * SCALE)))


PYTHON_SHARDS, PYTHON_PER_SHARD = 5, 100         # 500 programs in the default run
NUMBA_SHARDS, NUMBA_PER_SHARD = 4, 2             # 8 small programs compiled by Numba
EXHAUSTIVE_PYTHON_SHARDS, EXHAUSTIVE_PYTHON_PER_SHARD = 8, 250   # 2000 larger programs
EXHAUSTIVE_NUMBA_SHARDS, EXHAUSTIVE_NUMBA_PER_SHARD = 4, 8       # 32 programs compiled by Numba


def program_dir() -> Path:
    return Path(ct.config.cache_dir) / "random_programs"


# --- the check ----------------------------------------------------------------------------------

def check_program(prog: pg.Program, target: str = "python") -> None:
    """Values, reverse mode against central differences, forward mode against reverse mode."""
    mod = prog.load(program_dir())
    args = mod.args()
    expected = mod.f(*args)
    f = ct.differentiable(mod.f, target=target)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # Numba's performance hints about non-contiguous arrays
            np.testing.assert_allclose(f(*args), expected, rtol=1e-7, atol=1e-9,
                                       err_msg="the compiled primal differs from Python")
            ct.check_grad(f, *args, argnums=prog.argnums)
            value, _ = ct.value_and_grad(f, argnums=prog.argnums)(*args)
            np.testing.assert_allclose(value, expected, rtol=1e-7, atol=1e-9,
                                       err_msg="the value returned with the gradient differs from Python")
    except BaseException as e:
        e.add_note(f"\nThe failing program (argnums={prog.argnums}, target={target!r}):\n\n{prog.source}")
        raise


def programs(budget: int = 12):
    return pg.programs(FEATURES, budget=budget, avoid=AVOIDED)


# --- the default run ------------------------------------------------------------------------------

@pytest.mark.parametrize("shard", range(PYTHON_SHARDS))
@examples(PYTHON_PER_SHARD)
@given(prog=programs())
def test_random_programs_python(shard, prog):
    check_program(prog, "python")


@pytest.mark.parametrize("shard", range(NUMBA_SHARDS))
@examples(NUMBA_PER_SHARD)
@given(prog=programs(budget=5))
def test_random_programs_numba(shard, prog):
    check_program(prog, "cpu")


def _grad_source(prog: pg.Program, cache_dir: Path) -> str:
    """The gradient's source, generated from scratch: a new function object (the in-memory cache
    is keyed by function) and an empty cache directory (the disk index is keyed by source)."""
    saved = ct.config.cache_dir
    ct.config.cache_dir = cache_dir
    try:
        mod = prog.load(program_dir())
        f = ct.differentiable(mod.f, target="python")
        return ct.source(ct.grad(f, argnums=prog.argnums), *mod.args())
    finally:
        ct.config.cache_dir = saved


@examples(30)
@given(prog=programs())
def test_gradient_source_is_deterministic(prog, tmp_path_factory):
    note(prog.source)
    first = _grad_source(prog, tmp_path_factory.mktemp("cache"))
    second = _grad_source(prog, tmp_path_factory.mktemp("cache"))
    assert first == second


_SOURCES_SCRIPT = textwrap.dedent("""
    import json, sys
    import cotangent as ct
    sys.path.insert(0, sys.argv[1])
    import program_gen as pg
    ct.config.cache_dir = sys.argv[2]
    features, avoid, count = json.loads(sys.argv[3])
    out = {}
    for seed in range(count):
        prog = pg.random_program(seed, features, avoid=avoid)
        mod = prog.load(sys.argv[2] + "/programs")
        out[prog.name] = ct.source(ct.grad(mod.f, argnums=prog.argnums), *mod.args())
    print(json.dumps(out))
""")


def _sources_in_subprocess(hash_seed: str, cache_dir: Path, count: int) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, COTANGENT_CACHE_DIR=str(cache_dir))
    spec = json.dumps([sorted(FEATURES), sorted(AVOIDED), count])
    out = subprocess.run([sys.executable, "-c", _SOURCES_SCRIPT, str(Path(__file__).parent), str(cache_dir), spec],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_gradient_source_does_not_depend_on_hash_seed(tmp_path):
    """Set and dict orders of strings change with PYTHONHASHSEED; generated code must not."""
    count = 12
    a = _sources_in_subprocess("1", tmp_path / "a", count)
    b = _sources_in_subprocess("2", tmp_path / "b", count)
    assert a.keys() == b.keys() and len(a) == count
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"{len(differ)} of {count} gradients differ between hash seeds, e.g. {differ[0]}"


# --- the generator itself -------------------------------------------------------------------------

def test_generator_is_deterministic_and_uses_every_feature():
    progs = [pg.random_program(seed, pg.FEATURES) for seed in range(150)]
    again = [pg.random_program(seed, pg.FEATURES) for seed in range(10)]
    assert [p.source for p in progs[:10]] == [p.source for p in again]
    counts = pg.feature_counts(progs)
    assert all(counts[f] >= 5 for f in pg.FEATURES), counts
    # only the features asked for
    for seed in range(40):
        assert pg.random_program(seed, pg.STRAIGHT_LINE).features <= pg.STRAIGHT_LINE


# the smallest use of each control-flow construct; the compiler rejects them until it supports them
PROBES = {
    "if": "def f(x):\n    if x > 0.0:\n        y = x\n    else:\n        y = -x\n    return y\n",
    "return": "def f(x):\n    if x > 0.0:\n        return x\n    return -x\n",
    "for": "def f(x):\n    s = 0.0\n    for i in range(3):\n        s = s + x\n    return s\n",
    "break": "def f(x):\n    s = 0.0\n    for i in range(3):\n        s = s + x\n        if i == 1:\n"
             "            break\n    return s\n",
    "while": "def f(x):\n    s = x\n    while s < 2.0:\n        s = s + 1.0\n    return s\n",
    "setitem": "import numpy as np\n\n\ndef f(x):\n    y = np.zeros(2)\n    y[0] = x\n    return np.sum(y)\n",
    "slice_write": "import numpy as np\n\n\ndef f(x):\n    y = np.zeros(3)\n    y[0:2] = x\n    return np.sum(y)\n",
    "return_in_loop": "def f(x):\n    for i in range(3):\n        if x > 0.0:\n            return x\n    return -x\n",
}


@pytest.mark.parametrize("feature", sorted((pg.CONTROL_FLOW | pg.UNSUPPORTED) - FEATURES))
def test_disabled_feature_is_still_unsupported(feature, tmp_path):
    """When this fails, the compiler supports the feature: add it to ENABLED above."""
    mod = pg.load_source(PROBES[feature], tmp_path)
    with pytest.raises(ct.CompileError):
        ct.grad(ct.differentiable(mod.f, target="python"))(0.5)


# --- checkpointed loops: the same gradient as the taped loops -----------------------------------

CHECKPOINT_PROGRAMS = 25          # programs tried on Python (about a third have a loop to mark)


def check_checkpointed(prog: pg.Program, snapshots: int, target: str = "python") -> bool:
    """The gradient with the program's top-level loops checkpointed equals the taped one to 1e-12;
    False when the program has no loop to mark."""
    variant = pg.checkpointed_variant(prog.source, snapshots)
    if variant is None:
        return False
    mod = prog.load(program_dir())
    marked = pg.load_source(variant, program_dir())
    args = mod.args()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, grads = ct.value_and_grad(ct.differentiable(mod.f, target=target), argnums=prog.argnums)(*args)
            value_c, grads_c = ct.value_and_grad(ct.differentiable(marked.f, target=target),
                                                 argnums=prog.argnums)(*args)
        np.testing.assert_allclose(value_c, value, rtol=1e-12, atol=1e-12)
        for a, b in zip(grads_c if isinstance(grads_c, tuple) else (grads_c,),
                        grads if isinstance(grads, tuple) else (grads,)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    except BaseException as e:
        e.add_note(f"\nThe failing program (argnums={prog.argnums}, target={target!r}, "
                   f"snapshots={snapshots}):\n\n{variant}")
        raise
    return True


@examples(CHECKPOINT_PROGRAMS)
@given(prog=programs())
def test_random_programs_checkpointed(prog):
    for snapshots in (1, 2):
        check_checkpointed(prog, snapshots)


@pytest.mark.slow
def test_random_program_checkpointed_numba():
    """One program with a loop, compiled by Numba with and without checkpointing."""
    seed = next(s for s in range(100) if pg.checkpointed_variant(
        pg.random_program(s, FEATURES, budget=5, avoid=AVOIDED).source, 2) is not None)
    assert check_checkpointed(pg.random_program(seed, FEATURES, budget=5, avoid=AVOIDED), 2, "cpu")


# --- thousands, behind the exhaustive marker: python -m pytest -n auto -m exhaustive -------------

@pytest.mark.exhaustive
@pytest.mark.parametrize("shard", range(EXHAUSTIVE_PYTHON_SHARDS))
@examples(EXHAUSTIVE_PYTHON_PER_SHARD)
@given(prog=programs(budget=16))
def test_many_random_programs_python(shard, prog):
    check_program(prog, "python")


@pytest.mark.exhaustive
@pytest.mark.parametrize("shard", range(EXHAUSTIVE_NUMBA_SHARDS))
@examples(EXHAUSTIVE_NUMBA_PER_SHARD)
@given(prog=programs())
def test_many_random_programs_numba(shard, prog):
    check_program(prog, "cpu")
