"""The lectures' palindrome task: the LSTM reaches 95% test accuracy and does better than the
simple RNN trained the same way; the data are balanced and labelled right; padding does not
change a prediction. Trained on the Python target, to keep the suite short (the models default to
Numba: the LSTM compiles in about 30 s and trains 4.7 times faster; its Numba gradient is checked in
test_layers_sequence.py and test_models_numba.py); the slow test runs the example end to end."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from cotangent.models import sequence

PY = "python"


@pytest.fixture(scope="module")
def lstm_run():
    return sequence.train("lstm", target=PY, progress=False)       # 8000 sequences, 8 epochs


@pytest.fixture(scope="module")
def rnn_run():
    return sequence.train("rnn", target=PY, progress=False)


def test_palindrome_data_are_balanced_labelled_right_and_of_every_length():
    x, mask, y = sequence.palindrome_data(2000, seed=3)
    assert x.shape == (2000, 10, 10) and mask.shape == (2000, 10) and np.mean(y) == 0.5
    lengths = mask.sum(axis=1).astype(int)
    assert set(lengths) == set(range(1, 11))
    np.testing.assert_array_equal(mask, np.arange(10)[None, :] < lengths[:, None])   # digits first, then padding
    np.testing.assert_array_equal(x.sum(axis=2), mask)                               # one-hot digits, zero padding
    for k in range(2000):
        digits = np.argmax(x[k, :lengths[k]], axis=1)
        assert y[k] == int(np.array_equal(digits, digits[::-1]))
    assert np.all(y[lengths == 1] == 1)


def test_lstm_reaches_95_percent_test_accuracy(lstm_run):
    h = lstm_run.history
    assert lstm_run.test_accuracy >= 0.95
    assert np.all(np.isfinite(h["loss"])) and h["loss"][-1] < 0.5 * h["loss"][0]
    assert h["val_accuracy"][-1] == pytest.approx(lstm_run.test_accuracy)


def test_lstm_beats_the_simple_rnn_trained_the_same_way(lstm_run, rnn_run):
    assert 0.6 < rnn_run.test_accuracy < lstm_run.test_accuracy - 0.05
    assert rnn_run.history["loss"][-1] > lstm_run.history["loss"][-1]
    by_length = sequence.accuracy_by_length(rnn_run.model, *rnn_run.test_set)
    assert by_length.shape == (10,) and by_length[0] == 1.0    # a single digit is always a palindrome


def test_padding_and_what_it_holds_do_not_change_a_prediction(lstm_run):
    x, mask, _ = lstm_run.test_set
    noisy = x + np.random.default_rng(0).normal(size=x.shape) * (1.0 - mask)[:, :, None]
    np.testing.assert_allclose(lstm_run.model.predict((noisy, mask)), lstm_run.model.predict((x, mask)),
                               rtol=0, atol=1e-12)


def test_gradient_source_is_backpropagation_through_time(lstm_run):
    grad = lstm_run.model.source("grad")
    assert "def palindrome_lstm_train_grad(theta, x, mask, target):" in grad
    assert re.search(r"tape\w*\.append\(", grad) and re.search(r"tape\w*\.pop\(\)", grad)
    assert "# adjoint of recurrent.py" in grad
    assert "lstm(x, mask, lstm_0_Wx, lstm_0_Wh, lstm_0_b)" in lstm_run.model.source()


@pytest.mark.slow
def test_example_runs_end_to_end_and_writes_its_plot(tmp_path):
    pytest.importorskip("matplotlib")
    env = dict(os.environ, MPLBACKEND="Agg",
               COTANGENT_CACHE_DIR=os.environ.get("COTANGENT_CACHE_DIR", str(ct.config.cache_dir)))
    script = Path(__file__).resolve().parents[1] / "examples" / "palindrome_rnn_lstm.py"
    run = subprocess.run([sys.executable, str(script), "--out", str(tmp_path), "--target", PY, "--epochs", "1"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"writing plots to {tmp_path}" in run.stdout and "for t in range(" in run.stdout
    assert (tmp_path / "palindrome_rnn_lstm.png").stat().st_size > 10_000
