"""The public API's conventions (JAX's), argument structures, generated source, and the cache."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cotangent as ct


def loss(W, b, X):
    return np.sum(np.tanh(X @ W + b) ** 2)


def loss_with_aux(W, X):
    h = X @ W
    return np.sum(h * h), h


def scaled(x, n):
    return np.sum(x * x) * n


def tree_loss(params, x):
    W = params["W"]
    b = params["b"]
    return np.sum((x @ W + b) ** 2)


def tuple_loss(wb, x):
    W, b = wb
    return np.sum(np.sin(x @ W) + b)


def vector_fn(x, y):
    return np.sin(x) * y


RNG = np.random.default_rng(1)
W = RNG.standard_normal((3, 2))
B = RNG.standard_normal(2)
X = RNG.standard_normal((4, 3))


def fd_grad(f, args, i, h=1e-6):
    x = np.array(args[i], dtype=float)
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        a_up, a_down = list(args), list(args)
        a_up[i], a_down[i] = up, down
        g[k] = (f(*a_up) - f(*a_down)) / (2 * h)
    return g


def test_argnums_int_and_tuple():
    gW = ct.grad(loss)(W, B, X)
    assert gW.shape == W.shape
    np.testing.assert_allclose(gW, fd_grad(loss, (W, B, X), 0), rtol=1e-6, atol=1e-8)
    gW2, gb = ct.grad(loss, argnums=(0, 1))(W, B, X)
    np.testing.assert_allclose(gW2, gW)
    np.testing.assert_allclose(gb, fd_grad(loss, (W, B, X), 1), rtol=1e-6, atol=1e-8)


def test_value_and_grad_has_aux():
    (value, aux), g = ct.value_and_grad(loss_with_aux, has_aux=True)(W, X)
    np.testing.assert_allclose(aux, X @ W)
    np.testing.assert_allclose(value, np.sum((X @ W) ** 2))
    np.testing.assert_allclose(g, 2 * X.T @ (X @ W), rtol=1e-12)
    g2, aux2 = ct.grad(loss_with_aux, has_aux=True)(W, X)
    np.testing.assert_allclose(g2, g)
    np.testing.assert_allclose(aux2, aux)


def test_integer_argument_is_not_differentiated_and_rejected_as_target():
    x = np.arange(3.0)
    np.testing.assert_allclose(ct.grad(scaled)(x, 3), 6 * x)
    with pytest.raises(ct.CompileError, match="only float arguments can be differentiated"):
        ct.grad(scaled, argnums=1)(x, 3)


def test_dict_and_tuple_arguments_keep_their_structure():
    params = {"W": W, "b": B}
    g = ct.grad(tree_loss)(params, X)
    assert set(g) == {"W", "b"}
    r = X @ W + B
    np.testing.assert_allclose(g["W"], 2 * X.T @ r, rtol=1e-12)
    np.testing.assert_allclose(g["b"], 2 * r.sum(axis=0), rtol=1e-12)
    gW, gb = ct.grad(tuple_loss)((W, B), X)
    np.testing.assert_allclose(gW, X.T @ np.cos(X @ W), rtol=1e-12)
    np.testing.assert_allclose(gb, np.full(2, 4.0))


def test_vjp_and_jvp_agree_on_a_vector_function():
    x, y = RNG.standard_normal(5), RNG.standard_normal(5)
    value, pullback = ct.vjp(vector_fn, x, y)
    np.testing.assert_allclose(value, np.sin(x) * y)
    w = RNG.standard_normal(5)
    dx, dy = pullback(w)
    np.testing.assert_allclose(dx, w * np.cos(x) * y, rtol=1e-12)
    np.testing.assert_allclose(dy, w * np.sin(x), rtol=1e-12)
    v = RNG.standard_normal(5)
    value2, tangent = ct.jvp(vector_fn, (x, y), (v, None))
    np.testing.assert_allclose(value2, value)
    np.testing.assert_allclose(tangent, np.cos(x) * y * v, rtol=1e-12)
    # dot-product test: <J v, w> = <v, J^T w>
    np.testing.assert_allclose(np.dot(tangent, w), np.dot(v, dx), rtol=1e-12)


def test_python_target_runs_the_same_source():
    f_py = ct.differentiable(loss, target="python")
    g_py = ct.grad(f_py)(W, B, X)
    np.testing.assert_allclose(g_py, ct.grad(loss)(W, B, X), rtol=1e-12)
    src_py = ct.source(ct.grad(f_py))
    src_cpu = ct.source(ct.grad(loss), loops=False)       # the CPU target's code before loop nests
    strip = lambda s: [l for l in s.splitlines() if "numba" not in l]
    assert strip(src_py) == strip(src_cpu)
    assert "for i0 in range(" in ct.source(ct.grad(loss)) and "for i0 in range(" not in src_py


def test_generated_source_reads_like_the_derivation():
    src = ct.source(ct.grad(loss), W, B, X)
    assert "def loss_grad(W, b, X):" in src
    assert "# adjoint of test_api.py:" in src
    assert "W_bar" in src
    assert "b_bar" not in src and "X_bar" not in src   # activity analysis: only W is differentiated
    assert "uuid" not in src.lower()


DETERMINISM = textwrap.dedent('''
    import numpy as np, cotangent as ct
    def loss(W, X):
        return np.sum(np.tanh(X @ W) ** 2)
    print(ct.source(ct.grad(loss), np.ones((3, 2)), np.ones((4, 3))))
''')


def test_generated_source_is_byte_identical_across_processes(tmp_path):
    script = tmp_path / "det.py"
    script.write_text(DETERMINISM)
    env = dict(os.environ, COTANGENT_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and "def loss_grad" in runs[0]


CACHED = textwrap.dedent('''
    import time
    t0 = time.perf_counter()
    import numpy as np, cotangent as ct
    def loss(W, X):
        return np.sum(np.tanh(X @ W) ** 2)
    g = ct.grad(loss)
    g(np.ones((3, 2)), np.ones((4, 3)))
    compiled = g._cotangent.last.run
    print(compiled.stats.cache_hits and sum(compiled.stats.cache_hits.values()),
          sum(compiled.stats.cache_misses.values()), g(np.ones((3, 2)), np.ones((4, 3)))[0, 0])
''')


@pytest.mark.slow
def test_second_process_loads_from_the_disk_cache(tmp_path):
    script = tmp_path / "cached.py"
    script.write_text(CACHED)
    # at Numba's default optimization level, as users run: at NUMBA_OPT=0 (the tests' setting)
    # Numba does not cache a function that calls another compiled function (here, a kernel)
    env = dict(os.environ, COTANGENT_CACHE_DIR=str(tmp_path / "cache"), NUMBA_OPT="3")
    first = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    second = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    hits1, misses1, g1 = first.stdout.split()
    hits2, misses2, g2 = second.stdout.split()
    assert int(misses1) == 1
    assert int(hits2) == 1 and int(misses2) == 0
    assert g1 == g2
    # an edited function is regenerated, not served stale from the cache
    script.write_text(CACHED.replace("** 2)", "** 3)"))
    third = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    hits3, misses3, g3 = third.stdout.split()
    assert int(misses3) == 1 and float(g3) != float(g1)


def test_fingerprint_follows_functions_called_through_a_module(tmp_path, monkeypatch):
    """Editing a function the code calls as module.function(...) changes the fingerprint, so the
    gradient is regenerated instead of loaded stale from the cache index."""
    import importlib
    import linecache
    from cotangent import fingerprint
    (tmp_path / "helpers_fp.py").write_text("import numpy as np\n\ndef act(x):\n    return np.tanh(x)\n")
    (tmp_path / "caller_fp.py").write_text("import helpers_fp as H\n\ndef f(x):\n    return H.act(x) * 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    helpers, caller = importlib.import_module("helpers_fp"), importlib.import_module("caller_fp")
    before = fingerprint.of(caller.f, (), "grad", (0,), False, "python")
    (tmp_path / "helpers_fp.py").write_text("import numpy as np\n\ndef act(x):\n    return np.sinh(x) + 0.0\n")
    linecache.checkcache()
    importlib.reload(helpers)
    assert fingerprint.of(caller.f, (), "grad", (0,), False, "python") != before


def test_cli_prints_source(tmp_path):
    mod = tmp_path / "model.py"
    mod.write_text("import numpy as np\n\ndef f(a, b):\n    return np.log(a * b)\n")
    env = dict(os.environ, COTANGENT_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-m", "cotangent", "source", f"{mod}:f", "--argnums", "0,1"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "def f_grad(a, b):" in out and "a_bar" in out and "b_bar" in out
    fwd = subprocess.run([sys.executable, "-m", "cotangent", "source", f"{mod}:f", "--mode", "forward"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "def f_jvp(a, b, a_dot):" in fwd


def mlp_cross_entropy(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * log_p, axis=1))


def test_two_layer_mlp_cross_entropy_matches_check_grad_on_first_call():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((10, 4)), np.eye(3)[rng.integers(0, 3, 10)]
    params = (rng.standard_normal((4, 6)), rng.standard_normal(6), rng.standard_normal((6, 3)),
              rng.standard_normal(3))
    errors = ct.check_grad(mlp_cross_entropy, *params, X, Y, argnums=(0, 1, 2, 3))
    assert set(errors) == {"W1", "b1", "W2", "b2"}
    assert max(errors.values()) < 1e-6


def _scaled(x, a=2.0, shift=(1.0, 0.5), power=2):
    return a * x ** power + shift[0] - shift[1]


def _calls_with_keywords(x, k=3.0):
    return np.sum(_scaled(x, shift=(0.0, 1.0))) + _scaled(k, a=x[0])


def _unknown_keyword(x):
    return _scaled(x, b=1.0)


def _array_default(x, w=np.ones(2)):
    return np.sum(x * w)


def _calls_array_default(x):
    return _array_default(x)


def test_called_functions_take_keywords_and_defaults():
    x = np.array([1.0, 2.0])
    assert _calls_with_keywords(x) == pytest.approx(ct.differentiable(_calls_with_keywords)(x))
    gx, gk = ct.grad(_calls_with_keywords, argnums=(0, 1))(x, 3.0)
    np.testing.assert_allclose(gx, [4.0 * 1.0 + 9.0, 4.0 * 2.0])
    assert gk == pytest.approx(2.0 * 1.0 * 3.0)
    np.testing.assert_allclose(ct.grad(_calls_with_keywords)(x), gx)     # k from its default
    errors = ct.check_grad(_calls_with_keywords, x, 3.0, argnums=(0, 1))
    assert max(errors.values()) < 1e-7


def test_bad_keywords_and_array_defaults_are_compile_errors():
    with pytest.raises(ct.CompileError, match="has no parameter 'b'"):
        ct.grad(_unknown_keyword)(np.ones(2))
    with pytest.raises(ct.CompileError, match="default of _array_default"):
        ct.grad(_calls_array_default)(np.ones(2))


import cotangent.runtime.activations as _acts  # noqa: E402  (a user module whose functions are called)


def _through_a_module(x):
    return np.sum(_acts.softplus(x)) + _acts.sigmoid(x[0])


def _missing_module_function(x):
    return np.sum(_acts.swish(x))


def test_functions_are_called_through_modules():
    x = np.array([0.3, -1.2, 2.0])
    assert ct.differentiable(_through_a_module)(x) == pytest.approx(np.sum(np.log1p(np.exp(x))) + 1 / (1 + np.exp(-0.3)))
    assert max(ct.check_grad(_through_a_module, x).values()) < 1e-7
    with pytest.raises(ct.CompileError, match="has no attribute 'swish'"):
        ct.grad(_missing_module_function)(x)


def _product_sum(x, y):
    return np.sum(np.tanh(x @ y))


def test_check_grad_of_fortran_ordered_and_strided_arguments():
    """check_grad's central differences move each element of an argument in any memory layout
    (a Fortran-ordered copy, a transposed view): they used to stay 0 for a Fortran-ordered one."""
    rng = np.random.default_rng(4)
    x, base = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    f = ct.differentiable(_product_sum, target="python")
    for y in (np.array(base.T), base.T, base.T[::-1]):
        report = ct.check_grad(f, x, y)
        assert set(report) == {"x", "y"} and max(report.values()) < 1e-6
