"""A loop that sums a function's values (compiler/transforms/summed_calls.py): its gradient calls
the function's VJP once per trip, which returns the value too, and the sum is taken afterwards in
the forward loop's order, so the value is the primal's to the last bit. Loops that do more than
sum, or whose sum the adjoint needs, keep their forward sweep. Gradients are checked against
central differences in both modes (ct.check_grad) and between the Numba and Python targets."""
import math

import numpy as np
import pytest

import cotangent as ct

RNG = np.random.default_rng(17)


def point_term(c, x):
    """The log of a sum of Gaussian bumps around the rows of c, online (more than the cost model
    inlines: a unit)."""
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


def likelihood(c, X, scale):
    """A sum over points, then a number that uses it (moved after the adjoint loop)."""
    total = 0.0
    for i in range(X.shape[0]):
        total += point_term(c, X[i])
    return scale * total + np.sum(c * c)


def squared(c, X, scale):
    """The sum's square: its adjoint needs the sum, so the forward loop stays."""
    total = 0.0
    for i in range(X.shape[0]):
        total += point_term(c, X[i])
    return scale * total * total


def damped(c, X, scale):
    """Not a plain sum (each trip scales it): the forward loop stays."""
    total = 0.0
    for i in range(X.shape[0]):
        total = scale * total + point_term(c, X[i])
    return total


def _caller(g) -> str:
    """The code of the gradient function itself, without comments."""
    text = ct.source(g, units=False).split("def ", 1)[1].split('"""', 2)[2]
    return "\n".join(line.split("#")[0] for line in text.splitlines())


@pytest.mark.parametrize("k, n, d", [(3, 5, 2), (2, 7, 4)])
def test_a_summing_loop_runs_once_and_keeps_the_value_to_the_bit(k, n, d):
    c, X = RNG.normal(size=(k, d)), RNG.normal(size=(n, d))
    for target in ("python", "cpu"):
        f = ct.differentiable(likelihood, target=target)
        g = ct.value_and_grad(f, argnums=(0, 1))
        value, grads = g(c, X, 0.7)
        assert value == f(c, X, 0.7)                         # the same additions, in the same order
        caller = _caller(g)
        assert "point_term_vjpv(" in caller and "point_term(" not in caller
        assert "total_terms[i] = " in caller
    slow = ct.value_and_grad(ct.differentiable(likelihood, target="python"), argnums=(0, 1))(c, X, 0.7)
    for a, b in zip(grads, slow[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    errors = ct.check_grad(ct.differentiable(likelihood, target="python"), c, X, 0.7, argnums=(0, 1))
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("f", [squared, damped])
def test_loops_that_do_more_than_sum_keep_their_forward_sweep(f):
    c, X = RNG.normal(size=(3, 2)), RNG.normal(size=(4, 2))
    g = ct.value_and_grad(ct.differentiable(f, target="python"), argnums=(0, 1))
    value, _ = g(c, X, 0.5)
    assert "_vjpv(" not in _caller(g) and "point_term(" in _caller(g)
    assert value == pytest.approx(ct.differentiable(f, target="python")(c, X, 0.5), rel=1e-14)
    errors = ct.check_grad(ct.differentiable(f, target="python"), c, X, 0.5, argnums=(0, 1))
    assert max(errors.values()) < 1e-6


def test_a_summing_loop_of_no_trips():
    c, X = RNG.normal(size=(3, 2)), np.zeros((0, 2))
    value, (c_bar, X_bar) = ct.value_and_grad(likelihood, argnums=(0, 1))(c, X, 0.7)
    assert value == np.sum(c * c) and np.allclose(c_bar, 2 * c) and X_bar.shape == (0, 2)
