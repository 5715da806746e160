"""Vector forward mode (transforms/directions.py): ct.jacfwd and ct.hessian carry up to
higher.DIRECTIONS_PER_CALL tangent directions through one evaluation of the primal.

Checked against reverse mode, central differences and Hessian-vector products (one direction at
a time), on both targets: loops of scalar statements, matrix products (computed for all
directions as one product), several and scalar arguments, calls to other functions (their vector
JVP units) and recursion, tapes under forward over reverse, more directions than one call takes,
the fallback to one direction per call, and random programs."""
from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from cotangent import higher
from test_higher import numeric_jacobian, close
from test_random_programs import programs, examples, program_dir
from hypothesis import given

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from forward_mode import ring_forces, logistic_loss  # noqa: E402  (the benchmark's two problems)

pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function:numba.NumbaWarning")
TARGETS = ["python", "cpu"]


def mixed(x, A, s):
    return np.tanh(A @ x) * s + x[0] * np.sum(x ** 2) + x @ A.T @ A @ x / 10.0


def cell(h, x):
    """A helper that mixed_calls calls twice: a unit with its own vector JVP."""
    return np.tanh(h * 0.5 + x)


def mixed_calls(x):
    h = cell(x, x[::-1])
    return cell(h, x) * x[0]


def chain_energy(x):
    """A loop whose reverse sweep pops a tape: the Hessian runs forward mode over it."""
    e = 0.0
    p = 1.0
    for i in range(x.shape[0]):
        p = p * np.cos(x[i]) + 0.1 * x[i]
        e = e + p * p
    return e


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def recursive(x):
    return power(x[0], 3) * np.sin(x[1]) + power(x[1], 2)


def fancy_write(x):
    y = x.copy()
    y[[1, 0]] = y[[1, 0]] * x[:2]
    return np.sum(y * y * x)


def inputs():
    rng = np.random.default_rng(7)
    return {
        "ring": (rng.standard_normal(9),),
        "ring70": (0.5 * rng.standard_normal(70),),
        "mixed": (rng.standard_normal(3), rng.standard_normal((4, 3)), 0.7),
        "calls": (0.5 * rng.standard_normal(4),),
        "chain": (0.5 * rng.standard_normal(6),),
        "recursive": (np.array([0.3, -0.8]),),
        "logistic": (0.1 * rng.standard_normal(5), rng.standard_normal((30, 4)),
                     (rng.random(30) < 0.5).astype(float)),
        "fancy": (rng.standard_normal(4),),
    }


ARGS = inputs()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name, f, argnums", [
    ("ring", ring_forces, 0), ("ring70", ring_forces, 0), ("mixed", mixed, (0, 1, 2)),
    ("calls", mixed_calls, 0), ("recursive", recursive, 0)])
def test_jacfwd_equals_reverse_mode_and_differences(name, f, argnums, target):
    if target == "cpu" and name in ("ring70", "recursive"):
        pytest.skip("the Python target covers it; one Numba build per shape is enough")
    args = ARGS[name]
    df = ct.differentiable(f, target=target)
    J = ct.jacfwd(df, argnums=argnums)(*args)
    R = ct.jacrev(df, argnums=argnums)(*args)
    for i, (a, b) in enumerate(zip(J if isinstance(argnums, tuple) else (J,),
                                   R if isinstance(argnums, tuple) else (R,))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        num = numeric_jacobian(f, args, argnums[i] if isinstance(argnums, tuple) else argnums)
        close(a, num)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name, f", [("logistic", logistic_loss), ("chain", chain_energy),
                                     ("recursive", recursive), ("fancy", fancy_write)])
def test_hessian_equals_hessian_vector_products(name, f, target):
    if target == "cpu" and name in ("recursive", "fancy"):
        pytest.skip("the Python target covers it")
    args = ARGS[name]
    df = ct.differentiable(f, target=target)
    H = ct.hessian(df)(*args)
    n = args[0].size
    columns = [ct.hvp(df, args, (np.eye(n)[j],) + (None,) * (len(args) - 1))[1] for j in range(n)]
    np.testing.assert_allclose(H, np.array(columns).T, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    close(H, numeric_jacobian(ct.grad(df), args, 0), rtol=1e-5, atol=1e-6)


def test_source_carries_all_directions_through_one_primal():
    text = ct.source(ct.jacfwd(ct.differentiable(ring_forces, target="python")), ARGS["ring"][0])
    assert "def ring_forces_jvp(x, x_dot):" in text
    assert re.search(r"for (k\w*) in range\(directions\):\n +x_dot_k = x_dot\[\1\]", text)
    assert "np.sin(" in text and "# tangent of" in text
    # the primal and the JVP evaluate each of the two sines once, not once per direction
    assert len(re.findall(r"^ +\w+ = np\.sin\(", text, re.M)) == 2 * 2
    assert f"up to {higher.DIRECTIONS_PER_CALL} input directions per evaluation" in text
    hessian = ct.source(ct.hessian(ct.differentiable(logistic_loss, target="python")), *ARGS["logistic"])
    # the tangents of X @ w[1:] and of X.T @ z_bar are one matrix product for all directions
    assert re.search(r"t3_dot = t2_dot @ t\d+\n", hessian) and "w_bar_dot[k" in hessian


def test_writes_at_integer_positions_fall_back_to_one_direction_per_call():
    text = ct.source(ct.hessian(ct.differentiable(fancy_write, target="python")), ARGS["fancy"][0])
    assert "directions" not in text and "one Hessian-vector product" in text


def test_more_directions_than_one_call_takes():
    x = ARGS["ring70"][0]
    assert x.size > higher.DIRECTIONS_PER_CALL
    J = ct.jacfwd(ct.differentiable(ring_forces, target="python"))(x)
    close(J, numeric_jacobian(ring_forces, (x,), 0))


@examples(80)
@given(prog=programs(budget=8))
def test_random_programs_jacfwd_and_hessian(prog):
    """jacfwd (all directions at once) equals the gradient, and the Hessian's columns equal
    Hessian-vector products, on random programs."""
    mod = prog.load(program_dir())
    args = mod.args()
    first = prog.argnums if isinstance(prog.argnums, int) else prog.argnums[0]
    f = ct.differentiable(mod.f, target="python")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            J = ct.jacfwd(f, argnums=prog.argnums)(*args)
            G = ct.grad(f, argnums=prog.argnums)(*args)
            for a, b in zip(J if isinstance(J, tuple) else (J,), G if isinstance(G, tuple) else (G,)):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
            H = ct.hessian(f, argnums=first)(*args)
            x = np.asarray(args[first], dtype=float)
            for j in range(x.size):
                e = np.zeros(x.size)
                e[j] = 1.0
                tangents = [None] * len(args)
                tangents[first] = e.reshape(x.shape) if x.ndim else 1.0
                _, col = ct.hvp(f, args, tangents)
                np.testing.assert_allclose(np.reshape(H, (x.size, x.size))[:, j], np.ravel(col),
                                           rtol=1e-9, atol=1e-9)
    except BaseException as e:
        e.add_note(f"\nThe failing program (argnums={prog.argnums}):\n\n{prog.source}")
        raise

