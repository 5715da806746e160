"""Symbolic batch loops run several samples at a time, their math calls as vector calls
(backends/lanes.py, backends/vector_math.py).

The vector functions must give what NumPy gives to a few units in the last place, with libmvec and
without it (the scalar fallback); the blocked loop must give the per-sample ordinary derivatives to
1e-12 for every batch size (a last block shorter than LANES included), per sample and summed, run
by one thread (the rows function called directly) and by two (the parallel driver)."""
from __future__ import annotations

import numba
import numpy as np
import pytest

import cotangent as ct
from cotangent.backends import vector_math as vm

pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function:numba.NumbaWarning")
DOMAIN = {"arcsin": (-0.99, 0.99), "arccos": (-0.99, 0.99), "log": (0.01, 30.0), "log1p": (-0.9, 30.0),
          "sinh": (-20.0, 20.0), "cosh": (-20.0, 20.0), "exp": (-30.0, 30.0), "expm1": (-30.0, 30.0)}


def _all_functions(x, out):
    """out[k] = f_k(x[k]) for every function with a vector form, LANES elements each."""
    vm.vector_exp(x[0], out[0])
    vm.vector_log(x[1], out[1])
    vm.vector_sin(x[2], out[2])
    vm.vector_cos(x[3], out[3])
    vm.vector_tan(x[4], out[4])
    vm.vector_arcsin(x[5], out[5])
    vm.vector_arccos(x[6], out[6])
    vm.vector_arctan(x[7], out[7])
    vm.vector_sinh(x[8], out[8])
    vm.vector_cosh(x[9], out[9])
    vm.vector_tanh(x[10], out[10])
    vm.vector_log1p(x[11], out[11])
    vm.vector_expm1(x[12], out[12])


def _inputs(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([rng.uniform(*DOMAIN.get(op, (-3.0, 3.0)), size=vm.LANES) for op in vm.FUNCTIONS])


def _check(run) -> None:
    for seed in range(3):
        x = _inputs(seed)
        out = np.zeros_like(x)
        run(x, out)
        for k, op in enumerate(vm.FUNCTIONS):
            want = getattr(np, op)(x[k])
            assert np.all(np.abs(out[k] - want) <= 8 * np.spacing(np.abs(want)) + 1e-300), op


def test_vector_functions_match_numpy():
    _check(numba.njit(_all_functions))


def test_scalar_fallback_matches_numpy(monkeypatch):
    """Without libmvec (or a vector variant) each element is one call of libm's function."""
    monkeypatch.setattr(vm, "variant", lambda name: None)
    _check(numba.njit(_all_functions))


def test_variant_matches_the_compiled_features():
    """A variant is used only where the compiled code's target features pass its vectors."""
    found = vm.variant("sin")
    if found is None:
        pytest.skip("no libmvec here")
    symbol, width = found
    letter = {8: "e", 4: "d", 2: "b"}[width]
    assert symbol == f"_ZGV{letter}N{width}v_sin"
    assert {8: "+avx512f", 4: "+avx2", 2: "+sse2"}[width] in vm._target_features()


# --- the blocked loop ----------------------------------------------------------------------------

def waves(p, w):
    """Calls on per-sample values, nested (sin of exp), on shared values only (cos(w[1])), in a
    branch, beside plain arithmetic."""
    a = np.sin(p[0] * w[0]) * np.exp(-p[1] * p[1])
    b = np.log(1.0 + p[0] * p[0]) + np.arctan(p[1]) * np.cos(a) + np.cos(w[1])
    c = np.tanh(b) + np.sinh(0.3 * p[2]) - np.sin(np.exp(0.2 * p[2]))
    if p[2] > 0.0:
        c = c + np.cosh(0.5 * p[2])
    return np.array([a, b, c * w[1]])


def energy(x, y, params):
    r = np.sqrt(x * x + y * y)
    e = params[0] * (r - params[1]) ** 2 + np.exp(-r) * params[2]
    return e + np.tanh(y) * np.log1p(x * x)


@pytest.fixture
def threads():
    """Runs under one thread and under two (where Numba has two)."""
    before = numba.get_num_threads()
    counts = [1] + ([2] if numba.config.NUMBA_NUM_THREADS >= 2 else [])

    def each():
        for n in counts:
            numba.set_num_threads(n)
            yield n
    yield each
    numba.set_num_threads(before)


def close(a, b, tol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= tol * max(1.0, np.max(np.abs(b)))


def test_blocked_jacobians_match_reverse_mode(threads):
    w = np.array([1.3, 0.7])
    J = ct.vmap(ct.jacrev(waves, 0, symbolic=True), (0, None))
    one = ct.jacrev(ct.differentiable(waves, target="python"), 0)
    src = None
    for n in (1, 7, 8, 9, 21):
        p = np.random.default_rng(n).normal(size=(n, 3))
        want = np.array([one(p[i], w) for i in range(n)])
        for _ in threads():
            close(J(p, w), want)
        src = ct.source(J, p, w)
    assert "for block in range(start, stop, 8):" in src
    for op in ("sin", "exp", "log", "arctan", "cos", "tanh", "sinh", "cosh"):
        assert f"vector_{op}(" in src, op
    assert "np.cos(w_1)" in src.split("for block")[0]      # on shared values only: once, before the loop
    assert src == ct.source(J, p, w)


def test_blocked_gradients_per_sample_and_summed(threads):
    rng = np.random.default_rng(5)
    x, y, params = rng.normal(size=13), rng.normal(size=13), np.array([1.0, 0.8, 1.2])
    per_sample = ct.vmap(ct.grad(energy, (0, 1, 2), symbolic=True), (0, 0, None))
    ordinary = ct.vmap(ct.grad(energy, (0, 1, 2)), (0, 0, None), target="python")
    summed = ct.vmap(ct.grad(energy, 2, symbolic=True), (0, 0, None), reduce="sum")
    want_sum = ct.grad(ct.vmap(energy, (0, 0, None), reduce="sum", target="python"), 2)(x, y, params)
    for _ in threads():
        for a, b in zip(per_sample(x, y, params), ordinary(x, y, params)):
            close(a, b)
        close(summed(x, y, params), want_sum)
    assert "vector_exp(" in ct.source(summed, x, y, params)
