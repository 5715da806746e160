"""Separately compiled functions (compiler/units.py): a user function reached by a call is compiled
once per signature and transformation and called from every site; recursion, direct and mutual;
the cost model's inlining; and the calling convention (forward sweep with residuals, adjoint sweep).

Gradients are checked against central differences in both modes (ct.check_grad), Hessians against
differences of gradients. Most checks use the Python target (the same generated source, run by
NumPy); a few compile with Numba."""
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct

RNG = np.random.default_rng(3)


def py(f):
    return ct.differentiable(f, target="python")


# --- functions called from several sites, in loops and branches ------------------------------------

def layer(h, W):
    """A tanh layer scaled by its mean square: four statements, more than the cost model inlines."""
    z = h @ W
    a = np.tanh(z)
    scale = 1.0 + np.mean(a * a)
    return a / scale


def deep(W1, W2, x):
    h = layer(x, W1)
    for _ in range(3):
        h = layer(h, W2) + h
    if np.sum(h) > 0.0:
        h = layer(h, W2) * 0.5
    else:
        h = layer(h * 2.0, W2)
    return np.sum(h * h)


def rows_norm(v):
    s = 0.0
    for i in range(v.shape[0]):
        s = s + v[i] * v[i]
    return np.sqrt(1.0 + s)


def loop_calls(x, w):
    total = 0.0
    for k in range(x.shape[0]):
        total = total + rows_norm(x[k] * w) * (k + 1.0)
    return total + rows_norm(w)


@pytest.mark.parametrize("shape", [(2, 3), (4, 3)])
def test_a_helper_at_several_sites_is_one_unit_and_differentiates_correctly(shape):
    x = RNG.normal(size=shape)
    W1, W2 = RNG.normal(size=(shape[1], 3)) * 0.5, RNG.normal(size=(3, 3)) * 0.5
    ct.check_grad(py(deep), W1, W2, x)
    g = ct.grad(py(deep), argnums=(0, 1))
    g(W1, W2, x)
    src = ct.source(g, units=False)
    assert "= layer_fwd(" in src and "np.tanh" not in src      # calls, not inlined copies
    described = [d for d, _ in g._cotangent.last.details().units]
    # one adjoint sweep per activity pattern (x is not differentiated, h is); their forward
    # sweeps are the same code, one module
    assert len(described) == len(set(described))
    assert sum(d.startswith("bwd of layer") for d in described) == 2
    assert sum(d.startswith("fwd of layer") for d in described) == 1


@pytest.mark.parametrize("n", [1, 3])
def test_calls_inside_loops_record_residuals_on_the_callers_tape(n):
    x, w = RNG.normal(size=(n, 4)), RNG.normal(size=4)
    ct.check_grad(py(loop_calls), x, w)
    src = ct.source(ct.grad(py(loop_calls), argnums=(0, 1)), x, w, units=False)
    assert "rows_norm_fwd(" in src and "rows_norm_bwd(" in src and ".pop()" in src


def point_term(c, x):
    """A per-point term with loops over the centers (an online log-sum-exp), as a fit calls one."""
    best = -1e300
    total = 0.0
    for k in range(c.shape[0]):
        sq = 0.0
        for j in range(x.shape[0]):
            diff = x[j] - c[k, j]
            sq += diff * diff
        lk = -0.5 * sq
        if lk > best:
            total = total * math.exp(best - lk) + 1.0
            best = lk
        else:
            total += math.exp(lk - best)
    return best + math.log(total)


def fit(c, X):
    total = 0.0
    for i in range(X.shape[0]):
        total += point_term(c, X[i])
    return total


@pytest.mark.parametrize("k, n, d", [(3, 4, 2), (2, 6, 5)])
def test_a_unit_called_per_point_adds_into_the_callers_adjoint_in_place(k, n, d):
    c, X = RNG.normal(size=(k, d)), RNG.normal(size=(n, d))
    errors = ct.check_grad(py(fit), c, X)
    assert max(errors.values()) < 1e-6
    assert np.allclose(ct.grad(fit, argnums=(0, 1))(c, X)[0], ct.grad(py(fit), argnums=(0, 1))(c, X)[0],
                       rtol=1e-12, atol=1e-12)
    g = ct.grad(py(fit), argnums=(0, 1))
    g(c, X)
    caller = ct.source(g, units=False)
    assert "c_bar += " in caller and "c_bar_new" not in caller     # no new array per point
    # the unit's numbers recorded per component share one array (a row each), not a list each
    units = ct.source(g)[len(caller):]
    assert "k_tapes = np.empty((" in units and "_tape = k_tapes[" in units


def one_point(c, x):
    return point_term(c, x) * 2.0 + np.sum(c * c)


@pytest.mark.parametrize("k, d", [(3, 2), (4, 5)])
def test_a_call_outside_loops_hands_its_array_tapes_to_its_adjoint_sweep(k, d):
    c, x = RNG.normal(size=(k, d)), RNG.normal(size=d)
    for f in (py(one_point), one_point):
        errors = ct.check_grad(f, c, x)
        assert max(errors.values()) < 1e-6
    g = ct.grad(py(one_point), argnums=(0, 1))
    g(c, x)
    src = ct.source(g)
    assert "point_term_fwd(" in src and "point_term_bwd(" in src
    fwd = src[src.index("def point_term_fwd"):].split("# ----")[0]
    assert "np.empty((" in fwd and "_top," in fwd          # the array tapes and their counts, returned
    assert ".append(" not in fwd


def test_jvp_and_hessian_through_units_match_differences():
    x, w = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    f = py(loop_calls)
    H = ct.hessian(f, argnums=1)(x, w)
    g = ct.grad(f, argnums=1)
    eps = 1e-5
    numeric = np.stack([(g(x, w + eps * e) - g(x, w - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-7)
    value, tangent = ct.jvp(f, (x, w), (None, np.ones(3)))
    np.testing.assert_allclose(tangent, g(x, w).sum(), rtol=1e-10)


# --- recursion ------------------------------------------------------------------------------------

def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def uses_power(x):
    return power(x, 5) + power(np.sin(x), 3)


def tree_product(v, lo, hi):
    if hi - lo == 1:
        return np.tanh(v[lo]) + 1.5
    mid = (lo + hi) // 2
    return tree_product(v, lo, mid) * tree_product(v, mid, hi)


def uses_tree(v):
    return tree_product(v, 0, v.shape[0])


def even_chain(x, n):
    if n == 0:
        return x
    return np.sin(odd_chain(x, n - 1))


def odd_chain(x, n):
    if n == 0:
        return x * x
    return np.cos(even_chain(x * 1.5, n - 1)) * 2.0


def uses_mutual(x):
    return np.sum(even_chain(x, 5))


def halving_sum(v):
    """A recursion on arrays: the sum of a vector by halves (divide and conquer)."""
    if v.shape[0] == 1:
        return v[0] * v[0]
    mid = v.shape[0] // 2
    return halving_sum(v[:mid]) + np.exp(halving_sum(v[mid:]) * 0.1)


@pytest.mark.parametrize("x", [0.7, -1.3])
def test_direct_recursion_on_numbers(x):
    ct.check_grad(py(uses_power), x)
    assert ct.grad(py(uses_power))(x) == pytest.approx(5 * x ** 4 + 3 * np.sin(x) ** 2 * np.cos(x), rel=1e-12)
    h = ct.hessian(py(uses_power))(x)
    expected = 20 * x ** 3 + 6 * np.sin(x) * np.cos(x) ** 2 - 3 * np.sin(x) ** 3
    assert float(np.ravel(h)[0]) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n", [1, 5, 8])
def test_tree_recursion_on_an_index_range(n):
    ct.check_grad(py(uses_tree), RNG.normal(size=n))


@pytest.mark.parametrize("shape", [(), (3,)])
def test_mutual_recursion(shape):
    x = RNG.normal(size=shape) if shape else 0.4
    ct.check_grad(py(uses_mutual), x)
    f = py(uses_mutual)
    H = np.atleast_2d(ct.hessian(f)(x))
    g = ct.grad(f)
    eps = 1e-5
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    cols = []
    for e in np.eye(xs.size):
        up, down = (xs + eps * e, xs - eps * e) if shape else (float(xs[0] + eps), float(xs[0] - eps))
        cols.append((np.atleast_1d(g(up)) - np.atleast_1d(g(down))) / (2 * eps))
    np.testing.assert_allclose(H.reshape(xs.size, xs.size), np.stack(cols), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n", [1, 2, 7])
def test_recursion_on_array_halves(n):
    ct.check_grad(py(halving_sum), RNG.normal(size=n))


def grows(x):
    return np.sum(grows(x[None]))


def test_recursion_whose_types_never_repeat_is_a_compile_error():
    with pytest.raises(ct.CompileError, match=r"nested more than \d+ deep"):
        ct.grad(py(grows))(np.ones(2))


# --- the cost model ---------------------------------------------------------------------------------

def tiny(a, b):
    return a * b + 1.0


def uses_tiny(x):
    return tiny(x, 2.0) * tiny(x, x)


def scale_in_place(y, c):
    y[0] = y[0] * c
    return y


def uses_write(x):
    z = x * 1.0
    z = scale_in_place(z, 3.0)
    return np.sum(z * x)


def sum_along(x, axis):
    return np.sum(x, axis=axis)


def uses_axis(x):
    return np.sum(sum_along(x, 0) ** 2) + np.sum(sum_along(x, 1))


def test_small_scalar_functions_are_inlined():
    src = ct.source(ct.grad(py(uses_tiny)), 0.5)
    assert "linked(" not in src and "= tiny(" not in src
    ct.check_grad(py(uses_tiny), 0.5)


def affine(x, W, b):
    """A dense layer: one statement on arrays."""
    return x @ W + b


def gated(x, W, b):
    """Four statements on arrays: a unit."""
    z = affine(x, W, b)
    gate = 1.0 / (1.0 + np.exp(-z))
    out = gate * np.tanh(z)
    return out


def two_layers(W1, b1, W2, b2, x):
    h = gated(x, W1, b1)
    return np.sum(affine(h, W2, b2) ** 2)


@pytest.mark.parametrize("n", [1, 4])
def test_small_straight_line_array_functions_are_inlined(n):
    """At most three statements on arrays, without branches: inlined, so the bias add joins the
    caller's loop nest; a longer function stays a unit (and inlines its own small calls)."""
    args = [RNG.normal(size=s) for s in [(3, 2), (2,), (2, 3), (3,), (n, 3)]]
    g = ct.grad(ct.differentiable(two_layers), argnums=(0, 1, 2, 3))
    g(*args)
    src = ct.source(g, units=False)
    code = "\n".join(line.split("#")[0] for line in src.splitlines())      # (comments quote the source)
    assert "gated_fwd(" in code and "gated_bwd(" in code and "affine" not in code
    units = "\n".join(line.split("#")[0] for line in ct.source(g).splitlines())
    assert "affine" not in units
    ct.check_grad(py(two_layers), *args, argnums=(0, 1, 2, 3))
    ct.check_grad(two_layers, *args, argnums=(0, 1, 2, 3))


@pytest.mark.parametrize("shape", [(3,), (2, 2)])
def test_functions_that_write_into_their_arguments_are_inlined(shape):
    x = RNG.normal(size=shape)
    ct.check_grad(py(uses_write), x)
    assert "scale_in_place" not in ct.source(ct.grad(py(uses_write)), x).split("def uses_write_grad")[1]


def first_two(a):
    return a[0:2]


def writes_into_a_view(x):
    y = first_two(x)
    y[0] = 1.0
    return np.sum(y)


def test_a_function_returning_a_view_of_its_argument_is_inlined_so_writes_are_caught():
    with pytest.raises(ct.CompileError, match="is an argument or a view of another array"):
        ct.grad(py(writes_into_a_view))(np.ones(3))


def test_functions_that_need_a_constant_argument_are_inlined():
    x = RNG.normal(size=(3, 2))
    ct.check_grad(py(uses_axis), x)


# --- reading the code -------------------------------------------------------------------------------

def test_source_shows_the_units_and_inline_shows_one_function():
    x, w = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    g = ct.grad(py(loop_calls), argnums=1)
    g(x, w)
    full = ct.source(g)
    assert "separately compiled: fwd of rows_norm(v: float[:])" in full
    assert "separately compiled: bwd of rows_norm(v: float[:]) with respect to v" in full
    assert "def rows_norm_bwd(v, residuals, " in full
    flat = ct.source(g, inline=True)
    assert "linked(" not in flat and flat.count("def ") == 1 and "np.sqrt" in flat
    assert ct.source(g) == full         # deterministic


# --- Numba: one compile per unit, shared by every site ----------------------------------------------

def eight_sites(x, W):
    a = layer(x, W)
    b = layer(a, W)
    c = layer(b, W)
    d = layer(c, W)
    e = layer(d, W)
    f = layer(e, W)
    g = layer(f, W)
    h = layer(g, W)
    return np.sum(h * h)


def test_numba_target_matches_python_target_on_units():
    x, W = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 4)) * 0.5
    compiled = ct.grad(eight_sites, argnums=(0, 1))(x, W)
    reference = ct.grad(py(eight_sites), argnums=(0, 1))(x, W)
    for a, b in zip(compiled, reference):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert ct.grad(uses_power)(0.7) == pytest.approx(5 * 0.7 ** 4 + 3 * np.sin(0.7) ** 2 * np.cos(0.7))


def test_a_second_process_loads_units_from_the_disk_cache(tmp_path):
    """The generated modules are named by their contents, and a caller names its units' modules:
    a second process generates nothing new and gets the same gradient."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import numpy as np
        import cotangent as ct
        ct.config.cache_dir = {str(tmp_path / "cache")!r}
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_units import loop_calls
        x, w = np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0.5, 1.5, 3)
        print(repr(float(ct.grad(ct.differentiable(loop_calls, target="python"), argnums=1)(x, w).sum())))
    """))
    env = dict(os.environ, NUMBA_OPT="0")
    first = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    files = set((tmp_path / "cache").glob("*.py"))
    assert any(p.name.startswith("rows_norm_bwd_") for p in files)
    second = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    assert second.stdout == first.stdout
    assert set((tmp_path / "cache").glob("*.py")) == files
