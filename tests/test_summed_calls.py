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


def point_loss(w, x, y):
    """The logistic loss of one example, scored by a small recurrence over its features: a unit
    whose adjoint needs the recurrence's values (taped), so a call in a loop runs it again."""
    z = 0.0
    for j in range(x.shape[0]):
        z = math.tanh(z + w[j] * x[j]) * 2.0
    if z > 0.0:
        return (1.0 - y) * z + math.log(1.0 + math.exp(-z))
    return -y * z + math.log(1.0 + math.exp(z))


def likelihood(w, X, Y, scale):
    """A sum over examples, then a number that uses it (moved after the adjoint loop)."""
    total = 0.0
    for i in range(X.shape[0]):
        total += point_loss(w, X[i], Y[i])
    return scale * total + np.sum(w * w)


def squared(w, X, Y, scale):
    """The sum's square: its adjoint needs the sum, so the forward loop stays."""
    total = 0.0
    for i in range(X.shape[0]):
        total += point_loss(w, X[i], Y[i])
    return scale * total * total


def damped(w, X, Y, scale):
    """Not a plain sum (each trip scales it): the forward loop stays."""
    total = 0.0
    for i in range(X.shape[0]):
        total = scale * total + point_loss(w, X[i], Y[i])
    return total


def _caller(g) -> str:
    """The code of the gradient function itself, without comments."""
    text = ct.source(g, units=False).split("def ", 1)[1].split('"""', 2)[2]
    return "\n".join(line.split("#")[0] for line in text.splitlines())


def _data(n, d):
    return RNG.normal(size=d), RNG.normal(size=(n, d)), (RNG.random(n) > 0.5).astype(float)


@pytest.mark.parametrize("n, d", [(5, 2), (9, 4)])
def test_a_summing_loop_runs_once_and_keeps_the_value_to_the_bit(n, d):
    w, X, Y = _data(n, d)
    for target in ("python", "cpu"):
        f = ct.differentiable(likelihood, target=target)
        g = ct.value_and_grad(f, argnums=(0, 1))
        value, grads = g(w, X, Y, 0.7)
        assert value == f(w, X, Y, 0.7)                      # the same additions, in the same order
        caller = _caller(g)
        assert "point_loss_vjpv(" in caller and "point_loss(" not in caller
        assert "total_terms[i] = " in caller
    slow = ct.value_and_grad(ct.differentiable(likelihood, target="python"), argnums=(0, 1))(w, X, Y, 0.7)
    for a, b in zip(grads, slow[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    errors = ct.check_grad(ct.differentiable(likelihood, target="python"), w, X, Y, 0.7, argnums=(0, 1))
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("f", [squared, damped])
def test_loops_that_do_more_than_sum_keep_their_forward_sweep(f):
    w, X, Y = _data(4, 3)
    g = ct.value_and_grad(ct.differentiable(f, target="python"), argnums=(0, 1))
    value, _ = g(w, X, Y, 0.5)
    assert "_vjpv(" not in _caller(g) and "point_loss(" in _caller(g)
    assert value == pytest.approx(ct.differentiable(f, target="python")(w, X, Y, 0.5), rel=1e-14)
    errors = ct.check_grad(ct.differentiable(f, target="python"), w, X, Y, 0.5, argnums=(0, 1))
    assert max(errors.values()) < 1e-6


def test_a_summing_loop_of_no_trips():
    w, X, Y = RNG.normal(size=3), np.zeros((0, 3)), np.zeros(0)
    value, (w_bar, X_bar) = ct.value_and_grad(likelihood, argnums=(0, 1))(w, X, Y, 0.7)
    assert value == np.sum(w * w) and np.allclose(w_bar, 2 * w) and X_bar.shape == (0, 3)


def two_sums(w, X, Y, scale):
    """Two summing loops over different ranges: each adjoint loop is paired with its own."""
    a = 0.0
    for i in range(X.shape[0]):
        a += point_loss(w, X[i], Y[i])
    v = w * scale
    b = 0.0
    for i in range(X.shape[0] - 1):
        b += point_loss(v, X[i + 1], Y[i])
    return a + 2.0 * b


def test_two_summing_loops():
    w, X, Y = _data(6, 3)
    for target in ("python", "cpu"):
        f = ct.differentiable(two_sums, target=target)
        g = ct.value_and_grad(f, argnums=(0, 1))
        value, grads = g(w, X, Y, 0.8)
        assert value == f(w, X, Y, 0.8)
        assert _caller(g).count("_vjpv(") == 2            # both loops run once
    slow = ct.value_and_grad(ct.differentiable(two_sums, target="python"), argnums=(0, 1))(w, X, Y, 0.8)
    for a, b in zip(grads, slow[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    errors = ct.check_grad(ct.differentiable(two_sums, target="python"), w, X, Y, 0.8, argnums=(0, 1))
    assert max(errors.values()) < 1e-6
