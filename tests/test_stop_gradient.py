"""ct.stop_gradient: the value passes, the derivative does not, in reverse and forward mode, on both
targets; a stable log-softmax keeps its gradient and drops the adjoint of its shift."""
import numpy as np
import pytest

import cotangent as ct


def scaled(x):
    return ct.stop_gradient(x) * x                  # d/dx = stop(x), not 2x


def log_softmax_loss(z, y):
    s = z - ct.stop_gradient(np.max(z, axis=1, keepdims=True))
    return -np.sum(y * (s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))))


def log_softmax_loss_plain(z, y):
    s = z - np.max(z, axis=1, keepdims=True)
    return -np.sum(y * (s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))))


@pytest.mark.parametrize("target", ["cpu", "python"])
def test_the_derivative_stops_in_both_modes(target):
    f = ct.differentiable(scaled, target=target)
    assert ct.grad(f)(3.0) == pytest.approx(3.0)
    x = np.array([1.0, -2.0, 0.5])
    g = ct.grad(lambda_free_sum(target))(x)
    np.testing.assert_allclose(g, x)
    value, tangent = ct.jvp(f, (3.0,), (1.0,))
    assert value == pytest.approx(9.0) and tangent == pytest.approx(3.0)
    assert ct.stop_gradient(2.5) == 2.5                       # plain Python: the identity


def summed_scaled(x):
    return np.sum(ct.stop_gradient(x) * x)


def lambda_free_sum(target):
    return ct.differentiable(summed_scaled, target=target)


@pytest.mark.parametrize("shape", [(4, 3), (7, 5)])
def test_a_shift_invariant_log_softmax_keeps_its_gradient(shape):
    rng = np.random.default_rng(len(shape) + shape[0])
    z = rng.normal(size=shape) * 3.0
    y = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    np.testing.assert_allclose(ct.grad(log_softmax_loss)(z, y), ct.grad(log_softmax_loss_plain)(z, y),
                               rtol=1e-12, atol=1e-14)
    ct.check_grad(log_softmax_loss, z, y, argnums=0)
    src = ct.source(ct.grad(log_softmax_loss))
    assert "t1 == " not in src and "z == " not in src     # no adjoint of the max (its tie mask)


def test_hessian_through_a_stopped_shift_matches_the_plain_one():
    rng = np.random.default_rng(3)
    z, y = rng.normal(size=(3, 4)), np.eye(4)[[0, 2, 3]]
    np.testing.assert_allclose(ct.hessian(log_softmax_loss)(z, y), ct.hessian(log_softmax_loss_plain)(z, y),
                               rtol=1e-10, atol=1e-12)
