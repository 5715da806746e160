"""Live code: a redefined function, a redefined helper at any depth, a reassigned global, a changed
closure or default is seen on the next call, as in a notebook; source is read from the function's
own lines or not at all."""
import hashlib
import importlib
import linecache
import sys
import textwrap
import warnings

import numpy as np
import pytest

import cotangent as ct
from cotangent.errors import CompileError


def run_cell(src: str, ns: dict) -> dict:
    """Run `src` in namespace `ns` the way IPython runs a cell: under a file name of its own,
    with the source registered in linecache."""
    src = textwrap.dedent(src)
    # IPython names a cell's file after a hash of its text: re-running a cell unchanged gives the same name
    filename = f"<test-cell-{hashlib.sha1(src.encode()).hexdigest()[:12]}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    exec(compile(src, filename, "exec"), ns)
    return ns


def notebook() -> dict:
    return run_cell("import numpy as np\nimport cotangent as ct\n", {"__name__": "__main__"})


def test_redefined_helper_is_seen():
    ns = run_cell("""
        def helper(x):
            return x * x

        def f(x):
            return np.sum(helper(x))
        """, notebook())
    g = ct.grad(ns["f"])
    np.testing.assert_allclose(g(np.ones(2)), [2.0, 2.0])
    run_cell("""
        def helper(x):
            return 3.0 * x * x
        """, ns)
    np.testing.assert_allclose(g(np.ones(2)), [6.0, 6.0])          # the same ct.grad object
    np.testing.assert_allclose(ct.grad(ns["f"])(np.ones(2)), [6.0, 6.0])
    np.testing.assert_allclose(ns["f"](np.ones(2)), 6.0)             # plain Python, for reference
    assert "3.0" in ct.source(g)


def test_redefined_helper_two_calls_deep_and_primal_fast_path():
    ns = run_cell("""
        def inner(x):
            return x * 2.0

        def middle(x):
            return inner(x) + 1.0

        @ct.differentiable
        def f(x):
            return np.sum(middle(x) ** 2)
        """, notebook())
    x = np.array([1.0, 2.0])
    f = ns["f"]
    assert f(x) == pytest.approx(9.0 + 25.0)
    np.testing.assert_allclose(ct.grad(f)(x), 4.0 * (2.0 * x + 1.0))
    run_cell("""
        def inner(x):
            return x * 5.0
        """, ns)
    assert f(x) == pytest.approx(36.0 + 121.0)                      # the primal's fast path too
    np.testing.assert_allclose(ct.grad(f)(x), 10.0 * (5.0 * x + 1.0))


def test_reassigned_numeric_global_is_seen():
    ns = run_cell("""
        K = 2.0

        def f(x):
            return np.sum(K * x * x)
        """, notebook())
    g = ct.grad(ns["f"])
    x = np.array([1.0, 3.0])
    np.testing.assert_allclose(g(x), 4.0 * x)
    ns["K"] = 5.0
    np.testing.assert_allclose(g(x), 10.0 * x)
    np.testing.assert_allclose(ct.grad(ns["f"])(x), 10.0 * x)
    np.testing.assert_allclose(ct.value_and_grad(ns["f"])(x)[0], 50.0)
    np.testing.assert_allclose(ct.jvp(ns["f"], (x,), (np.ones(2),))[1], 40.0)


def test_equal_value_or_rerun_cell_keeps_the_compiled_code():
    cell = """
        K = 2.0

        def helper(x):
            return K * x

        def f(x):
            return np.sum(helper(x) * x)
        """
    ns = run_cell(cell, notebook())
    g = ct.grad(ns["f"])
    x = np.ones(3)
    g(x)
    before = g._cotangent.last
    run_cell(cell, ns)               # the cell re-run without edits: new objects, the same definitions
    ns["K"] = float("2.0")           # another object, the same number
    np.testing.assert_allclose(g(x), 4.0 * x)
    assert g._cotangent.last is before


def test_closure_and_defaults_changes_are_seen():
    def make(scale):
        def f(x):
            return np.sum(scale * x * x)
        return f

    f = make(2.0)
    g = ct.grad(f)
    np.testing.assert_allclose(g(np.ones(2)), [4.0, 4.0])
    f.__closure__[0].cell_contents = 7.0
    np.testing.assert_allclose(g(np.ones(2)), [14.0, 14.0])

    ns = run_cell("""
        def f(x, k=2.0):
            return np.sum(k * x * x)
        """, notebook())
    g = ct.grad(ns["f"])
    np.testing.assert_allclose(g(np.ones(2)), [4.0, 4.0])
    ns["f"].__defaults__ = (3.0,)
    np.testing.assert_allclose(g(np.ones(2)), [6.0, 6.0])


def test_redefined_helper_under_vmap():
    ns = run_cell("""
        def helper(x):
            return x * x

        def f(x):
            return np.sum(helper(x))
        """, notebook())
    batched = ct.vmap(ns["f"])
    xs = np.ones((4, 3))
    np.testing.assert_allclose(batched(xs), np.full(4, 3.0))
    run_cell("""
        def helper(x):
            return 2.0 * x * x
        """, ns)
    np.testing.assert_allclose(batched(xs), np.full(4, 6.0))


def test_a_global_that_keeps_changing_warns_once():
    ns = run_cell("""
        K = 0.0

        def f(x):
            return np.sum(K * x)
        """, notebook())
    g = ct.grad(ns["f"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(7):
            ns["K"] = float(k)
            np.testing.assert_allclose(g(np.ones(1)), [float(k)])
    messages = [str(w.message) for w in caught if "compiled again" in str(w.message)]
    assert len(messages) == 1 and "K changed" in messages[0]


def test_exec_without_source_is_a_clear_error():
    ns = notebook()
    exec(compile("def f(x):\n    return x * 2.0\n", "<no-source-cell>", "exec"), ns)
    with pytest.raises(CompileError, match=r"cannot read the source of 'f' \(defined in <no-source-cell>\)"):
        ct.grad(ns["f"])(1.0)


def test_exec_with_registered_source_compiles_from_its_own_lines():
    src = "import numpy as np\n\ndef helper(x):\n    return x * 2.0\n\ndef f(x):\n    return np.sum(helper(x))\n"
    linecache.cache["cell-registered"] = (len(src), None, src.splitlines(True), "cell-registered")
    ns = {}
    exec(compile(src, "cell-registered", "exec"), ns)
    np.testing.assert_allclose(ct.grad(ns["f"])(np.ones(2)), [2.0, 2.0])
    assert "cell-registered:7" in ct.source(ct.grad(ns["f"]))


def test_a_reused_cell_name_never_gives_another_functions_lines():
    first = "def helper(x):\n    return x * 2.0\n\ndef f(x):\n    return helper(x) * 3.0\n"
    linecache.cache["cell-reused"] = (len(first), None, first.splitlines(True), "cell-reused")
    other = "def f(x):\n    return x\n\ndef helper(x):\n    return helper(x) + 1.0\n"
    ns = {}
    exec(compile(other, "cell-reused", "exec"), ns)       # linecache still holds the first text
    with pytest.raises(CompileError, match="the source found for 'f' at cell-reused:1 is not the code"):
        ct.grad(ns["f"])(1.0)


def test_a_file_edited_after_import_is_not_read_as_the_function(tmp_path, monkeypatch):
    path = tmp_path / "edited_module.py"
    path.write_text("def f(x):\n    return x * 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_module")
    try:
        path.write_text("def f(x):\n    return x * x * x\n")     # edited, not re-imported
        linecache.checkcache(str(path))
        with pytest.raises(CompileError, match="is not the code it was defined with"):
            ct.grad(module.f)(1.0)
        module = importlib.reload(module)
        assert ct.grad(module.f)(2.0) == pytest.approx(12.0)
    finally:
        sys.modules.pop("edited_module", None)
