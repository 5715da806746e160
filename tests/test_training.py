"""The training loop: learning XOR, reproducibility from a seed, validation and early stopping,
history, and a run killed in the middle of writing a checkpoint resuming with nothing lost."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cotangent import runtime as rt

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0, 1, 1, 0])
HERE = Path(__file__).parent


def xor_model(seed=0, target="cpu"):
    """The README's XOR model; compiled with Numba once, the other tests use the Python target."""
    return rt.Sequential([rt.Dense(8, "tanh"), rt.Dense(2)], loss="softmax_cross_entropy",
                         input_shape=(2,), name="xor", seed=seed, target=target)


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    return centers[y] + rng.normal(scale=0.7, size=(n, 2)), y


def test_mlp_learns_xor():
    model = xor_model()
    history = rt.fit(model, X, Y, optimizer=rt.Adam(lr=0.05), epochs=300, batch_size=4, progress=False)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.05 < history["loss"][0]
    np.testing.assert_array_equal(np.argmax(model.predict(X), axis=1), Y)
    assert rt.evaluate(model, X, Y)["accuracy"] == 1.0


def test_same_seed_same_run_and_fresh_shuffles():
    x, y = blobs()
    runs = []
    for _ in range(2):
        model = rt.Sequential([rt.Dense(6, "relu"), rt.Dense(3)], loss="softmax_cross_entropy",
                              input_shape=(2,), name="blobs_fit", seed=3, target="python")
        h = rt.fit(model, x, y, optimizer=rt.SGD(lr=0.1), epochs=4, batch_size=16, validation_split=0.25,
                   seed=11, progress=False)
        runs.append((model.params.data.copy(), h["loss"]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    rng = np.random.default_rng(0)
    orders = [np.concatenate(list(rt.minibatches(10, 4, rng))) for _ in range(2)]
    assert sorted(orders[0]) == list(range(10)) and not np.array_equal(orders[0], orders[1])


def test_validation_early_stopping_restores_the_best_epoch():
    x, y = blobs(seed=1)
    x_val, y_val = blobs(60, seed=2)
    model = rt.Sequential([rt.Dense(32, "relu"), rt.Dense(3)], loss="softmax_cross_entropy",
                          input_shape=(2,), name="blobs_fit", seed=0, target="python")
    stop = rt.EarlyStopping(monitor="val_loss", patience=3)
    h = rt.fit(model, x, y, optimizer=rt.Adam(lr=0.3), epochs=200, batch_size=8,
               validation_data=(x_val, y_val), early_stopping=stop, progress=False)
    assert len(h) < 200 and "early stopping" in h.stopped
    best = h.best("val_loss")
    assert rt.evaluate(model, x_val, y_val)["loss"] == pytest.approx(best["val_loss"], rel=1e-12)
    assert best["val_accuracy"] > 0.85
    assert set(h.metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_history_plot_and_bad_arguments(tmp_path):
    pytest.importorskip("matplotlib")
    model = xor_model(target="python")
    h = rt.fit(model, X, Y, optimizer=rt.Adam(lr=0.05), epochs=3, batch_size=2, progress=False)
    h.plot(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000
    assert rt.History.from_json(h.to_json()).records == h.records
    with pytest.raises(ValueError, match="validation"):
        rt.fit(model, X, Y, optimizer=rt.SGD(lr=0.1), epochs=1, early_stopping=rt.EarlyStopping(), progress=False)
    with pytest.raises(ValueError, match="class labels"):
        rt.fit(model, X, np.array([0, 1, 2, 0]), optimizer=rt.SGD(lr=0.1), epochs=1, progress=False)
    with pytest.raises(ValueError, match="samples"):
        rt.fit(model, X, Y[:3], optimizer=rt.SGD(lr=0.1), epochs=1, progress=False)


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, str(HERE / "training_run.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


@pytest.mark.slow
def test_run_killed_while_saving_a_checkpoint_resumes_with_nothing_lost(tmp_path):
    epochs = 6
    reference = _run([tmp_path / "ref.npz", tmp_path / "ref.npy", epochs])
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    ck = tmp_path / "run.npz"
    victim = _run([ck, tmp_path / "unused.npy", epochs, 3])      # epochs 1 and 2 save; the third stalls
    for line in victim.stdout:
        if line.strip() == "STALLED":
            break
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert any(p.name.startswith("run.npz.tmp-") for p in tmp_path.iterdir())   # the torn temporary file
    last_good = rt.load_checkpoint(ck)
    assert last_good.meta["epoch"] == 2

    resumed = _run([ck, tmp_path / "resumed.npy", epochs])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "ref.npy"))
    assert not any(".tmp-" in p.name for p in tmp_path.iterdir())                # cleaned up by the next save
    final = rt.load_checkpoint(ck)
    assert final.meta["epoch"] == epochs
    assert [r["epoch"] for r in rt.History.from_json(final.meta["history"]).records] == list(range(1, epochs + 1))


def test_newton_fits_logistic_regression_in_a_few_epochs():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(80, 2))
    y = (x @ np.array([1.5, -2.0]) + 0.3 + rng.normal(scale=1.0, size=80) > 0).astype(float)
    model = rt.Sequential([rt.Dense(1)], loss="binary_cross_entropy", input_shape=(2,), name="logreg",
                          target="python")
    h = rt.fit(model, x, y, optimizer=rt.Newton(), epochs=8, batch_size=80, progress=False)
    step = model.loss_and_grad(x, y[:, None])
    assert np.linalg.norm(step.grad) < 1e-10
    assert h["loss"][0] > h["loss"][-1] and len(h) == 8


def test_no_derivative_is_written_by_hand_in_runtime_or_models():
    """Every gradient the runtime uses comes from the compiler: no backward passes, adjoint
    variables or derivative rules in runtime/ or models/ (optimizers consume gradients only)."""
    import re
    root = HERE.parent
    suspicious = re.compile(r"def backward|\b\w+_bar\s*[+\-*]?=|\bvjp\b|\bjvp\b|defvjp|defjvp|custom_derivative|"
                            r"d_?loss_?d|derivative of|1\.0 - \w+ \*\* 2|sigmoid\(x\) \* \(1")
    hits = []
    for folder in ("runtime", "models"):
        for path in sorted((root / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if suspicious.search(line):
                    hits.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)
