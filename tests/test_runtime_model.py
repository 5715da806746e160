"""Sequential and function models: the generated model source, the flat parameter buffer, and the
compiled whole-model gradient against central differences."""
import numpy as np
import pytest

import cotangent as ct
from cotangent import runtime as rt
from cotangent.runtime.params import ParamBuffer, ParamSpec

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0, 1, 1, 0])


@pytest.fixture(scope="module")
def mlp():
    """One small MLP compiled with Numba, shared by the tests of this module."""
    return rt.Sequential([rt.Dense(5, "tanh"), rt.Dense(3, "relu"), rt.Dense(2)],
                         loss="softmax_cross_entropy", input_shape=(2,), l2=1e-2, name="mlp_test")


def test_param_buffer_views_write_through_and_check_names():
    buf = ParamBuffer([ParamSpec("W", (2, 3), rt.initializers.get("glorot_uniform")),
                       ParamSpec("b", (3,), rt.initializers.get("zeros"), regularize=False)], rng=1)
    assert len(buf) == 9 and buf.data.flags.c_contiguous
    buf["W"][1, 2] = 7.0
    assert buf.data[5] == 7.0
    np.testing.assert_array_equal(buf.regularized_mask(), [1] * 6 + [0] * 3)
    again = ParamBuffer(buf.specs, rng=1)
    again["W"][1, 2] = 7.0
    np.testing.assert_array_equal(again.data, buf.data)            # same seed, same parameters
    with pytest.raises(KeyError, match="no parameter 'V'"):
        buf["V"]
    with pytest.raises(ValueError, match="shape"):
        buf.load({"W": np.zeros((3, 2)), "b": np.zeros(3)})
    with pytest.raises(ValueError, match="repeat"):
        ParamBuffer([buf.specs[0], buf.specs[0]])


def test_model_source_is_readable_python(mlp):
    src = mlp.source()
    assert "def mlp_test_train(theta, x, target):" in src
    assert "dense_0_W = theta[0:10].reshape((2, 5))" in src
    assert "dense_0_tanh = tanh(dense_0)" in src
    assert "l2_penalty(dense_0_W) + l2_penalty(dense_1_W) + l2_penalty(dense_2_W)" in src
    # the generated functions are ordinary Python: run them uncompiled
    value, outputs = mlp.train_fn(mlp.params.data, X, np.eye(2)[Y])
    assert np.isfinite(value) and outputs.shape == (4, 2)


def test_whole_model_gradient_matches_central_differences(mlp):
    # not XOR's corners: with zero biases, the input (0, 0) puts every ReLU exactly on its kink
    x = X + np.random.default_rng(3).normal(scale=0.2, size=X.shape)
    target = np.eye(2)[Y]
    step = mlp.loss_and_grad(x, target)
    errors = ct.check_grad(mlp.train_fn, mlp.params.data, x, target, argnums=0, has_aux=True)
    assert errors["theta"] < 1e-6
    _, g = ct.value_and_grad(mlp.train_fn, has_aux=True)(mlp.params.data, x, target)
    np.testing.assert_allclose(step.grad, g, rtol=1e-12, atol=1e-14)
    named = mlp.params.grads(step.grad)
    assert named["dense_0_W"].shape == (2, 5) and named["dense_2_b"].shape == (2,)
    assert step.loss == pytest.approx(mlp.loss(x, target), rel=1e-12)      # no dropout/batch norm here
    grad_src = mlp.source("grad")
    assert "theta_bar" in grad_src and "@numba.njit" in grad_src


def test_model_rejects_inputs_it_cannot_take(mlp):
    with pytest.raises(ValueError, match="takes 1 inputs"):
        mlp.predict((X, X))
    with pytest.raises(ValueError, match="Flatten"):
        rt.Sequential([rt.Dense(3)], loss="squared_error", input_shape=(2, 2, 2))
    with pytest.raises(ValueError, match="identifier"):
        rt.Sequential([rt.Dense(3)], loss="squared_error", input_shape=(2,), name="my model")


def two_layer_loss(W1, b1, W2, b2, x, target):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2 + b2
    return rt.losses.squared_error(out, target), out


def two_layer_predict(W1, b1, W2, b2, x):
    return np.tanh(x @ W1 + b1) @ W2 + b2


def test_function_model_from_a_loss_the_user_wrote():
    model = rt.FunctionModel(two_layer_loss, {"W1": ((2, 4), "glorot_normal"), "b1": ((4,), "zeros"),
                                              "W2": ((4, 1), "glorot_normal"), "b2": ((1,), "zeros")},
                             predict=two_layer_predict, target="python")
    y = np.array([[0.5], [1.0], [-1.0], [0.0]])
    step = model.loss_and_grad(X, y)
    assert ct.check_grad(ct.differentiable(model.train_fn, target="python"), model.params.data, X, y,
                         argnums=0, has_aux=True)["theta"] < 1e-6
    assert step.loss == pytest.approx(model.loss(X, y))
    np.testing.assert_allclose(model.predict(X), step.outputs)
    with pytest.raises(ValueError, match="must take"):
        rt.FunctionModel(two_layer_predict, {"W1": ((2, 4),)})
    with pytest.raises(ValueError, match="generates functions named two_layer_loss"):
        rt.FunctionModel(two_layer_loss, {"W1": ((2, 4),)}, name="two_layer")


def test_objective_runs_on_the_models_target():
    """Newton's Hessian of a Python-target model is built for the Python target (no Numba compile)."""
    model = rt.Sequential([rt.Dense(1)], loss="binary_cross_entropy", input_shape=(2,), name="objective_test",
                          target="python")
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    closure = model.objective(X, y)
    assert closure.fn.target == "python"
    assert float(closure.fn(model.params.data, *closure.args)) == pytest.approx(model.loss(X, y))
    assert ct.hessian(closure.fn)(model.params.data, *closure.args).shape == (3, 3)
