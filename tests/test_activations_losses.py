"""Every activation and loss: gradients against central differences in reverse and forward mode on
two shapes, values against plain NumPy references, and finite results far out in the tails."""
import numpy as np
import pytest

import cotangent as ct
from cotangent.runtime import activations as A, losses as L


def probe_sigmoid(x, w):
    return np.sum(w * A.sigmoid(x))


def probe_tanh(x, w):
    return np.sum(w * A.tanh(x))


def probe_relu(x, w):
    return np.sum(w * A.relu(x))


def probe_leaky_relu(x, w):
    return np.sum(w * A.leaky_relu(x, alpha=0.1))


def probe_elu(x, w):
    return np.sum(w * A.elu(x, 0.7))


def probe_softplus(x, w):
    return np.sum(w * A.softplus(x))


def probe_softsign(x, w):
    return np.sum(w * A.softsign(x))


def probe_arctan(x, w):
    return np.sum(w * A.arctan(x))


def probe_softmax(x, w):
    return np.sum(w * A.softmax(x))


def probe_softmax_axis0(x, w):
    return np.sum(w * A.softmax(x, axis=0))


def probe_log_softmax(x, w):
    return np.sum(w * A.log_softmax(x))


def probe_log_softmax_axis0(x, w):
    return np.sum(w * A.log_softmax(x, axis=0))


def _softmax_ref(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACTIVATIONS = {
    probe_sigmoid: lambda x: 1 / (1 + np.exp(-x)),
    probe_tanh: np.tanh,
    probe_relu: lambda x: np.maximum(x, 0),
    probe_leaky_relu: lambda x: np.where(x > 0, x, 0.1 * x),
    probe_elu: lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
    probe_softplus: lambda x: np.log(1 + np.exp(x)),
    probe_softsign: lambda x: x / (1 + np.abs(x)),
    probe_arctan: np.arctan,
    probe_softmax: lambda x: _softmax_ref(x, -1),
    probe_softmax_axis0: lambda x: _softmax_ref(x, 0),
    probe_log_softmax: lambda x: np.log(_softmax_ref(x, -1)),
    probe_log_softmax_axis0: lambda x: np.log(_softmax_ref(x, 0)),
}
SHAPES = [(7,), (3, 5)]


def _away_from_kinks(shape, rng):
    x = rng.normal(size=shape) * 2.0
    return np.where(np.abs(x) < 0.05, 0.3, x)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("probe", list(ACTIVATIONS), ids=lambda f: f.__name__[6:])
def test_activation_gradient_and_value(probe, shape):
    if probe.__name__.endswith("axis0") and len(shape) == 1:
        shape = (4, 2)
    rng = np.random.default_rng(len(shape))
    x, w = _away_from_kinks(shape, rng), rng.normal(size=shape)
    f = ct.differentiable(probe, target="python")
    errors = ct.check_grad(f, x, w)
    assert max(errors.values()) < 1e-6
    assert f(x, w) == pytest.approx(np.sum(w * ACTIVATIONS[probe](x)), rel=1e-12, abs=1e-12)


def test_activations_stay_finite_in_the_tails():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    w = np.ones(5)
    for probe in (probe_sigmoid, probe_softplus, probe_softmax, probe_log_softmax, probe_elu):
        f = ct.differentiable(probe, target="python")
        with np.errstate(over="raise", invalid="raise"):
            value = f(x, w)
            g = ct.grad(f)(x, w)
        assert np.isfinite(value) and np.all(np.isfinite(g)), probe.__name__
    np.testing.assert_allclose(ct.differentiable(probe_log_softmax, target="python")(x, np.eye(5)[4]), 0.0)


def probe_squared_error(p, t):
    return L.squared_error(p, t)


def probe_absolute_error(p, t):
    return L.absolute_error(p, t)


def probe_huber(p, t):
    return L.huber(p, t, delta=0.5)


def probe_binary_cross_entropy(p, t):
    return L.binary_cross_entropy(p, t)


def probe_softmax_cross_entropy(p, t):
    return L.softmax_cross_entropy(p, t)


def probe_hinge(p, t):
    return L.hinge(p, t)


def probe_multiclass_hinge(p, t):
    return L.multiclass_hinge(p, t)


def probe_penalties(w, t):
    return 0.3 * L.l1_penalty(w) + 0.7 * L.l2_penalty(w) + 0.0 * np.sum(t)


def _onehot(n, k, rng):
    return np.eye(k)[rng.integers(0, k, size=n)]


def _logsoftmax_ref(z):
    return z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))


def _mc_hinge_ref(s, t):
    y = t.argmax(1)
    total = 0.0
    for i in range(len(s)):
        for j in range(s.shape[1]):
            if j != y[i]:
                total += max(0.0, s[i, j] - s[i, y[i]] + 1.0)
    return total / len(s)


LOSSES = {
    probe_squared_error: (lambda n, k, r: r.normal(size=(n, k)), lambda p, t: np.sum((p - t) ** 2) / len(p)),
    probe_absolute_error: (lambda n, k, r: r.normal(size=(n, k)), lambda p, t: np.sum(np.abs(p - t)) / len(p)),
    probe_huber: (lambda n, k, r: r.normal(size=(n, k)),
                  lambda p, t: np.sum(np.where(np.abs(p - t) <= 0.5, 0.5 * (p - t) ** 2,
                                               0.5 * (np.abs(p - t) - 0.25))) / len(p)),
    probe_binary_cross_entropy: (lambda n, k, r: r.integers(0, 2, size=(n, k)).astype(float),
                                 lambda z, t: -np.sum(t * np.log(1 / (1 + np.exp(-z)))
                                                      + (1 - t) * np.log(1 - 1 / (1 + np.exp(-z)))) / len(z)),
    probe_softmax_cross_entropy: (lambda n, k, r: _onehot(n, k, r),
                                  lambda z, t: -np.sum(t * _logsoftmax_ref(z)) / len(z)),
    probe_hinge: (lambda n, k, r: r.choice([-1.0, 1.0], size=(n, k)),
                  lambda s, t: np.sum(np.maximum(0, 1 - t * s)) / len(s)),
    probe_multiclass_hinge: (lambda n, k, r: _onehot(n, k, r), _mc_hinge_ref),
    probe_penalties: (lambda n, k, r: r.normal(size=(n, k)),
                      lambda w, t: 0.3 * np.abs(w).sum() + 0.35 * (w * w).sum()),
}


@pytest.mark.parametrize("n,k", [(6, 3), (4, 1)], ids=["6x3", "4x1"])
@pytest.mark.parametrize("probe", list(LOSSES), ids=lambda f: f.__name__[6:])
def test_loss_gradient_and_value(probe, n, k):
    rng = np.random.default_rng(n * 10 + k)
    make_target, reference = LOSSES[probe]
    p, t = rng.normal(size=(n, k)) * 1.5, make_target(n, k, rng)
    if probe in (probe_hinge, probe_multiclass_hinge, probe_huber, probe_absolute_error, probe_penalties):
        p = p + 0.02 * np.sign(p)       # keep central differences off the kinks
        if probe is probe_multiclass_hinge:
            correct = np.sum(p * t, axis=1, keepdims=True)
            margin = p - correct + 1.0
            p = np.where((np.abs(margin) < 0.05) & (t == 0), p + 0.2, p)
        if probe is probe_hinge:
            p = np.where(np.abs(1 - t * p) < 0.05, p + 0.2, p)
        if probe is probe_huber:
            p = np.where(np.abs(np.abs(p - t) - 0.5) < 0.05, p + 0.2, p)
    f = ct.differentiable(probe, target="python")
    errors = ct.check_grad(f, p, t, argnums=0)
    assert max(errors.values()) < 1e-6
    assert f(p, t) == pytest.approx(reference(p, t), rel=1e-12)


def test_classification_losses_are_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0], [-800.0, 900.0]])
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    for probe in (probe_binary_cross_entropy, probe_softmax_cross_entropy):
        f = ct.differentiable(probe, target="python")
        value, g = ct.value_and_grad(f)(z, t)
        assert np.isfinite(value) and np.all(np.isfinite(g))
    assert ct.differentiable(probe_softmax_cross_entropy, target="python")(z, t) == pytest.approx(0.0, abs=1e-300)
    wrong = ct.differentiable(probe_softmax_cross_entropy, target="python")(z, t[::-1].copy())
    assert wrong == pytest.approx((2000.0 + 1700.0) / 2)


def test_lookup_names_the_choices():
    assert A.get("relu") is A.relu and L.get("huber") is L.huber
    with pytest.raises(ValueError, match="choose from"):
        A.get("swish")
    with pytest.raises(ValueError, match="choose from"):
        L.get("focal")


def test_smooth_functions_have_their_derivative_at_zero():
    """softplus, ELU (alpha = 1) and binary cross-entropy are smooth at 0 though written with max;
    their derivatives there must not take a kink's subgradient (a zero-initialized logistic
    regression starts exactly at logits 0)."""
    x, w = np.array([0.0, 0.0]), np.array([1.0, 2.0])
    for probe, slope in ((probe_softplus, 0.5), (probe_sigmoid, 0.25)):
        np.testing.assert_allclose(ct.grad(ct.differentiable(probe, target="python"))(x, w), slope * w)

    def unit_elu(x, w):
        return np.sum(w * A.elu(x, 1.0))
    np.testing.assert_allclose(ct.grad(ct.differentiable(unit_elu, target="python"))(x, w), w)
    z, t = np.zeros(4), np.array([0.0, 1.0, 1.0, 1.0])
    bce = ct.differentiable(probe_binary_cross_entropy, target="python")
    np.testing.assert_allclose(ct.grad(bce)(z, t), (0.5 - t) / 4)
    np.testing.assert_allclose(ct.hessian(bce)(z, t), np.eye(4) * 0.25 / 4)
