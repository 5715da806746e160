"""ct.to_jax: cotangent's compiled code as a JAX function, under jax.jit, jax.grad and jax.vmap,
equal to cotangent's own derivatives (in float64, under jax.enable_x64)."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import cotangent as ct  # noqa: E402
from interop_programs import nll, settle, energy, data, SETTLE_X, SETTLE_P  # noqa: E402

NLL = ct.to_jax(nll)
SETTLE = ct.to_jax(settle, out_shape=lambda x, p: x.shape)
SETTLE_FORWARD = ct.to_jax(settle, out_shape=lambda x, p: x.shape, mode="forward")
W, X, Y = data()


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def close(a, b, rtol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=1e-12)


def test_grad_and_jit_equal_cotangents_gradient():
    expected = ct.value_and_grad(nll, argnums=(0, 1))(W, X, Y)
    close(NLL(W, X, Y), expected[0])
    close(jax.jit(NLL)(W, X, Y), expected[0])
    close(jax.grad(NLL)(W, X, Y), expected[1][0])
    value, (gw, gX) = jax.jit(jax.value_and_grad(NLL, argnums=(0, 1)))(W, X, Y)
    close(value, expected[0])
    close(gw, expected[1][0])
    close(gX, expected[1][1])


def test_only_the_arguments_asked_for_are_differentiated():
    jax.grad(NLL)(W, X, Y)
    assert ("grad", (0,)) in NLL.engine._transforms
    assert ("grad", (0, 1, 2)) not in NLL.engine._transforms


def test_vmap_of_grad_loops_over_the_batch():
    Ws = np.stack([W, 2 * W, -W])
    grads = jax.jit(jax.vmap(jax.grad(NLL), in_axes=(0, None, None)))(Ws, X, Y)
    close(grads, [ct.grad(nll)(w, X, Y) for w in Ws])
    close(jax.vmap(NLL, in_axes=(0, None, None))(Ws, X, Y), [nll(w, X, Y) for w in Ws])


def test_forward_mode_and_second_derivatives_forward_over_reverse():
    v = np.array([0.3, -1.0, 0.5, 2.0])
    _, tangent = jax.jvp(lambda w: NLL(w, X, Y), (W,), (v,))
    close(tangent, ct.grad(nll)(W, X, Y) @ v)
    close(jax.jacfwd(NLL)(W, X, Y), ct.grad(nll)(W, X, Y))
    close(jax.jit(jax.hessian(NLL))(W, X, Y), jax.hessian(jax_nll)(W, X, Y))


def jax_nll(w, X, y):
    """nll in jax.numpy, for a reference Hessian."""
    z = w[0] + X @ w[1:]
    return jnp.mean(jnp.log1p(jnp.exp(z)) - y * z) + 1e-3 * jnp.sum(w * w)


def test_reverse_over_reverse_is_an_error_not_a_zero():
    with pytest.raises(Exception, match="[Cc]allback"):
        jax.grad(lambda w: jax.grad(NLL)(w, X, Y)[0])(W)


def test_array_result_through_while_loop_in_reverse_mode():
    close(jax.jit(SETTLE)(SETTLE_X, SETTLE_P), settle(SETTLE_X, SETTLE_P))
    jx, jp = jax.jit(jax.jacrev(SETTLE, argnums=(0, 1)))(SETTLE_X, SETTLE_P)
    _, pullback = ct.vjp(settle, SETTLE_X, SETTLE_P)
    rows = [pullback(e) for e in np.eye(len(SETTLE_X))]
    close(jx, [r[0] for r in rows])
    close(jp, [r[1] for r in rows])
    ps = np.stack([SETTLE_P, 1.1 * SETTLE_P])
    per_p = jax.vmap(jax.grad(lambda p: jnp.sum(SETTLE(SETTLE_X, p) ** 2)))(ps)
    _, pullback = ct.vjp(settle, SETTLE_X, ps[1])
    close(per_p[1], pullback(2 * settle(SETTLE_X, ps[1]))[1])
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(SETTLE, (SETTLE_X, SETTLE_P), (SETTLE_X, SETTLE_P))


def test_array_result_in_forward_mode():
    columns = [ct.jvp(settle, (SETTLE_X, SETTLE_P), (None, e))[1] for e in np.eye(2)]
    close(jax.jit(jax.jacfwd(SETTLE_FORWARD, argnums=1))(SETTLE_X, SETTLE_P), np.stack(columns, axis=1))


def test_array_shape_must_be_given_or_seen_before_jit():
    f = ct.to_jax(settle)
    with pytest.raises(ValueError, match="out_shape"):
        jax.jit(f)(SETTLE_X, SETTLE_P)
    f(SETTLE_X, SETTLE_P)                            # a call outside jit tells it the shape
    close(jax.jit(f)(SETTLE_X, SETTLE_P), settle(SETTLE_X, SETTLE_P))


def test_dict_argument_int_argument_and_float32():
    params = {"W": np.array([[0.3, -0.2], [0.1, 0.4]]), "b": np.array([0.05, -0.1])}
    E = ct.to_jax(energy)
    g = jax.jit(jax.grad(E), static_argnums=1)(params, 3)
    expected = ct.grad(energy)(params, 3)
    close(g["W"], expected["W"])
    close(g["b"], expected["b"])
    with jax.enable_x64(False):
        g32 = jax.grad(NLL)(jnp.asarray(W, jnp.float32), jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32))
    assert g32.dtype == jnp.float32
    close(g32, ct.grad(nll)(W.astype(np.float32).astype(float), X.astype(np.float32).astype(float),
                            Y.astype(np.float32).astype(float)), rtol=1e-6)
