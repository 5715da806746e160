"""Recursive programs that random-program testing (test_random_programs.py, with program_gen's
"recursive_helper" feature) found to fail, shrunk to a few lines. Each is checked as the random
programs are (values, reverse mode against central differences, forward mode against reverse mode).

As in test_program_regressions.py, a test marked xfail(strict=True) is an open compiler bug: the
generator leaves out the construct (program_gen.AVOIDABLE, listed in test_random_programs.AVOID)
until the bug is fixed. When such a test starts passing (XPASS strict), remove the mark and the
construct's entry from AVOID, so that random programs use it again.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
import program_gen as pg


def check(source: str, *args, target="python"):
    mod = pg.load_source("import numpy as np\n\n\n" + textwrap.dedent(source), _dir())
    f = ct.differentiable(mod.f, target=target)
    np.testing.assert_allclose(f(*args), mod.f(*args), rtol=1e-7, atol=1e-9,
                               err_msg="the compiled primal differs from Python")
    ct.check_grad(f, *args)


def _dir() -> Path:
    return Path(ct.config.cache_dir) / "regression_programs"


X = np.array([0.3, -0.5, 0.7])


# --- fixed bugs --------------------------------------------------------------------------------------

def test_mutual_recursion_returning_an_array():
    check("""
    def h(p, k):
        if k < 1:
            return np.sin(p)
        return h2(p, k - 1)

    def h2(p, k):
        if k < 1:
            return np.sin(p)
        return p + h(p, k - 1)

    def f(x):
        return np.sum(h(x, 2))
    """, X)


def test_recursive_function_writing_a_local_array_that_a_conditional_expression_merges_with_its_argument():
    check("""
    def h(p, k):
        v = np.ones(3)
        v[0] = 2.0
        w = p if p[0] > 0.0 else v
        if k < 1:
            return np.sum(w)
        return np.sum(p) + h(np.tanh(p), k - 1)

    def f(x):
        return h(x, 2)
    """, X)


def test_recursive_function_writing_into_its_parameter_rebound_in_a_loop():
    check("""
    def h(p, k):
        for i in range(2):
            p = p * 2.0
            p[0] = 1.0
        if k <= 0:
            return np.sum(p)
        return np.sum(p) + h(np.tanh(p), k - 1)

    def f(x):
        return h(x, 2)
    """, X)
