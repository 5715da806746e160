"""Optimizers and schedules: convergence on Rosenbrock and logistic regression (gradients and
Hessians from cotangent), Adam against Kingma & Ba's formulas, clipping, schedules, saving and
restoring state, and the errors a caller sees."""
import math

import numpy as np
import pytest

import cotangent as ct
from cotangent.runtime.optimizers import (
    OPTIMIZERS, SGD, AdaGrad, Adam, AdamW, LossClosure, Momentum, Nesterov, Newton, RMSprop,
    optimizer_from_state)
from cotangent.runtime.schedules import (
    Constant, CosineDecay, ExponentialDecay, StepDecay, schedule_from_state)


def rosenbrock(theta):
    x = theta[0]
    y = theta[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def logistic(w, X, y):
    z = w[0] + X @ w[1:]
    return np.mean(np.log1p(np.exp(-y * z)))


rosenbrock_grad = ct.grad(rosenbrock)
logistic_value_and_grad = ct.value_and_grad(logistic)
ROSENBROCK_START = (-1.2, 1.0)


@pytest.fixture(scope="module")
def logistic_problem():
    """200 samples, bias and two features, labels from a logistic model (fixed seed), and the
    optimum by plain Newton iterations on ct.hessian (as in examples/newton_logistic.py)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2)) @ np.array([[1.0, 0.6], [0.0, 0.8]]) + np.array([1.0, -0.5])
    p = 1.0 / (1.0 + np.exp(-(0.5 + X @ np.array([-2.0, 1.0]))))
    y = np.where(rng.random(200) < p, 1.0, -1.0)
    hessian = ct.hessian(logistic)
    w = np.zeros(3)
    for _ in range(20):
        value, g = logistic_value_and_grad(w, X, y)
        if np.linalg.norm(g) < 1e-13:
            break
        w = w - np.linalg.solve(hessian(w, X, y), g)
    assert np.linalg.norm(g) < 1e-13
    return X, y, w, value


# --- convergence -------------------------------------------------------------------------------

ROSENBROCK_RUNS = [
    pytest.param(lambda: SGD(lr=1.5e-3), 10_000, id="SGD"),
    pytest.param(lambda: Momentum(lr=1e-3, momentum=0.9), 2_000, id="Momentum"),
    pytest.param(lambda: Nesterov(lr=1e-3, momentum=0.9), 2_000, id="Nesterov"),
    pytest.param(lambda: AdaGrad(lr=0.5), 8_000, id="AdaGrad"),
    pytest.param(lambda: RMSprop(schedule=ExponentialDecay(1e-2, 0.999)), 5_000, id="RMSprop"),
    pytest.param(lambda: Adam(lr=2e-2), 4_000, id="Adam"),
    pytest.param(lambda: AdamW(lr=2e-2, weight_decay=1e-4), 4_000, id="AdamW"),
]


@pytest.mark.parametrize("make, steps", ROSENBROCK_RUNS)
def test_first_order_optimizers_minimize_rosenbrock(make, steps):
    theta = np.array(ROSENBROCK_START)
    opt = make()
    for _ in range(steps):
        opt.step(theta, rosenbrock_grad(theta))
    assert np.max(np.abs(theta - 1.0)) < 1e-2, theta
    assert opt.steps == steps


def test_newton_minimizes_rosenbrock_to_machine_precision():
    theta = np.array(ROSENBROCK_START)
    opt, loss = Newton(), LossClosure(rosenbrock)
    for step in range(40):
        if np.max(np.abs(theta - 1.0)) < 1e-12:
            break
        opt.step(theta, rosenbrock_grad(theta), loss)
    assert np.max(np.abs(theta - 1.0)) < 1e-12 and step < 30


LOGISTIC_RUNS = [
    pytest.param(lambda: SGD(lr=1.0), 1_000, id="SGD"),
    pytest.param(lambda: Momentum(lr=0.5), 300, id="Momentum"),
    pytest.param(lambda: Nesterov(lr=0.5), 300, id="Nesterov"),
    pytest.param(lambda: AdaGrad(lr=0.5), 1_000, id="AdaGrad"),
    pytest.param(lambda: RMSprop(schedule=CosineDecay(2e-2, 1_000)), 1_000, id="RMSprop"),
    pytest.param(lambda: Adam(lr=5e-2), 1_000, id="Adam"),
    pytest.param(lambda: AdamW(lr=5e-2, weight_decay=1e-4), 1_000, id="AdamW"),
]


@pytest.mark.parametrize("make, steps", LOGISTIC_RUNS)
def test_first_order_optimizers_fit_logistic_regression(make, steps, logistic_problem):
    X, y, w_star, f_star = logistic_problem
    w, opt = np.zeros(3), make()
    for _ in range(steps):
        opt.step(w, logistic_value_and_grad(w, X, y)[1])
    assert logistic(w, X, y) - f_star < 1e-8
    assert np.max(np.abs(w - w_star)) < 1e-3


def test_newton_fits_logistic_regression_in_a_few_steps(logistic_problem):
    X, y, w_star, f_star = logistic_problem
    w, opt, loss = np.zeros(3), Newton(), LossClosure(logistic, (X, y))
    for _ in range(7):
        opt.step(w, logistic_value_and_grad(w, X, y)[1], loss)
    assert np.linalg.norm(logistic_value_and_grad(w, X, y)[1]) < 1e-12
    np.testing.assert_allclose(w, w_star, rtol=0, atol=1e-10)


def test_newton_step_without_line_search_is_the_damped_newton_step():
    theta = np.array(ROSENBROCK_START)
    g = rosenbrock_grad(theta)
    expected = theta - np.linalg.solve(ct.hessian(rosenbrock)(theta) + 1e-3 * np.eye(2), g)
    Newton(damping=1e-3, line_search=False).step(theta, g, LossClosure(rosenbrock))
    np.testing.assert_allclose(theta, expected, rtol=1e-14)


def test_newton_damps_an_indefinite_hessian_into_a_descent_step():
    theta = np.array([0.0, 1.0])           # above the parabola y = x^2 + 0.005 the Hessian is indefinite
    assert np.linalg.eigvalsh(ct.hessian(rosenbrock)(theta))[0] < 0
    opt, loss = Newton(), LossClosure(rosenbrock)
    values = [rosenbrock(theta)]
    for _ in range(30):
        opt.step(theta, rosenbrock_grad(theta), loss)
        values.append(rosenbrock(theta))
    assert all(b <= a for a, b in zip(values, values[1:]))
    np.testing.assert_allclose(theta, [1.0, 1.0], atol=1e-12)


def test_newton_clip_norm_caps_the_step_length():
    theta = np.array(ROSENBROCK_START)
    Newton(clip_norm=0.1, line_search=False).step(theta, rosenbrock_grad(theta), LossClosure(rosenbrock))
    assert np.linalg.norm(theta - ROSENBROCK_START) == pytest.approx(0.1, rel=1e-12)


# --- Adam against the paper -------------------------------------------------------------------

def test_adam_first_three_steps_follow_kingma_ba_algorithm_1():
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-8
    gradients = [np.array([0.1, -0.2, 3.0, 0.0]), np.array([0.05, 0.4, -0.3, 1e-3]),
                 np.array([-0.2, 0.1, 0.0, -2.0])]
    params = np.array([0.5, -1.5, 2.0, 0.0])
    opt = Adam(lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    theta, m, v = params.copy(), np.zeros(4), np.zeros(4)
    for t, g in enumerate(gradients, start=1):
        m = beta1 * m + (1.0 - beta1) * g                  # biased first moment
        v = beta2 * v + (1.0 - beta2) * g ** 2             # biased second raw moment
        m_hat = m / (1.0 - beta1 ** t)                     # bias-corrected
        v_hat = v / (1.0 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        opt.step(params, g)
        np.testing.assert_allclose(opt.buffers["m"], m, rtol=0, atol=1e-15)
        np.testing.assert_allclose(opt.buffers["v"], v, rtol=0, atol=1e-15)
        np.testing.assert_allclose(params, theta, rtol=0, atol=1e-15)
        if t == 1:   # m_hat = g and v_hat = g^2: the first step moves each weight by about lr
            np.testing.assert_allclose(m_hat, g, rtol=0, atol=1e-15)
            np.testing.assert_allclose(v_hat, g ** 2, rtol=0, atol=1e-15)
            np.testing.assert_allclose(params, [0.5, -1.5, 2.0, 0.0] - lr * g / (np.abs(g) + eps),
                                       rtol=0, atol=1e-15)
    assert opt.steps == 3


def test_adamw_decays_the_weights_apart_from_the_gradient():
    lr, wd = 0.1, 0.5
    params, g = np.array([2.0, -4.0]), np.array([1.0, -1.0])
    AdamW(lr=lr, weight_decay=wd).step(params, g)
    # first step: m_hat / sqrt(v_hat) = sign(g); the decay uses the weights before the step
    np.testing.assert_allclose(params, [2.0 - lr * (1 / (1 + 1e-8) + wd * 2.0),
                                        -4.0 - lr * (-1 / (1 + 1e-8) + wd * -4.0)], rtol=1e-15)


# --- clipping ---------------------------------------------------------------------------------

def test_clip_value_clips_each_element_and_leaves_grads_alone():
    params, grads = np.zeros(3), np.array([2.0, -0.1, -3.0])
    SGD(lr=1.0, clip_value=0.5).step(params, grads)
    np.testing.assert_array_equal(params, [-0.5, 0.1, 0.5])
    np.testing.assert_array_equal(grads, [2.0, -0.1, -3.0])


def test_clip_norm_scales_the_whole_gradient():
    params = np.zeros(2)
    SGD(lr=1.0, clip_norm=1.0).step(params, np.array([3.0, 4.0]))
    np.testing.assert_allclose(params, [-0.6, -0.8], rtol=1e-15)
    params = np.zeros(2)
    SGD(lr=1.0, clip_norm=1.0).step(params, np.array([0.3, 0.4]))     # within the bound: untouched
    np.testing.assert_array_equal(params, [-0.3, -0.4])


def test_clip_value_applies_before_clip_norm():
    params = np.zeros(2)
    SGD(lr=1.0, clip_value=3.0, clip_norm=1.0).step(params, np.array([3.0, 40.0]))
    np.testing.assert_allclose(params, [-math.sqrt(0.5), -math.sqrt(0.5)], rtol=1e-15)


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW"])
def test_every_optimizer_clips_as_if_given_the_clipped_gradient(name):
    rng = np.random.default_rng(3)
    gradients = [10.0 * rng.standard_normal(6) for _ in range(4)]
    clipped, plain = OPTIMIZERS[name](clip_value=8.0, clip_norm=5.0), OPTIMIZERS[name]()
    a = rng.standard_normal(6)
    b = a.copy()
    for g in gradients:
        c = np.clip(g, -8.0, 8.0)
        c *= min(1.0, 5.0 / np.linalg.norm(c))
        clipped.step(a, g)
        plain.step(b, c)
    np.testing.assert_allclose(a, b, rtol=1e-13)


# --- schedules --------------------------------------------------------------------------------

def test_schedule_values():
    assert [Constant(0.1)(s) for s in (0, 1, 1000)] == [0.1, 0.1, 0.1]
    assert [StepDecay(1.0, 10, 0.5)(s) for s in (0, 9, 10, 19, 20, 25)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    np.testing.assert_allclose([ExponentialDecay(2.0, 0.9)(s) for s in (0, 1, 3)], [2.0, 1.8, 1.458], rtol=1e-15)
    cosine = CosineDecay(1.0, 100)
    np.testing.assert_allclose([cosine(s) for s in (0, 25, 50, 100, 500)],
                               [1.0, 0.5 + 0.5 * math.sqrt(0.5), 0.5, 0.0, 0.0], rtol=1e-15, atol=1e-16)
    warm = CosineDecay(1.0, 110, lr_min=0.1, warmup=10)
    np.testing.assert_allclose([warm(s) for s in (0, 4, 9, 10, 60, 110, 111)],
                               [0.1, 0.5, 1.0, 1.0, 0.55, 0.1, 0.1], rtol=1e-15)


def test_schedule_overrides_lr_step_by_step():
    opt = SGD(lr=1.0, schedule=StepDecay(0.1, 2, 0.5))
    assert [opt.lr_at(s) for s in range(5)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    params, moves = np.zeros(1), []
    for _ in range(5):
        before = params[0]
        opt.step(params, np.ones(1))
        moves.append(before - params[0])
    np.testing.assert_allclose(moves, [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-14)
    assert SGD(lr=0.3).lr_at(7) == 0.3


@pytest.mark.parametrize("schedule", [Constant(0.2), StepDecay(0.5, 3, 0.7), ExponentialDecay(0.1, 0.99),
                                      CosineDecay(1.0, 50, lr_min=0.01, warmup=5)], ids=repr)
def test_schedule_state_round_trip(schedule):
    rebuilt = schedule_from_state(schedule.state_dict())
    assert rebuilt == schedule and type(rebuilt) is type(schedule)


@pytest.mark.parametrize("make, message", [
    (lambda: StepDecay(1.0, 0), "step_size"), (lambda: StepDecay(1.0, 2.5), "step_size"),
    (lambda: ExponentialDecay(1.0, 0.0), "gamma"), (lambda: Constant(-1.0), "lr"),
    (lambda: CosineDecay(1.0, 10, warmup=10), "warmup"), (lambda: CosineDecay(1.0, 10, lr_min=2.0), "lr_min"),
    (lambda: Constant(1.0)(-1), ">= 0"), (lambda: Constant(1.0)(1.5), "integer"),
    (lambda: SGD(schedule=lambda step: -1.0).lr_at(0), "finite and >= 0"),
])
def test_schedule_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- saving and restoring ---------------------------------------------------------------------

STATEFUL = [
    pytest.param(lambda: SGD(lr=0.05, weight_decay=1e-3, clip_value=1.5), id="SGD"),
    pytest.param(lambda: Momentum(lr=0.05, momentum=0.8, clip_norm=2.0), id="Momentum"),
    pytest.param(lambda: Nesterov(schedule=StepDecay(0.05, 3, 0.5)), id="Nesterov"),
    pytest.param(lambda: AdaGrad(lr=0.1, eps=1e-6), id="AdaGrad"),
    pytest.param(lambda: RMSprop(rho=0.8, schedule=CosineDecay(1e-2, 8, warmup=2)), id="RMSprop"),
    pytest.param(lambda: Adam(lr=0.01, beta1=0.8, weight_decay=1e-2, clip_value=1.0), id="Adam"),
    pytest.param(lambda: AdamW(lr=0.01, schedule=ExponentialDecay(0.01, 0.9), clip_norm=3.0), id="AdamW"),
]


@pytest.mark.parametrize("make", STATEFUL)
def test_restored_optimizer_continues_bit_identically(make, tmp_path):
    rng = np.random.default_rng(7)
    gradients = [rng.standard_normal(5) for _ in range(8)]
    params, uninterrupted = rng.standard_normal(5), make()
    for g in gradients[:4]:
        uninterrupted.step(params, g)
    np.savez(tmp_path / "opt.npz", **uninterrupted.state_dict())
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as saved:
        state = dict(saved)
    restored = type(uninterrupted)()                 # defaults: everything comes from the state
    restored.load_state_dict(state)
    assert repr(restored) == repr(uninterrupted) and restored.steps == 4
    resumed = params.copy()
    for g in gradients[4:]:
        uninterrupted.step(params, g)
        restored.step(resumed, g)
    np.testing.assert_array_equal(resumed, params)
    for name, buffer in uninterrupted.buffers.items():
        np.testing.assert_array_equal(restored.buffers[name], buffer)


def test_state_dict_is_plain_arrays_and_copies():
    opt = Adam(clip_norm=1.0, schedule=CosineDecay(1e-3, 100))
    opt.step(np.zeros(3), np.ones(3))
    state = opt.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in state.values())
    assert str(state["class"]) == "Adam" and state["steps"] == 1 and state["clip_norm"] == 1.0
    assert "clip_value" not in state and str(state["schedule.class"]) == "CosineDecay"
    state["m"][:] = 99.0                             # the saved arrays are copies...
    assert opt.buffers["m"][0] != 99.0
    fresh = Adam()
    fresh.load_state_dict(state)
    state["m"][:] = 0.0                              # ...and so are the loaded ones
    assert fresh.buffers["m"][0] == 99.0


def test_optimizer_from_state_and_newton_state(tmp_path):
    opt = Newton(damping=1e-4, lr=0.5, line_search=False, clip_norm=3.0)
    opt.steps = 2
    np.savez(tmp_path / "newton.npz", **opt.state_dict())
    with np.load(tmp_path / "newton.npz", allow_pickle=False) as saved:
        rebuilt = optimizer_from_state(dict(saved))
    assert type(rebuilt) is Newton and repr(rebuilt) == repr(opt) and rebuilt.steps == 2


def test_plain_function_schedule_must_be_passed_again_to_load():
    def schedule(step):
        return 0.1 / (1 + step)
    opt = SGD(schedule=schedule)
    state = opt.state_dict()
    assert str(state["schedule.class"]) == "<callable>"
    with pytest.raises(ValueError, match="plain-function schedule"):
        SGD().load_state_dict(state)
    again = SGD(schedule=schedule)
    again.load_state_dict(state)
    assert again.schedule is schedule


def test_reset_forgets_steps_and_buffers():
    opt = Momentum()
    opt.step(np.zeros(3), np.ones(3))
    opt.reset()
    assert opt.steps == 0 and opt.buffers == {}
    opt.step(np.zeros(5), np.ones(5))                # other parameters are fine after a reset
    assert opt.buffers["velocity"].size == 5


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update({"class": np.array("SGD")}), "for SGD, not Adam"),
    (lambda s: s.pop("beta1"), "no 'beta1'"),
    (lambda s: s.update({"momentum": np.array(0.9)}), "unexpected entries"),
    (lambda s: s.update({"v": s["v"].astype(np.float32)}), "dtype float32"),
    (lambda s: s.update({"v": np.zeros(4)}), "different lengths"),
    (lambda s: s.pop("v"), "needs all of"),
    (lambda s: s.update({"beta1": np.array(1.5)}), "beta1"),
    (lambda s: s.update({"steps": np.array(-1)}), "non-negative integer"),
])
def test_load_state_dict_errors(change, message):
    opt = Adam()
    opt.step(np.zeros(3), np.ones(3))
    state = opt.state_dict()
    change(state)
    with pytest.raises(ValueError, match=message):
        Adam().load_state_dict(state)


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("params, grads, message", [
    (np.zeros(3, dtype=np.float32), np.zeros(3), "params has dtype float32"),
    (np.zeros(3), np.zeros(3, dtype=np.int64), "grads has dtype int64"),
    (np.zeros(6)[::2], np.zeros(3), "params is not contiguous"),
    (np.zeros(3), np.zeros(6)[::2], "grads is not contiguous"),
    (np.zeros((2, 3)), np.zeros((2, 3)), "flat 1-D buffer, got shape \\(2, 3\\)"),
    ([0.0, 0.0], np.zeros(2), "params must be a NumPy array, got list"),
    (np.zeros(3), np.zeros(4), "grads has 4 elements but params has 3"),
])
def test_bad_buffers_raise_a_clear_value_error(params, grads, message):
    for opt in (SGD(), Adam()):
        with pytest.raises(ValueError, match=message):
            opt.step(params, grads)


def test_read_only_params_and_state_size_mismatch():
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        SGD().step(frozen, np.zeros(3))
    opt = RMSprop()
    opt.step(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="state is for 3.*reset"):
        opt.step(np.zeros(4), np.ones(4))


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(lr=0.0), "lr"), (lambda: Adam(lr=-1e-3), "lr"), (lambda: Adam(beta1=1.0), "beta1"),
    (lambda: Adam(beta2=-0.1), "beta2"), (lambda: Momentum(momentum=1.0), "momentum"),
    (lambda: AdaGrad(eps=0.0), "eps"), (lambda: RMSprop(rho=1.2), "rho"),
    (lambda: SGD(weight_decay=-1.0), "weight_decay"), (lambda: SGD(clip_value=0.0), "clip_value"),
    (lambda: Adam(clip_norm=-1.0), "clip_norm"), (lambda: SGD(lr="0.1"), "lr"),
    (lambda: SGD(schedule=0.1), "schedule must be a callable"),
    (lambda: Newton(clip_value=1.0), "clip_norm to cap"), (lambda: Newton(line_search="yes"), "line_search"),
    (lambda: Newton(damping=-1.0), "damping"),
])
def test_bad_hyperparameters_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_newton_needs_the_loss():
    theta = np.array(ROSENBROCK_START)
    with pytest.raises(ValueError, match="needs loss=LossClosure"):
        Newton().step(theta, rosenbrock_grad(theta))
    with pytest.raises(ValueError, match="LossClosure\\(fn, args\\)"):
        Newton().step(theta, rosenbrock_grad(theta), loss=rosenbrock)
