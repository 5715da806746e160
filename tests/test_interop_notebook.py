"""In a notebook, compiled functions show their generated source (`_repr_html_`), and ct.source
gives valid Python."""
import ast
import sys

import numpy as np
import pytest

import cotangent as ct
from interop_programs import settle, SETTLE_X, SETTLE_P


def log_product(a, b):
    c = a * b
    return np.log(c)


def settle_sum(x, p):
    return np.sum(settle(x, p))


def test_before_the_first_call_it_says_so():
    for obj in (ct.grad(log_product, argnums=(0, 1)), ct.value_and_grad(log_product),
                ct.differentiable(log_product)):
        assert "not compiled yet" in obj._repr_html_()


def test_after_a_call_it_shows_the_generated_source():
    pytest.importorskip("pygments")
    g = ct.grad(log_product, argnums=(0, 1))
    g(2.0, 3.0)
    page = g._repr_html_()
    assert "grad of <code>log_product</code>" in page and "log_product_grad" in page
    assert "<span" in page                              # highlighted by Pygments
    assert ct.value_and_grad(log_product, argnums=(0, 1))._repr_html_() == page   # the same code
    primal = ct.differentiable(log_product)
    primal(2.0, 3.0)
    assert "def</span>" in primal._repr_html_() and "return</span>" in primal._repr_html_()


def test_without_pygments_it_is_a_plain_pre(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygments", None)      # import pygments fails
    g = ct.grad(log_product, argnums=(0, 1))
    g(2.0, 3.0)
    page = g._repr_html_()
    assert "<pre>" in page and "a_bar = " in page and "<span" not in page


def test_ipython_displays_it_as_html():
    formatters = pytest.importorskip("IPython.core.formatters")
    g = ct.value_and_grad(log_product)
    g(2.0, 3.0)
    assert "log_product_grad" in formatters.HTMLFormatter()(g)


@pytest.mark.parametrize("make, args", [
    (lambda: ct.grad(log_product, argnums=(0, 1)), (2.0, 3.0)),
    (lambda: ct.differentiable(settle), (SETTLE_X, SETTLE_P)),
    (lambda: ct.grad(settle_sum, argnums=1), (SETTLE_X, SETTLE_P)),
    (lambda: ct.jacfwd(settle, argnums=1), (SETTLE_X, SETTLE_P)),
])
def test_generated_source_is_valid_python(make, args):
    source = ct.source(make(), *args)
    ast.parse(source)
    compile(source, "<generated>", "exec")
