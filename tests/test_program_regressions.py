"""Programs that random-program testing (test_random_programs.py) found to fail, shrunk to a few
lines. Each is checked as the random programs are (values, reverse mode against central
differences, forward mode against reverse mode).

A test marked xfail(strict=True) is an open compiler bug: the generator leaves out the construct
(program_gen.AVOIDABLE, listed in test_random_programs.AVOID) until the bug is fixed. When such a
test starts passing, pytest reports it as failed (XPASS strict): remove the mark (moving the test
to the fixed bugs, with its reason as docstring) and the construct's entry from AVOID, so that
random programs use it again. Tests without the mark are fixed bugs, kept so they stay fixed.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
import program_gen as pg


def check(source: str, *args, argnums=None, target="python"):
    mod = pg.load_source("import numpy as np\n\n\n" + textwrap.dedent(source), _dir())
    f = ct.differentiable(mod.f, target=target)
    np.testing.assert_allclose(f(*args), mod.f(*args), rtol=1e-7, atol=1e-9,
                               err_msg="the compiled primal differs from Python")
    ct.check_grad(f, *args, argnums=argnums)


def _dir() -> Path:
    return Path(ct.config.cache_dir) / "regression_programs"


X = np.array([0.3, 0.7])


# --- open bugs --------------------------------------------------------------------------------------

@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="the adjoint of `y[a:b] = y` (also `y[a:b] = y * 1.0`, simplified to it) "
                          "adds the value's adjoint into y_bar and then zeroes y_bar[a:b], dropping it")
def test_slice_write_of_the_array_itself():
    check("""
    def f(s):
        y = np.zeros(2)
        y[0] = s
        y[1] = 2.0 * s
        y[0:2] = y
        return np.sum(y)
    """, 0.3)


def test_simplified_copy_is_an_alias_of_an_array_written_later():
    check("""
    def f(z):
        y = z * z
        v = y + 0.0
        y[1] = 5.0
        return np.sum(v)
    """, np.array([0.54, 0.04, 0.475]))


def test_tangent_alias_of_an_array_written_later():
    check("""
    def f(z):
        y = z * z
        v = 3.0 + y
        y[1] += v[2]
        return np.mean(v)
    """, np.array([0.54, 0.04, 0.475]))


@pytest.mark.xfail(strict=True, raises=ct.CompileError,
                   reason="Numba only: a condition whose first operand is a constant comparison "
                          "(`0.25 > 1.5 and ...`, as `FLAG and ...` with a module constant) around an "
                          "early return; Numba prunes the constant branch and then cannot type the "
                          "gradient ('Undecided type' at a .copy() or at A_bar); target='python' works")
def test_constant_condition_around_early_return_on_numba():
    check("""
    def f(x):
        if 0.25 > 1.5 and x[0] <= 0.25:
            if x[1] < 1.0:
                return np.sum(x)
        return 0.7
    """, X, target="cpu")


# --- fixed bugs -------------------------------------------------------------------------------------

def test_write_into_result_of_function_with_early_return():
    """Both returns are fresh arrays: g is compiled on its own (a unit), whose result the caller owns."""
    check("""
    def g(a):
        if a[0] > 0.0:
            return a * 2.0
        return a * 3.0

    def f(x):
        y = g(x)
        y[0] = 1.0
        return np.sum(y)
    """, X)


@pytest.mark.parametrize("source, args", [
    ("""
     def f(s):
         u = np.ones(3)
         return np.sum(u + s)
     """, (0.3,)),
    ("""
     def f(s, z):
         u = np.ones(2)
         return (u + s) @ z
     """, (0.3, X)),
    ("""
     def f(x, u):
         v = u + np.sum(x)
         return v[0]
     """, (np.array([0.78]), X)),
    ("""
     def f(z):
         v = np.zeros((2, 3))
         return np.sum(v - z)
     """, (np.array([0.2, -0.4, 0.5]),)),
    ("""
     def f(x):
         v = np.zeros(4)
         v += x[0]
         return np.sum(v)
     """, (X,)),
], ids=["sum", "matmul", "argument not differentiated", "array against array", "augmented"])
def test_tangent_of_inactive_array_plus_active_number(source, args):
    """Forward mode: the tangent of `u + s`, u an array that does not depend on the differentiated
    arguments and s a value that does, was s_dot itself, not broadcast to u's shape: np.sum saw
    one element (a wrong JVP), and @ or indexing saw a number (a CompileError in the JVP)."""
    check(source, *args, argnums=0)


def test_negative_constant_base_of_power():
    """The backend printed (-1.5) ** 2 as `-1.5 ** 2`, which Python reads as -(1.5 ** 2): the
    value and the gradient came out negated."""
    check("""
    def f(s):
        c = -1.5
        return s * c ** 2
    """, 2.0)


@pytest.mark.parametrize("source, args", [
    ("""
     def f(x):
         y = np.exp(x)
         y[0] -= 0.5
         return np.sum(y)
     """, (X,)),
    ("""
     def f(x):
         y = np.tanh(x)
         y[:1] += 0.5
         return np.sum(y)
     """, (X,)),
    ("""
     def f(x, s):
         y = x / s
         y[1] -= 0.5
         return np.sum(y)
     """, (X, 0.6)),
    ("""
     def f(x):
         y = np.exp(x)
         for i in range(2):
             y[i] *= 0.5
         return np.sum(y)
     """, (X,)),
], ids=["exp element", "tanh slice", "division", "exp in a loop"])
def test_write_into_result_whose_adjoint_reads_it(source, args):
    """A write into the result of a primitive whose adjoint is written in terms of its own output
    (exp' = out, tanh' = 1 - out**2, d(x/s)/ds = -out/s) changed that output before the adjoint
    read it: the overwritten part was saved only for adjoints that read an operand."""
    check(source, *args)


@pytest.mark.parametrize("source, args", [
    ("""
     def f(x):
         a = x * 3.0
         return np.sum(x[:] + x + a)
     """, (X,)),
    ("""
     def f(x):
         a = np.sin(x)
         b = x[::-1] + x
         return np.sum(b + a)
     """, (X,)),
    ("""
     def f(B):
         v = B * B
         return np.sum(B + (B[1] + v))
     """, (np.array([[0.592], [0.208], [0.792]]),)),
], ids=["x[:]", "x[::-1]", "row"])
def test_indexed_array_also_added_aliases_adjoints(source, args):
    """unbroadcast returns its argument when the shapes agree, so x_bar (x a bare operand of +)
    and the adjoints of the other terms shared one buffer; the adjoint of an index read of x,
    `x_bar[i] += t_bar`, then added into all of them in place (gradient 8 where it is 5)."""
    check(source, *args)


@pytest.mark.parametrize("source", [
    """
    def f(x):
        y = x * 2.0
        for i in range(3):
            y[0] = 3.0
            for j in range(2):
                y = y - 0.5
        return np.sum(y)
    """,
    """
    def f(x):
        y = x * 2.0
        for i in range(3):
            for j in range(2):
                y -= 0.5
            y[0] = 3.0
        return np.sum(y)
    """,
], ids=["write before", "write after"])
def test_array_rebound_in_inner_loop_and_written(source):
    """A fresh array rebound in an inner loop and written in the outer loop was rejected as 'may
    hold an argument or a view': owned() did not look through the alias that names the value
    after the inner loop."""
    check(source, X)


def test_nested_early_return_then_return():
    """A branch ending with `if c: return a` and `return b` made the code after the enclosing
    if 'unreachable', though the other branch reaches it."""
    check("""
    def f(x, s):
        if s > 0.0:
            if s > 1.0:
                return s
            return s * 2.0
        return np.sum(x)
    """, X, -0.5)


def test_helper_binding_its_parameter_to_two_names():
    """Reverse mode failed with KeyError when an inlined function bound a parameter to two names
    and the argument was an expression (fixed with the control-flow lowering)."""
    check("""
    def g(b):
        u = b
        w = b
        return w

    def f(s, x):
        return s * g(x[0])
    """, 0.239, np.array([0.023, 0.204, 0.071]))


HELPER_X = np.array([[0.3, 0.7], [1.1, -0.4], [0.25, 2.0]])


@pytest.mark.parametrize("source, args", [
    ("""
    def f(x):
        mean = np.mean(x, axis=0)
        return np.sum((x - mean) ** 2)
    """, (HELPER_X,)),
    ("""
    def f(x, mean):
        return np.sum(np.mean(x, axis=0) * mean) + np.sum(np.max(x, axis=1))
    """, (HELPER_X, np.array([0.5, -1.5]))),
], ids=["local", "parameter"])
def test_names_of_generated_helpers_stay_free(source, args):
    """A local or a parameter named like a helper the generated code calls (`mean = np.mean(x,
    axis=0)`) shadowed the helper: UnboundLocalError. The lowering reserves the helpers' names."""
    check(source, *args)


@pytest.mark.parametrize("target", ["python", "cpu"])
@pytest.mark.parametrize("s", [0.8, -0.4])
def test_call_in_one_branch_of_a_function_that_is_called(target, s):
    """mid's call to inner runs on one branch only. When top's reverse mode splits mid into its
    forward and adjoint sweeps, inner's residuals are handed from one to the other, and on the
    other branch they were left unassigned (an UnboundLocalError): they get a placeholder tuple."""
    check("""
        def inner(a, b):
            return np.sum(np.sin(a * b))


        def mid(a, s):
            if s > 0.0:
                v = inner(a, a + s)
            else:
                v = np.sum(a * a)
            return v * s


        def f(a, s):
            return mid(a, s) ** 2
    """, X, s, target=target)
