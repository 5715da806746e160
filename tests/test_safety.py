"""Safety of compiled code (issue 16): indices are checked on every call, in the primal and in the
adjoint; every target computes with NumPy's numeric model (inf and nan, never ZeroDivisionError),
with the same derivatives at the edges of each primitive's domain; views of any layout reshape.

Each compiled function is shared by the tests that use it (module-scope fixtures), and the edge
tests evaluate one compiled function of many arguments at every edge point, so the file costs a
handful of Numba compiles."""
import warnings

import numpy as np
import pytest

import cotangent as ct
import safety_programs as P

pytestmark = [pytest.mark.filterwarnings("ignore:Cannot cache compiled function"),   # under NUMBA_OPT=0
              pytest.mark.filterwarnings("ignore::RuntimeWarning")]    # NumPy's, at the edges, in Python
TARGETS = ("python", "cpu")


def on(target, f):
    return ct.differentiable(f, target=target)


# --- 1. bounds ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def idx_grad():
    return {t: ct.grad(on(t, P.idx)) for t in TARGETS}


def _line_of(f, offset=1) -> str:
    return f"safety_programs.py:{f.__code__.co_firstlineno + offset}:"


@pytest.mark.parametrize("target", TARGETS)
def test_index_out_of_range_is_an_index_error_at_the_line_on_every_call(idx_grad, target):
    x = np.arange(10.0)
    g = idx_grad[target]
    assert g(x, 3)[3] == 2.0 and g(x, 3).sum() == 2.0
    assert g(x, -3)[7] == 2.0 and g(x, -3).sum() == 2.0             # negative indices as in NumPy
    assert g(x, -10)[0] == 2.0
    for i in (50, 10, 10 ** 7, -11):            # after calls that passed: checked on every call
        with pytest.raises(IndexError) as info:
            g(x, i)
        assert isinstance(info.value, ct.BoundsError) and isinstance(info.value, ct.Error)
        assert not isinstance(info.value, ct.CompileError)
        text = str(info.value)
        assert _line_of(P.idx) in text and "return x[i] * 2.0" in text
        assert f"index {i} is out of bounds for axis 0 with size 10" in text
        assert "compile" not in text.lower() and "numba" not in text.lower()
    assert g(x, 9)[9] == 2.0                    # and the code still runs after an error


def test_primal_jvp_and_an_integer_array_index_are_checked_too():
    x = np.arange(10.0)
    f = on("cpu", P.idx)
    assert f(x, 4) == 8.0
    with pytest.raises(ct.BoundsError, match="index 12 is out of bounds"):
        f(x, 12)
    with pytest.raises(ct.BoundsError, match="out of bounds"):
        ct.jvp(f, (x, 12), (np.ones(10), None))
    gather = ct.grad(on("cpu", P.gather))
    np.testing.assert_array_equal(gather(x, np.array([1, 1, -1])), [0, 4, 0, 0, 0, 0, 0, 0, 0, 18])
    with pytest.raises(ct.BoundsError) as info:
        gather(x, np.array([1, 12]))
    assert _line_of(P.gather) in str(info.value)


def test_writes_are_checked_in_the_primal_and_the_adjoint():
    """y[i] = x[0] writes in the primal sweep and reads y_bar[i] in the adjoint sweep."""
    g = ct.grad(on("cpu", P.write_at))
    x = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(g(x, 2), [3.0, 0.0, 1.0, 0.0])
    with pytest.raises(ct.BoundsError) as info:
        g(x, 4)
    assert _line_of(P.write_at, 2) in str(info.value) and "y[i] = x[0]" in str(info.value)
    source = ct.source(g)
    # i is an argument: no range is known on entry, so each access tests it where it is, in code
    # compiled without Numba's own checks
    assert source.count('error_model="numpy", boundscheck=False)') == 1 and "y_bar[i]" in source
    assert source.count('raise IndexError("index out of range")') >= 2


def test_a_sample_out_of_range_in_a_parallel_batch_is_reported():
    """Numba drops exceptions raised inside prange: the driver notices the unfinished chunk."""
    x = np.arange(40.0).reshape(8, 5)
    i = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    bad = i.copy()
    bad[6] = 7
    per_sample = ct.vmap(ct.grad(P.pick), (0, 0))
    summed = ct.grad(ct.vmap(P.pick, (0, 0), reduce="sum"))
    for f in (per_sample, summed):
        expected = np.zeros((8, 5))
        expected[np.arange(8), i] = 2.0
        np.testing.assert_array_equal(f(x, i), expected)
        with pytest.raises(ct.BoundsError, match="index 7 is out of bounds for axis 0 with size 5"):
            f(x, bad)
        np.testing.assert_array_equal(f(x, i), expected)


def test_boundscheck_can_be_turned_off_and_is_part_of_the_cache_key(idx_grad):
    x = np.arange(10.0)
    g = idx_grad["cpu"]
    assert g(x, 3)[3] == 2.0
    checked = g._cotangent.last
    # i is known on entry: x[i] and x_bar[i] are checked once there, before anything runs
    assert checked.boundscheck is True and "if not (i < x.shape[0]" in checked.source
    ct.config.boundscheck = False
    try:
        assert g(x, 3)[3] == 2.0                # the same function, now run without checks
        unchecked = checked.twin
        assert unchecked.boundscheck is False and "boundscheck=False" in unchecked.source
        assert "raise IndexError(" not in unchecked.source and "IndicesUnproven" not in unchecked.source
        assert unchecked.path != checked.path   # another module, so another Numba cache entry
        fresh = ct.grad(on("cpu", P.idx))       # compiled under the setting: no checks either
        assert fresh(x, 4)[4] == 2.0
    finally:
        ct.config.boundscheck = True
    with pytest.raises(ct.BoundsError):         # back on: the checked code again
        g(x, 50)
    with pytest.raises(ct.BoundsError):
        fresh(x, 50)


# --- 2. one numeric model ----------------------------------------------------------------------

EDGES = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, np.inf, -np.inf)


def _same(a, b, what):
    """nan where nan, the same infinities, finite numbers equal to rounding (NumPy's and Numba's
    libm differ in the last bit)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: nan\n{a}\n{b}"
    assert np.array_equal(np.where(np.isinf(a), a, 0), np.where(np.isinf(b), b, 0)), f"{what}: inf\n{a}\n{b}"
    finite = np.isfinite(a)
    np.testing.assert_allclose(a[finite], b[finite], rtol=1e-13, atol=1e-300, err_msg=what)


@pytest.fixture(scope="module")
def edge_functions():
    n_unary, n_binary = len(P.UNARY), 2 * len(P.BINARY)
    out = {}
    for t in TARGETS:
        out["unary grad", t] = ct.value_and_grad(on(t, P.unary), argnums=tuple(range(n_unary)))
        out["unary jvp", t] = lambda *x, f=on(t, P.unary_vector): ct.jvp(f, x, (1.0,) * len(x))
        out["binary grad", t] = ct.value_and_grad(on(t, P.binary), argnums=tuple(range(n_binary)))
        out["binary jvp", t] = lambda *x, f=on(t, P.binary_vector): ct.jvp(f, x, (1.0,) * len(x))
    return out


def _results(f, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # NumPy's, from the Python target
        value, derivative = f(*args)
    return np.asarray(value, dtype=float), np.asarray(derivative, dtype=float)


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_every_elementwise_rule_agrees_across_targets_at_the_edges_of_its_domain(edge_functions, mode):
    for v in EDGES:                                   # each unary primitive at each edge point
        args = (v,) * len(P.UNARY)
        py, cpu = (_results(edge_functions[f"unary {mode}", t], args) for t in TARGETS)
        _same(py[1], cpu[1], f"unary {mode} at {v}: {P.UNARY}")
        if mode == "jvp":
            _same(py[0], cpu[0], f"unary values at {v}")
    for a in EDGES:                                   # each binary primitive at each pair
        for b in EDGES:
            args = (a, b) * len(P.BINARY)
            py, cpu = (_results(edge_functions[f"binary {mode}", t], args) for t in TARGETS)
            _same(py[1], cpu[1], f"binary {mode} at ({a}, {b}): {P.BINARY}")
            if mode == "jvp":
                _same(py[0], cpu[0], f"binary values at ({a}, {b})")


def test_derivatives_at_the_edges_follow_jax(edge_functions):
    """The issue's examples, on both targets: inf where the derivative blows up, nan where the
    function is undefined, and JAX's conventions."""
    for t in TARGETS:
        def d(name, v):
            return _results(edge_functions["unary grad", t], (v,) * len(P.UNARY))[1][P.UNARY.index(name)]
        assert d("arcsin", 1.0) == np.inf and d("arcsin", -1.0) == np.inf and d("arccos", 1.0) == -np.inf
        assert d("sqrt", 0.0) == np.inf and d("x ** 0.5", 0.0) == np.inf
        assert np.isnan(d("sqrt", -1.0)) and np.isnan(d("x ** 0.5", -1.0))
        assert d("log", 0.0) == np.inf and d("log1p", -1.0) == np.inf and d("x ** -1.5", 0.0) == -np.inf
        assert d("abs", 0.0) == 0.0 and d("clip", 1.0) == 0.0 and d("maximum 0", 0.0) == 0.0
        assert d("tanh", np.inf) == 0.0 and d("exp", -np.inf) == 0.0
        assert np.isnan(d("norm", 0.0))
        value, tangent = ct.jvp(on(t, P.norm), (np.zeros(3),), (np.ones(3),))
        assert value == 0.0 and np.isnan(tangent)
        assert np.all(np.isnan(ct.grad(on(t, P.norm))(np.zeros(3))))


@pytest.mark.parametrize("target", TARGETS)
def test_power_at_a_zero_base(target):
    """d/dy b ** y at b = 0 is 0 for y >= 0 (JAX: log(0) read as 0 there), for np.power, ** and a
    literal 0.0 ** y, which used to fail in the rule deriver (SymPy's log(0) is complex)."""
    g = ct.grad(on(target, P.power), argnums=(0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for y, d_b in ((2.0, 0.0), (1.0, 2.0), (0.5, np.inf), (3.0, 0.0)):
            db, dy = g(0.0, y)
            assert dy == 0.0 and db == d_b
        db, dy = g(0.0, 0.0)
        assert dy == 0.0 and np.isnan(db)       # y * b ** (y - 1) = 0 * inf, as JAX
        db, dy = g(2.0, 3.0)
        assert db == 24.0 and abs(dy - 2 * 8.0 * np.log(2.0)) < 1e-12
        assert np.isnan(g(-1.0, 0.5)[1])
        _, t = ct.jvp(on(target, P.power), (0.0, 2.0), (None, 1.0))
        assert t == 0.0
        zero = ct.grad(on(target, P.zero_base))
        assert [zero(y) for y in (2.0, 0.5, 0.0)] == [0.0, 0.0, 0.0]
        assert ct.jvp(on(target, P.zero_base), (2.0,), (1.0,)) == (0.0, 0.0)


# --- 3. views ----------------------------------------------------------------------------------

def _strided(a):
    """a as a non-contiguous view of a larger array."""
    big = np.zeros((a.shape[0], 2 * a.shape[1]))
    big[:, ::2] = a
    return big[:, ::2]


@pytest.mark.parametrize("target", TARGETS)
def test_views_reshape_on_every_target_in_both_modes(target):
    x = _strided(np.linspace(-1.0, 1.0, 12).reshape(3, 4))
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(on(target, P.views)(x), P.views(x), rtol=0, atol=1e-15)
    g = ct.grad(on(target, P.views_loss))(x)
    h, fd = 1e-6, np.zeros((3, 4))
    for k in np.ndindex(3, 4):
        e = np.zeros((3, 4))
        e[k] = h
        fd[k] = (P.views_loss(x + e) - P.views_loss(x - e)) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-7)
    tangent = _strided(np.linspace(0.5, 1.5, 12).reshape(3, 4))
    value, t = ct.jvp(on(target, P.views), (x,), (tangent,))
    np.testing.assert_allclose(value, P.views(x), atol=1e-15)
    np.testing.assert_allclose(t, (P.views(x + h * tangent) - P.views(x - h * tangent)) / (2 * h), atol=1e-7)
    source = ct.source(on(target, P.views), x)
    assert "k = np.ascontiguousarray(x).reshape((4, 3))" in source      # a copy only where needed
    assert "t25 = e.ravel()" in source and source.count("np.ascontiguousarray") == 6
