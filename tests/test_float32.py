"""float32 arguments: values, gradients, tangents, Jacobians and Hessians come back in float32
when every float array argument is float32 (NumPy's and JAX's convention), on both targets, and
equal the float64 results to float32 precision; mixing float32 and float64 arrays gives float64,
as NumPy does."""
from __future__ import annotations

import numpy as np
import pytest

import cotangent as ct

TARGETS = ["python", "cpu"]


def mlp_loss(W, b, x, y):
    h = np.tanh(x @ W + b)
    return np.mean((np.sum(h, axis=1) - y) ** 2)


def elementwise(x):
    return np.exp(np.sin(x)) * 2.0 + x ** 2


def looped(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc * 0.5 + np.sum(np.cos(x * i))
    return acc


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((5, 3)),
            rng.standard_normal(5))


def f32(args):
    return tuple(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("target", TARGETS)
def test_gradient_keeps_float32(data, target):
    f = ct.differentiable(mlp_loss, target=target)
    value, grads = ct.value_and_grad(f, argnums=(0, 1))(*f32(data))
    assert np.asarray(value).dtype == np.float32 and isinstance(value, np.floating)
    assert [g.dtype for g in grads] == [np.float32, np.float32]
    value64, grads64 = ct.value_and_grad(f, argnums=(0, 1))(*data)
    assert np.asarray(value64).dtype == np.float64
    # float32 inputs are the float64 inputs rounded: the results agree to float32 precision
    np.testing.assert_allclose(value, value64, rtol=1e-5)
    for g, g64 in zip(grads, grads64):
        np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-5)
    assert f(*f32(data)).dtype == np.float32
    assert mlp_loss(*f32(data)).dtype == np.float32        # what NumPy itself gives


@pytest.mark.parametrize("target", TARGETS)
def test_forward_mode_and_jacobians_keep_float32(target):
    x = np.linspace(-1.0, 1.0, 4).astype(np.float32)
    f = ct.differentiable(elementwise, target=target)
    assert f(x).dtype == np.float32
    value, tangent = ct.jvp(f, (x,), (np.ones_like(x),))
    assert value.dtype == np.float32 and tangent.dtype == np.float32
    jac = ct.jacfwd(f)(x)
    assert jac.dtype == np.float32 and jac.shape == (4, 4)
    np.testing.assert_allclose(jac, ct.jacfwd(f)(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert ct.jacrev(f)(x).dtype == np.float32
    assert ct.hessian(ct.differentiable(looped, target=target))(x, 3).dtype == np.float32


@pytest.mark.parametrize("target", TARGETS)
def test_numbers_follow_numpy(target):
    """A Python float next to float32 arrays keeps them float32; a float64 array makes float64."""
    x = np.ones(3, np.float32)
    f = ct.differentiable(looped, target=target)
    assert ct.grad(f)(x, 2).dtype == np.float32
    W, b, xs, y = (np.ones((3, 4), np.float32), np.ones(4), np.ones((5, 3), np.float32),
                   np.ones(5, np.float32))
    value, grad_W = ct.value_and_grad(ct.differentiable(mlp_loss, target=target))(W, b, xs, y)
    assert np.asarray(value).dtype == np.float64 and grad_W.dtype == np.float64
