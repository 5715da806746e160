"""Functions with several outputs, on random program bodies (tests/program_gen.py).

Each generated program `f` (one float result) is wrapped in a function of the same arguments that
returns a tuple with a nested tuple and an array:

    def outputs(x, y, ...):
        value = f(x, y, ...)
        return value, (np.tanh(value) * p, value * value)        # p: the first float argument

so its derivatives follow from f's by the chain rule. `ct.jvp`, `ct.vjp`, `ct.jacfwd` and
`ct.jacrev` of the wrapper are checked against those formulas, built from `ct.jvp` and `ct.vjp` of
f itself (which test_random_programs.py checks against central differences), and jacfwd against
jacrev. The programs are drawn by seed, so every run checks the same ones."""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import cotangent as ct
import program_gen as pg
from test_random_programs import ENABLED, AVOID, program_dir

PYTHON_SEEDS = range(40)
NUMBA_SEEDS = range(2)
RTOL, ATOL = 1e-9, 1e-11


def wrapped(seed: int):
    """(the program's module with `outputs` added, its arguments, argnums, the name of p)."""
    prog = pg.random_program(10_000 + seed, ENABLED, budget=8, avoid=AVOID, variants=1)
    mod = prog.load(program_dir())
    params = list(inspect.signature(mod.f).parameters)
    p = params[prog.argnums[0]]
    source = prog.source + (
        f"\n\ndef outputs({', '.join(params)}):\n"
        f"    value = f({', '.join(params)})\n"
        f"    return value, (np.tanh(value) * {p}, value * value)\n")
    return pg.load_source(source, program_dir()), mod.args(), prog.argnums, source


def random_like(rng, a):
    return rng.standard_normal(np.shape(a)) if np.ndim(a) else float(rng.standard_normal())


def check(seed: int, target: str) -> None:
    mod, args, argnums, source = wrapped(seed)
    f = ct.differentiable(mod.f, target=target)
    outputs = ct.differentiable(mod.outputs, target=target)
    p = argnums[0]
    rng = np.random.default_rng(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # Numba's hints about non-contiguous arrays
            # JVP: (f_dot, (tanh'(v) f_dot p + tanh(v) p_dot, 2 v f_dot))
            tangents = [random_like(rng, a) if i in argnums else None for i, a in enumerate(args)]
            v, f_dot = ct.jvp(f, args, tangents)
            (v2, (o1, o2)), (t0, (t1, t2)) = ct.jvp(outputs, args, tangents)
            sech2 = 1.0 - np.tanh(v) ** 2
            close(v2, v)
            close(o1, np.tanh(v) * np.asarray(args[p]))
            close(t0, f_dot)
            close(t1, sech2 * f_dot * np.asarray(args[p]) + np.tanh(v) * np.asarray(tangents[p]))
            close(t2, 2 * v * f_dot)
            # VJP: every argument's cotangent is (c0 + <c1, sech2 p> + 2 v c2) grad f, plus tanh(v) c1 for p
            c = (float(rng.standard_normal()), (random_like(rng, args[p]), float(rng.standard_normal())))
            _, pullback = ct.vjp(outputs, *args)
            got = pullback(c)
            scale = c[0] + float(np.sum(c[1][0] * sech2 * np.asarray(args[p]))) + 2 * v * c[1][1]
            _, f_pullback = ct.vjp(f, *args)
            want = f_pullback(scale)
            for i in argnums:
                expected = np.asarray(want[i]) + (np.tanh(v) * np.asarray(c[1][0]) if i == p else 0.0)
                close(got[i], expected)
            # jacfwd and jacrev: the same tuple of blocks (output structure, then argument)
            forward = ct.jacfwd(outputs, argnums=p)(*args)
            reverse = ct.jacrev(outputs, argnums=p)(*args)
            close(forward[0], reverse[0])
            close(forward[1][0], reverse[1][0])
            close(forward[1][1], reverse[1][1])
            assert np.shape(forward[1][0]) == np.shape(args[p]) * 2
            close(np.tensordot(np.asarray(forward[1][0]), np.asarray(tangents[p]), axes=np.ndim(args[p]))
                  if np.ndim(args[p]) else np.asarray(forward[1][0]) * tangents[p],
                  jvp_along(outputs, args, p, tangents[p])[1][0])
    except BaseException as e:
        e.add_note(f"\nThe failing program (argnums={argnums}, target={target!r}):\n\n{source}")
        raise


def jvp_along(fn, args, p: int, direction):
    """The tangents of fn along `direction` in argument p only."""
    return ct.jvp(fn, args, [direction if i == p else None for i in range(len(args))])[1]


def close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=RTOL,
                               atol=ATOL * max(1.0, float(np.max(np.abs(b))) if np.size(b) else 1.0))


@pytest.mark.parametrize("seed", PYTHON_SEEDS)
def test_tuple_outputs_python(seed):
    check(seed, "python")


@pytest.mark.slow
@pytest.mark.parametrize("seed", NUMBA_SEEDS)
def test_tuple_outputs_numba(seed):
    check(seed, "cpu")
