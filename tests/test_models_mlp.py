"""The lectures' first models reach their targets: logistic regression by Newton's method in under
10 steps, XOR at 100%, the 4-8-3 Iris MLP at >= 96% training accuracy, two-hidden-layer L2 MLPs on
2-D points, learning curves that fall for every optimizer, and gradients that vanish through deep
sigmoid stacks but not with ReLU + He, batch normalization or skip connections.

Everything trains on the Python target (the same generated code run by NumPy): for these small
networks it is as fast as Numba without a compile (the models default to Numba; the Numba builds
are checked in test_models_numba.py). The slow tests run each example on a short configuration,
and the quickstart."""
import numpy as np
import pytest

from cotangent import runtime as rt
from cotangent.models import logistic, mlp, points
from example_runner import run_example, run_script

PY = "python"


def test_newton_converges_in_under_10_steps_and_gradient_descent_needs_many_more():
    fits = logistic.train(target=PY)
    newton, gd = fits["newton"], fits["gd"]
    assert newton.converged and newton.steps < 10
    assert gd.converged and gd.steps > 20 * newton.steps
    assert newton.losses[-1] == pytest.approx(gd.losses[-1], abs=1e-12)
    assert all(a >= b for a, b in zip(newton.losses, newton.losses[1:]))
    assert newton.grad_norms[-2] < 1e-4       # quadratic convergence: the last steps square the error
    x, y = logistic.make_data()
    assert logistic.accuracy(newton, x, y) > 0.8 and np.allclose(newton.params, gd.params, atol=1e-6)
    assert "def logreg_train_grad(theta, x, target):" in newton.model.source("grad")


def test_mlp_learns_xor():
    model, history = mlp.train_xor(target=PY)
    x, y = points.xor()
    assert rt.evaluate(model, x, y)["accuracy"] == 1.0
    assert history["loss"][-1] < 0.05 < history["loss"][0]
    assert "def xor_train_grad(theta, x, target):" in model.source("grad")


def test_iris_4_8_3_reaches_96_percent_training_accuracy():
    pytest.importorskip("sklearn")
    model, history = mlp.train_iris(epochs=30, target=PY)        # the example trains 100 epochs
    x, y = mlp.load_iris()
    assert x.shape == (150, 4) and np.allclose(x.mean(axis=0), 0.0) and sorted(set(y)) == [0, 1, 2]
    assert [p.shape for p in model.params.named().values()] == [(4, 8), (8,), (8, 3), (3,)]
    assert rt.evaluate(model, x, y)["accuracy"] >= 0.96
    assert "dense_0_relu" in model.source("grad")


@pytest.mark.parametrize("kind,n,epochs", [("moons", 200, 100), ("spirals", 400, 150)])
def test_two_hidden_layer_mlp_separates_points_and_its_boundary_follows_them(kind, n, epochs):
    model, _, (x, y) = mlp.train_points(kind, n=n, epochs=epochs, l2=1e-3, target=PY)
    classes = 2 if kind == "moons" else 4
    assert sorted(set(y)) == list(range(classes))
    assert rt.evaluate(model, x, y)["accuracy"] >= 0.95
    xx, yy, grid = points.decision_grid(model.predict, x, resolution=60)
    assert xx.shape == yy.shape == grid.shape == (60, 60)
    assert set(np.unique(grid)) == set(range(classes))
    # the shaded class at each training point is the model's prediction there
    col = np.clip(np.searchsorted(xx[0], x[:, 0]), 0, 59)
    row = np.clip(np.searchsorted(yy[:, 0], x[:, 1]), 0, 59)
    assert np.mean(grid[row, col] == np.argmax(model.predict(x), axis=1)) > 0.9
    assert "l2_penalty(dense_0_W)" in model.source() and f"def points{classes}_train_grad" in model.source("grad")


def test_l2_shrinks_the_weights():
    plain, _, _ = mlp.train_points("moons", n=200, epochs=30, l2=0.0, target=PY)
    decayed, _, _ = mlp.train_points("moons", n=200, epochs=30, l2=1e-2, target=PY)
    assert mlp.weight_norm(decayed) < 0.8 * mlp.weight_norm(plain)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the diverging run overflows on purpose
def test_learning_curves_fall_for_every_optimizer():
    pytest.importorskip("sklearn")
    optimizers = {"SGD": rt.SGD(lr=0.1), "Momentum": rt.Momentum(lr=0.05), "RMSprop": rt.RMSprop(lr=0.01),
                  "AdaGrad": rt.AdaGrad(lr=0.1), "Adam": rt.Adam(lr=0.01), "SGD lr=100": rt.SGD(lr=100.0)}
    curves = mlp.learning_curves(optimizers, epochs=10, target=PY)
    for name in list(optimizers)[:-1]:
        assert len(curves[name]) == 10 and curves[name][-1] < 0.7 * curves[name][0], name
    assert curves["SGD lr=100"] is None          # it diverged, and the others ran on


def test_gradients_vanish_through_sigmoid_layers_but_not_with_relu_he_batch_norm_or_skips():
    x, y = points.spirals(128)

    def ratio(**kw):
        """The second hidden layer's gradient norm over the last hidden layer's (1 = no vanishing;
        the first layer, 2 -> 32, is not a skip connection)."""
        norms = mlp.layer_gradient_norms(mlp.deep_mlp(depth=10, target=PY, **kw), x, y)
        assert norms.shape == (11,) and np.all(np.isfinite(norms))
        return norms[1] / norms[-2]

    assert ratio(activation="sigmoid", init="glorot_uniform") < 1e-4
    assert ratio(activation="relu", init="he_uniform") > 0.1
    assert ratio(activation="sigmoid", init="glorot_uniform", residual=True) > 0.1
    if hasattr(rt, "BatchNorm"):
        assert ratio(activation="sigmoid", init="glorot_uniform", batch_norm=True) > 0.1


SMALL_RUNS = [   # script, arguments of a short run, plots it must write
    ("logistic_regression.py", ["--target", "python"], ["logistic_regression.png"]),
    ("xor_mlp.py", ["--target", "python"], ["xor_history.png"]),
    ("iris_mlp.py", ["--target", "python", "--epochs", "5"], ["iris_history.png"]),
    ("iris_learning_curves.py", ["--target", "python", "--epochs", "3"],
     ["iris_optimizers.png", "iris_learning_rates.png"]),
    ("decision_boundaries.py", ["--target", "python", "--epochs", "3"], ["decision_boundaries.png"]),
    ("vanishing_gradients.py", ["--target", "python"], ["vanishing_gradients.png"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("script,args,plots", SMALL_RUNS, ids=[s for s, _, _ in SMALL_RUNS])
def test_example_runs_end_to_end_and_writes_its_plots(script, args, plots, tmp_path):
    pytest.importorskip("matplotlib")
    if "iris" in script:
        pytest.importorskip("sklearn")
    run_example(script, args, tmp_path)
    for name in plots:
        assert (tmp_path / name).stat().st_size > 10_000, name


@pytest.mark.slow
def test_quickstart_shows_the_worked_examples(tmp_path):
    run = run_script("quickstart.py", [], tmp_path)
    for expected in ("gradient = [0.5000, 0.3333]", "def f_grad(a, b):", "def z_jvp(x1, x2, x1_dot, x2_dot):",
                     "def z_grad(x1, x2):", "def tanh_via_exp_grad(x):", "forward: [2.5839, 2.0000]  reverse: [2.5839"):
        assert expected in run.stdout, expected
