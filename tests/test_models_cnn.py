"""The LeNet-style CNN reaches >= 95% accuracy on held-out 8x8 digits, and its example runs.

It trains with Numba, as it does by default: each layer is compiled once as a function of its own,
so the gradient compiles in seconds. The example's short smoke run uses the Python target."""
import numpy as np
import pytest

from cotangent import runtime as rt
from example_runner import run_example

pytest.importorskip("sklearn")
from cotangent.models import cnn  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    return cnn.train(epochs=10)       # the example trains 30 epochs (98% there)


def test_digits_are_channels_last_images_and_the_test_split_is_held_out():
    x_train, y_train, x_test, y_test = cnn.digit_images()
    assert x_train.shape[1:] == x_test.shape[1:] == (8, 8, 1)
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == 359
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    assert sorted(set(y_test)) == list(range(10))
    train_rows = {row.tobytes() for row in x_train}
    assert sum(row.tobytes() in train_rows for row in x_test) < 5      # a few digits are drawn twice


def test_lenet_reaches_95_percent_on_held_out_digits(trained):
    model, history, (x_test, y_test), _ = trained
    assert model.output_shape == (10,)
    assert [layer.output_shape for layer in model.layers[:6]] == [(8, 8, 8), (8, 8, 8), (4, 4, 8), (4, 4, 16),
                                                                   (4, 4, 16), (2, 2, 16)]
    assert rt.evaluate(model, x_test, y_test)["accuracy"] >= 0.95
    assert history["val_accuracy"][-1] >= 0.95
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < 0.1 * history["loss"][0]
    counts = cnn.confusion(model, x_test, y_test)
    assert counts.sum() == len(y_test) and np.trace(counts) >= 0.95 * len(y_test)


def test_the_gradient_source_runs_back_through_the_convolutions(trained):
    grad = trained[0].source("grad")
    assert "def lenet_max_train_grad(theta, x, target):" in grad
    for name in ("conv2d_0_W_bar", "conv2d_1_W_bar", "padded_bar", "dense_1_W_bar"):
        assert name in grad, name
    # each layer's adjoint is a separately compiled function, shown after the model's gradient
    assert "= conv2d_bwd(" in grad and "def conv2d_bwd(" in grad and "def max_pool2d_bwd(" in grad
    assert "# adjoint of conv.py" in grad and "# adjoint of pool.py" in grad


def test_average_pooling_variant_learns_and_bad_pool_is_refused():
    x_train, y_train, x_test, y_test = cnn.digit_images()
    model = cnn.lenet(pool="avg")
    assert "avg_pool2d" in model.source()
    rt.fit(model, x_train, y_train, rt.Adam(lr=0.01), epochs=3, batch_size=64, progress=False)
    assert rt.evaluate(model, x_test, y_test)["accuracy"] > 0.8
    with pytest.raises(ValueError, match="pool must be one of"):
        cnn.lenet(pool="min")


@pytest.mark.slow
def test_example_runs_end_to_end_and_writes_its_plots(tmp_path):
    pytest.importorskip("matplotlib")
    run = run_example("cnn_digits.py", ["--target", "python", "--epochs", "2"], tmp_path)    # the model: Numba, above
    assert "test accuracy" in run.stdout and "# adjoint of conv.py" in run.stdout
    for name in ("cnn_digits_history.png", "cnn_digits_predictions.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
