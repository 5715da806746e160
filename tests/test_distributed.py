"""Training on Ray workers and batched sums split into Ray tasks: the same numbers as one process
(to 1e-10), shards that do not divide evenly, a killed worker replaced with nothing lost, a
worker's exception reaching the caller with its traceback, and a clear message without Ray.

One local Ray with 2 CPUs serves the whole module (starting it takes seconds)."""
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from cotangent import runtime as rt
from cotangent.distributed import bounds, flatten
from cotangent.runtime import distributed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gmm_model import gmm_point, random_problem  # noqa: E402
from example_runner import run_example  # noqa: E402

TOL = 1e-10


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    if started:
        ray.shutdown()


def blobs(n=126, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    return centers[y] + rng.normal(scale=0.7, size=(n, 2)), y


def mlp():
    """With dropout, so the masks the driver draws must reach the right shards."""
    return rt.Sequential([rt.Dense(16, "tanh"), rt.Dropout(0.2), rt.Dense(3)], loss="softmax_cross_entropy",
                         input_shape=(2,), name="dist_mlp", seed=1)


# 101 training samples in batches of 25: shards of 13 and 12, and a last batch of one sample,
# whose second shard is empty
SETTINGS = dict(epochs=6, batch_size=25, validation_split=0.2, seed=3, progress=False)


def close(a, b) -> bool:
    return float(np.max(np.abs(a - b))) <= TOL * max(1.0, float(np.max(np.abs(b))))


def same_history(h1, h2) -> bool:
    return [r.keys() for r in h1.records] == [r.keys() for r in h2.records] and all(
        abs(r1[k] - r2[k]) <= TOL for r1, r2 in zip(h1.records, h2.records) for k in r1)


@pytest.fixture(scope="module")
def local_run():
    x, y = blobs()
    model = mlp()
    history = rt.fit(model, x, y, rt.Adam(lr=0.01), early_stopping=rt.EarlyStopping(patience=3), **SETTINGS)
    return x, y, model.params.data.copy(), history


def test_shards_split_batches_nearly_evenly():
    assert distributed._shard_spans(25, 2) == [(0, 13), (13, 25)]
    assert distributed._shard_spans(1, 2) == [(0, 1), (1, 1)]
    assert bounds(10, 3) == [(0, 4), (4, 7), (7, 10)] and bounds(2, 5) == [(0, 1), (1, 2)]


def test_without_ray_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)         # `import ray` fails as when it is not installed
    x, y = blobs(20)
    with pytest.raises(ImportError, match=r"pip install 'cotangent\[distributed\]'"):
        rt.fit(mlp(), x, y, rt.Adam(), workers=2, progress=False)
    g = ct.grad(ct.vmap(gmm_point, (None, None, None, 0), reduce="sum"), argnums=0)
    p = random_problem(2, 3, 10)
    with pytest.raises(ImportError, match=r"cotangent\[distributed\]"):
        ct.distributed_sum(g)(p["alphas"], p["means"], p["icf"], p["x"])
    with pytest.raises(ValueError, match="workers=N"):
        rt.fit(mlp(), x, y, rt.Adam(), address="ray://nowhere:10001")


@pytest.mark.slow
def test_two_workers_train_as_one_process(ray_cluster, local_run, tmp_path):
    """Validation, early stopping and the checkpoint as locally; every worker is on this machine,
    so the buffers are summed through shared memory."""
    x, y, params, history = local_run
    model, opt = mlp(), rt.Adam(lr=0.01)
    h = rt.fit(model, x, y, opt, early_stopping=rt.EarlyStopping(patience=3), workers=2,
               checkpoint=tmp_path / "run.npz", **SETTINGS)
    assert close(model.params.data, params) and same_history(h, history)
    assert h.distributed["workers"] == 2 and h.distributed["steps"] == 6 * 5
    assert h.distributed["allreduce"] == "shared_memory"
    assert opt.steps == 30 and all(b.flags.writeable for b in opt.buffers.values())
    ck = rt.load_checkpoint(tmp_path / "run.npz")
    assert int(ck.meta["epoch"]) == 6 and close(ck.params["dense_1_W"].ravel(), model.params["dense_1_W"].ravel())


@pytest.mark.slow
def test_an_epoch_that_needs_nothing_back_runs_into_the_next(ray_cluster, monkeypatch):
    """Without validation, early stopping or checkpoints, the next epoch's first block is queued on
    the workers before the driver closes the epoch (no pause between epochs), and the result is
    still the one-process result; with validation, an epoch closes before the next one starts."""
    x, y = blobs()
    settings = dict(epochs=4, batch_size=40, seed=5, progress=False)
    model = mlp()
    rt.fit(model, x, y, rt.Adam(lr=0.01), **settings)
    events = []
    submit, close_epoch = distributed._Group.submit, distributed.close_epoch

    def recording_submit(self, epoch, steps):
        events.append(("submit", epoch))
        return submit(self, epoch, steps)

    def recording_close(model_, record, *args):
        events.append(("close", record["epoch"] - 1))
        return close_epoch(model_, record, *args)
    monkeypatch.setattr(distributed, "SNAPSHOT_SECONDS", 1e9)     # no snapshot for time's sake on a slow machine
    monkeypatch.setattr(distributed._Group, "submit", recording_submit)
    monkeypatch.setattr(distributed, "close_epoch", recording_close)
    workers_model = mlp()
    distributed.fit(workers_model, x, y, rt.Adam(lr=0.01), workers=2, **settings)
    assert close(workers_model.params.data, model.params.data)
    for e in range(3):                  # epochs 0-2 need nothing back; 3 is the last
        assert events.index(("submit", e + 1)) < events.index(("close", e)), events
    events.clear()
    distributed.fit(mlp(), x, y, rt.Adam(lr=0.01), workers=2, validation_split=0.2, **settings)
    for e in range(3):
        assert events.index(("close", e)) < events.index(("submit", e + 1)), events


@pytest.mark.slow
@pytest.mark.parametrize("allreduce, validate", [("object_store", True), ("collective", False),
                                                 ("shared_memory", False)])
def test_killed_worker_is_replaced_and_nothing_is_lost(ray_cluster, local_run, monkeypatch, allreduce, validate):
    """The second worker's process is killed with SIGKILL in the third epoch; the group starts
    again from the last state the driver took back (the end of the last epoch when it validates;
    otherwise the start, replaying the epochs since) and ends where an uninterrupted run ends. In
    the collective and shared-memory all-reduces the first worker then finds its peer gone inside
    the all-reduce."""
    if allreduce == "collective":
        pytest.importorskip("torch")            # Ray's Gloo backend
    x, y, params, history = local_run
    settings = dict(SETTINGS, early_stopping=rt.EarlyStopping(patience=3))
    if not validate:                # 126 samples: batches of 25, the last one of one sample again
        del settings["validation_split"], settings["early_stopping"]
        model = mlp()
        history = rt.fit(model, x, y, rt.Adam(lr=0.01), **settings)
        params = model.params.data.copy()
    killed = []

    def kill_second_worker(group, epoch, steps_done):
        if epoch == 2 and not killed:
            killed.append(group.pids[1])
            os.kill(group.pids[1], signal.SIGKILL)

    monkeypatch.setattr(distributed, "_BLOCK_HOOK", kill_second_worker)
    model = mlp()
    with pytest.warns(rt.WorkerRestartWarning, match="a worker was lost"):
        h = distributed.fit(model, x, y, rt.Adam(lr=0.01), workers=2, allreduce=allreduce, **settings)
    assert killed and h.distributed["restarts"] == 1 and h.distributed["allreduce"] == allreduce
    assert close(model.params.data, params) and same_history(h, history)


@pytest.mark.slow
def test_a_worker_error_reaches_the_caller_with_its_traceback(ray_cluster):
    x, y = blobs(40)
    target = y.astype(float)[:, None]
    target[17] = np.nan                 # the loss of the batch holding it is not finite
    model = rt.Sequential([rt.Dense(1)], loss="squared_error", input_shape=(2,), name="dist_linear")
    with pytest.raises(FloatingPointError, match="the loss became nan in epoch 1") as error:
        rt.fit(model, x, target, rt.SGD(lr=0.1), epochs=2, batch_size=8, shuffle=False, progress=False, workers=2)
    where = str(error.value)            # the worker's frames, down to the line that raised
    assert "ray::_Worker" in where and "distributed.py" in where and "in apply" in where


@pytest.mark.slow
def test_distributed_sum_of_gmm_gradients_matches_one_process(ray_cluster):
    p = random_problem(2, 3, 1001)
    args = (p["alphas"], p["means"], p["icf"], p["x"])
    axes = (None, None, None, 0)
    grad = ct.grad(ct.vmap(gmm_point, axes, reduce="sum"), argnums=(0, 1, 2))
    mean_and_grad = ct.value_and_grad(ct.vmap(gmm_point, axes, reduce="mean"), argnums=1)
    for f, chunks in ((grad, 3), (mean_and_grad, 2)):
        local, ray_sum = [], []
        structure = flatten(f(*args), local)
        assert flatten(ct.distributed_sum(f, chunks=chunks)(*args), ray_sum) == structure
        assert all(close(np.asarray(a), np.asarray(b)) for a, b in zip(ray_sum, local))
    x = ct.shard(p["x"], chunks=2)          # in the object store once, for many calls
    for a, b in zip(ct.distributed_sum(grad)(*args[:3], x), grad(*args)):
        assert close(a, b)
    with pytest.raises(ct.CompileError, match="batched argument"):
        ct.distributed_sum(ct.grad(ct.vmap(gmm_point, axes, reduce="sum"), argnums=3))


@pytest.mark.slow
def test_example_trains_the_digits_on_workers(ray_cluster, tmp_path):
    """In its own process, which starts its own local Ray."""
    pytest.importorskip("sklearn")
    run = run_example("distributed_digits.py", ["--epochs", "1"], tmp_path)
    assert "2 workers:" in run.stdout and "of one process" in run.stdout
    assert (tmp_path / "distributed_digits_throughput.png").exists()
